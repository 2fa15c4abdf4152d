"""JSON-safe dicts of bidding models and of a TenderView, for the API.

Amounts become strings ("1200000.00", never a float) and instants RFC 3339 in UTC ("...Z").
What a viewer may see is decided once, in bidding.services.queries.tender_view: ``tender_detail``
writes out only what that view holds, and leaves out the sections a sealed view withholds
instead of writing them as empty lists, which would read as "nobody registered".
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from bidding.models import (
    Bid,
    Clarification,
    Lot,
    Notice,
    Objection,
    Question,
    Registration,
    Room,
    Tender,
    TenderDocument,
    WrittenReport,
)
from bidding.services.queries import Page, TenderView
from kernel.audit.models import AuditEvent

JSON = dict[str, Any]


def instant(value: datetime | None) -> str | None:
    """RFC 3339 in UTC; a naive value is taken to be UTC already (as the database stores it)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def money(value: Decimal | None) -> str | None:
    if value is None:
        return None
    return str(value.quantize(Decimal("0.01")))


def jsonable(value: Any) -> Any:
    """Make a value from a view's prepared rows (dicts of Decimals, datetimes...) JSON-safe."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return instant(value)
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(item) for item in value]
    return value


def page(result: Page, item: Any) -> JSON:
    return {
        "items": [item(row) for row in result.items],
        "total": result.total,
        "page": result.page,
        "pages": result.pages,
        "size": result.size,
    }


def tender_summary(tender: Tender) -> JSON:
    """The public particulars of a tender: what its announcement says, and its progress."""
    return {
        "id": tender.id,
        "code": tender.code,
        "title": tender.title,
        "category": tender.category.value,
        "method": tender.method.value,
        "status": tender.status.value,
        "tenderer_name": tender.tenderer_name,
        "region": tender.region,
        "estimate": money(tender.estimate),
        "price_ceiling": money(tender.price_ceiling),
        "deposit": money(tender.deposit),
        "deadline_at": instant(tender.deadline_at),
        "issued_at": instant(tender.issued_at),
        "issue_ends_at": instant(tender.issue_ends_at),
        "opened_at": instant(tender.opened_at),
        "publicity_starts_at": instant(tender.publicity_starts_at),
        "publicity_ends_at": instant(tender.publicity_ends_at),
        "awarded_at": instant(tender.awarded_at),
        "closed_at": instant(tender.closed_at),
        "rerun_of": tender.rerun_of_id,  # type: ignore[attr-defined]
    }


def room(room: Room) -> JSON:
    return {
        "id": room.id,
        "name": room.name,
        "location": room.location,
        "capacity": room.capacity,
        "is_active": room.is_active,
    }


def lot(lot: Lot) -> JSON:
    return {
        "number": lot.number,
        "title": lot.title,
        "estimate": money(lot.estimate),
        "failed": lot.failed,
    }


def document(doc: TenderDocument) -> JSON:
    return {
        "id": doc.id,
        "version": doc.version,
        "filename": doc.filename,
        "content_type": doc.content_type,
        "sha256": doc.sha256,
        "size": doc.size,
        "note": doc.note,
        "uploaded_at": instant(doc.uploaded_at),
    }


def notice(item: Notice, *, body: bool = True) -> JSON:
    out: JSON = {
        "id": item.id,
        "tender_id": item.tender_id,  # type: ignore[attr-defined]
        "kind": item.kind.value,
        "title": item.title,
        "published_at": instant(item.published_at),
    }
    if body:
        out["body"] = item.body
    return out


def notice_summary(item: Notice) -> JSON:
    return notice(item, body=False)


def clarification(clar: Clarification) -> JSON:
    return {
        "id": clar.id,
        "number": clar.number,
        "body": clar.body,
        "published_at": instant(clar.published_at),
        "moved_deadline_from": instant(clar.moved_deadline_from),
        "moved_deadline_to": instant(clar.moved_deadline_to),
    }


def question(item: Question) -> JSON:
    # Never who asked: the agency answers the question, not the bidder.
    return {
        "id": item.id,
        "text": item.text,
        "asked_at": instant(item.asked_at),
        "answered_by": item.answered_by_id,  # type: ignore[attr-defined]
    }


def registration(reg: Registration) -> JSON:
    return {
        "id": reg.id,
        "tender_id": reg.tender_id,  # type: ignore[attr-defined]
        "registered_at": instant(reg.registered_at),
        "deposit_status": reg.deposit_status.value,
        "deposit_recorded_at": instant(reg.deposit_recorded_at),
    }


def bid(item: Bid, *, lot_number: int | None = None) -> JSON:
    """A bid, for the bidder who submitted it."""
    if lot_number is None and isinstance(getattr(item, "lot", None), Lot):
        lot_number = item.lot.number
    return {
        "id": item.id,
        "tender_id": item.tender_id,  # type: ignore[attr-defined]
        "lot": lot_number,
        "status": item.status.value,
        "filename": item.filename,
        "sha256": item.sha256,
        "size": item.size,
        "price": money(item.price),
        "duration_days": item.duration_days,
        "quality": item.quality,
        "project_manager": item.project_manager,
        "submitted_at": instant(item.submitted_at),
        "ended_at": instant(item.ended_at),
    }


def objection(item: Objection) -> JSON:
    """An objection, for the bidder who raised it."""
    return {
        "id": item.id,
        "tender_id": item.tender_id,  # type: ignore[attr-defined]
        "stage": item.stage.value,
        "text": item.text,
        "raised_at": instant(item.raised_at),
        "answer": item.answer,
        "answered_at": instant(item.answered_at),
    }


def report(item: WrittenReport) -> JSON:
    return {"id": item.id, "body": item.body, "filed_at": instant(item.filed_at)}


def audit_event(event: AuditEvent) -> JSON:
    # Not the chain position: gaps in it would count the sealed events in between.
    return {
        "at": instant(event.at),
        "actor": event.actor_label,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
    }


def tender_detail(view: TenderView) -> JSON:
    """Everything ``view`` holds, and nothing it does not."""
    tender = view.tender
    out = tender_summary(tender)
    opening_room = tender.room if isinstance(getattr(tender, "room", None), Room) else None
    out.update({
        "description": tender.description,
        "room": room(opening_room) if opening_room is not None else None,
        "sealed": view.sealed,
        "lots": [lot(item) for item in view.lots],
        "documents": [document(doc) for doc in view.documents],
        "notices": [notice_summary(item) for item in view.notices],
        "clarifications": [clarification(item) for item in view.clarifications],
        "actions": sorted(view.actions),
    })
    if view.is_owner or view.is_supervisor:
        out["version"] = tender.version
        out["questions"] = [question(item) for item in view.questions]
        out["objections"] = jsonable(view.objections)
        out["audit"] = [audit_event(event) for event in view.audit_events]
        if view.is_owner:
            out["invitations"] = jsonable(view.invitations)
    if view.my_registration is not None or view.my_bids or view.my_objections or view.invited:
        out["mine"] = {
            "invited": view.invited,
            "registration": registration(view.my_registration)
            if view.my_registration is not None else None,
            "bids": [bid(item) for item in view.my_bids],
            "objections": [objection(item) for item in view.my_objections],
        }
    if not view.sealed:
        # Opened: the opening record is public; the rest the view filled only for insiders.
        out["opening"] = {"rows": jsonable(view.opening_rows), "sha256": view.opening_sha256}
        out["awards"] = jsonable(view.awards)
        if view.is_owner or view.is_supervisor:
            out["registrations"] = jsonable(view.registrations)
            out["bids_by_lot"] = jsonable(view.bids_by_lot)
            out["rankings"] = jsonable(view.rankings)
            out["report"] = report(view.report) if view.report is not None else None
    return out
