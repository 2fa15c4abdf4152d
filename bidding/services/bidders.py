"""The bidder's side: register, download the documents, submit, replace or withdraw a bid,
raise objections."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import anyio.to_thread
from tortoise.transactions import in_transaction

from bidding import rules as statute
from bidding import states
from bidding.exceptions import (
    AlreadyRegistered,
    BidNotFound,
    DeadlinePassed,
    InvalidInput,
    NoOpeningKey,
    NotRegistered,
    ObjectionWindowClosed,
    PackageSuperseded,
    PackageWithdrawn,
)
from bidding.models import (
    Bid,
    BidStatus,
    Download,
    Lot,
    Objection,
    ObjectionStage,
    Registration,
    Tender,
    TenderDocument,
    TenderStatus,
)
from bidding.services.common import (
    audit,
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
from kernel.errors import NotFound, PayloadTooLarge
from kernel.storage import limit_mb
from signing import fingerprint, intake, opening
from signing import keys as platform_keys
from signing import log as receipts_log


def _check_deadline(ctx: Context, tender: Tender, now: datetime | None = None) -> None:
    # The server clock decides, whatever the status says: the scheduler may lag behind.
    if (now or ctx.clock.now()) >= tender.deadline_at:
        raise DeadlinePassed(deadline=local(ctx, tender.deadline_at))


async def register(ctx: Context, *, actor: Actor, tender_id: int) -> Registration:
    """Register for a tender (报名). Sealed until the opening."""
    org_id = require_bidder(actor)
    async with in_transaction():
        tender = await share_lock_tender(tender_id)
        hide_draft(tender)
        states.check_allowed(tender.status, "register")
        _check_deadline(ctx, tender)
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


def _upload_address(ctx: Context, remote_addr: str) -> str:
    """The sender's address as a keyed hash (the collusion detectors compare, never read it)."""
    address = fingerprint.normalise("ip", remote_addr) if remote_addr else None
    if address is None:
        return ""
    key = platform_keys.load(ctx.settings, now=ctx.clock.now()).fingerprint
    return fingerprint.keyed_hash(key, "ip", address)


def _refuse_resent(bid: Bid, ctx: Context) -> None:
    if bid.status == BidStatus.SUPERSEDED:
        raise PackageSuperseded(ended=local(ctx, bid.ended_at or bid.submitted_at))
    if bid.status == BidStatus.WITHDRAWN:
        raise PackageWithdrawn(ended=local(ctx, bid.ended_at or bid.submitted_at))


async def submit_sealed_bid(
    ctx: Context,
    *,
    actor: Actor,
    tender_id: int,
    lot_number: int,
    package_path: Path,
    received_at: datetime,
    remote_addr: str = "",
) -> tuple[Bid, bytes, bool]:
    """Accept a sealed package whose last byte arrived at ``received_at``: (bid, receipt, new).

    The package is checked (signing.intake) outside any lock, stored durably in the blob
    store, then one transaction under the tender's share lock judges the deadline by
    ``received_at``, supersedes the lot's current bid, records the bid, appends its receipt
    to the log and audits it. The receipt is returned only after that commit. Re-sending the
    current package returns its original receipt (``new`` is False); a superseded or
    withdrawn one is refused. ``package_path`` stays the caller's to delete.
    """
    org_id = require_bidder(actor)
    size = (await anyio.to_thread.run_sync(package_path.stat)).st_size
    if size > ctx.settings.max_bid_bytes:
        raise PayloadTooLarge(limit_mb=limit_mb(ctx.settings.max_bid_bytes))
    tender = await Tender.get_or_none(id=tender_id)
    if tender is None:
        raise NotFound()
    hide_draft(tender)
    key = await opening.opening_key_row(tender_id)
    if key is None:
        raise NoOpeningKey()
    lot = await Lot.get_or_none(tender_id=tender_id, number=lot_number)
    if lot is None:
        raise InvalidInput("lot", "no such lot", "标段不存在")
    organization = await accounts.get_organization(org_id)
    checked = await intake.check_package(
        ctx, path=package_path, tender_id=tender_id, lot_number=lot_number,
        opening_key_id=key.key_id, key_mode=tender.key_mode.value,
        credit_code=organization.credit_code, received_at=received_at,
    )
    # The same bytes again: answered from the row, before the deadline or the files are
    # looked at, so a client retrying after a lost answer gets the receipt it missed.
    earlier = await Bid.filter(tender_id=tender_id, organization_id=org_id,
                               sha256=checked.package_sha256).order_by("-submitted_at").first()
    if earlier is not None and earlier.status == BidStatus.SUBMITTED and earlier.receipt:
        return earlier, bytes(earlier.receipt), False
    if earlier is not None:
        _refuse_resent(earlier, ctx)
    # Cheap refusals before the bytes are stored; all are repeated under the lock below.
    _check_deadline(ctx, tender, received_at)
    states.check_allowed(tender.status, "submit_bid")
    await _registration(tender_id, org_id)
    # The bytes just checked are the bytes stored: linked, not copied (kernel.storage).
    await ctx.blobs.put_file(package_path, sha256=checked.package_sha256, size=checked.size)
    async with in_transaction():
        tender = await share_lock_tender(tender_id)
        registration = await Registration.filter(
            tender_id=tender_id, organization_id=org_id
        ).select_for_update().first()
        if registration is None:
            raise NotRegistered()
        # A concurrent re-send of the same bytes may have won the registration lock first.
        earlier = await Bid.filter(tender_id=tender_id, organization_id=org_id,
                                   sha256=checked.package_sha256).first()
        if earlier is not None and earlier.status == BidStatus.SUBMITTED and earlier.receipt:
            return earlier, bytes(earlier.receipt), False
        if earlier is not None:
            _refuse_resent(earlier, ctx)
        _check_deadline(ctx, tender, received_at)
        states.check_allowed(tender.status, "submit_bid")
        previous = await Bid.filter(
            registration_id=registration.id, lot_id=lot.id, status=BidStatus.SUBMITTED
        ).all()
        now = ctx.clock.now()
        for old in previous:
            old.status = BidStatus.SUPERSEDED
            old.ended_at = received_at
            await old.save(update_fields=["status", "ended_at"])
        issued = await receipts_log.issue_receipt(
            ctx, tender_id=tender_id, lot=lot_number,
            certificate_sha256=checked.certificate_sha256,
            package_sha256=checked.package_sha256, received_at=received_at,
        )
        bid = await Bid.create(
            tender_id=tender_id, lot=lot, registration=registration, organization_id=org_id,
            filename=f"{tender.code}-{lot_number}-{checked.package_sha256[:12]}.sealed",
            sha256=checked.package_sha256, size=checked.size, price=None,
            certificate_sha256=checked.certificate_sha256,
            signer_subject=checked.signer_subject[:300], receipt=issued.der,
            log_index=issued.index, submitted_at=received_at,
            upload_address=_upload_address(ctx, remote_addr),
        )
        await audit(
            ctx, actor=actor, action="bidding:bid:submitted", tender_id=tender_id,
            object_type="bid", object_id=bid.id, sealed=True,
            after={"lot": lot.number, "sha256": checked.package_sha256, "size": checked.size,
                   "certificate_sha256": checked.certificate_sha256,
                   "received_at": received_at.isoformat(), "log_index": issued.index,
                   "replaces": [old.id for old in previous]},
            detail={"checked_at": now.isoformat()},
        )
    return bid, issued.der, True


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
        _check_deadline(ctx, tender, now)
        bid = await Bid.filter(
            id=bid_id, tender_id=tender_id, organization_id=org_id
        ).select_for_update().first()
        if bid is None or bid.status != BidStatus.SUBMITTED:
            raise BidNotFound()
        bid.status = BidStatus.WITHDRAWN
        bid.ended_at = now
        await bid.save(update_fields=["status", "ended_at"])
        await audit(
            ctx, actor=actor, action="bidding:bid:withdrawn", tender_id=tender_id,
            object_type="bid", object_id=bid.id, sealed=True,
        )
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
            await _registration(tender_id, org_id)
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
