"""Read-only views of opened tenders for analysis packages (collusion), as plain data.

Why plain dataclasses. Higher packages must not import bidding's models (the layering test
holds them to services), and an analysis must not be able to change a bid by accident: it
gets copies, never rows. Nothing here is shown to a bidder; only bids of tenders whose
opening has ended (decryption window over, prices read out) are ever returned, so the sealing
rules of docs/lifecycle.md are not at stake.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from bidding import states
from bidding.exceptions import TenderNotFound
from bidding.models import (
    Award,
    Bid,
    BidFile,
    BidStatus,
    Decryption,
    Lot,
    Registration,
    Tender,
    TenderDocument,
    TenderStatus,
)
from kernel.accounts import services as accounts

# A bid that could not be opened has no readable content to compare.
_UNREADABLE = (Decryption.FAILED_BIDDER, Decryption.FAILED_PLATFORM)


@dataclass(frozen=True)
class StoredFile:
    """A file in the blob store: open it with ``ctx.blobs.open(sha256)``."""

    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class OpenedBid:
    bid_id: int
    lot: int
    organization_id: int
    name: str
    credit_code: str
    legal_rep: str
    phone: str
    email: str
    address: str
    project_manager: str
    price: Decimal | None
    submitted_at: datetime
    upload_address: str  # keyed hash, "" when unknown
    deposit_status: str
    manifest: dict[str, Any] | None  # the signed manifest once decrypted, else None
    files: tuple[StoredFile, ...] = ()


@dataclass(frozen=True)
class OpenedTender:
    id: int
    code: str
    title: str
    status: str
    estimate: Decimal
    price_ceiling: Decimal
    opened_at: datetime | None
    documents: tuple[StoredFile, ...] = ()
    bids: tuple[OpenedBid, ...] = ()
    lots: tuple[int, ...] = field(default=(1,))
    # Each lot's own estimate (估算价): a lot's bids compete against it, not the tender's.
    lot_estimates: dict[int, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class PastBidRow:
    tender_id: int
    lot: int
    credit_code: str
    name: str
    price: Decimal | None
    won: bool


@dataclass(frozen=True)
class PastTenderRow:
    id: int
    code: str
    opened_at: datetime | None
    estimate: Decimal
    bids: tuple[PastBidRow, ...] = ()
    lot_estimates: dict[int, Decimal] = field(default_factory=dict)


async def opened_bids_for_analysis(tender_id: int) -> OpenedTender:
    """The current bids of an opened tender with their bidders, manifests and files, and the
    tender documents (latest version first). TenderNotFound while the tender is still sealed."""
    tender = await Tender.get_or_none(id=tender_id)
    # Not during the decryption window either: the prices of the bids opened so far are not
    # read out yet (bidding.services.opening.view).
    if (tender is None or tender.status == TenderStatus.DRAFT
            or states.is_sealed(tender.status) or states.prices_withheld(tender.status)):
        raise TenderNotFound()
    documents = await TenderDocument.filter(tender_id=tender_id).order_by("-version")
    bids = await Bid.filter(tender_id=tender_id, status=BidStatus.SUBMITTED).prefetch_related(
        "lot"
    ).order_by("submitted_at", "id")
    bids = [b for b in bids if b.decryption not in _UNREADABLE]
    files: dict[int, list[StoredFile]] = {}
    for f in await BidFile.filter(bid_id__in=[b.id for b in bids]).order_by("name"):
        files.setdefault(f.bid_id, []).append(  # type: ignore[attr-defined]
            StoredFile(f.name, f.sha256, f.size)
        )
    deposits = dict(await Registration.filter(tender_id=tender_id).values_list(
        "id", "deposit_status"
    ))
    orgs = await accounts.organizations_by_ids({b.organization_id for b in bids})
    out = []
    for b in bids:
        org = orgs.get(b.organization_id)
        own = files.get(b.id, [])
        out.append(OpenedBid(
            bid_id=b.id, lot=b.lot.number, organization_id=b.organization_id,
            name=org.name if org else "", credit_code=org.credit_code if org else "",
            legal_rep=org.legal_rep if org else "", phone=org.contact_phone if org else "",
            email=org.email if org else "", address=org.address if org else "",
            project_manager=b.project_manager, price=b.price, submitted_at=b.submitted_at,
            upload_address=b.upload_address,
            deposit_status=str(deposits.get(b.registration_id, "unknown")),  # type: ignore[attr-defined]
            manifest=dict(b.manifest) if isinstance(b.manifest, dict) else None,
            files=tuple(own),
        ))
    return OpenedTender(
        id=tender.id, code=tender.code, title=tender.title, status=tender.status.value,
        estimate=tender.estimate, price_ceiling=tender.price_ceiling,
        opened_at=tender.opened_at,
        documents=tuple(StoredFile(d.filename, d.sha256, d.size) for d in documents),
        bids=tuple(out),
        lots=tuple(sorted({b.lot for b in out})) or (1,),
        lot_estimates={lot.number: lot.estimate
                       for lot in await Lot.filter(tender_id=tender_id)},
    )


async def past_tenders_for_analysis(
    *, before: datetime | None = None, exclude: int | None = None, limit: int = 2000
) -> list[PastTenderRow]:
    """Opened tenders (oldest first, at most ``limit``, the newest kept) with who bid what and
    who won: the platform's own history for the history detectors."""
    query = Tender.filter(opened_at__isnull=False)
    if before is not None:
        query = query.filter(opened_at__lte=before)
    if exclude is not None:
        query = query.exclude(id=exclude)
    tenders = list(reversed(await query.order_by("-opened_at", "-id").limit(limit)))
    ids = [t.id for t in tenders]
    bids = await Bid.filter(tender_id__in=ids, status=BidStatus.SUBMITTED).prefetch_related(
        "lot"
    )
    won = set(await Award.filter(lot__tender_id__in=ids).values_list("bid_id", flat=True))
    orgs = await accounts.organizations_by_ids({b.organization_id for b in bids})
    by_tender: dict[int, list[PastBidRow]] = {}
    for b in bids:
        org = orgs.get(b.organization_id)
        by_tender.setdefault(b.tender_id, []).append(PastBidRow(  # type: ignore[attr-defined]
            tender_id=b.tender_id, lot=b.lot.number,  # type: ignore[attr-defined]
            credit_code=org.credit_code if org else str(b.organization_id),
            name=org.name if org else "", price=b.price, won=b.id in won,
        ))
    lot_estimates: dict[int, dict[int, Decimal]] = {}
    for lot in await Lot.filter(tender_id__in=ids):
        tender_id = lot.tender_id  # type: ignore[attr-defined]
        lot_estimates.setdefault(tender_id, {})[lot.number] = lot.estimate
    return [
        PastTenderRow(id=t.id, code=t.code, opened_at=t.opened_at, estimate=t.estimate,
                      bids=tuple(sorted(by_tender.get(t.id, []),
                                        key=lambda r: (r.lot, r.credit_code))),
                      lot_estimates=lot_estimates.get(t.id, {}))
        for t in tenders
    ]
