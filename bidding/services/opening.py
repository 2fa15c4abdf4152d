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
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import anyio.to_thread
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import x25519
from tortoise.transactions import in_transaction

from bidding import rules as statute
from bidding import states
from bidding.exceptions import (
    BadKeySignature,
    BidNotFound,
    DecryptionWindowClosed,
    InvalidInput,
    KeyNotExpected,
    SharesTooEarly,
    TenderNotFound,
)
from bidding.models import (
    Bid,
    BidFile,
    BidStatus,
    Decryption,
    KeyMode,
    Lot,
    Notice,
    NoticeKind,
    Objection,
    ObjectionStage,
    OpeningIncident,
    OpeningRecord,
    Registration,
    Tender,
    TenderStatus,
)
from bidding.services.common import audit, local, lock_tender, require_bidder, rules_of, transition
from kernel.accounts import services as accounts
from kernel.accounts.actor import SYSTEM, Actor
from kernel.accounts.models import OrgKind, Role
from kernel.context import Context
from kernel.files import fsync_dir
from signing import cms, opening_shares
from signing import keys as platform_keys
from signing import log as receipts_log
from signing.receipts import Receipt, rfc3339
from signing.sealed import keys as sealed_keys
from signing.sealed import open_sealed, read_header, unwrap_data_key, unwrap_share
from signing.sealed.errors import SealedBidRefused, WrongDataKey, WrongRecipientKey

RECORD_FORMAT = "ebid-opening-record/1"
KEY_REQUEST_FIELDS = ("tender_id", "bid_id", "package_sha256", "data_key")
RESOLVED = frozenset({Decryption.DECRYPTED, Decryption.RECOVERED, Decryption.FAILED_BIDDER,
                      Decryption.FAILED_PLATFORM})
OPENED_OK = frozenset({Decryption.DECRYPTED, Decryption.RECOVERED})
_NO_KEY = ("no key arrived in the decryption window", "解密时间内未收到解密密钥")
_LEGACY = ("a plain bid from before sealed bids", "密封投标启用前的明文投标")


def canonical(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: the bytes that are signed (the key request, the record)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def key_request(*, tender_id: int, bid_id: int, package_sha256: str, data_key: str) -> bytes:
    """What the bidder signs when it sends its data key (``data_key`` in base64)."""
    return canonical({"tender_id": tender_id, "bid_id": bid_id,
                      "package_sha256": package_sha256, "data_key": data_key})


def _grace(ctx: Context) -> timedelta:
    return timedelta(seconds=getattr(ctx.settings, "intake_grace_seconds", 60))


def _detail(en: str, zh: str) -> str:
    return f"{zh} / {en}"[:500]


# -- the start ------------------------------------------------------------------------------


async def begin_opening(ctx: Context, *, tender_id: int, actor: Actor = SYSTEM,
                        grace: bool = True) -> Tender | None:
    """Start the opening of a tender whose deadline (plus the intake grace, unless ``grace``
    is False) has passed: OPENING with its decryption window, or FAILED at once when there is
    not a single bid. Publishes the deadline's signed log head. Idempotent: None if not due."""
    now = ctx.clock.now()
    async with in_transaction():
        tender = await lock_tender(tender_id)
        due = tender.deadline_at + (_grace(ctx) if grace else timedelta(0))
        if tender.status != TenderStatus.PUBLISHED or now < due:
            return None
        bids = await Bid.filter(tender_id=tender.id, status=BidStatus.SUBMITTED)
        if not bids:
            await _close(ctx, tender, actor=actor, now=now)
        else:
            for bid in bids:
                if bid.receipt is None:
                    # legacy plain bids: uploaded in the clear with their price before sealed
                    # bids existed; they count as decrypted. Remove with the old submit_bid.
                    bid.decryption = Decryption.DECRYPTED
                    bid.decrypted_at = now
                    bid.decryption_detail = _detail(*_LEGACY)
                    await bid.save(update_fields=["decryption", "decrypted_at",
                                                  "decryption_detail"])
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
        await _after_close(ctx, tender, actor)
    return tender


async def _authorities() -> set[int]:
    return {org.id for org in await accounts.list_organizations(OrgKind.AUTHORITY)}


# -- decrypting one bid ---------------------------------------------------------------------


@dataclass
class _Outcome:
    decryption: Decryption
    detail: str
    manifest: dict[str, Any] | None = None
    files: list[tuple[str, str, int, Path | None]] = field(default_factory=list)
    incident: str = ""


class _Opener:
    """Blocking work on one stored package, run in a worker thread: constant memory."""

    def __init__(self, ctx: Context, bid: Bid, *, tender_id: int, lot: int, credit_code: str):
        self.ctx = ctx
        self.bid = bid
        self.tender_id = tender_id
        self.lot = lot
        self.credit_code = credit_code

    def receipt_sha256(self) -> str:
        content, _ = cms.verify_attached(bytes(self.bid.receipt or b""), what="receipt")
        return Receipt.from_json(content).package_sha256

    def intact(self) -> str | None:
        """None if the stored package is what the receipt names, else why not."""
        expected = self.receipt_sha256()
        try:
            with self.ctx.blobs.path_for(self.bid.sha256).open("rb") as f:
                found = hashlib.file_digest(f, "sha256").hexdigest()
        except FileNotFoundError:
            return "the stored package is missing"
        if found != expected:
            return f"the stored package hashes to {found}, its receipt names {expected}"
        return None

    def header(self) -> Any:
        with self.ctx.blobs.open(self.bid.sha256) as f:
            return read_header(f)

    def open(self, data_key: bytes, how: Decryption) -> _Outcome:
        """Decrypt with ``data_key``. WrongDataKey propagates (the caller refuses it); any
        other failure on an intact package is the bidder's."""
        problem = self.intact()
        if problem is not None:
            return _Outcome(Decryption.FAILED_PLATFORM, incident=problem, detail=_detail(
                f"the platform's fault: {problem}", "平台原因：存储的投标文件与回执不符"))
        sealed_keys.check_commitment(self.header(), data_key, source="the data key given",
                                     source_zh="所提供的数据密钥")
        out_dir = self.ctx.blobs.tmp_dir / f"opening-{uuid.uuid4().hex}"
        out_dir.mkdir(parents=True, exist_ok=True)
        try:
            try:
                with self.ctx.blobs.open(self.bid.sha256) as f:
                    opened = open_sealed(f, data_key, out_dir=out_dir)
            except WrongDataKey:
                raise
            except SealedBidRefused as error:
                return _Outcome(Decryption.FAILED_BIDDER, _detail(error.message("en"),
                                                                  error.message("zh-CN")))
            manifest = opened.manifest
            expected = (str(self.tender_id), str(self.lot), self.credit_code)
            if (manifest.tender, manifest.lot, manifest.bidder) != expected:
                return _Outcome(Decryption.FAILED_BIDDER, _detail(
                    "the signed manifest names another tender, lot or bidder",
                    "签名的投标清单所列项目、标段或投标人与本投标不符"))
            files = [(f.name, f.sha256, f.size, self._adopt(f.path, f.sha256))
                     for f in opened.files]
            return _Outcome(how, "", manifest=json.loads(opened.manifest_bytes), files=files)
        finally:
            shutil.rmtree(out_dir, ignore_errors=True)

    def _adopt(self, path: Path | None, sha256: str) -> Path | None:
        """Move a decrypted file into the blob store under its SHA-256 (open_sealed hashed it
        as it wrote it, and checked it against the signed manifest), durably."""
        if path is None:
            return None
        with path.open("rb") as f:
            os.fsync(f.fileno())
        dest = self.ctx.blobs.path_for(sha256)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            path.unlink()
        else:
            os.replace(path, dest)
        fsync_dir(dest.parent)
        return dest


async def _opener(ctx: Context, tender: Tender, bid: Bid) -> _Opener:
    lot = await Lot.get(id=bid.lot_id)  # type: ignore[attr-defined]
    org = await accounts.get_organization(bid.organization_id)
    return _Opener(ctx, bid, tender_id=tender.id, lot=lot.number, credit_code=org.credit_code)


async def _record_outcome(ctx: Context, *, tender_id: int, bid_id: int, outcome: _Outcome,
                          actor: Actor) -> Bid | None:
    """Store an outcome if the bid is still pending (a concurrent request may have won)."""
    now = ctx.clock.now()
    async with in_transaction():
        tender = await lock_tender(tender_id)
        bid = await Bid.filter(id=bid_id, tender_id=tender_id).select_for_update().first()
        if bid is None or tender.status != TenderStatus.OPENING or bid.decryption in RESOLVED:
            return None
        bid.decryption = outcome.decryption
        bid.decryption_detail = outcome.detail
        bid.decrypted_at = now
        fields_ = ["decryption", "decryption_detail", "decrypted_at"]
        if outcome.manifest is not None:
            manifest = outcome.manifest
            bid.manifest = manifest
            bid.price = _amount(manifest.get("price"))
            duration = manifest.get("duration_days")
            bid.duration_days = duration if isinstance(duration, int) else None
            bid.quality = str(manifest.get("quality") or "")[:100]
            bid.project_manager = str(manifest.get("project_manager") or "")[:100]
            fields_ += ["manifest", "price", "duration_days", "quality", "project_manager"]
            for name, sha256, size, _ in outcome.files:
                await BidFile.create(bid=bid, name=name, sha256=sha256, size=size)
        await bid.save(update_fields=fields_)
        if outcome.incident:
            incident = await OpeningIncident.create(
                tender_id=tender_id, bid_id=bid.id, kind="package_mismatch",
                detail=outcome.incident, created_at=now,
            )
            await audit(ctx, actor=SYSTEM, action="bidding:opening:incident", tender_id=tender_id,
                        object_type="incident", object_id=incident.id,
                        detail={"bid_id": bid.id, "detail": outcome.incident})
        await audit(
            ctx, actor=actor, action=f"bidding:bid:{outcome.decryption.value}",
            tender_id=tender_id, object_type="bid", object_id=bid.id,
            after={"decryption": bid.decryption.value, "price": str(bid.price)
                   if bid.price is not None else None,
                   "files": [[n, s, z] for n, s, z, _ in outcome.files]},
            detail={"reason": outcome.detail} if outcome.detail else None,
        )
    return bid


def _amount(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return None


# -- the bidder's key -----------------------------------------------------------------------


def _b64(value: str, name: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise InvalidInput(name, "is not base64", "不是 base64 编码") from None


def _halves_dir(ctx: Context, tender_id: int) -> Path:
    return ctx.settings.data_dir / "opening" / str(tender_id)


async def submit_key(ctx: Context, *, actor: Actor, tender_id: int, bid_id: int,
                     data_key: str, signature: str) -> Bid:
    """A bidder's data key (its half in "both" mode) for its own bid, signed by the bid's
    certificate over :func:`key_request`; decrypts at once when it can. A wrong key is refused
    and may be sent again within the window."""
    org_id = require_bidder(actor)
    tender = await Tender.get_or_none(id=tender_id)
    if tender is None or tender.status == TenderStatus.DRAFT:
        raise TenderNotFound()
    # The state first: before the opening the answer must not depend on whose bid it is.
    states.check_allowed(tender.status, "send_key")
    now = ctx.clock.now()
    if tender.decryption_ends_at is not None and now >= tender.decryption_ends_at:
        raise DecryptionWindowClosed(ends=local(ctx, tender.decryption_ends_at))
    bid = await Bid.get_or_none(id=bid_id, tender_id=tender_id, organization_id=org_id,
                                status=BidStatus.SUBMITTED)
    if bid is None or bid.receipt is None:
        raise BidNotFound()
    if bid.decryption != Decryption.PENDING:
        raise KeyNotExpected(state=bid.decryption.value)
    key = _b64(data_key, "data_key")
    signed = _b64(signature, "signature")
    content = key_request(tender_id=tender_id, bid_id=bid.id, package_sha256=bid.sha256,
                          data_key=data_key)
    try:
        verified = cms.verify_detached(signed, content=content, what="cms")
    except SealedBidRefused as error:
        raise BadKeySignature(str(error.params.get("reason", error)),
                              str(error.params.get("reason_zh", error))) from error
    if verified.signer.fingerprint(hashes.SHA256()).hex() != bid.certificate_sha256:
        raise BadKeySignature("it is not signed by the certificate that signed the bid",
                              "签名证书不是签署该投标文件的证书")
    opener = await _opener(ctx, tender, bid)
    if tender.key_mode == KeyMode.BOTH:
        opening_key = await opening_shares.recover_opening_key(tender_id)
        if opening_key is None:
            await _keep_half(ctx, tender, bid, key, actor)
            return bid
        outcome = await _open_both(opener, opening_key, key)
    else:
        outcome = await anyio.to_thread.run_sync(opener.open, key, Decryption.DECRYPTED)
    stored = await _record_outcome(ctx, tender_id=tender_id, bid_id=bid.id, outcome=outcome,
                                   actor=actor)
    await settle(ctx, tender_id=tender_id)
    return stored or await Bid.get(id=bid.id)


async def _open_both(opener: _Opener, opening_key: x25519.X25519PrivateKey,
                     half: bytes) -> _Outcome:
    def work() -> _Outcome:
        header = opener.header()
        try:
            data_key = unwrap_data_key(header, opening_key, "opening", other_share=half)
        except WrongRecipientKey as error:
            return _Outcome(Decryption.FAILED_BIDDER, _detail(error.message("en"),
                                                              error.message("zh-CN")))
        return opener.open(data_key, Decryption.DECRYPTED)

    return await anyio.to_thread.run_sync(work)


async def _keep_half(ctx: Context, tender: Tender, bid: Bid, half: bytes, actor: Actor) -> None:
    """"both" mode before k shares are in: keep the bidder's half until they are. Alone it is
    uniformly random; with the officers' key it opens the bid, which is what the opening is for."""
    directory = _halves_dir(ctx, tender.id)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{bid.id}.half"
    tmp = directory / f".{bid.id}.{uuid.uuid4().hex}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(half)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(directory)
    async with in_transaction():
        await Bid.filter(id=bid.id).update(decryption_detail=_detail(
            "the bidder's half of the key is in; waiting for the officers' shares",
            "已收到投标人的密钥份额，等待开标人员提交份额"))
        await audit(ctx, actor=actor, action="bidding:bid:key_half_received",
                    tender_id=tender.id, object_type="bid", object_id=bid.id)


async def _drop_half(ctx: Context, tender_id: int, bid_id: int) -> None:
    (_halves_dir(ctx, tender_id) / f"{bid_id}.half").unlink(missing_ok=True)
    async with in_transaction():
        await Bid.filter(id=bid_id).update(decryption_detail=_detail(
            "the key half sent does not open the bid with the officers' half: send it again",
            "所提交的密钥份额与开标人员的份额无法解开投标文件，请重新提交"))
        await audit(ctx, actor=SYSTEM, action="bidding:bid:key_half_refused",
                    tender_id=tender_id, object_type="bid", object_id=bid_id)


def _kept_half(ctx: Context, tender_id: int, bid_id: int) -> bytes | None:
    path = _halves_dir(ctx, tender_id) / f"{bid_id}.half"
    return path.read_bytes() if path.is_file() else None


# -- the officers' shares -------------------------------------------------------------------


async def submit_share(ctx: Context, *, actor: Actor, tender_id: int, index: int,
                       share: str) -> opening_shares.ShareCount:
    """An officer's plaintext share of the opening key, only after the deadline; checked
    against its commitment and logged. Completes what the key now allows."""
    if not actor.has(Role.AGENCY, Role.SUPERVISOR, Role.ADMIN):
        raise opening_shares.NotTheShareHolder(index=index, reason="you are no opening officer",
                                               reason_zh="您不是开标人员")
    value = _b64(share, "share")
    async with in_transaction():
        tender = await lock_tender(tender_id)
        if tender.status == TenderStatus.DRAFT:
            raise TenderNotFound()
        if ctx.clock.now() < tender.deadline_at or tender.status in states.SEALED_STATES:
            raise SharesTooEarly(deadline=local(ctx, tender.deadline_at))
        states.check_allowed(tender.status, "send_share")
        count = await opening_shares.accept_share(ctx, actor=actor, tender_id=tender_id,
                                                  index=index, value=value)
    await settle(ctx, tender_id=tender_id)
    return count


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
    halves = {b.id: _kept_half(ctx, tender_id, b.id) for b in pending} if both else {}
    todo = [b for b in pending if halves.get(b.id)] if both else (pending if closed else [])
    if todo:
        opening_key = await opening_shares.recover_opening_key(tender_id)
        if opening_key is not None:
            for bid in todo:
                opener = await _opener(ctx, tender, bid)
                outcome = await _recover(opener, opening_key, halves.get(bid.id),
                                         closed=closed)
                if outcome is None:
                    await _drop_half(ctx, tender_id, bid.id)
                    halves[bid.id] = None
                    continue
                await _record_outcome(ctx, tender_id=tender_id, bid_id=bid.id,
                                      outcome=outcome, actor=SYSTEM)
    if closed:
        for bid in await Bid.filter(tender_id=tender_id, status=BidStatus.SUBMITTED,
                                    decryption=Decryption.PENDING):
            if not halves.get(bid.id):
                await _record_outcome(ctx, tender_id=tender_id, bid_id=bid.id, actor=SYSTEM,
                                      outcome=_Outcome(Decryption.FAILED_BIDDER,
                                                       _detail(*_NO_KEY)))
    async with in_transaction():
        tender = await lock_tender(tender_id)
        if tender.status != TenderStatus.OPENING or await Bid.filter(
            tender_id=tender_id, status=BidStatus.SUBMITTED, decryption=Decryption.PENDING
        ).exists():
            return None
        await _close(ctx, tender, actor=actor, now=ctx.clock.now())
    await _after_close(ctx, tender, actor)
    return tender


async def _recover(opener: _Opener, opening_key: x25519.X25519PrivateKey,
                   half: bytes | None, *, closed: bool) -> _Outcome | None:
    """The outcome with the officers' key (and the bidder's kept half in "both" mode); None
    when a kept half proves wrong while the window is open: the bidder may send it again."""
    if half is not None:
        try:
            return await _open_both(opener, opening_key, half)
        except WrongDataKey as error:
            if not closed:
                return None
            return _Outcome(Decryption.FAILED_BIDDER, _detail(error.message("en"),
                                                              error.message("zh-CN")))

    def work() -> _Outcome:
        try:
            data_key = sealed_keys.check_commitment(
                opener.header(), unwrap_share(opener.header(), opening_key, "opening"),
                source="the key unwrapped with the opening key", source_zh="用开标密钥解出的密钥")
            return opener.open(data_key, Decryption.RECOVERED)
        except (WrongRecipientKey, WrongDataKey) as error:
            return _Outcome(Decryption.FAILED_BIDDER, _detail(error.message("en"),
                                                              error.message("zh-CN")))

    return await anyio.to_thread.run_sync(work)


async def _close(ctx: Context, tender: Tender, *, actor: Actor, now: datetime) -> None:
    """The opening record, signed; the lots that fail; the notices; OPENED or FAILED. In the
    caller's transaction, with the tender locked."""
    rules = rules_of(tender)
    lots = await Lot.filter(tender_id=tender.id).order_by("number")
    bids = await Bid.filter(tender_id=tender.id, status=BidStatus.SUBMITTED).order_by(
        "submitted_at", "id")
    orgs = await accounts.organizations_by_ids({b.organization_id for b in bids})
    deposits = {r.id: r.deposit_status.value
                for r in await Registration.filter(tender_id=tender.id)}
    rows: list[dict[str, Any]] = []
    failed_lots = []
    for lot in lots:
        lot_bids = [b for b in bids if b.lot_id == lot.id]  # type: ignore[attr-defined]
        lot.failed = statute.lot_fails(rules, sum(b.decryption in OPENED_OK for b in lot_bids))
        await lot.save(update_fields=["failed"])
        if lot.failed:
            failed_lots.append(lot.number)
        for bid in lot_bids:
            org = orgs.get(bid.organization_id)
            opened = bid.decryption in OPENED_OK and bid.price is not None
            rows.append({
                "lot": lot.number,
                "bid_id": bid.id,
                "bidder": org.name if org else "",
                "credit_code": org.credit_code if org else "",
                "price": str(bid.price) if opened else None,
                "duration_days": bid.duration_days if opened else None,
                "quality": bid.quality if opened else "",
                "project_manager": bid.project_manager if opened else "",
                "deposit": deposits.get(bid.registration_id, ""),  # type: ignore[attr-defined]
                "decryption": bid.decryption.value,
                "sha256": bid.sha256,
                "submitted_at": bid.submitted_at.isoformat(),
                # A price above the ceiling is void (最高投标限价); so is a bid not opened.
                "valid": bool(opened and bid.price <= tender.price_ceiling),  # type: ignore[operator]
            })
    incidents = [{"bid_id": i.bid_id, "kind": i.kind, "detail": i.detail}
                 for i in await OpeningIncident.filter(tender_id=tender.id).order_by("id")]
    document = {
        "format": RECORD_FORMAT, "tender_id": tender.id, "tender_code": tender.code,
        "title": tender.title, "price_ceiling": str(tender.price_ceiling),
        "deadline_at": rfc3339(tender.deadline_at), "opened_at": rfc3339(now),
        "key_mode": tender.key_mode.value, "rows": rows, "incidents": incidents,
        "failed_lots": failed_lots,
    }
    content = canonical(document)
    signer = platform_keys.load(ctx.settings, now=now).receipt
    record = await OpeningRecord.create(
        tender=tender, rows=rows, sha256=hashlib.sha256(content).hexdigest(),
        signature=cms.sign_attached(content, key=signer.key, certificate=signer.certificate,
                                    chain=signer.chain),
        created_at=now,
    )
    all_failed = len(failed_lots) == len(lots)
    await transition(
        ctx, tender, "fail" if all_failed else "open", actor=actor, changes={"opened_at": now},
        detail={"opening_record_sha256": record.sha256, "failed_lots": failed_lots},
    )
    await Notice.create(
        tender=tender, kind=NoticeKind.OPENING, published_at=now,
        title=f"{tender.title} 开标记录", body=_opening_text(ctx, tender, lots, rows, incidents),
    )
    if failed_lots:
        await Notice.create(
            tender=tender, kind=NoticeKind.FAILURE, published_at=now,
            title=f"{tender.title} 流标公告",
            body=(f"项目编号：{tender.code}\n第 {'、'.join(map(str, failed_lots))} 标段"
                  f"有效投标人不足 {rules.min_bids} 家，依法流标"
                  + ("，招标人将依法重新招标。" if all_failed else "。")),
        )


async def _after_close(ctx: Context, tender: Tender, actor: Actor) -> None:
    """After the closing commit: the opening's signed log head, then the event."""
    shutil.rmtree(_halves_dir(ctx, tender.id), ignore_errors=True)
    await receipts_log.publish_head(ctx, reason="opening", tender_id=tender.id, actor=actor)
    await ctx.events.publish(
        "bidding:tender:opened",
        {"tender_id": tender.id, "failed": tender.status == TenderStatus.FAILED},
    )


_STATE_TEXT = {
    Decryption.FAILED_BIDDER.value: "解密失败（投标人原因，视为撤销投标文件）",
    Decryption.FAILED_PLATFORM.value: "解密失败（平台原因，视为撤回投标文件）",
    Decryption.RECOVERED.value: "由开标人员密钥解密",
}


def _opening_text(ctx: Context, tender: Tender, lots: list[Lot], rows: list[dict],
                  incidents: list[dict]) -> str:
    lines = [f"项目编号：{tender.code}", f"开标时间：{local(ctx, tender.deadline_at)}"]
    for lot in lots:
        lot_rows = [r for r in rows if r["lot"] == lot.number]
        lines.append(f"第{lot.number}标段 {lot.title}：投标人 {len(lot_rows)} 家"
                     + ("（流标）" if lot.failed else ""))
        for r in lot_rows:
            if r["price"] is None:
                lines.append(f"  {r['bidder']}  {_STATE_TEXT.get(r['decryption'], '未解密')}")
                continue
            lines.append(
                f"  {r['bidder']}  报价 ¥{Decimal(r['price']):,.2f}"
                + (f"  工期 {r['duration_days']} 天" if r["duration_days"] else "")
                + (f"  项目经理 {r['project_manager']}" if r["project_manager"] else "")
                + ("" if r["valid"] else "  （超过最高投标限价，无效）")
                + (f"  {_STATE_TEXT[r['decryption']]}" if r["decryption"] in _STATE_TEXT
                   else "")
            )
    if incidents:
        lines.append(f"开标异常记录 {len(incidents)} 条（平台原因），详见开标记录。")
    return "\n".join(lines)


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
    looks only at the clock and the database."""
    now = ctx.clock.now()
    due: list[int] = await Tender.filter(  # type: ignore[assignment]
        status=TenderStatus.PUBLISHED, deadline_at__lte=now - _grace(ctx)
    ).values_list("id", flat=True)
    started = 0
    for tender_id in due:
        if await begin_opening(ctx, tender_id=tender_id) is not None:
            started += 1
    running: list[int] = await Tender.filter(  # type: ignore[assignment]
        status=TenderStatus.OPENING
    ).values_list("id", flat=True)
    opened = 0
    for tender_id in running:
        if await settle(ctx, tender_id=tender_id) is not None:
            opened += 1
    return {"opening": started, "opened": opened}


# -- the read side --------------------------------------------------------------------------


async def opening_view(ctx: Context, *, actor: Actor, tender_id: int) -> dict[str, Any]:
    """What the opening page and GET .../opening show a logged-in viewer. Before the opening
    (a sealed state) nothing about the bids; from OPENING on every bidder's name and
    decryption state, and each price once its bid is opened."""
    tender = await Tender.get_or_none(id=tender_id)
    is_owner = actor.has(Role.AGENCY) and actor.organization_id == (tender and tender.agency_id)
    if tender is None or (tender.status == TenderStatus.DRAFT
                          and not (is_owner or actor.has(Role.SUPERVISOR))):
        raise TenderNotFound()
    count = await opening_shares.share_count(tender_id)
    sealed = states.is_sealed(tender.status)
    out: dict[str, Any] = {
        "tender_id": tender.id, "status": tender.status.value, "mode": tender.key_mode.value,
        "deadline_at": tender.deadline_at, "decryption_ends_at": tender.decryption_ends_at,
        "now": ctx.clock.now(), "bids": [], "objections": [], "incidents": [],
        "shares": {"submitted": count.submitted if not sealed else 0,
                   "threshold": count.threshold},
        "record": None,
    }
    if sealed:
        return out
    bids = await Bid.filter(tender_id=tender.id, status=BidStatus.SUBMITTED).prefetch_related(
        "lot").order_by("submitted_at", "id")
    objections = await Objection.filter(tender_id=tender.id,
                                        stage=ObjectionStage.OPENING).order_by("raised_at")
    orgs = await accounts.organizations_by_ids(
        {b.organization_id for b in bids} | {o.organization_id for o in objections})
    for bid in bids:
        opened = bid.decryption in OPENED_OK
        out["bids"].append({
            "bid_id": bid.id, "lot": bid.lot.number,
            "bidder": orgs[bid.organization_id].name if bid.organization_id in orgs else "",
            "decryption": bid.decryption.value, "detail": bid.decryption_detail,
            "price": str(bid.price) if opened and bid.price is not None else None,
            "mine": actor.has(Role.BIDDER) and actor.organization_id == bid.organization_id,
            "package_sha256": bid.sha256,
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
    return out


async def signed_record(tender_id: int) -> bytes:
    """The signed opening record (CMS DER, the JSON attached): public once the opening ended."""
    record = await OpeningRecord.get_or_none(tender_id=tender_id)
    if record is None or record.signature is None:
        raise TenderNotFound()
    return bytes(record.signature)
