"""The hash-chained audit log: append inside the caller's transaction, checkpoint, verify.

Why two secrets outside the database. Each row carries ``mac = HMAC-SHA256(key, prev_mac ||
row)``, so a row cannot be edited, nor the chain re-linked around an edit or a deletion, without
the key, and the key lives in ``Settings.key_dir``, not in the database: an administrator who
rewrites a row and recomputes every later hash still fails the check. What the HMAC chain
cannot show is that the newest rows were deleted (the shortened chain is still a valid chain),
so the head ``(seq, mac)`` is regularly signed with an Ed25519 key and appended to
``checkpoints.jsonl`` in ``Settings.checkpoint_dir``; a checkpoint the database no longer
matches is truncation.

Why checkpoints are taken only after commits. A checkpoint of a head that is later rolled back
would name a row that never existed, and verify would cry truncation forever. So
:meth:`AuditLog.record` never checkpoints; the scheduler calls :meth:`AuditLog.checkpoint`,
which refuses to run inside a transaction and reads only committed state.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sys
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any
from uuid import UUID

import anyio.to_thread
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tortoise.backends.base.client import TransactionalDBClient

from kernel.accounts.actor import Actor
from kernel.audit.models import AuditEvent, AuditHead
from kernel.settings import Settings

__all__ = [
    "AuditLog",
    "Checkpoint",
    "CheckpointStore",
    "VerifyReport",
    "canonical_hash",
    "events_for",
]

HMAC_KEY_FILE = "audit-hmac.key"
SIGNING_KEY_FILE = "audit-checkpoint-ed25519.pem"
CHECKPOINT_FILE = "checkpoints.jsonl"
_HEAD_ID = 1
# Rows fetched per query by verify: bounded memory however long the log is.
_VERIFY_BATCH = 1000


# -- canonical form -------------------------------------------------------------------------


def _iso(at: datetime) -> str:
    # Naive values only come back from a database configured without use_tz, which stores UTC.
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _decimal_text(value: Decimal) -> str:
    # Equal amounts hash equally whatever their scale (1.10 == 1.1), without the rounding
    # that Decimal.normalize() would apply beyond the context precision.
    if not value.is_finite():
        return str(value)
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _plain(value: Any) -> Any:
    """``value`` as JSON types only, each Python value always mapping to the same JSON."""
    if isinstance(value, Enum):  # before str/int: StrEnum and IntEnum are both
        return _plain(value.value)
    if value is None or isinstance(value, bool | int | str | float):
        return value
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, datetime):  # before date: a datetime is a date
        return _iso(value) if value.tzinfo is not None else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = str(_plain(key))
            if name in out:
                raise ValueError(f"keys {key!r} and another both become {name!r}")
            out[name] = _plain(item)
        return out
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted((_plain(item) for item in value), key=_canonical_bytes)
    # str(obj) could embed a memory address and make the hash differ between runs.
    raise TypeError(f"cannot hash a {type(value).__name__} deterministically")


def _canonical_bytes(plain: Any) -> bytes:
    return json.dumps(
        plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def canonical_hash(data: Mapping[str, Any] | None) -> str:
    """SHA-256 hex of the canonical JSON of ``data``; "" for None (nothing there)."""
    if data is None:
        return ""
    return hashlib.sha256(_canonical_bytes(_plain(data))).hexdigest()


def _signed_bytes(event: AuditEvent) -> bytes:
    """What the MAC covers: every column but ``id`` (assigned by the database) and the MACs."""
    return event.prev_mac.encode("utf-8") + _canonical_bytes(
        [
            event.seq,
            _iso(event.at),
            event.actor_id,
            event.actor_label,
            event.action,
            event.object_type,
            event.object_id,
            event.scope,
            event.sealed,
            event.before_hash,
            event.after_hash,
            _plain(event.detail),
        ]
    )


def _actor_label(actor: Actor) -> str:
    # Actor.label says "public" for every user-less actor, system jobs included; the audit
    # trail must tell the scheduler apart from an anonymous visitor.
    return actor.username or actor.label


def _in_transaction() -> bool:
    return isinstance(AuditHead._meta.db, TransactionalDBClient)


# -- checkpoints ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """The signed claim "at ``at`` the committed chain ended at ``seq`` with ``mac``"."""

    seq: int
    mac: str
    at: datetime
    signature: str  # hex Ed25519 signature over _payload()

    def _payload(self) -> bytes:
        return _canonical_bytes({"seq": self.seq, "mac": self.mac, "at": _iso(self.at)})

    def to_line(self) -> bytes:
        fields = {"seq": self.seq, "mac": self.mac, "at": _iso(self.at), "sig": self.signature}
        return _canonical_bytes(fields) + b"\n"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` so web and worker processes append one at a time."""
    if sys.platform == "win32":  # pragma: no cover - the platform runs on POSIX servers
        yield
        return
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _fsync_dir(path: Path) -> None:
    if os.name != "posix":  # pragma: no cover - Windows cannot open a directory
        return
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _last_line(path: Path) -> bytes | None:
    """The file's last non-empty line, read from the end: the file grows without bound."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return None
    with handle:
        end = handle.seek(0, os.SEEK_END)
        chunk, pos = b"", end
        while pos > 0:
            step = min(4096, pos)
            pos -= step
            handle.seek(pos)
            chunk = handle.read(step) + chunk
            stripped = chunk.rstrip(b"\n")
            if b"\n" in stripped:
                return stripped.rsplit(b"\n", 1)[1]
        return chunk.rstrip(b"\n") or None


class CheckpointStore:
    """Append-only JSON-lines file of signed checkpoints, kept outside the database.

    Its methods block on file I/O; AuditLog calls them from a worker thread.
    """

    def __init__(self, directory: Path, signing_key: Ed25519PrivateKey) -> None:
        self.directory = directory
        self._signing_key = signing_key
        self._public_key = signing_key.public_key()

    @property
    def path(self) -> Path:
        return self.directory / CHECKPOINT_FILE

    def sign(self, *, seq: int, mac: str, at: datetime) -> Checkpoint:
        unsigned = Checkpoint(seq=seq, mac=mac, at=at, signature="")
        return Checkpoint(seq, mac, at, self._signing_key.sign(unsigned._payload()).hex())

    def parse(self, line: bytes) -> Checkpoint | None:
        """The checkpoint on ``line``, or None when it is malformed or its signature is bad."""
        try:
            raw = json.loads(line)
            checkpoint = Checkpoint(
                seq=int(raw["seq"]),
                mac=str(raw["mac"]),
                at=datetime.fromisoformat(str(raw["at"])),
                signature=str(raw["sig"]),
            )
            self._public_key.verify(bytes.fromhex(checkpoint.signature), checkpoint._payload())
        except (ValueError, TypeError, KeyError, InvalidSignature):
            return None
        return checkpoint

    def entries(self) -> list[tuple[int, Checkpoint | None]]:
        """Every line as (line number from 1, checkpoint or None when it does not verify)."""
        try:
            with self.path.open("rb") as handle:
                return [
                    (number, self.parse(line))
                    for number, line in enumerate(handle, start=1)
                    if line.strip()
                ]
        except FileNotFoundError:
            return []

    def append_if_moved(self, *, seq: int, mac: str, at: datetime) -> Checkpoint | None:
        """Sign and durably append (seq, mac) unless the last checkpoint already says so."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with _locked(self.directory / (CHECKPOINT_FILE + ".lock")):
            line = _last_line(self.path)
            last = self.parse(line) if line is not None else None
            if last is not None and (last.seq, last.mac) == (seq, mac):
                return None
            checkpoint = self.sign(seq=seq, mac=mac, at=at)
            created = not self.path.exists()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                # One write() of one short line: a reader never sees half a checkpoint.
                os.write(fd, checkpoint.to_line())
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:
                _fsync_dir(self.directory)
            return checkpoint


# -- verification ---------------------------------------------------------------------------


@dataclass
class VerifyReport:
    """What verify found. Events are named by ``seq``, their position in the chain.

    ``problems`` holds (seq, kind) with kind one of "changed", "missing", "out of order",
    "truncated"; ``bad_checkpoints`` the line numbers in checkpoints.jsonl that do not verify.
    """

    count: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)
    bad_checkpoints: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.bad_checkpoints

    def lines(self) -> list[str]:
        if self.ok:
            return [f"OK {self.count} events"]
        return [f"event {seq}: {kind}" for seq, kind in self.problems] + [
            f"{CHECKPOINT_FILE} line {number}: bad signature" for number in self.bad_checkpoints
        ]


class _SeqSet:
    """Which seq numbers were seen: one bit each, so a million events cost 125 KB."""

    def __init__(self) -> None:
        self._bits = bytearray(1024)

    def add(self, seq: int) -> None:
        if seq < 0:
            return
        if seq >> 3 >= len(self._bits):
            self._bits.extend(bytes(max(len(self._bits), (seq >> 3) + 1 - len(self._bits))))
        self._bits[seq >> 3] |= 1 << (seq & 7)

    def __contains__(self, seq: int) -> bool:
        return 0 <= seq >> 3 < len(self._bits) and bool(self._bits[seq >> 3] & (1 << (seq & 7)))


class _OrderCheck:
    """Finds rows whose seq disagrees with their id order, blaming as few rows as it can.

    Fed authentic seqs in id order. At an inversion (a then b, a >= b) it waits for the next
    seq n and blames a if the rest reads p < b < n without it, b if p < a < n does, both if
    either would do (a swap), else b (one of a block moved backwards). Memory stays constant,
    and a row moved far away does not make every row it jumped over look out of order.
    """

    def __init__(self) -> None:
        self._accepted: deque[int] = deque([0], maxlen=4)  # 0: before the first event
        self._pending: int | None = None  # b of an inversion waiting for n
        self.flagged: list[int] = []

    def feed(self, seq: int) -> None:
        if self._pending is not None:
            self._resolve(seq)
        if seq > self._accepted[-1]:
            self._accepted.append(seq)
        else:
            self._pending = seq

    def finish(self) -> None:
        if self._pending is not None:
            self._resolve(None)

    def _resolve(self, n: int | None) -> None:
        b, self._pending = self._pending, None
        assert b is not None
        a = self._accepted[-1]
        p = self._accepted[-2] if len(self._accepted) > 1 else 0
        without_a = p < b and (n is None or b < n)
        without_b = n is None or a < n
        if without_a:
            self.flagged.append(a)
            self._accepted.pop()
            if not without_b:
                self._accepted.append(b)
        if without_b or not without_a:
            self.flagged.append(b)


# -- the log --------------------------------------------------------------------------------


def _load_or_create(path: Path, make: Callable[[], bytes]) -> bytes:
    """Read a key file, creating it (mode 0600) first if absent; safe against racing starts."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(make())
            handle.flush()
            os.fsync(handle.fileno())
        try:
            # link() fails if the name exists: a process starting at the same moment that
            # created the key first wins, and both then use its key.
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        tmp.unlink()
    _fsync_dir(path.parent)
    return path.read_bytes()


def _new_signing_key() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class AuditLog:
    """Appends events to the chain, checkpoints its head and verifies it."""

    def __init__(
        self, *, key: bytes, checkpoints: CheckpointStore, checkpoint_every: int = 100
    ) -> None:
        if len(key) < 32:
            raise ValueError("the audit HMAC key must be at least 32 bytes")
        self._key = key
        self.checkpoints = checkpoints
        self.checkpoint_every = checkpoint_every
        self._since_checkpoint = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> AuditLog:
        """Load the keys from ``settings.key_dir``, creating them on first start."""
        key = _load_or_create(settings.key_dir / HMAC_KEY_FILE, lambda: secrets.token_bytes(32))
        pem = _load_or_create(settings.key_dir / SIGNING_KEY_FILE, _new_signing_key)
        signing_key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(signing_key, Ed25519PrivateKey):
            raise ValueError(f"{SIGNING_KEY_FILE} does not hold an Ed25519 key")
        return cls(
            key=key,
            checkpoints=CheckpointStore(settings.checkpoint_dir, signing_key),
            checkpoint_every=settings.audit_checkpoint_every,
        )

    @property
    def checkpoint_due(self) -> bool:
        """True after ``checkpoint_every`` records in this process since its last checkpoint.

        A hint for code that has just committed: it may call :meth:`checkpoint` now rather
        than leave a busy hour's events to the next scheduler tick.
        """
        return self._since_checkpoint >= self.checkpoint_every

    def _mac(self, event: AuditEvent) -> str:
        return hmac.new(self._key, _signed_bytes(event), hashlib.sha256).hexdigest()

    async def record(
        self,
        *,
        at: datetime,
        actor: Actor,
        action: str,
        object_type: str,
        object_id: str | int,
        before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None,
        scope: str = "",
        sealed: bool = False,
        detail: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        """Append one event; call only inside the caller's open transaction.

        The transaction holds the chain's head locked until it ends, so keep it short, and the
        event disappears with everything else if it rolls back.
        """
        if not _in_transaction():
            raise RuntimeError("AuditLog.record must run inside the caller's transaction")
        if at.tzinfo is None:
            raise ValueError("audit times must be timezone-aware")
        head = await AuditHead.select_for_update().get_or_none(id=_HEAD_ID)
        if head is None:
            # First event ever. ON CONFLICT DO NOTHING: a concurrent first event may be
            # creating the head too; we wait for it and then lock whichever row won.
            await AuditHead.bulk_create([AuditHead(id=_HEAD_ID)], ignore_conflicts=True)
            head = await AuditHead.select_for_update().get(id=_HEAD_ID)
        event = AuditEvent(
            seq=head.seq + 1,
            at=at,
            actor_id=actor.user_id,
            actor_label=_actor_label(actor),
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            scope=scope,
            sealed=sealed,
            before_hash=canonical_hash(before),
            after_hash=canonical_hash(after),
            # Stored already canonical, so what comes back from the database hashes the same.
            detail=_plain(dict(detail or {})),
            prev_mac=head.mac,
        )
        event.mac = self._mac(event)
        await event.save(force_create=True)
        await AuditHead.filter(id=_HEAD_ID).update(seq=event.seq, mac=event.mac)
        self._since_checkpoint += 1
        return event

    async def checkpoint(self, *, at: datetime) -> Checkpoint | None:
        """Sign the committed head into the checkpoint file if it moved; None if it did not."""
        if _in_transaction():
            raise RuntimeError("checkpoint only committed state: call it outside a transaction")
        head = await AuditHead.get_or_none(id=_HEAD_ID)
        self._since_checkpoint = 0
        if head is None or head.seq == 0:
            return None
        seq, mac = head.seq, head.mac

        def append() -> Checkpoint | None:
            return self.checkpoints.append_if_moved(seq=seq, mac=mac, at=at)

        return await anyio.to_thread.run_sync(append)

    async def verify(self) -> VerifyReport:
        """Check every row, the links between them and the checkpoints; see VerifyReport.

        A row whose MAC does not match its columns is "changed"; only rows that pass take part
        in the other checks, so one edited row is one line. (An intruder who also rewrites the
        MACs of later rows has changed those rows too, and each is reported.) A seq absent
        below the highest one present is "missing". A row whose seq breaks the id order, or
        that links to a different predecessor, is "out of order". A signed checkpoint or the
        head that the rows no longer reach or match is "truncated", named by the highest such
        checkpointed seq.
        """
        report = VerifyReport()
        checkpointed: dict[int, set[str]] = {}
        for number, checkpoint in await anyio.to_thread.run_sync(self.checkpoints.entries):
            if checkpoint is None:
                report.bad_checkpoints.append(number)
            else:
                checkpointed.setdefault(checkpoint.seq, set()).add(checkpoint.mac)
        # Read after the checkpoints and before the rows: anything committed meanwhile only
        # adds rows, so a concurrent append never looks like truncation.
        head = await AuditHead.get_or_none(id=_HEAD_ID)

        seen, order = _SeqSet(), _OrderCheck()
        changed: set[int] = set()
        unlinked: list[int] = []
        truncated = 0
        highest = 0
        # (seq, mac, named for a broken link) of the row before, if that row is authentic.
        previous: tuple[int, str, bool] | None = None
        last_id: int | None = None
        while True:
            query = AuditEvent.all().order_by("id").limit(_VERIFY_BATCH)
            if last_id is not None:
                query = query.filter(id__gt=last_id)
            rows = await query
            for row in rows:
                report.count += 1
                try:
                    authentic = hmac.compare_digest(self._mac(row), row.mac)
                except (AttributeError, TypeError, ValueError):  # rewritten to something odd
                    authentic = False
                if not authentic:
                    changed.add(row.seq)
                    previous = None
                    continue
                seen.add(row.seq)
                highest = max(highest, row.seq)
                order.feed(row.seq)
                broken = (
                    previous is not None
                    and row.seq == previous[0] + 1
                    and row.prev_mac != previous[1]
                )
                # A stranger spliced in breaks the link into it and the one out of it: when
                # two breaks are adjacent, the row between them is the one to name.
                named = broken and not (previous is not None and previous[2])
                if named:
                    unlinked.append(row.seq)
                if checkpointed.get(row.seq, {row.mac}) != {row.mac}:
                    truncated = max(truncated, row.seq)
                previous = (row.seq, row.mac, named)
            if len(rows) < _VERIFY_BATCH:
                break
            last_id = rows[-1].id
        order.finish()

        # A changed row still occupies its seq, unless its seq is beyond anything known.
        extent = max([highest, head.seq if head else 0, *checkpointed])
        top = max([highest, *(seq for seq in changed if seq <= extent)])
        claims = [*checkpointed, head.seq if head else 0]
        truncated = max([truncated, *(seq for seq in claims if seq > top)])

        problems = {(seq, "changed") for seq in changed}
        problems.update(
            (seq, "missing") for seq in range(1, top + 1) if seq not in seen and seq not in changed
        )
        problems.update((seq, "out of order") for seq in [*order.flagged, *unlinked])
        if truncated:
            problems.add((truncated, "truncated"))
        report.problems = sorted(problems)
        return report


async def events_for(
    scope: str, *, include_sealed: bool, limit: int = 200, offset: int = 0
) -> list[AuditEvent]:
    """A scope's events in chain order; sealed ones only when the caller may see them."""
    query = AuditEvent.filter(scope=scope)
    if not include_sealed:
        query = query.filter(sealed=False)
    return await query.order_by("seq").offset(offset).limit(limit)
