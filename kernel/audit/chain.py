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

The parts live beside it: the canonical form in kernel.audit.canonical, the checkpoint file in
kernel.audit.checkpoints and the verifier in kernel.audit.verify. This module re-exports their
public names, so ``from kernel.audit.chain import ...`` keeps working for all of them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio.to_thread
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tortoise.backends.base.client import TransactionalDBClient

from kernel.accounts.actor import Actor
from kernel.audit.canonical import _plain, _signed_bytes, canonical_hash
from kernel.audit.checkpoints import CHECKPOINT_FILE as CHECKPOINT_FILE
from kernel.audit.checkpoints import Checkpoint, CheckpointStore
from kernel.audit.models import AuditEvent, AuditHead
from kernel.audit.verify import VerifyReport, verify_chain
from kernel.audit.verify import _OrderCheck as _OrderCheck  # the tests use it from here
from kernel.db import lock_single_row
from kernel.files import load_or_create_secret as _load_or_create
from kernel.settings import Settings
from kernel.writes import Writes, joining

__all__ = [
    "AuditLog",
    "Checkpoint",
    "CheckpointStore",
    "Entry",
    "VerifyReport",
    "canonical_hash",
    "events_for",
]

HMAC_KEY_FILE = "audit-hmac.key"
SIGNING_KEY_FILE = "audit-checkpoint-ed25519.pem"
_HEAD_ID = 1
_LOCK_HEAD = "SELECT seq, mac FROM kernel_audit_head WHERE id = $1 FOR UPDATE"


def _actor_label(actor: Actor) -> str:
    # Actor.label says "public" for every user-less actor, system jobs included; the audit
    # trail must tell the scheduler apart from an anonymous visitor.
    return actor.username or actor.label


def _in_transaction() -> bool:
    return isinstance(AuditHead._meta.db, TransactionalDBClient)


def _new_signing_key() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass(frozen=True)
class Entry:
    """One event to append, as :meth:`AuditLog.record` takes it (for :meth:`record_many`)."""

    at: datetime
    actor: Actor
    action: str
    object_type: str
    object_id: str | int
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    scope: str = ""
    sealed: bool = False
    detail: Mapping[str, Any] | None = None


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
        entry = Entry(at=at, actor=actor, action=action, object_type=object_type,
                      object_id=object_id, before=before, after=after, scope=scope,
                      sealed=sealed, detail=detail)
        return (await self.record_many([entry]))[0]

    async def record_many(
        self, entries: Sequence[Entry], *, writes: Writes | None = None
    ) -> list[AuditEvent]:
        """Append several events in order, with one lock of the head and one write of the
        events and the new head (two for a single event, whose id the caller gets); call only
        inside the caller's open transaction (group commit, kernel.batching).

        With ``writes`` (kernel.writes), the events and the head are written by the caller's
        flush, in the same round trip as the caller's own rows; the caller must flush before
        it commits (``async with Writes() as writes`` does), and the events' ids are not
        filled in.
        """
        if not _in_transaction():
            raise RuntimeError("AuditLog.record must run inside the caller's transaction")
        if any(entry.at.tzinfo is None for entry in entries):
            raise ValueError("audit times must be timezone-aware")
        if not entries:
            return []
        # Hand-written: the ORM's query building cost more than the round trip, under a lock
        # every other writer of the chain waits for (bench/RESULTS.md, P1).
        head = await lock_single_row(AuditHead, _LOCK_HEAD, _HEAD_ID)
        seq, mac = int(head["seq"]), str(head["mac"])
        events = []
        for entry in entries:
            seq += 1
            event = AuditEvent(
                seq=seq,
                at=entry.at,
                actor_id=entry.actor.user_id,
                actor_label=_actor_label(entry.actor),
                action=entry.action,
                object_type=entry.object_type,
                object_id=str(entry.object_id),
                scope=entry.scope,
                sealed=entry.sealed,
                before_hash=canonical_hash(entry.before),
                after_hash=canonical_hash(entry.after),
                # Stored already canonical, so what comes back from the database hashes the same.
                detail=_plain(dict(entry.detail or {})),
                prev_mac=mac,
            )
            event.mac = mac = self._mac(event)
            events.append(event)
        if writes is None and len(events) == 1:
            await events[0].save(force_create=True)  # fills in the id, as callers expect
            await AuditHead.filter(id=_HEAD_ID).update(seq=seq, mac=mac)
        else:
            async with joining(writes) as batch:
                batch.insert(AuditEvent, events)
                batch.update(AuditHead, _HEAD_ID, seq=seq, mac=mac)
        self._since_checkpoint += len(events)
        return events

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
        return await verify_chain(mac=self._mac, checkpoints=self.checkpoints, head_id=_HEAD_ID)


async def events_for(
    scope: str, *, include_sealed: bool, limit: int = 200, offset: int = 0
) -> list[AuditEvent]:
    """A scope's events in chain order; sealed ones only when the caller may see them."""
    query = AuditEvent.filter(scope=scope)
    if not include_sealed:
        query = query.filter(sealed=False)
    return await query.order_by("seq").offset(offset).limit(limit)
