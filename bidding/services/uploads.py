"""Resumable uploads of sealed packages, in front of ``submit_sealed_bid``.

A bidder on a poor line sends a package of several GiB in chunks: it declares the tender, the
lot, the size and the SHA-256 up front, PUTs the bytes from the current offset on, and after a
broken connection asks for the offset and goes on from there. ``complete`` checks the size and
the SHA-256, then hands the file to ``submit_sealed_bid`` with ``received_at`` = the instant the
last byte arrived, which is what the deadline judges (docs/api.md, "Uploads").

The parts live in ``data_dir/uploads/<upload_id>/``: ``meta.json`` (the declaration, whose it
is, and when the last byte came) and ``data`` (the bytes so far; its length is the offset, and
it is fsynced before a chunk is acknowledged). A chunk is written under an exclusive ``flock``
of ``data``, so two writers of one upload (two processes, or a retry that overtook the first
attempt) cannot interleave: the second waits a moment, then is told the offset instead. An upload
is its starter's alone; one older than ``upload_max_age_seconds`` or whose tender's opening has
begun is refused and removed by the tick (``clean_expired``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

import anyio
import anyio.to_thread

from bidding import states
from bidding.exceptions import DeadlinePassed, NotRegistered
from bidding.models import Lot, Registration, Tender
from bidding.services.bidders import sealed_bid_for_owner
from bidding.services.common import hide_draft, local, require_bidder
from bidding.services.submissions import submit_sealed_bid
from kernel.accounts.actor import Actor
from kernel.context import Context
from kernel.errors import DomainError, InvalidInput, NotFound, PayloadTooLarge, PermissionDenied
from kernel.files import fsync_dir
from kernel.storage import limit_mb
from signing.exceptions import ChainRejected, CrlInvalid, CrlMissing, CrlOutOfDate, UnknownIssuer

__all__ = [
    "MAX_OPEN_UPLOADS",
    "Completed",
    "Upload",
    "UploadBusy",
    "UploadExpired",
    "UploadHashMismatch",
    "UploadIncomplete",
    "UploadNotFound",
    "UploadOffsetMismatch",
    "UploadOverrun",
    "clean_expired",
    "complete",
    "start",
    "status",
    "write_chunk",
]

META, DATA = "meta.json", "data"
# Uploads one organisation may have open at once: enough for every lot of a tender, not
# enough to fill the disk with abandoned parts.
MAX_OPEN_UPLOADS = 20
# Refusals at complete that are not about the package's bytes: the upload stays (see complete).
KEEP_UPLOAD_ON = (CrlMissing, CrlOutOfDate, CrlInvalid, UnknownIssuer, ChainRejected)
_ID = re.compile(r"[A-Za-z0-9_-]{20,64}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_WRITE = 1 << 20  # gather this much before a write to the part file
LOCK_WAIT_SECONDS = 3.0  # how long a second writer of one upload waits before it is told
_LOCK_POLL = 0.05


class UploadNotFound(NotFound):
    code = "upload_not_found"
    zh = "上传任务不存在（可能已完成、过期或被清理）"
    en = "No such upload (it may have been completed, expired or cleaned up)"


class UploadOffsetMismatch(DomainError):
    """Carries the offset the client must continue from (the API answers it as JSON)."""

    status_code = 409
    code = "upload_offset_mismatch"
    zh = "续传位置不符：服务器已收到 {offset} 字节，请从该位置继续"
    en = "Wrong offset: the server holds {offset} bytes; continue from there"

    def __init__(self, *, offset: int) -> None:
        super().__init__(offset=offset)
        self.offset = offset


class UploadBusy(UploadOffsetMismatch):
    code = "upload_busy"
    zh = "该上传任务正在写入另一个数据块，请稍后查询续传位置"
    en = "Another chunk of this upload is being written; ask for the offset and retry"


class UploadIncomplete(UploadOffsetMismatch):
    code = "upload_incomplete"
    zh = "上传尚未完成：已收到 {offset} / {size} 字节"
    en = "The upload is not complete: {offset} of {size} bytes received"

    def __init__(self, *, offset: int, size: int) -> None:
        DomainError.__init__(self, offset=offset, size=size)
        self.offset = offset


class UploadOverrun(DomainError):
    status_code = 413
    code = "upload_overrun"
    zh = "数据超出声明的大小（{size} 字节），该数据块未被接收"
    en = "The chunk goes beyond the declared size ({size} bytes); it was not kept"


class UploadHashMismatch(DomainError):
    status_code = 400
    code = "upload_sha256_mismatch"
    zh = "收到的数据的 SHA-256（{actual}）与声明的（{declared}）不符，上传已作废，请重新上传"
    en = ("The SHA-256 of the bytes received ({actual}) differs from the one declared "
          "({declared}); the upload is discarded, start again")


class UploadExpired(DomainError):
    status_code = 410
    code = "upload_expired"
    zh = "上传任务已失效：{reason_zh}"
    en = "The upload has expired: {reason}"


@dataclass(frozen=True)
class Upload:
    upload_id: str
    tender_id: int
    lot: int
    size: int
    sha256: str
    user_id: int
    organization_id: int
    created_at: str  # ISO 8601
    last_byte_at: str | None = None  # ISO 8601, when the byte that filled it arrived
    last_addr: str = ""  # whence that byte came (the bid's upload address)
    bid_id: int | None = None  # once completed

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()


@dataclass(frozen=True)
class Completed:
    bid_id: int
    receipt: bytes
    created: bool


# -- the files ---------------------------------------------------------------------------------


def _dir(ctx: Context, upload_id: str) -> Path:
    if not _ID.fullmatch(upload_id):
        raise UploadNotFound()
    return ctx.settings.upload_dir / upload_id


def _read_meta(directory: Path) -> Upload:
    try:
        return Upload(**json.loads((directory / META).read_bytes()))
    except (FileNotFoundError, NotADirectoryError):
        raise UploadNotFound() from None


def _write_meta(directory: Path, upload: Upload) -> None:
    tmp = directory / f".{META}.{secrets.token_hex(4)}"
    with tmp.open("wb") as handle:
        handle.write(upload.to_json())
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(directory / META)
    fsync_dir(directory)


def _create(directory: Path, upload: Upload) -> None:
    directory.mkdir(parents=True, mode=0o700)
    (directory / DATA).touch(mode=0o600)
    _write_meta(directory, upload)
    fsync_dir(directory.parent)


@contextlib.asynccontextmanager
async def _locked(directory: Path) -> AsyncIterator[IO[bytes]]:
    """The part file, opened for appending and exclusively locked, or UploadBusy.

    Waits a moment for another writer (a retry racing the request it replaces usually ends
    within it), then tells the offset rather than keep a request hanging on a slow upload.
    """
    try:
        handle = (directory / DATA).open("r+b")
    except FileNotFoundError:
        raise UploadNotFound() from None
    try:
        waited = 0.0
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if waited >= LOCK_WAIT_SECONDS:
                    raise UploadBusy(offset=os.fstat(handle.fileno()).st_size) from None
            await anyio.sleep(_LOCK_POLL)
            waited += _LOCK_POLL
        yield handle
    finally:
        handle.close()  # closing releases the lock


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_WRITE):
            digest.update(block)
    return digest.hexdigest()


def _remove(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)


# -- checks ------------------------------------------------------------------------------------


def _owned(upload: Upload, actor: Actor) -> None:
    if upload.user_id != actor.user_id:
        raise PermissionDenied()


async def _tender(ctx: Context, tender_id: int) -> Tender:
    tender = await Tender.get_or_none(id=tender_id)
    if tender is None:
        raise NotFound()
    hide_draft(tender)
    return tender


async def _check_live(ctx: Context, upload: Upload, directory: Path) -> Tender:
    """Refuse (and remove) an upload past its age or its tender's opening."""
    now = ctx.clock.now()
    created = datetime.fromisoformat(upload.created_at)
    tender = await Tender.get_or_none(id=upload.tender_id)
    reason: tuple[str, str] | None = None
    if tender is None:
        reason = ("its tender no longer exists", "招标项目已不存在")
    elif now - created > timedelta(seconds=ctx.settings.upload_max_age_seconds):
        hours = ctx.settings.upload_max_age_seconds // 3600
        reason = (f"it was started more than {hours} hours ago",
                  f"开始于 {hours} 小时以前")
    elif now >= tender.deadline_at + timedelta(seconds=ctx.settings.intake_grace_seconds):
        deadline = local(ctx, tender.deadline_at)
        reason = (f"the bid deadline ({deadline}) has passed", f"投标截止时间（{deadline}）已过")
    if reason is not None:
        await anyio.to_thread.run_sync(_remove, directory)
        raise UploadExpired(reason=reason[0], reason_zh=reason[1])
    assert tender is not None
    return tender


def _count_open(root: Path, organization_id: int) -> int:
    count = 0
    for meta in root.glob(f"*/{META}"):
        with contextlib.suppress(OSError, ValueError, TypeError):
            upload = Upload(**json.loads(meta.read_bytes()))
            count += upload.organization_id == organization_id and upload.bid_id is None
    return count


# -- the service -------------------------------------------------------------------------------


async def start(
    ctx: Context, *, actor: Actor, tender_id: int, lot_number: int, size: int, sha256: str
) -> Upload:
    """Open an upload of a sealed package of ``size`` bytes with this SHA-256 (hex)."""
    org_id = require_bidder(actor)
    assert actor.user_id is not None  # a bidder is a user
    sha256 = sha256.strip().lower()
    if not _SHA256.fullmatch(sha256):
        raise InvalidInput("sha256", "must be 64 hexadecimal digits", "须为 64 位十六进制数")
    if size <= 0:
        raise InvalidInput("size", "must be a positive number of bytes", "须为正的字节数")
    if size > ctx.settings.max_bid_bytes:
        raise PayloadTooLarge(limit_mb=limit_mb(ctx.settings.max_bid_bytes))
    tender = await _tender(ctx, tender_id)
    if ctx.clock.now() >= tender.deadline_at:
        raise DeadlinePassed(deadline=local(ctx, tender.deadline_at))
    states.check_allowed(tender.status, "submit_bid")
    if not await Lot.filter(tender_id=tender_id, number=lot_number).exists():
        raise InvalidInput("lot", "no such lot", "标段不存在")
    if not await Registration.filter(tender_id=tender_id, organization_id=org_id).exists():
        raise NotRegistered()
    root = ctx.settings.upload_dir
    if await anyio.to_thread.run_sync(_count_open, root, org_id) >= MAX_OPEN_UPLOADS:
        hours = ctx.settings.upload_max_age_seconds // 3600
        raise InvalidInput(
            "upload",
            f"at most {MAX_OPEN_UPLOADS} unfinished uploads at a time: complete one, or send "
            f"the package in one request (POST .../bids); unfinished uploads expire after "
            f"{hours} hours",
            f"同时最多 {MAX_OPEN_UPLOADS} 个未完成的上传：请先完成其中之一，或一次性提交投标文件"
            f"（POST .../bids）；未完成的上传 {hours} 小时后失效")
    upload = Upload(
        upload_id=secrets.token_urlsafe(24), tender_id=tender_id, lot=lot_number, size=size,
        sha256=sha256, user_id=actor.user_id, organization_id=org_id,
        created_at=ctx.clock.now().isoformat(),
    )
    await anyio.to_thread.run_sync(_create, root / upload.upload_id, upload)
    return upload


async def status(ctx: Context, *, actor: Actor, upload_id: str) -> tuple[Upload, int]:
    """The upload and how many bytes the server holds (where to continue)."""
    directory = _dir(ctx, upload_id)
    upload = await anyio.to_thread.run_sync(_read_meta, directory)
    _owned(upload, actor)
    if upload.bid_id is None:
        await _check_live(ctx, upload, directory)
    offset = upload.size if upload.bid_id is not None else await anyio.to_thread.run_sync(
        lambda: (directory / DATA).stat().st_size)
    return upload, offset


async def write_chunk(
    ctx: Context, *, actor: Actor, upload_id: str, offset: int, chunks: AsyncIterator[bytes],
    remote_addr: str = "",
) -> int:
    """Append the bytes of ``chunks`` at ``offset``; return the new offset.

    Bytes beyond the declared size refuse the whole chunk (UploadOverrun). A connection that
    breaks mid-chunk keeps what arrived: the client asks for the offset and goes on.
    """
    directory = _dir(ctx, upload_id)
    upload = await anyio.to_thread.run_sync(_read_meta, directory)
    _owned(upload, actor)
    if upload.bid_id is not None:
        raise UploadOffsetMismatch(offset=upload.size)
    tender = await _check_live(ctx, upload, directory)
    if ctx.clock.now() >= tender.deadline_at:  # bytes after the deadline can make no bid
        raise DeadlinePassed(deadline=local(ctx, tender.deadline_at))
    async with _locked(directory) as handle:
        current = os.fstat(handle.fileno()).st_size
        if offset != current:
            raise UploadOffsetMismatch(offset=current)
        handle.seek(current)
        written, pending = current, bytearray()
        last_byte_at: datetime | None = None
        try:
            async for chunk in chunks:
                if written + len(pending) + len(chunk) > upload.size:
                    raise UploadOverrun(size=upload.size)
                pending += chunk
                if len(pending) >= _WRITE:
                    await anyio.to_thread.run_sync(handle.write, bytes(pending))
                    written, pending = written + len(pending), bytearray()
            # Read before the last write and the fsync: the bid is as early as its last byte.
            if written + len(pending) == upload.size:
                last_byte_at = ctx.clock.now()
        except UploadOverrun:
            pending = bytearray()  # the whole chunk is refused, also what was written of it
            await anyio.to_thread.run_sync(handle.truncate, current)
            raise
        finally:
            # Whatever arrived is kept (resumable), also when the connection broke.
            if pending:
                await anyio.to_thread.run_sync(handle.write, bytes(pending))
                written += len(pending)
            await anyio.to_thread.run_sync(handle.flush)
            await anyio.to_thread.run_sync(os.fsync, handle.fileno())
        if last_byte_at is not None:
            done = Upload(**{**asdict(upload), "last_byte_at": last_byte_at.isoformat(),
                             "last_addr": remote_addr[:64]})
            await anyio.to_thread.run_sync(_write_meta, directory, done)
        return written


async def complete(
    ctx: Context, *, actor: Actor, upload_id: str, remote_addr: str = ""
) -> Completed:
    """Check size and SHA-256, then submit the package as if it had been sent in one piece.

    ``received_at`` is when the last byte arrived, not now. Completing again answers the
    receipt already issued. A refused package is removed with its upload: ``start`` has
    already checked everything the bidder could mend (registration, lot, deadline), so the
    refusal is about these bytes, and kept they would count against the organisation's
    MAX_OPEN_UPLOADS until they expired, which locked a bidder who had made a few mistakes out
    of the resumable upload on the deadline day. Except KEEP_UPLOAD_ON: refusals caused by the
    platform's trust store, which the centre mends (a CRL out of date) while the upload waits.
    """
    directory = _dir(ctx, upload_id)
    upload = await anyio.to_thread.run_sync(_read_meta, directory)
    _owned(upload, actor)
    if upload.bid_id is None:
        await _check_live(ctx, upload, directory)
        try:
            done = await _complete_locked(ctx, actor, directory, remote_addr)
        except UploadNotFound:
            # A concurrent complete won and removed the bytes: answer from its note.
            upload = await anyio.to_thread.run_sync(_read_meta, directory)
            if upload.bid_id is None:
                raise
        else:
            if done is not None:
                return done
            upload = await anyio.to_thread.run_sync(_read_meta, directory)
    assert upload.bid_id is not None
    bid = await sealed_bid_for_owner(ctx, actor=actor, tender_id=upload.tender_id,
                                     bid_id=upload.bid_id)
    return Completed(bid.id, bytes(bid.receipt or b""), False)


async def _complete_locked(
    ctx: Context, actor: Actor, directory: Path, remote_addr: str
) -> Completed | None:
    """Complete under the upload's lock; None when another complete did it meanwhile."""
    async with _locked(directory) as handle:
        upload = await anyio.to_thread.run_sync(_read_meta, directory)  # as of the lock
        if upload.bid_id is not None:
            return None
        offset = os.fstat(handle.fileno()).st_size
        if offset != upload.size:
            raise UploadIncomplete(offset=offset, size=upload.size)
        actual = await anyio.to_thread.run_sync(_sha256, directory / DATA)
        if actual != upload.sha256:
            await anyio.to_thread.run_sync(_remove, directory)
            raise UploadHashMismatch(actual=actual, declared=upload.sha256)
        try:
            bid, receipt, created = await submit_sealed_bid(
                ctx, actor=actor, tender_id=upload.tender_id, lot_number=upload.lot,
                package_path=directory / DATA,
                # No note of the last byte only after a crash between the data and the note:
                # then the bid counts as arriving now, never earlier than it did.
                received_at=(datetime.fromisoformat(upload.last_byte_at)
                             if upload.last_byte_at else ctx.clock.now()),
                remote_addr=upload.last_addr or remote_addr,
            )
        except DomainError as refusal:
            # Refused for these bytes (see complete): gone. Kept when the refusal may pass
            # without them changing, so the bid can still be completed with the time its last
            # byte arrived: the platform's own trust store (a CA's CRL out of date or missing,
            # an issuer the centre is still setting up), or anything not a refusal at all
            # (the database away).
            if not isinstance(refusal, KEEP_UPLOAD_ON):
                await anyio.to_thread.run_sync(_remove, directory)
            raise
        # The bytes are in the blob store now; keep only the note that answers a retry.
        done = Upload(**{**asdict(upload), "bid_id": bid.id})
        await anyio.to_thread.run_sync(_write_meta, directory, done)
        await anyio.to_thread.run_sync(lambda: (directory / DATA).unlink(missing_ok=True))
    return Completed(bid.id, receipt, created)


def _expired(directory: Path, now: datetime, max_age: timedelta,
             opening_at: dict[int, datetime]) -> bool:
    try:
        upload = _read_meta(directory)
    except (UploadNotFound, ValueError, TypeError):
        # A directory without a readable note: a start that crashed halfway, or garbage.
        return now - datetime.fromtimestamp(directory.stat().st_mtime, now.tzinfo) > max_age
    created = datetime.fromisoformat(upload.created_at)
    opens = opening_at.get(upload.tender_id)
    return now - created > max_age or opens is None or now >= opens


async def clean_expired(ctx: Context) -> int:
    """Remove uploads past their age or their tender's opening; returns how many (the tick)."""
    root = ctx.settings.upload_dir
    if not root.is_dir():
        return 0
    directories = [path for path in root.iterdir() if path.is_dir()]
    tender_ids: set[int] = set()
    for directory in directories:
        with contextlib.suppress(UploadNotFound, ValueError, TypeError):
            tender_ids.add(_read_meta(directory).tender_id)
    grace = timedelta(seconds=ctx.settings.intake_grace_seconds)
    opening_at = {tender.id: tender.deadline_at + grace
                  for tender in await Tender.filter(id__in=tender_ids)}
    now, max_age = ctx.clock.now(), timedelta(seconds=ctx.settings.upload_max_age_seconds)
    removed = 0
    for directory in directories:
        if _expired(directory, now, max_age, opening_at):
            await anyio.to_thread.run_sync(_remove, directory)
            removed += 1
    return removed
