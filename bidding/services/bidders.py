"""The bidder's side: register, download the documents, submit, replace or withdraw a bid,
raise objections."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from bidding import rules as statute
from bidding import states
from bidding.exceptions import (
    AlreadyRegistered,
    BidNotCurrent,
    BidNotFound,
    InvalidInput,
    NotABidder,
    NotRegistered,
    ObjectionWindowClosed,
)
from bidding.models import (
    Bid,
    BidStatus,
    Download,
    Objection,
    ObjectionStage,
    Registration,
    Tender,
    TenderDocument,
    TenderStatus,
)
from bidding.services.common import (
    audit,
    check_deadline,
    hide_draft,
    local,
    lock_tender,
    require_bidder,
    require_invited,
    rules_of,
    share_lock_tender,
    transition,
)
from kernel.accounts import services as accounts
from kernel.accounts.actor import SYSTEM, Actor
from kernel.context import Context
from kernel.errors import NotFound


async def register(ctx: Context, *, actor: Actor, tender_id: int) -> Registration:
    """Register for a tender (报名). Sealed until the opening."""
    org_id = require_bidder(actor)
    async with in_transaction():
        tender = await share_lock_tender(tender_id)
        hide_draft(tender)
        states.check_allowed(tender.status, "register")
        check_deadline(ctx, tender)
        await require_invited(tender, org_id)
        if await Registration.filter(tender_id=tender.id, organization_id=org_id).exists():
            raise AlreadyRegistered()
        registration = await Registration.create(
            tender=tender, organization_id=org_id, registered_at=ctx.clock.now()
        )
        await audit(
            ctx, actor=actor, action="bidding:registration:created", tender_id=tender.id,
            object_type="registration", object_id=registration.id, sealed=True,
            after={"organization_id": org_id},
        )
    return registration


async def _registration(tender_id: int, org_id: int) -> Registration:
    registration = await Registration.get_or_none(tender_id=tender_id, organization_id=org_id)
    if registration is None:
        raise NotRegistered()
    return registration


async def download_document(
    ctx: Context, *, actor: Actor, tender_id: int, document_id: int
) -> TenderDocument:
    """Record a registered bidder's download and return the document to stream."""
    org_id = require_bidder(actor)
    tender = await Tender.get_or_none(id=tender_id)
    if tender is None:
        raise NotFound()
    hide_draft(tender)
    states.check_allowed(tender.status, "download")
    doc = await TenderDocument.get_or_none(id=document_id, tender_id=tender_id)
    if doc is None:
        raise NotFound()
    async with in_transaction():
        registration = await _registration(tender_id, org_id)
        download = await Download.create(
            registration=registration, document=doc, downloaded_at=ctx.clock.now()
        )
        await audit(
            ctx, actor=actor, action="bidding:document:downloaded", tender_id=tender_id,
            object_type="download", object_id=download.id, sealed=True,
            after={"document_id": doc.id, "version": doc.version, "sha256": doc.sha256},
        )
    return doc


async def sealed_bid_for_owner(
    ctx: Context, *, actor: Actor, tender_id: int, bid_id: int
) -> Bid:
    """One of the actor's organisation's sealed bids (its receipt and package), or 404."""
    org_id = require_bidder(actor)
    bid = await Bid.get_or_none(id=bid_id, tender_id=tender_id, organization_id=org_id)
    if bid is None or bid.receipt is None:
        raise BidNotFound()
    return bid


async def withdraw_bid(ctx: Context, *, actor: Actor, tender_id: int, bid_id: int) -> Bid:
    """Withdraw one's current bid before the deadline."""
    org_id = require_bidder(actor)
    async with in_transaction():
        tender = await share_lock_tender(tender_id)
        states.check_allowed(tender.status, "withdraw_bid")
        now = ctx.clock.now()
        check_deadline(ctx, tender, now)
        # The registration first, as a batch of submissions locks it (submissions._commit):
        # else a batch that had read this bid as current could mark it superseded after this
        # withdrawal committed, and the bid would end superseded with a withdrawal audited.
        await Registration.filter(
            tender_id=tender_id, organization_id=org_id).select_for_update().first()
        bid = await Bid.filter(
            id=bid_id, tender_id=tender_id, organization_id=org_id
        ).select_for_update().first()
        if bid is None:
            raise BidNotFound()
        if bid.status != BidStatus.SUBMITTED:
            raise BidNotCurrent(
                status="withdrawn" if bid.status == BidStatus.WITHDRAWN else "replaced",
                status_zh="撤回" if bid.status == BidStatus.WITHDRAWN else "被替换",
                when=local(ctx, bid.ended_at) if bid.ended_at else "?")
        bid.status = BidStatus.WITHDRAWN
        bid.ended_at = now
        await bid.save(update_fields=["status", "ended_at"])
        await audit(
            ctx, actor=actor, action="bidding:bid:withdrawn", tender_id=tender_id,
            object_type="bid", object_id=bid.id, sealed=True,
        )
    await bid.fetch_related("lot")  # its answer names the lot
    return bid


async def raise_objection(
    ctx: Context, *, actor: Actor, tender_id: int, stage: str, text: str
) -> Objection:
    """Raise an objection (异议): to the documents before the deadline (suspends the tender
    until answered), at the opening, or to the candidates during their publicity."""
    org_id = require_bidder(actor)
    text = text.strip()
    if not 10 <= len(text) <= 10000:
        raise InvalidInput(
            "text", "needs 10 to 10000 characters", "异议内容须为 10 至 10000 个字符"
        )
    try:
        stage_value = ObjectionStage(stage)
    except ValueError:
        raise InvalidInput("stage", "unknown kind of objection", "异议类型无效") from None
    async with in_transaction():
        tender = await lock_tender(tender_id)
        hide_draft(tender)
        now = ctx.clock.now()
        if stage_value == ObjectionStage.DOCUMENTS:
            # Any signed-up bidder may object to the documents, registered or not, so an
            # objection reveals nothing about who registered.
            states.check_allowed(tender.status, "object_documents")
            await require_invited(tender, org_id)
            statute.check_documents_objection(
                rules_of(tender), ctx.calendar, now, tender.deadline_at, ctx.tz
            )
        elif stage_value == ObjectionStage.OPENING:
            states.check_allowed(tender.status, "object_opening")
            # Art. 44: the bidders object at the opening. A company that registered and did
            # not bid may not, and its objection would reveal that it had registered.
            if not await Bid.filter(tender_id=tender_id, organization_id=org_id,
                                    status=BidStatus.SUBMITTED).exists():
                raise NotABidder()
        else:
            states.check_allowed(tender.status, "object_candidates")
            await _registration(tender_id, org_id)
            # The award becomes possible at the end instant: objections stop there.
            if tender.publicity_ends_at and now >= tender.publicity_ends_at:
                raise ObjectionWindowClosed()
        objection = await Objection.create(
            tender=tender, stage=stage_value, organization_id=org_id, text=text, raised_at=now
        )
        await audit(
            ctx, actor=actor, action="bidding:objection:raised", tender_id=tender_id,
            object_type="objection", object_id=objection.id,
            sealed=stage_value == ObjectionStage.DOCUMENTS,
            after={"stage": stage_value.value, "text": text},
        )
        if stage_value == ObjectionStage.DOCUMENTS and tender.status == TenderStatus.PUBLISHED:
            # Recorded as the system's act: the objector's name would reveal a bidder.
            await transition(
                ctx, tender, "suspend", actor=SYSTEM,
                detail={"objection_id": objection.id,
                        "answer_due": statute.objection_answer_due(
                            rules_of(tender), ctx.calendar, now, ctx.tz).isoformat()},
            )
        org_ids = [tender.agency_id]
        await accounts.notify(
            ctx, organization_ids=org_ids, title=f"【异议】{tender.title}", body=text,
            link=f"/tenders/{tender.id}",
        )
    return objection


async def read_bid_file(ctx: Context, *, actor: Actor, bid_id: int) -> Bid:
    """Give a bid file to its bidder, or to the agency and supervisors after the opening;
    every read is audited (sealed while the tender is)."""
    from bidding.services.queries import bid_for_owner

    bid = await bid_for_owner(actor, bid_id)
    async with in_transaction():
        await audit(
            ctx, actor=actor, action="bidding:bid:read", tender_id=bid.tender.id,
            object_type="bid", object_id=bid.id, sealed=states.is_sealed(bid.tender.status),
            detail={"sha256": bid.sha256},
        )
    return bid
