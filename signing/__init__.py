"""Certificates, signatures, sealed bids, receipts and their log (a later issue)."""
