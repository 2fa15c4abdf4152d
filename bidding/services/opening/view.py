"""The opening as the page and GET .../opening show it, the decrypted files of a bid, and the
signed record's download."""

from __future__ import annotations

from typing import Any

from tortoise.transactions import in_transaction

from bidding import states
from bidding.exceptions import NotFound, TenderNotFound
from bidding.models import (
    Bid,
    BidFile,
    BidStatus,
    Lot,
    Objection,
    ObjectionStage,
    OpeningIncident,
    OpeningRecord,
    Tender,
    TenderStatus,
)
from bidding.services.common import audit
from bidding.services.opening.common import OPENED_OK
from bidding.services.queries import bid_for_owner
from kernel.accounts import services as accounts
from kernel.accounts.actor import Actor
from kernel.accounts.models import Role
from kernel.context import Context
from signing import opening_shares

# -- the read side --------------------------------------------------------------------------


async def opening_view(ctx: Context, *, actor: Actor, tender_id: int) -> dict[str, Any]:
    """What the opening page and GET .../opening show a logged-in viewer. Before the opening
    (a sealed state) nothing about the bids; from OPENING on every bidder's name and
    decryption state. Prices and decrypted files: one's own as soon as the bid is opened,
    everyone's once the decryption window is over (唱标).

    Why not each price as its bid opens: a bidder whose bid is still sealed could read its
    rivals' prices and then choose to let its own bid fail (withheld key: treated as revoked),
    which changes an average-price benchmark or the ranking: a free option for a bidding ring.
    Insiders see no more than bidders meanwhile, so nobody can pass the prices on."""
    tender = await Tender.get_or_none(id=tender_id)
    is_owner = actor.has(Role.AGENCY) and actor.organization_id == (tender and tender.agency_id)
    if tender is None or (tender.status == TenderStatus.DRAFT
                          and not (is_owner or actor.has(Role.SUPERVISOR))):
        raise TenderNotFound()
    count = await opening_shares.share_count(tender_id)
    sealed = states.is_sealed(tender.status)
    withheld = states.prices_withheld(tender.status)
    out: dict[str, Any] = {
        "tender_id": tender.id, "status": tender.status.value, "mode": tender.key_mode.value,
        "deadline_at": tender.deadline_at, "decryption_ends_at": tender.decryption_ends_at,
        "now": ctx.clock.now(), "bids": [], "objections": [], "incidents": [],
        "shares": {"submitted": count.submitted if not sealed else 0,
                   "threshold": count.threshold},
        "record": None, "prices_withheld": withheld,
        "failed_lots": [],
    }
    if sealed:
        return out
    bids = await Bid.filter(tender_id=tender.id, status=BidStatus.SUBMITTED).prefetch_related(
        "lot").order_by("submitted_at", "id")
    objections = await Objection.filter(tender_id=tender.id,
                                        stage=ObjectionStage.OPENING).order_by("raised_at")
    orgs = await accounts.organizations_by_ids(
        {b.organization_id for b in bids} | {o.organization_id for o in objections})
    # The decrypted files: to the bidder itself, and after the window to the tender's agency
    # and the supervisors.
    insider = (is_owner or actor.has(Role.SUPERVISOR)) and not withheld
    readers = {b.id for b in bids if insider or _own(actor, b)}
    files: dict[int, list[dict[str, Any]]] = {}
    for item in await BidFile.filter(bid_id__in=readers).order_by("id") if readers else []:
        files.setdefault(item.bid_id, []).append(  # type: ignore[attr-defined]
            {"id": item.id, "name": item.name, "size": item.size, "sha256": item.sha256})
    for bid in bids:
        opened = bid.decryption in OPENED_OK
        out["bids"].append({
            "bid_id": bid.id, "lot": bid.lot.number,
            "bidder": orgs[bid.organization_id].name if bid.organization_id in orgs else "",
            "decryption": bid.decryption.value, "detail": bid.decryption_detail,
            "price": (str(bid.price) if opened and bid.price is not None
                      and (not withheld or _own(actor, bid)) else None),
            "mine": _own(actor, bid),
            "package_sha256": bid.sha256,
            "files": files.get(bid.id, []),
        })
    out["objections"] = [
        {"id": o.id, "by": orgs[o.organization_id].name if o.organization_id in orgs else "",
         "text": o.text, "raised_at": o.raised_at, "answer": o.answer,
         "answered_at": o.answered_at}
        for o in objections
    ]
    out["incidents"] = [
        {"bid_id": i.bid_id, "kind": i.kind, "detail": i.detail, "created_at": i.created_at}
        for i in await OpeningIncident.filter(tender_id=tender.id).order_by("id")
    ]
    record = await OpeningRecord.get_or_none(tender_id=tender.id)
    if record is not None:
        out["record"] = {"sha256": record.sha256, "rows": record.rows,
                         "signed": record.signature is not None}
        # The lots that failed at the opening (流标: fewer opened bids than the minimum).
        out["failed_lots"] = list(await Lot.filter(tender_id=tender.id, failed=True).order_by(
            "number").values_list("number", flat=True))
    return out


def _own(actor: Actor, bid: Bid) -> bool:
    return actor.has(Role.BIDDER) and actor.organization_id == bid.organization_id


async def signed_record(tender_id: int) -> bytes:
    """The signed opening record (CMS DER, the JSON attached): public once the opening ended."""
    record = await OpeningRecord.get_or_none(tender_id=tender_id)
    if record is None or record.signature is None:
        raise TenderNotFound()
    return bytes(record.signature)


async def opened_file(ctx: Context, *, actor: Actor, bid_id: int, file_id: int) -> BidFile:
    """A decrypted file of a bid, for its bidder, or for the agency and supervisors once the
    decryption window is over (opening_view says why not before); every read is audited."""
    bid = await bid_for_owner(actor, bid_id)  # which refuses insiders during the window
    item = await BidFile.get_or_none(id=file_id, bid_id=bid.id)
    if item is None:
        raise NotFound()
    async with in_transaction():
        await audit(ctx, actor=actor, action="bidding:bid:file_read", tender_id=bid.tender.id,
                    object_type="bid", object_id=bid.id,
                    detail={"file": item.name, "sha256": item.sha256})
    return item
