"""Sealed submissions that arrive together commit together (bidding/services/submissions.py):
each still gets its own receipt, judged on its own, and one refusal costs the others nothing."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import factories
import pytest
from tortoise.transactions import in_transaction

from bidding import services as bidding
from bidding.exceptions import DeadlinePassed, NotRegistered
from bidding.models import Bid, BidStatus, Registration
from kernel import db
from kernel.audit.models import AuditEvent
from signing import keys as platform_keys
from signing.models import LogEntry
from signing.receipts import verify_receipt


@pytest.fixture
def made(run: Any, ctx: Any, clock: Any) -> factories.MadeTender:
    agency = factories.make_agency(run, ctx)
    bidders = [factories.make_bidder(run, ctx, f"batch-{n}") for n in range(4)]
    return factories.make_tender(run, ctx, clock, agency, bidders=bidders)


def _together(run: Any, ctx: Any, tender_id: int,
              offers: list[tuple[factories.Account, bytes, datetime]]) -> list[Any]:
    """Hand all offers to submit_sealed_bid at once, as concurrent requests would."""
    directory = Path(ctx.settings.data_dir) / "batch-test"
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, (_, package, _) in enumerate(offers):
        path = directory / f"{n}.sealed"
        path.write_bytes(package)
        paths.append(path)

    async def all_at_once() -> list[Any]:
        return await asyncio.gather(*(
            bidding.submit_sealed_bid(ctx, actor=bidder.actor, tender_id=tender_id, lot_number=1,
                                      package_path=path, received_at=at, remote_addr="10.0.0.9")
            for (bidder, _, at), path in zip(offers, paths, strict=True)
        ), return_exceptions=True)

    return run(all_at_once)  # type: ignore[no-any-return]


def _receipt(ctx: Any, der: bytes) -> Any:
    return verify_receipt(der, [platform_keys.load(ctx.settings, now=ctx.clock.now())
                                .receipt.certificate])


def test_bids_arriving_together_each_get_their_own_receipt(run: Any, ctx: Any, made: Any) -> None:
    now = ctx.clock.now()
    offers = [(bidder, factories.seal_bid(run, ctx, bidder, made.id, f"{10_000_000 + n}.00"), now)
              for n, bidder in enumerate(made.bidders)]
    results = _together(run, ctx, made.id, offers)
    assert all(created for _, _, created in results)
    receipts = [_receipt(ctx, der) for _, der, _ in results]
    assert sorted(r.log_index for r in receipts) == [0, 1, 2, 3]
    assert {r.package_sha256 for r in receipts} == {bid.sha256 for bid, _, _ in results}
    rows = run(Bid.filter(tender_id=made.id).order_by("log_index").all)
    assert [bytes(row.receipt) for row in rows] == [
        der for _, der, _ in sorted(results, key=lambda r: r[0].log_index)]
    assert run(LogEntry.all().count) == 4
    assert run(AuditEvent.filter(action="bidding:bid:submitted").count) == 4
    assert run(ctx.audit.verify).ok


def test_one_refusal_in_a_batch_costs_the_others_nothing(
    run: Any, ctx: Any, clock: Any, made: Any
) -> None:
    clock.set(made.deadline_at + timedelta(seconds=30))  # checked inside the grace period
    before, late = made.deadline_at - timedelta(seconds=1), made.deadline_at
    a, b, c, _ = made.bidders
    outsider = factories.make_bidder(run, ctx, "batch-outsider")  # never registered
    offers = [
        (a, factories.seal_bid(run, ctx, a, made.id, "10000001.00"), before),
        (b, factories.seal_bid(run, ctx, b, made.id, "10000002.00"), late),
        (outsider, factories.seal_bid(run, ctx, outsider, made.id, "10000003.00"), before),
        (c, factories.seal_bid(run, ctx, c, made.id, "10000004.00"), before),
    ]
    first, second, third, fourth = _together(run, ctx, made.id, offers)
    assert isinstance(second, DeadlinePassed) and isinstance(third, NotRegistered)
    assert first[2] and fourth[2]
    assert sorted(_receipt(ctx, r[1]).log_index for r in (first, fourth)) == [0, 1]
    assert run(Bid.all().count) == 2 and run(LogEntry.all().count) == 2


def test_one_bidders_two_packages_in_a_batch_supersede_in_turn(
    run: Any, ctx: Any, made: Any
) -> None:
    bidder, now = made.bidders[0], ctx.clock.now()
    earlier = factories.seal_bid(run, ctx, bidder, made.id, "10000001.00")
    later = factories.seal_bid(run, ctx, bidder, made.id, "10000002.00")
    old, _, _ = factories.submit_package(run, ctx, bidder, made.id,
                                         factories.seal_bid(run, ctx, bidder, made.id, "1.00"))
    first, second = _together(run, ctx, made.id, [(bidder, earlier, now),
                                                  (bidder, later, now + timedelta(seconds=1))])
    assert first[2] and second[2]
    rows = {row.id: row for row in run(Bid.filter(tender_id=made.id).all)}
    # Ended by whichever of the two was committed first (they may share a batch or not).
    assert rows[old.id].status == BidStatus.SUPERSEDED
    assert rows[old.id].ended_at in (now, now + timedelta(seconds=1))
    assert rows[first[0].id].status == BidStatus.SUPERSEDED
    assert rows[first[0].id].ended_at == now + timedelta(seconds=1)
    assert rows[second[0].id].status == BidStatus.SUBMITTED
    assert run(Bid.filter(tender_id=made.id, status=BidStatus.SUBMITTED).count) == 1


def test_the_same_package_twice_in_a_batch_is_one_bid(run: Any, ctx: Any, made: Any) -> None:
    bidder, now = made.bidders[0], ctx.clock.now()
    package = factories.seal_bid(run, ctx, bidder, made.id, "10000001.00")
    first, again = _together(run, ctx, made.id, [(bidder, package, now), (bidder, package, now)])
    assert first[0].id == again[0].id and first[1] == again[1]
    assert sorted([first[2], again[2]]) == [False, True]  # one new bid, one re-send
    assert run(Bid.all().count) == 1 and run(LogEntry.all().count) == 1


def test_a_withdrawal_waits_for_a_batch_holding_the_bidders_registration(
    run: Any, ctx: Any, made: Any, database_url: str
) -> None:
    # A batch locks the registrations, then reads the current bids and marks them superseded:
    # a withdrawal that did not wait for that lock could commit in between, and the bid would
    # end superseded with its withdrawal audited.
    if not database_url.startswith(("postgres://", "postgresql://")):
        pytest.skip("row locks need PostgreSQL: set EBID_TEST_DATABASE_URL=postgres://...")
    bidder = made.bidders[0]
    bid_id = factories.submit_bid(run, ctx, bidder, made.id, "10000000.00")

    async def race() -> tuple[bool, str]:
        locked, release = asyncio.Event(), asyncio.Event()
        holder_pid: list[int] = []

        async def batch_holding_the_lock() -> None:
            async with in_transaction():
                await Registration.filter(
                    tender_id=made.id, organization_id=bidder.organization_id
                ).select_for_update().first()
                holder_pid.append((await db.fetch_all("SELECT pg_backend_pid() AS pid"))[0]["pid"])
                locked.set()
                await release.wait()

        holder = asyncio.ensure_future(batch_holding_the_lock())
        await locked.wait()
        withdrawal = asyncio.ensure_future(bidding.withdraw_bid(
            ctx, actor=bidder.actor, tender_id=made.id, bid_id=bid_id))
        # Until PostgreSQL shows the withdrawal waiting for the holder (bounded: 10 s).
        for _ in range(1000):
            if withdrawal.done() or await _blocked_by(holder_pid[0]):
                break
            await asyncio.sleep(0.01)
        waited = not withdrawal.done()
        release.set()
        await holder
        ended = await withdrawal
        return waited, ended.status.value

    waited, status = run(race)
    assert waited
    assert status == BidStatus.WITHDRAWN.value


async def _blocked_by(pid: int) -> bool:
    rows = await db.fetch_all(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", pid)
    return int(rows[0]["n"]) > 0
