"""What the parts of the opening share: outcomes, the signed key request, the window's grace,
the bidders' kept key halves ("both" mode)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from tortoise.transactions import in_transaction

from bidding.models import Bid, Decryption
from bidding.services.common import audit
from kernel.accounts.actor import SYSTEM
from kernel.context import Context

RECORD_FORMAT = "ebid-opening-record/2"
RESOLVED = frozenset({Decryption.DECRYPTED, Decryption.RECOVERED, Decryption.FAILED_BIDDER,
                      Decryption.FAILED_PLATFORM})
OPENED_OK = frozenset({Decryption.DECRYPTED, Decryption.RECOVERED})
NO_KEY = ("no key arrived in the decryption window", "解密时间内未收到解密密钥")


def canonical(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: the bytes that are signed (the key request, the record)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def key_request(*, tender_id: int, bid_id: int, package_sha256: str, data_key: str) -> bytes:
    """What the bidder signs when it sends its data key (``data_key`` in base64)."""
    return canonical({"tender_id": tender_id, "bid_id": bid_id,
                      "package_sha256": package_sha256, "data_key": data_key})


def intake_grace(ctx: Context) -> timedelta:
    return timedelta(seconds=ctx.settings.intake_grace_seconds)


def detail_text(en: str, zh: str) -> str:
    return f"{zh} / {en}"[:500]


def halves_dir(ctx: Context, tender_id: int) -> Path:
    return ctx.settings.data_dir / "opening" / str(tender_id)


async def drop_half(ctx: Context, tender_id: int, bid_id: int) -> None:
    (halves_dir(ctx, tender_id) / f"{bid_id}.half").unlink(missing_ok=True)
    async with in_transaction():
        await Bid.filter(id=bid_id).update(decryption_detail=detail_text(
            "the key half sent does not open the bid with the officers' half: send it again",
            "所提交的密钥份额与开标人员的份额无法解开投标文件，请重新提交"))
        await audit(ctx, actor=SYSTEM, action="bidding:bid:key_half_refused",
                    tender_id=tender_id, object_type="bid", object_id=bid_id)


def kept_half(ctx: Context, tender_id: int, bid_id: int) -> bytes | None:
    path = halves_dir(ctx, tender_id) / f"{bid_id}.half"
    return path.read_bytes() if path.is_file() else None
