"""Accounts: organisations, users, roles, sessions, login throttling, notifications."""
