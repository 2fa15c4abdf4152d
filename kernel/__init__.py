"""Shared kernel: settings, clock, database, accounts, audit trail, events.

Imports no domain package (see tests/unit/test_layering.py).
"""
