"""Snapshots of an opened tender and of the platform's history, built from bidding's services.

Detectors read only these frozen snapshots (collusion/base.py). Files are not read here: each
Document opens its blob when a detector asks, so 100 bids of several MiB are never all in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, BinaryIO

from bidding.services import analysis as bidding_analysis
from collusion.base import (
    Bidder,
    BidSnapshot,
    Document,
    History,
    Item,
    PastBid,
    PastTender,
    TenderSnapshot,
)
from kernel.context import Context
from signing import fingerprint


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _opener(ctx: Context, sha256: str) -> Callable[[], BinaryIO]:
    return lambda: ctx.blobs.open(sha256)


def _documents(
    ctx: Context, files: tuple[bidding_analysis.StoredFile, ...]
) -> tuple[Document, ...]:
    return tuple(Document(name=f.name, sha256=f.sha256, size=f.size,
                          open=_opener(ctx, f.sha256)) for f in files)


def _items(manifest: Mapping[str, Any] | None) -> tuple[Item, ...]:
    rows = (manifest or {}).get("items") or []
    if not isinstance(rows, list):
        return ()
    return tuple(
        Item(code=str(r.get("code", "")), description=str(r.get("description", "")),
             quantity=_decimal(r.get("quantity")), unit_price=_decimal(r.get("unit_price")))
        for r in rows if isinstance(r, dict)
    )


def _fingerprint(manifest: Mapping[str, Any] | None) -> dict[str, tuple[str, ...]]:
    raw = (manifest or {}).get("client_fingerprint") or {}
    if not isinstance(raw, dict):
        return {}
    # Already keyed hashes (the client hashed them under the centre key before signing).
    return fingerprint.grouped({str(k): str(v) for k, v in raw.items() if v})


def bid_snapshot(ctx: Context, bid: bidding_analysis.OpenedBid) -> BidSnapshot:
    return BidSnapshot(
        key=bid.credit_code or f"org-{bid.organization_id}",
        bidder=Bidder(name=bid.name, credit_code=bid.credit_code, legal_rep=bid.legal_rep,
                      phone=bid.phone, email=bid.email, address=bid.address,
                      project_manager=bid.project_manager),
        price=bid.price,
        submitted_at=bid.submitted_at,
        fingerprint=_fingerprint(bid.manifest),
        upload_address=bid.upload_address,
        deposit=None,  # the payer account comes with escrow; bidding only knows received or not
        items=_items(bid.manifest),
        files=_documents(ctx, bid.files),
    )


def tender_snapshots(
    ctx: Context, tender: bidding_analysis.OpenedTender
) -> dict[int, TenderSnapshot]:
    """One snapshot per lot: bids on different lots do not compete with each other."""
    documents = _documents(ctx, tender.documents)
    out = {}
    for lot in tender.lots:
        bids = tuple(bid_snapshot(ctx, b) for b in tender.bids if b.lot == lot)
        key = tender.code if len(tender.lots) == 1 else f"{tender.code}#{lot}"
        several = len(tender.lots) > 1
        out[lot] = TenderSnapshot(
            key=key, title=tender.title,
            # A lot's bids are measured against the lot's estimate. The ceiling is set for the
            # tender as a whole, so for one lot of several it says nothing.
            estimate=tender.lot_estimates.get(lot, tender.estimate) if several
            else tender.estimate,
            price_ceiling=None if several else tender.price_ceiling,
            documents=documents, bids=bids, opened_at=tender.opened_at,
        )
    return out


def history_of(rows: list[bidding_analysis.PastTenderRow]) -> History:
    """Past tenders lot by lot, oldest first, keyed like the snapshots (by credit code)."""
    tenders = []
    for row in rows:
        lots = sorted({b.lot for b in row.bids}) or [1]
        for lot in lots:
            tenders.append(PastTender(
                key=row.code if len(lots) == 1 else f"{row.code}#{lot}",
                opened_at=row.opened_at,
                bids=tuple(PastBid(bidder=b.credit_code, price=b.price, won=b.won)
                           for b in row.bids if b.lot == lot),
                estimate=row.lot_estimates.get(lot, row.estimate) if len(lots) > 1
                else row.estimate,
            ))
    return History(tenders=tuple(tenders))
