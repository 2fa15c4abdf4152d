"""The canonical form the audit chain hashes: every value reduced to JSON types the same way
each time (times in UTC with microseconds, amounts without trailing zeros, sets sorted), then
serialised with sorted keys. ``canonical_hash`` digests a row's before and after states,
``_signed_bytes`` is what an event's MAC covers, and checkpoints are signed over the same form;
it is a module of its own so that the chain and the checkpoint store can both import it
without importing each other.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from kernel.audit.models import AuditEvent


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
