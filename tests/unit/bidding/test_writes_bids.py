"""Bids written through kernel.writes read back exactly as the ORM's own writes do.

The submission batch inserts and updates bids through one statement on PostgreSQL
(decision 0020): every kind of column a bid has (decimal, JSON, bytes, enums, times in another
zone, nulls) must come back the same as through ``bulk_create`` / ``bulk_update``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import factories
import pytest
from tortoise.transactions import in_transaction

from bidding.models import Bid, BidStatus, Decryption, Lot, Registration
from kernel.writes import Writes

SHANGHAI = timezone(timedelta(hours=8))
COLUMNS = [name for name in Bid._meta.fields_db_projection if name != "id"]


@pytest.fixture
def made(run: Any, ctx: Any, clock: Any) -> factories.MadeTender:
    agency = factories.make_agency(run, ctx)
    bidder = factories.make_bidder(run, ctx, "writes-bidder")
    return factories.make_tender(run, ctx, clock, agency, bidders=[bidder])


def _bid(made: Any, lot_id: int, registration: Registration, bid_id: int) -> Bid:
    return Bid(
        id=bid_id, tender_id=made.id, lot_id=lot_id, registration_id=registration.id,
        organization_id=registration.organization_id, status=BidStatus.SUBMITTED,  # type: ignore[attr-defined]
        filename="T-1-ab.sealed", sha256="ab" * 32, size=1 << 20,
        certificate_sha256="cd" * 32, signer_subject="CN=贵州'宏达\\\"; DROP--",
        receipt=bytes(range(256)), log_index=7, upload_address="", price=Decimal("12345678.90"),
        duration_days=None, quality="合格", project_manager="",
        manifest={"items": [{"code": "1", "单价": "3.50"}], "none": None},
        decryption=Decryption.PENDING, decryption_detail="",
        decrypted_at=None, submitted_at=datetime(2026, 3, 20, 17, 59, 59, 999999, SHANGHAI),
        ended_at=None,
    )


def _row(bid: Bid) -> dict[str, Any]:
    return {name: getattr(bid, name) for name in COLUMNS}


def test_inserted_and_updated_bids_read_back_as_the_orms(run: Any, made: Any) -> None:
    async def body() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        [registration] = await Registration.filter(tender_id=made.id)
        lot_id = (await Lot.get(tender_id=made.id, number=1)).id
        ours, theirs = _bid(made, lot_id, registration, 11), _bid(made, lot_id, registration, 12)
        async with in_transaction():
            async with Writes() as writes:
                writes.insert(Bid, [ours])
            await Bid.bulk_create([theirs])
        for bid in (ours, theirs):
            bid.status, bid.ended_at = BidStatus.SUPERSEDED, datetime(2026, 3, 21, tzinfo=SHANGHAI)
            bid.manifest = {"changed": ["是"]}
            bid.price = Decimal("0.01")
        async with in_transaction():
            async with Writes() as writes:
                writes.update_rows(Bid, [ours], fields=["status", "ended_at", "manifest", "price"])
            await Bid.bulk_update([theirs], fields=["status", "ended_at", "manifest", "price"])
        stored = {bid.id: _row(bid) for bid in await Bid.filter(id__in=[11, 12])}
        return [stored[11]], [stored[12]]

    ours, theirs = run(body)
    assert ours == theirs
    assert ours[0]["status"] == BidStatus.SUPERSEDED and ours[0]["price"] == Decimal("0.01")
    assert ours[0]["manifest"] == {"changed": ["是"]}
    assert bytes(ours[0]["receipt"]) == bytes(range(256))
