"""Tenders, their lifecycle, registrations, bids, opening and award."""
