"""The opening's course: its start at the deadline plus the intake grace, what each tick (or
submission) settles, and its end; the scheduler's ``advance_due``."""

from __future__ import annotations

from datetime import timedelta

from tortoise.transactions import in_transaction

from bidding.models import Bid, BidStatus, Decryption, KeyMode, Tender, TenderStatus
from bidding.services.common import local, lock_tender, transition
from bidding.services.opening.common import (
    NO_KEY,
    detail_text,
    drop_half,
    intake_grace,
    kept_half,
)
from bidding.services.opening.decrypt import Outcome, opener_for, record_outcome, recover
from bidding.services.opening.record import after_close, close
from kernel.accounts import services as accounts
from kernel.accounts.actor import SYSTEM, Actor
from kernel.accounts.models import OrgKind
from kernel.context import Context
from signing import log as receipts_log
from signing import opening_shares

# -- the start ------------------------------------------------------------------------------


async def begin_opening(ctx: Context, *, tender_id: int, actor: Actor = SYSTEM,
                        grace: bool = True) -> Tender | None:
    """Start the opening of a tender whose deadline (plus the intake grace, unless ``grace``
    is False) has passed: OPENING with its decryption window, or FAILED at once when there is
    not a single bid. Publishes the deadline's signed log head. Idempotent: None if not due."""
    now = ctx.clock.now()
    async with in_transaction():
        tender = await lock_tender(tender_id)
        due = tender.deadline_at + (intake_grace(ctx) if grace else timedelta(0))
        if tender.status != TenderStatus.PUBLISHED or now < due:
            return None
        bids = await Bid.filter(tender_id=tender.id, status=BidStatus.SUBMITTED)
        if not bids:
            await close(ctx, tender, actor=actor, now=now)
        else:
            ends = now + timedelta(minutes=tender.decryption_minutes)
            await transition(ctx, tender, "begin_opening", actor=actor,
                             changes={"decryption_ends_at": ends},
                             detail={"bids": len(bids), "decryption_ends_at": ends.isoformat()})
            orgs = {b.organization_id for b in bids}
            await accounts.notify(
                ctx, organization_ids=sorted(orgs | {tender.agency_id} | await _authorities()),
                title=f"【开标】{tender.title}",
                body=(f"项目 {tender.code} 已开标，请于 {local(ctx, ends)} 前完成投标文件解密"
                      "（ebid-client decrypt）。"),
                link=f"/tenders/{tender.id}/opening",
            )
    await receipts_log.publish_head(ctx, reason="deadline", tender_id=tender.id, actor=actor)
    if tender.status == TenderStatus.FAILED:
        await after_close(ctx, tender, actor)
    return tender


async def _authorities() -> set[int]:
    return {org.id for org in await accounts.list_organizations(OrgKind.AUTHORITY)}


# -- the end --------------------------------------------------------------------------------


async def settle(ctx: Context, *, tender_id: int, actor: Actor = SYSTEM) -> Tender | None:
    """Do what the keys and shares now allow, and end the opening when nothing is left to
    wait for: every bid resolved, or the window closed (bids without a key fail, unless the
    officers' key recovers them in "either" mode; "both" mode bids whose bidder's half is in
    wait for the officers' shares). Idempotent; the scheduler calls it every tick."""
    tender = await Tender.get_or_none(id=tender_id)
    if tender is None or tender.status != TenderStatus.OPENING:
        return None
    now = ctx.clock.now()
    closed = tender.decryption_ends_at is None or now >= tender.decryption_ends_at
    pending = await Bid.filter(tender_id=tender_id, status=BidStatus.SUBMITTED,
                               decryption=Decryption.PENDING)
    both = tender.key_mode == KeyMode.BOTH
    halves = {b.id: kept_half(ctx, tender_id, b.id) for b in pending} if both else {}
    todo = [b for b in pending if halves.get(b.id)] if both else (pending if closed else [])
    if todo:
        opening_key = await opening_shares.recover_opening_key(tender_id)
        if opening_key is not None:
            for bid in todo:
                opener = await opener_for(ctx, tender, bid)
                outcome = await recover(opener, opening_key, halves.get(bid.id),
                                         closed=closed)
                if outcome is None:
                    await drop_half(ctx, tender_id, bid.id)
                    halves[bid.id] = None
                    continue
                await record_outcome(ctx, tender_id=tender_id, bid_id=bid.id,
                                      outcome=outcome, actor=SYSTEM)
    if closed:
        for bid in await Bid.filter(tender_id=tender_id, status=BidStatus.SUBMITTED,
                                    decryption=Decryption.PENDING):
            if not halves.get(bid.id):
                await record_outcome(ctx, tender_id=tender_id, bid_id=bid.id, actor=SYSTEM,
                                      outcome=Outcome(Decryption.FAILED_BIDDER,
                                                       detail_text(*NO_KEY)))
    async with in_transaction():
        tender = await lock_tender(tender_id)
        if tender.status != TenderStatus.OPENING or await Bid.filter(
            tender_id=tender_id, status=BidStatus.SUBMITTED, decryption=Decryption.PENDING
        ).exists():
            return None
        await close(ctx, tender, actor=actor, now=ctx.clock.now())
    await after_close(ctx, tender, actor)
    return tender


# -- the scheduler and the explicit opening -------------------------------------------------


async def open_tender(ctx: Context, *, tender_id: int, actor: Actor = SYSTEM) -> Tender | None:
    """Start the opening of a tender whose deadline has passed, without waiting for the intake
    grace (the caller vouches that no bid is still being received), and end it at once when no
    bid needs a key. None if it was not due."""
    tender = await begin_opening(ctx, tender_id=tender_id, actor=actor, grace=False)
    if tender is None:
        return None
    if tender.status == TenderStatus.OPENING:
        return await settle(ctx, tender_id=tender_id, actor=actor) or await Tender.get(
            id=tender_id)
    return tender


async def advance_due(ctx: Context) -> dict[str, int]:
    """The scheduler's work: start the opening of every tender whose deadline plus the intake
    grace has passed, and settle every running opening. Catches up after a restart because it
    looks only at the clock and the database. ``opened``: how many tenders' openings started or
    ended (one that does both in this call counts once)."""
    now = ctx.clock.now()
    due: list[int] = await Tender.filter(  # type: ignore[assignment]
        status=TenderStatus.PUBLISHED, deadline_at__lte=now - intake_grace(ctx)
    ).values_list("id", flat=True)
    moved: set[int] = set()
    for tender_id in due:
        if await begin_opening(ctx, tender_id=tender_id) is not None:
            moved.add(tender_id)
    running: list[int] = await Tender.filter(  # type: ignore[assignment]
        status=TenderStatus.OPENING
    ).values_list("id", flat=True)
    for tender_id in running:
        if await settle(ctx, tender_id=tender_id) is not None:
            moved.add(tender_id)
    return {"opened": len(moved)}
