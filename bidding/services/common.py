"""Helpers shared by the bidding services: locking, ownership checks, audit snapshots."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from starlette.datastructures import UploadFile
from tortoise.connection import connections

from bidding import states
from bidding.exceptions import (
    DeadlinePassed,
    InvalidInput,
    NotAllowedForTender,
    NotInvited,
    TenderNotFound,
)
from bidding.models import Invitation, Method, Tender, TenderStatus
from bidding.rules import ProcedureRules, rules_for
from kernel.accounts.actor import Actor
from kernel.accounts.models import Role
from kernel.calendar import format_instant
from kernel.context import Context
from kernel.errors import PermissionDenied


def scope(tender_id: int) -> str:
    return f"tender:{tender_id}"


def snapshot(obj: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """The audited view of a row: the named fields, JSON-friendly."""
    out: dict[str, Any] = {}
    for name in fields:
        value = getattr(obj, name)
        if isinstance(value, Enum):
            value = value.value
        elif isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        out[name] = value
    return out


TENDER_FIELDS = (
    "code", "title", "category", "method", "status", "tenderer_name", "estimate",
    "price_ceiling", "deposit", "deadline_at", "key_mode", "issued_at", "issue_ends_at",
    "opened_at", "publicity_starts_at", "publicity_ends_at", "awarded_at", "closed_at",
    "version",
)


async def lock_tender(tender_id: int) -> Tender:
    """Load a tender FOR UPDATE (PostgreSQL); call inside a transaction."""
    tender = await Tender.filter(id=tender_id).select_for_update().first()
    if tender is None:
        raise TenderNotFound()
    return tender


async def share_lock_tender(tender_id: int) -> Tender:
    """Load a tender with a KEY SHARE lock: concurrent submissions proceed side by side, but
    the opening (FOR UPDATE) waits for them and they wait for it (PostgreSQL)."""
    tender = (await share_lock_tenders([tender_id])).get(tender_id)
    if tender is None:
        raise TenderNotFound()
    return tender


async def share_lock_tenders(tender_ids: Collection[int]) -> dict[int, Tender]:
    """:func:`share_lock_tender` for several (those that exist, by id), locked in id order."""
    ids = sorted({int(tender_id) for tender_id in tender_ids})
    if not ids:
        return {}
    conn = connections.get("default")
    if conn.capabilities.dialect == "postgres":
        # Locked and read in one round trip (a submission batch waits for each one). The ids
        # are integers, made so above, so the text holds nothing that came from a request.
        listed = ",".join(str(tender_id) for tender_id in ids)
        rows = await Tender.raw(
            f"SELECT * FROM bidding_tender WHERE id IN ({listed}) ORDER BY id FOR KEY SHARE"  # noqa: S608
        )
    else:
        rows = await Tender.filter(id__in=ids)
    return {tender.id: tender for tender in rows}  # type: ignore[union-attr]


def check_deadline(ctx: Context, tender: Tender, at: datetime | None = None) -> None:
    """Refuse once ``at`` (the server clock's now by default) has reached the deadline."""
    # The server clock decides, whatever the status says: the scheduler may lag behind.
    if (at or ctx.clock.now()) >= tender.deadline_at:
        raise DeadlinePassed(deadline=local(ctx, tender.deadline_at))


def hide_draft(tender: Tender) -> None:
    """A draft is answered as missing to everyone but its agency, so its id does not leak."""
    if tender.status == TenderStatus.DRAFT:
        raise TenderNotFound()


async def require_invited(tender: Tender, org_id: int) -> None:
    """Invited tendering: only the invited organisations take part."""
    if tender.method == Method.INVITED and not await Invitation.filter(
        tender_id=tender.id, organization_id=org_id
    ).exists():
        raise NotInvited()


def require_agency(actor: Actor, tender: Tender) -> None:
    if not actor.has(Role.AGENCY):
        raise PermissionDenied()
    if actor.organization_id != tender.agency_id:
        raise NotAllowedForTender()


def require_bidder(actor: Actor) -> int:
    if not actor.has(Role.BIDDER) or actor.organization_id is None:
        raise PermissionDenied()
    return actor.organization_id


def rules_of(tender: Tender) -> ProcedureRules:
    return rules_for(tender.method.value)


def local(ctx: Context, at: datetime) -> str:
    return at.astimezone(ZoneInfo(ctx.tz)).strftime("%Y-%m-%d %H:%M")


def local_end(ctx: Context, at: datetime) -> str:
    """The end of a period in local time; a midnight end reads as the day before, 24:00."""
    return format_instant(at, ctx.tz)


async def transition(
    ctx: Context,
    tender: Tender,
    action: str,
    *,
    actor: Actor,
    detail: Mapping[str, Any] | None = None,
    changes: Mapping[str, Any] | None = None,
) -> Tender:
    """Check the table, apply the new status and ``changes``, save, and audit — all inside the
    caller's transaction. The only place a tender's status is written."""
    to = states.target(tender.status, action)
    before = snapshot(tender, TENDER_FIELDS)
    tender.status = to
    for key, value in (changes or {}).items():
        setattr(tender, key, value)
    tender.version += 1
    tender.updated_at = ctx.clock.now()
    await tender.save()
    await ctx.audit.record(
        at=ctx.clock.now(),
        actor=actor,
        action=f"bidding:tender:{action}",
        object_type="tender",
        object_id=tender.id,
        before=before,
        after=snapshot(tender, TENDER_FIELDS),
        scope=scope(tender.id),
        detail=detail,
    )
    return tender


async def audit(
    ctx: Context,
    *,
    actor: Actor,
    action: str,
    tender_id: int,
    object_type: str,
    object_id: int | str,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    sealed: bool = False,
    detail: Mapping[str, Any] | None = None,
) -> None:
    await ctx.audit.record(
        at=ctx.clock.now(),
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=before,
        after=after,
        scope=scope(tender_id),
        sealed=sealed,
        detail=detail,
    )


async def store_upload(ctx: Context, upload: UploadFile, *, missing_zh: str) -> StoredUpload:
    """Store an uploaded file (durably, before any row points at it) and return its name.

    An orphan blob left by a later refusal is harmless; a row without its blob would not be.
    """
    filename = (upload.filename or "").strip().replace("/", "_").replace("\\", "_")
    if not filename:
        raise InvalidInput("file", "choose the file to upload", missing_zh)
    blob = await ctx.blobs.put_upload(upload, max_bytes=ctx.settings.max_upload_bytes)
    if blob.size == 0:
        raise InvalidInput("file", "the file is empty", "文件为空")
    return StoredUpload(filename=filename[:255], sha256=blob.sha256, size=blob.size)


@dataclass(frozen=True)
class StoredUpload:
    filename: str
    sha256: str
    size: int


def sealed(tender: Tender) -> bool:
    return tender.status in states.SEALED_STATES


