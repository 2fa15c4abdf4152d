"""Opening one stored package (docs/opening.md, "Each bid's outcome"): re-hash against the
receipt, check the key, decrypt and verify in a worker thread with constant memory, move the
files into the blob store, and record the outcome."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import anyio.to_thread
from cryptography.hazmat.primitives.asymmetric import x25519
from tortoise.transactions import in_transaction

from bidding.models import Bid, BidFile, Decryption, Lot, OpeningIncident, Tender, TenderStatus
from bidding.services.common import audit, lock_tender
from bidding.services.opening.common import RESOLVED, detail_text
from kernel.accounts import services as accounts
from kernel.accounts.actor import SYSTEM, Actor
from kernel.context import Context
from kernel.files import fsync_dir
from signing import cms
from signing.receipts import Receipt
from signing.sealed import keys as sealed_keys
from signing.sealed import open_sealed, read_header, unwrap_data_key, unwrap_share
from signing.sealed.errors import (
    PackageChanged,
    SealedBidRefused,
    WrongDataKey,
    WrongRecipientKey,
)

# -- decrypting one bid ---------------------------------------------------------------------


@dataclass
class Outcome:
    decryption: Decryption
    detail: str
    manifest: dict[str, Any] | None = None
    files: list[tuple[str, str, int, Path | None]] = field(default_factory=list)
    incident: str = ""


def _platforms_fault(problem: str) -> Outcome:
    return Outcome(Decryption.FAILED_PLATFORM, incident=problem, detail=detail_text(
        f"the platform's fault: {problem}", "平台原因：存储的投标文件与回执不符"))


class Opener:
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

    def open(self, data_key: bytes, how: Decryption) -> Outcome:
        """Decrypt with ``data_key``. WrongDataKey propagates (the caller refuses it); any
        other failure on an intact package is the bidder's.

        The stored package is hashed against its receipt in the same pass that decrypts it
        (open_sealed's ``intake_package_sha256``). Only when something fails is it hashed again
        on its own, to tell whose fault it is: a package that no longer matches its receipt is
        the platform's. (Hashing it first, every time, read every bid twice.)
        """
        try:
            sealed_keys.check_commitment(self.header(), data_key, source="the data key given",
                                         source_zh="所提供的数据密钥")
        except FileNotFoundError:
            return _platforms_fault("the stored package is missing")
        except SealedBidRefused:  # a wrong key, or a header that is no longer what was sent
            problem = self.intact()
            if problem is not None:
                return _platforms_fault(problem)
            raise
        out_dir = self.ctx.blobs.tmp_dir / f"opening-{uuid.uuid4().hex}"
        out_dir.mkdir(parents=True, exist_ok=True)
        try:
            try:
                with self.ctx.blobs.open(self.bid.sha256) as f:
                    # Why the outer signature is not verified again: intake verified it
                    # (signing.intake.check_package) before the receipt, which the platform
                    # signed, named the package's hash; open_sealed checks that the bytes it
                    # decrypts hash to that, in the same pass. It still checks every GCM tag,
                    # the manifest's signature by the bid's certificate and every file.
                    opened = open_sealed(f, data_key, out_dir=out_dir,
                                         intake_package_sha256=self.receipt_sha256())
            except PackageChanged as error:  # said as every other mismatch is, naming the receipt
                return _platforms_fault(self.intact() or error.message("en"))
            except SealedBidRefused as error:
                problem = self.intact()
                if problem is not None:
                    return _platforms_fault(problem)
                if isinstance(error, WrongDataKey):
                    raise
                return Outcome(Decryption.FAILED_BIDDER, detail_text(error.message("en"),
                                                                  error.message("zh-CN")))
            manifest = opened.manifest
            expected = (str(self.tender_id), str(self.lot), self.credit_code)
            if (manifest.tender, manifest.lot, manifest.bidder) != expected:
                return Outcome(Decryption.FAILED_BIDDER, detail_text(
                    "the signed manifest names another tender, lot or bidder",
                    "签名的投标清单所列项目、标段或投标人与本投标不符"))
            files = [(f.name, f.sha256, f.size, self._adopt(f.path, f.sha256))
                     for f in opened.files]
            return Outcome(how, "", manifest=json.loads(opened.manifest_bytes), files=files)
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


async def opener_for(ctx: Context, tender: Tender, bid: Bid) -> Opener:
    lot = await Lot.get(id=bid.lot_id)  # type: ignore[attr-defined]
    org = await accounts.get_organization(bid.organization_id)
    return Opener(ctx, bid, tender_id=tender.id, lot=lot.number, credit_code=org.credit_code)


async def record_outcome(ctx: Context, *, tender_id: int, bid_id: int, outcome: Outcome,
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


async def open_both(opener: Opener, opening_key: x25519.X25519PrivateKey,
                     half: bytes) -> Outcome:
    def work() -> Outcome:
        header = opener.header()
        try:
            data_key = unwrap_data_key(header, opening_key, "opening", other_share=half)
        except WrongRecipientKey as error:
            return Outcome(Decryption.FAILED_BIDDER, detail_text(error.message("en"),
                                                              error.message("zh-CN")))
        return opener.open(data_key, Decryption.DECRYPTED)

    return await anyio.to_thread.run_sync(work)


async def recover(opener: Opener, opening_key: x25519.X25519PrivateKey,
                   half: bytes | None, *, closed: bool) -> Outcome | None:
    """The outcome with the officers' key (and the bidder's kept half in "both" mode); None
    when a kept half proves wrong while the window is open: the bidder may send it again."""
    if half is not None:
        try:
            return await open_both(opener, opening_key, half)
        except WrongDataKey as error:
            if not closed:
                return None
            return Outcome(Decryption.FAILED_BIDDER, detail_text(error.message("en"),
                                                              error.message("zh-CN")))

    def work() -> Outcome:
        try:
            data_key = sealed_keys.check_commitment(
                opener.header(), unwrap_share(opener.header(), opening_key, "opening"),
                source="the key unwrapped with the opening key", source_zh="用开标密钥解出的密钥")
            return opener.open(data_key, Decryption.RECOVERED)
        except (WrongRecipientKey, WrongDataKey) as error:
            return Outcome(Decryption.FAILED_BIDDER, detail_text(error.message("en"),
                                                              error.message("zh-CN")))

    return await anyio.to_thread.run_sync(work)
