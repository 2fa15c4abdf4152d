"""Parse HTML forms into service arguments, with messages naming the field."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request

from bidding.exceptions import InvalidInput, NotFound, TenderNotFound
from bidding.services import LotIn, TenderIn


def text(form: FormData, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def local_datetime(value: str, tz: str, field: str = "deadline_at") -> datetime:
    """A ``datetime-local`` input (Beijing time unless the value carries an offset)."""
    value = value.strip()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            field, "give a date and time like 2026-03-30 09:30",
            "请填写日期和时间，如 2026-03-30 09:30",
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(tz))
    return parsed


def tender_in(form: FormData, tz: str) -> TenderIn:
    lot_titles = [v for v in form.getlist("lot_title") if isinstance(v, str)]
    lot_estimates = [v for v in form.getlist("lot_estimate") if isinstance(v, str)]
    lots = tuple(
        LotIn(title=title.strip(), estimate=estimate.strip() or "0")  # type: ignore[arg-type]
        for title, estimate in zip(lot_titles, lot_estimates, strict=False)
        if title.strip()
    )
    room = text(form, "room_id").strip()
    if room and not room.isdigit():
        raise InvalidInput("room_id", "unknown opening room", "开标室无效")
    return TenderIn(
        title=text(form, "title"),
        category=text(form, "category"),
        method=text(form, "method"),
        tenderer_name=text(form, "tenderer_name"),
        estimate=text(form, "estimate"),
        price_ceiling=text(form, "price_ceiling"),
        deposit=text(form, "deposit") or "0",
        deadline_at=local_datetime(text(form, "deadline_at"), tz),
        room_id=int(room) if room else None,
        description=text(form, "description"),
        region=text(form, "region"),
        lots=lots,
        key_mode=text(form, "key_mode") or "either",
    )


def upload(form: FormData, name: str = "file") -> UploadFile:
    value = form.get(name)
    if not isinstance(value, UploadFile):
        raise InvalidInput(name, "choose a file to upload", "请选择要上传的文件")
    return value


def int_field(form: FormData, name: str, label_zh: str) -> int:
    value = text(form, name).strip()
    if not value.lstrip("-").isdigit():
        raise InvalidInput(name, "must be a whole number", f"{label_zh}须为整数")
    return int(value)


# Tenders, lots, documents, notices and rooms have 32-bit ids; bids, registrations, questions
# and objections random 53-bit ones (kernel.db.random_id). A larger number is simply unknown.
_RANDOM_ID_PARAMS = {"bid_id", "objection_id"}


def path_id(request: Request, key: str = "tender_id") -> int:
    value = int(request.path_params[key])
    if value > (2**53 - 1 if key in _RANDOM_ID_PARAMS else 2**31 - 1):
        raise TenderNotFound() if key == "tender_id" else NotFound()
    return value
