"""Bid deposits behind random codes, bank statements and refunds (a later issue)."""
