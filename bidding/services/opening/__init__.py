"""The remote opening (开标): the decryption window, the bidders' keys, the officers' shares, each
bid's outcome, the signed opening record (docs/opening.md).

PUBLISHED -> OPENING at the deadline plus ``settings.intake_grace_seconds`` (the scheduler's
``advance_due``), so a bid whose last byte arrived just before the deadline is never refused
because the opening began while it was being checked. During the window each bidder sends its
data key (signed); the platform re-hashes the stored package against its receipt, decrypts it
(streaming, in a worker thread) and reads the signed manifest. OPENING -> OPENED (or FAILED)
when every bid is resolved, or when the window has closed and whatever could be recovered with
the officers' shares has been.

Outcomes: DECRYPTED (the bidder's key), RECOVERED (the officers' key, "either" mode only, for
a bid with no key by the end of the window), FAILED_BIDDER (a tag or signature failing on an
intact package, or no key), FAILED_PLATFORM (the stored package no longer matches its receipt:
an OpeningIncident is recorded and the bid is treated as withdrawn). A wrong key is refused
and may be sent again within the window.

One module per part: common (shared names, the signed key request), window (start, settle,
end; the scheduler), keys (what bidders and officers send), decrypt (one package), record (the
signed opening record and the closing), view (the read side).
"""

from __future__ import annotations

from bidding.services.opening.common import RECORD_FORMAT, canonical, key_request
from bidding.services.opening.keys import submit_key, submit_share
from bidding.services.opening.view import opened_file, opening_view, signed_record
from bidding.services.opening.window import advance_due, begin_opening, open_tender, settle

__all__ = [
    "RECORD_FORMAT",
    "advance_due",
    "begin_opening",
    "canonical",
    "key_request",
    "open_tender",
    "opened_file",
    "opening_view",
    "settle",
    "signed_record",
    "submit_key",
    "submit_share",
]
