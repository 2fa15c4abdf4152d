"""Collusion detectors, relationship graph and case files (a later issue)."""
