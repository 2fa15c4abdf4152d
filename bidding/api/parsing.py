"""Parsing the API's requests: path ids, JSON fields, amounts, RFC 3339 instants, uploads.

Every endpoint module of bidding.api reads its input through these helpers, so a malformed field
is refused the same way everywhere, as an ``invalid_input`` naming the field, before any service
is called. They are the module-private helpers of the former single api.py, kept under their names.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse

from bidding import services
from bidding.exceptions import TenderNotFound
from kernel.context import Context
from kernel.errors import InvalidInput, NotFound

# Tenders, lots and documents have 32-bit ids; bids, registrations, questions and objections
# have random 53-bit ids (kernel.db.random_id).
MAX_ID = 2**53 - 1
MAX_SERIAL_ID = 2**31 - 1

# RFC 3339 date-time: seconds and an offset are required (a time without one is ambiguous).
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})"
)


def _ctx(request: Request) -> Context:
    return request.app.state.ctx  # type: ignore[no-any-return]


def _path_id(request: Request, name: str = "tender_id") -> int:
    value = int(request.path_params[name])
    if value > (MAX_ID if name in {"bid_id", "objection_id"} else MAX_SERIAL_ID):
        raise TenderNotFound() if name == "tender_id" else NotFound()
    return value


def _present(data: dict[str, Any], name: str) -> Any:
    if data.get(name) is None:
        raise InvalidInput(name, "is required", "必填")
    return data[name]


def _text(
    data: dict[str, Any], name: str, *, required: bool = True, max_length: int | None = None
) -> str:
    value = _present(data, name) if required else data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(name, "must be a string", "须为字符串")
    # Lengths the services leave to the database column (which would answer 500).
    if max_length is not None and len(value.strip()) > max_length:
        raise InvalidInput(name, f"may have at most {max_length} characters",
                           f"最多 {max_length} 个字符")
    return value


def _integer(value: Any, name: str) -> int:
    """A JSON integer, or a form field of digits."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_ID:
        raise InvalidInput(name, "must be a whole number", "须为整数")
    return value


def _amount(data: dict[str, Any], name: str, *, default: str | None = None) -> str:
    """An amount in yuan, as a string ("1200000.00") or a number; checked by the service."""
    value = data.get(name)
    if value is None:
        if default is None:
            raise InvalidInput(name, "is required", "必填")
        return default
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidInput(name, "must be an amount in yuan", "须为金额（元）")
    return str(value)


def _instant(value: Any, name: str) -> datetime:
    """An RFC 3339 date-time with its offset ("2026-03-30T09:00:00+08:00")."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value.strip()):
        raise InvalidInput(
            name, "must be an RFC 3339 date-time with an offset, e.g. 2026-03-30T09:00:00+08:00",
            "须为带时区的 RFC 3339 时间，例如 2026-03-30T09:00:00+08:00",
        )
    try:
        return datetime.fromisoformat(value.strip().upper())
    except ValueError:
        raise InvalidInput(name, "is not a valid date-time", "不是有效的时间") from None


def _boolean(data: dict[str, Any], name: str) -> bool:
    value = _present(data, name)
    if not isinstance(value, bool):
        raise InvalidInput(name, "must be true or false", "须为 true 或 false")
    return value


def _list(data: dict[str, Any], name: str, *, required: bool = True) -> list[Any]:
    value = _present(data, name) if required else data.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(name, "must be a list", "须为列表")
    return value


def _tender_in(data: dict[str, Any]) -> services.TenderIn:
    lots = []
    for entry in _list(data, "lots", required=False):
        if not isinstance(entry, dict):
            raise InvalidInput("lots", "each lot is an object {title, estimate}",
                               "每个标段须为 {title, estimate} 对象")
        try:
            estimate = Decimal(_amount(entry, "estimate").replace(",", "").strip())
        except (InvalidOperation, InvalidInput):
            raise InvalidInput("lots", "each lot needs an estimate in yuan",
                               "每个标段须有估算价（元）") from None
        title = _text(entry, "title", max_length=300)
        lots.append(services.LotIn(title=title, estimate=estimate))
    room_id = data.get("room_id")
    return services.TenderIn(
        title=_text(data, "title"),
        category=_text(data, "category"),
        method=_text(data, "method"),
        tenderer_name=_text(data, "tenderer_name", max_length=200),
        estimate=_amount(data, "estimate"),
        price_ceiling=_amount(data, "price_ceiling"),
        deposit=_amount(data, "deposit", default="0"),
        deadline_at=_instant(_present(data, "deadline_at"), "deadline_at"),
        room_id=None if room_id is None else _integer(room_id, "room_id"),
        description=_text(data, "description", required=False),
        region=_text(data, "region", required=False, max_length=100),
        lots=tuple(lots),
        key_mode=_text(data, "key_mode", required=False) or "either",
    )


def _upload(form: FormData, name: str = "file") -> UploadFile:
    value = form.get(name)
    if not isinstance(value, UploadFile):
        raise InvalidInput(name, "attach the file as a multipart upload", "请以文件形式上传")
    return value


def _form_text(form: FormData, name: str) -> str:
    value = form.get(name, "")
    if not isinstance(value, str):
        raise InvalidInput(name, "must be a text field", "须为文本字段")
    return value


def _json(data: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status_code)
