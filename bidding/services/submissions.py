"""Sealed submissions: each package is checked on its own, then committed with the others that
arrived meanwhile, in one transaction (group commit, kernel/batching.py).

Why batches. Every accepted bid appends a receipt to the one platform-wide log and an event to
the audit chain; each holds its chain's head row locked until its commit, so submissions commit
one at a time. One at a time, a deadline rush of 200 bids a second queued for minutes
(bench/RESULTS.md, P1). A batch takes each lock once, writes its bids, log entries and audit
events in one statement (kernel/writes.py, decision 0020) and commits once; every receipt is
still handed out only after the commit that made it durable, and every check that decides (the
deadline by the instant the last byte arrived, the tender's status, the registration, a resent
or superseded package) is made again for each bid under the tender's share lock inside that
transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from bidding import states
from bidding.exceptions import (
    InvalidInput,
    NoOpeningKey,
    NotRegistered,
    PackageSuperseded,
    PackageWithdrawn,
)
from bidding.models import Bid, BidStatus, Lot, Registration, Tender
from bidding.services.common import (
    check_deadline,
    hide_draft,
    local,
    require_bidder,
    scope,
    share_lock_tenders,
)
from kernel.accounts import services as accounts
from kernel.accounts.actor import Actor
from kernel.audit.chain import Entry
from kernel.batching import GroupCommit
from kernel.context import Context
from kernel.db import random_ids
from kernel.errors import DomainError, NotFound
from kernel.storage import BlobStore
from kernel.writes import Writes
from signing import fingerprint, intake, opening
from signing import keys as platform_keys
from signing import log as receipts_log
from signing.intake import CheckedPackage

__all__ = ["submit_sealed_bid"]

# Facts of a published tender that never change (its opening key, its lots), a bidder's credit
# code and a registration once made, kept per process (kernel/memo.py). Decisions are not taken
# on them alone: the batch reads the tender and the registration again under the lock.
_FACT_MAX_AGE = 300.0

V = TypeVar("V")
Accepted = tuple[Bid, bytes, bool]  # the bid, its receipt (CMS DER), whether it is new


def _refuse_resent(bid: Bid, ctx: Context) -> None:
    if bid.status == BidStatus.SUPERSEDED:
        raise PackageSuperseded(ended=local(ctx, bid.ended_at or bid.submitted_at))
    if bid.status == BidStatus.WITHDRAWN:
        raise PackageWithdrawn(ended=local(ctx, bid.ended_at or bid.submitted_at))


def _answer_resent(bid: Bid | None, ctx: Context) -> Accepted | None:
    """The original receipt when ``bid`` is the current package sent again; refuses a
    superseded or withdrawn one; None when there is no earlier bid of these bytes."""
    if bid is None:
        return None
    if bid.status == BidStatus.SUBMITTED and bid.receipt:
        return bid, bytes(bid.receipt), False
    _refuse_resent(bid, ctx)
    return None


def _upload_address(ctx: Context, remote_addr: str) -> str:
    """The sender's address as a keyed hash (the collusion detectors compare, never read it)."""
    address = fingerprint.normalise("ip", remote_addr) if remote_addr else None
    if address is None:
        return ""
    key = platform_keys.load(ctx.settings, now=ctx.clock.now()).fingerprint
    return fingerprint.keyed_hash(key, "ip", address)


async def _fact(ctx: Context, key: tuple[object, ...], read: Callable[[], Awaitable[V]],
                *, max_age: float = _FACT_MAX_AGE) -> V:
    return await ctx.memo.fetch(key, read, now=ctx.clock.now(), max_age=max_age)


async def _opening_key_id(ctx: Context, tender_id: int) -> str:
    async def read() -> str | None:
        row = await opening.opening_key_row(tender_id)
        return None if row is None else row.key_id

    key_id = await _fact(ctx, ("bidding:opening_key", tender_id), read)
    if key_id is None:
        raise NoOpeningKey()
    return key_id


async def _lot_id(ctx: Context, tender_id: int, number: int) -> int:
    async def read() -> int | None:
        ids = await Lot.filter(tender_id=tender_id, number=number).values_list("id", flat=True)
        return int(ids[0]) if ids else None  # type: ignore[call-overload]

    lot_id = await _fact(ctx, ("bidding:lot", tender_id, number), read)
    if lot_id is None:
        raise InvalidInput("lot", "no such lot", "标段不存在")
    return lot_id


async def _credit_code(ctx: Context, org_id: int) -> str:
    async def read() -> str:
        return (await accounts.get_organization(org_id)).credit_code

    return await _fact(ctx, ("bidding:credit_code", org_id), read)


async def _require_registered(ctx: Context, tender_id: int, org_id: int) -> None:
    async def read() -> bool | None:
        return await Registration.filter(tender_id=tender_id, organization_id=org_id).exists() \
            or None  # a missing registration is not kept: it may come any moment

    if not await _fact(ctx, ("bidding:registered", tender_id, org_id), read):
        raise NotRegistered()


def _precheck(tender: Tender | None) -> None:
    if tender is None:
        raise NotFound()
    hide_draft(tender)


def _check_open(ctx: Context, tender: Tender, received_at: datetime) -> None:
    check_deadline(ctx, tender, received_at)
    states.check_allowed(tender.status, "submit_bid")


@dataclass(frozen=True)
class _Pending:
    """A checked, stored package waiting for its batch."""

    ctx: Context
    actor: Actor
    org_id: int
    tender_id: int
    tender_code: str
    lot_id: int
    lot_number: int
    checked: CheckedPackage
    received_at: datetime
    upload_address: str


async def submit_sealed_bid(
    ctx: Context,
    *,
    actor: Actor,
    tender_id: int,
    lot_number: int,
    package_path: Path,
    received_at: datetime,
    remote_addr: str = "",
) -> Accepted:
    """Accept a sealed package whose last byte arrived at ``received_at``: (bid, receipt, new).

    The package is checked (signing.intake) outside any lock and stored durably in the blob
    store; then its batch's transaction, under the tender's share lock, judges the deadline by
    ``received_at``, supersedes the lot's current bid, records the bid, appends its receipt to
    the log and audits it. The receipt is returned only after that commit. Re-sending the
    current package returns its original receipt (``new`` is False); a superseded or
    withdrawn one is refused. ``package_path`` stays the caller's to delete.
    """
    org_id = require_bidder(actor)
    # The tender as read at most a second ago: what is checked here is checked again under the
    # lock, and a refusal is made only on a fresh read (a postponed deadline, a published draft).
    tender = await _fact(ctx, ("bidding:tender", tender_id),
                         lambda: Tender.get_or_none(id=tender_id), max_age=1.0)
    try:
        _precheck(tender)
        key_id = await _opening_key_id(ctx, tender_id)
    except DomainError:
        ctx.memo.forget(("bidding:tender", tender_id))
        tender = await Tender.get_or_none(id=tender_id)
        _precheck(tender)
        key_id = await _opening_key_id(ctx, tender_id)
    assert tender is not None
    lot_id = await _lot_id(ctx, tender_id, lot_number)
    credit_code, key_mode = await _credit_code(ctx, org_id), tender.key_mode.value

    async def check(blobs: BlobStore | None) -> CheckedPackage:
        return await intake.check_package(
            ctx, path=package_path, tender_id=tender_id, lot_number=lot_number,
            opening_key_id=key_id, key_mode=key_mode, credit_code=credit_code,
            received_at=received_at, max_bytes=ctx.settings.max_bid_bytes, blobs=blobs,
        )

    # Cheap refusals first (all made again in the batch), so a refused package is not stored.
    # When one refuses, the same bytes sent again are answered with their receipt all the
    # same, so a client retrying after a lost answer past the deadline gets the receipt it
    # missed; a package that fails its own checks is refused for that first.
    try:
        try:
            _check_open(ctx, tender, received_at)
        except DomainError:
            tender = await Tender.get_or_none(id=tender_id)  # refuse on a fresh read only
            _precheck(tender)
            assert tender is not None
            _check_open(ctx, tender, received_at)
        await _require_registered(ctx, tender_id, org_id)
    except DomainError:
        checked = await check(None)
        earlier = await Bid.filter(tender_id=tender_id, organization_id=org_id,
                                   sha256=checked.package_sha256).order_by("-submitted_at").first()
        answer = _answer_resent(earlier, ctx)
        if answer is not None:
            return answer
        raise
    # Checked, then stored durably in the same trip to a worker thread: the bytes just checked
    # are the bytes stored, linked rather than copied (kernel.storage).
    checked = await check(ctx.blobs)
    pending = _Pending(ctx=ctx, actor=actor, org_id=org_id, tender_id=tender_id,
                       tender_code=tender.code, lot_id=lot_id, lot_number=lot_number,
                       checked=checked, received_at=received_at,
                       upload_address=_upload_address(ctx, remote_addr))
    return await _commits.submit(id(ctx), pending)


@dataclass
class _Accepting:
    """An item of the batch that passed its checks, and the bid it becomes."""

    item: _Pending
    bid: Bid
    replaces: list[Bid]


async def _commit(items: Sequence[_Pending]) -> list[Accepted | BaseException]:
    """One transaction for a batch of submissions (all of one context): see the module doc."""
    ctx = items[0].ctx
    results: list[Accepted | BaseException | None] = [None] * len(items)
    same_as: dict[int, int] = {}  # item -> an earlier item of the batch with the same bytes
    async with in_transaction():
        tenders = await share_lock_tenders([item.tender_id for item in items])
        registrations = {
            (row.tender_id, row.organization_id): row  # type: ignore[attr-defined]
            for row in await Registration.filter(
                tender_id__in=list(tenders), organization_id__in=list({i.org_id for i in items})
            ).order_by("id").select_for_update()
        }
        # One query for both: bids of these bytes (a re-send) and the lots' current bids.
        shas = {item.checked.package_sha256 for item in items}
        registration_ids = {r.id for r in registrations.values()}
        earlier: dict[tuple[int, int, str], Bid] = {}
        current: dict[tuple[int, int], list[Bid]] = {}
        for row in await Bid.filter(
            Q(tender_id__in=list(tenders), sha256__in=list(shas))
            | Q(registration_id__in=list(registration_ids), status=BidStatus.SUBMITTED)
        ).order_by("submitted_at"):
            if row.sha256 in shas:
                earlier[(row.tender_id, row.organization_id, row.sha256)] = row  # type: ignore[attr-defined]
            if row.status == BidStatus.SUBMITTED and row.registration_id in registration_ids:  # type: ignore[attr-defined]
                current.setdefault((row.registration_id, row.lot_id), []).append(row)  # type: ignore[attr-defined]
        accepting: list[tuple[int, _Accepting]] = []
        ids = random_ids(len(items))
        first_of: dict[tuple[int, int, str], int] = {}
        # In the order the last bytes arrived, so a batch decides as one-at-a-time would.
        for n, item in sorted(enumerate(items), key=lambda pair: pair[1].received_at):
            bytes_key = (item.tender_id, item.org_id, item.checked.package_sha256)
            if bytes_key in first_of:  # the same bytes twice in one batch: one bid
                same_as[n] = first_of[bytes_key]
                continue
            try:
                tender = tenders.get(item.tender_id)
                if tender is None:
                    raise NotFound()
                registration = registrations.get((item.tender_id, item.org_id))
                if registration is None:
                    raise NotRegistered()
                answer = _answer_resent(earlier.get(bytes_key), ctx)
                if answer is not None:
                    results[n] = answer
                    continue
                check_deadline(ctx, tender, item.received_at)
                states.check_allowed(tender.status, "submit_bid")
            except DomainError as refusal:
                results[n] = refusal
                continue
            checked = item.checked
            bid = Bid(
                id=ids[n], tender_id=item.tender_id, lot_id=item.lot_id,
                registration_id=registration.id, organization_id=item.org_id,
                filename=f"{item.tender_code}-{item.lot_number}-{checked.package_sha256[:12]}"
                         ".sealed",
                sha256=checked.package_sha256, size=checked.size, price=None,
                certificate_sha256=checked.certificate_sha256,
                signer_subject=checked.signer_subject[:300], submitted_at=item.received_at,
                upload_address=item.upload_address,
            )
            # The lot's current bid is superseded, even one accepted earlier in this batch,
            # unless its last byte arrived after this one's: two uploads of one bidder in
            # flight at once end with the later-arrived one current, whichever commits first.
            lot_key = (registration.id, item.lot_id)
            newer = [old for old in current.get(lot_key, [])
                     if old.submitted_at > item.received_at]
            if newer:
                bid.status = BidStatus.SUPERSEDED
                bid.ended_at = min(old.submitted_at for old in newer)
                replaces = []
            else:
                replaces = current.pop(lot_key, [])
                for old in replaces:
                    old.status, old.ended_at = BidStatus.SUPERSEDED, item.received_at
                current[lot_key] = [bid]
            first_of[bytes_key] = n
            accepting.append((n, _Accepting(item, bid, replaces)))
        if accepting:
            await _record(ctx, [entry for _, entry in accepting])
    for n, entry in accepting:
        results[n] = (entry.bid, bytes(entry.bid.receipt or b""), True)
    for n, first in same_as.items():  # the same bytes again: the same bid, not a new one
        bid, der, _ = results[first]  # type: ignore[misc]
        results[n] = (bid, der, False)
    return [result if result is not None else RuntimeError("unanswered") for result in results]


async def _record(ctx: Context, accepting: list[_Accepting]) -> None:
    """The writes of a batch's accepted bids, inside its transaction: supersede, receipts, bids,
    audit events."""
    # Every write of the batch goes in one round trip at the end (kernel.writes): the log's
    # and the audit trail's heads are locked from their reads to the commit, and every other
    # submission of the platform waits for what happens in between.
    async with Writes() as writes:  # flushed as the block ends
        await _collect(ctx, accepting, writes)


async def _collect(ctx: Context, accepting: list[_Accepting], writes: Writes) -> None:
    """:func:`_record`'s writes, added to ``writes``; the locked reads of the log and the audit
    head are made here, in that order, as every writer of both makes them."""
    new_ids = {entry.bid.id for entry in accepting}
    # The bids this batch supersedes; one accepted in this batch is inserted as it stands.
    superseded = [old for entry in accepting for old in entry.replaces if old.id not in new_ids]
    writes.update_rows(Bid, superseded, fields=["status", "ended_at"])
    issued = await receipts_log.issue_receipts(ctx, writes=writes, requests=[
        receipts_log.ReceiptRequest(
            tender_id=entry.item.tender_id, lot=entry.item.lot_number,
            certificate_sha256=entry.item.checked.certificate_sha256,
            package_sha256=entry.item.checked.package_sha256,
            received_at=entry.item.received_at,
        ) for entry in accepting
    ])
    for entry, receipt in zip(accepting, issued, strict=True):
        entry.bid.receipt, entry.bid.log_index = receipt.der, receipt.index
    writes.insert(Bid, [entry.bid for entry in accepting])  # ids are ours: random_ids
    now = ctx.clock.now()
    await ctx.audit.record_many(writes=writes, entries=[
        Entry(
            at=now, actor=entry.item.actor, action="bidding:bid:submitted",
            object_type="bid", object_id=entry.bid.id, scope=scope(entry.item.tender_id),
            sealed=True,
            after={"lot": entry.item.lot_number, "sha256": entry.bid.sha256,
                   "size": entry.bid.size, "certificate_sha256": entry.bid.certificate_sha256,
                   "received_at": entry.item.received_at.isoformat(),
                   "log_index": entry.bid.log_index,
                   "replaces": [old.id for old in entry.replaces]},
            detail={"checked_at": now.isoformat()},
        ) for entry in accepting
    ])


# One per process; batches never mix contexts (the key is the context's identity).
_commits: GroupCommit[_Pending, Accepted] = GroupCommit(_commit, max_batch=64)
