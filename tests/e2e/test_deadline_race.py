"""The deadline under concurrency (PostgreSQL only: it takes real row locks).

Many submissions run at once on the app's event loop, each in its own transaction, while
another task opens the tender. Nothing may be accepted after the deadline, nothing refused
before it, every accepted bid must be in the opening record, and two submissions of one bidder
racing each other must leave exactly one current bid.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import factories
import pytest
from starlette.testclient import TestClient
from tortoise import connections

from bidding import services as bidding
from bidding.exceptions import DeadlinePassed
from bidding.models import Bid, BidStatus, OpeningRecord, Tender, TenderStatus
from kernel.clock import FixedClock
from kernel.errors import DomainError, TransitionNotAllowed
from kernel.settings import Settings

pytestmark = pytest.mark.postgres_only

BIDDERS = 8
WAVE_TIMEOUT = 60  # seconds
# Refusals that are right once the deadline has passed.
LATE = (DeadlinePassed, TransitionNotAllowed)


@pytest.fixture(autouse=True)
def _postgres(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if not database_url.startswith(("postgres://", "postgresql://")):
        pytest.skip("row locks need PostgreSQL: set EBID_TEST_DATABASE_URL=postgres://...")
    factories.cheap_password_hashing(monkeypatch)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(session_max_age_seconds=180 * 24 * 3600)


class SwitchingClock:
    """Reads ``before`` for the first ``readings`` calls of now(), then ``after`` for good:
    the deadline passes at a chosen point of an interleaving, not at a chosen wall time."""

    def __init__(self, before: datetime, after: datetime, readings: int) -> None:
        self.before, self.after, self.left = before, after, readings
        self.passed = asyncio.Event()

    def now(self) -> datetime:
        if self.left > 0:
            self.left -= 1
            return self.before
        self.passed.set()
        return self.after


async def _submit(ctx: Any, bidder: factories.Account, tender_id: int, price: str) -> Any:
    """One submission; its Bid, or the DomainError it was refused with."""
    try:
        return await bidding.submit_bid(
            ctx, actor=bidder.actor, tender_id=tender_id, lot_number=1,
            upload=factories.upload_file(factories.bid_bytes(bidder, tender_id, 1, price),
                                         f"{bidder.username}.zip", "application/zip"),
            price=price, duration_days="300", quality="合格", project_manager="项目经理",
        )
    except DomainError as exc:
        return exc


def _prices(n: int, wave: int) -> list[str]:
    return [f"{11_000_000 + 1000 * n + 10 * wave + k}.00" for k in range(2)]


async def _wave(ctx: Any, tender_id: int, bidders: list[factories.Account], wave: int,
                switching: SwitchingClock | None = None) -> tuple[list[Any], Any]:
    """Every bidder submits twice at once while another task opens the tender (once the
    ``switching`` clock has passed the deadline, if one is given)."""
    submissions = [asyncio.ensure_future(_submit(ctx, bidder, tender_id, price))
                   for n, bidder in enumerate(bidders) for price in _prices(n, wave)]

    async def opener() -> Any:
        if switching is not None:
            # Should the submissions read the clock fewer times than planned, the deadline
            # passes when they are all done.
            passed = asyncio.ensure_future(switching.passed.wait())
            done = asyncio.ensure_future(asyncio.gather(*submissions, return_exceptions=True))
            await asyncio.wait([passed, done], return_when=asyncio.FIRST_COMPLETED)
            switching.left = 0
            passed.cancel()
        await asyncio.sleep(0)
        return await bidding.open_tender(ctx, tender_id=tender_id)

    # A lock cycle would hang the test run; fail instead.
    *outcomes, opened = await asyncio.wait_for(asyncio.gather(*submissions, opener()),
                                               timeout=WAVE_TIMEOUT)
    return outcomes, opened


async def _state(tender_id: int) -> tuple[TenderStatus, list[Bid], dict[int, dict[str, Any]]]:
    tender = await Tender.get(id=tender_id)
    bids = list(await Bid.filter(tender_id=tender_id).order_by("submitted_at"))
    record = await OpeningRecord.get_or_none(tender_id=tender_id)
    rows = {int(row["bid_id"]): row for row in (record.rows if record else [])}
    return tender.status, bids, rows


def _check_opening(bids: list[Bid], rows: dict[int, dict[str, Any]], deadline: datetime,
                   bidders: list[factories.Account], *, every_bidder: bool = True) -> list[str]:
    """What is wrong with the stored bids and the opening record (nothing, hopefully)."""
    problems = []
    current = [b for b in bids if b.status == BidStatus.SUBMITTED]
    late = [b for b in bids if b.submitted_at >= deadline]
    if late:
        problems.append(f"{len(late)} bids were recorded at or after the deadline: "
                        f"{[b.submitted_at.isoformat() for b in late]}")
    per_bidder = Counter(b.organization_id for b in current)
    doubled = {org: n for org, n in per_bidder.items() if n != 1}
    if doubled or (every_bidder and len(per_bidder) != len(bidders)):
        problems.append(f"current bids per bidder: {dict(per_bidder)} (wanted one each)")
    if set(rows) != {b.id for b in current}:
        problems.append(f"the opening record lists {sorted(rows)}, the current bids are "
                        f"{sorted(b.id for b in current)}")
    return problems


def test_submissions_before_the_deadline_are_all_taken_and_after_it_none(
    client: TestClient, run: Any, ctx: Any, clock: FixedClock
) -> None:
    agency = factories.make_agency(run, ctx)
    bidders = [factories.make_bidder(run, ctx, f"race{n}") for n in range(BIDDERS)]
    made = factories.make_tender(run, ctx, clock, agency, "published", bidders=bidders)
    deadline = made.deadline_at

    # Just before the deadline: every submission is taken, and the opening waits.
    clock.set(deadline - timedelta(milliseconds=1))
    outcomes, opened = run(_wave, ctx, made.id, bidders, 1)
    refused = [repr(o) for o in outcomes if not isinstance(o, Bid)]
    assert not refused, f"refused before the deadline: {refused}"
    assert opened is None, "the tender was opened before its deadline"

    # At the deadline: every submission is refused, and the opening happens.
    clock.set(deadline)
    outcomes, opened = run(_wave, ctx, made.id, bidders, 2)
    taken = [o for o in outcomes if isinstance(o, Bid)]
    wrong = [repr(o) for o in outcomes if not isinstance(o, (Bid, *LATE))]
    assert not taken, f"{len(taken)} bids taken at the deadline"
    assert not wrong, f"refused for the wrong reason: {wrong}"
    assert opened is not None and opened.status == TenderStatus.OPENED

    status, bids, rows = run(_state, made.id)
    assert status == TenderStatus.OPENED
    assert len(bids) == 2 * BIDDERS, "a refused submission left a row behind"
    problems = _check_opening(bids, rows, deadline, bidders)
    assert not problems, "\n".join(problems)
    report = run(ctx.audit.verify)
    assert report.ok, report.lines()


@pytest.mark.parametrize("readings", [3, 9, 17, 26, 40, 55])
def test_the_deadline_passing_in_the_middle_of_a_wave(
    client: TestClient, run: Any, ctx: Any, clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch, readings: int,
) -> None:
    """The clock passes the deadline after ``readings`` reads, wherever the submissions are
    then (checked, storing the file, waiting for a lock...); the opening starts right after."""
    agency = factories.make_agency(run, ctx)
    bidders = [factories.make_bidder(run, ctx, f"mid{n}") for n in range(BIDDERS)]
    made = factories.make_tender(run, ctx, clock, agency, "published", bidders=bidders)
    deadline = made.deadline_at
    switching = SwitchingClock(deadline - timedelta(milliseconds=1), deadline, readings)
    monkeypatch.setattr(ctx, "clock", switching)

    outcomes, opened = run(_wave, ctx, made.id, bidders, 1, switching)
    monkeypatch.setattr(ctx, "clock", clock)
    clock.set(deadline + timedelta(minutes=1))

    wrong = [repr(o) for o in outcomes if not isinstance(o, (Bid, *LATE))]
    assert not wrong, f"refused for a reason other than the deadline: {wrong}"
    assert opened is not None, "the opening did not happen"
    status, bids, rows = run(_state, made.id)
    assert status in (TenderStatus.OPENED, TenderStatus.FAILED)
    taken = {o.id for o in outcomes if isinstance(o, Bid)}
    assert taken == {b.id for b in bids}, "accepted bids and stored bids differ"
    problems = _check_opening(bids, rows, deadline, bidders, every_bidder=False)
    assert not problems, "\n".join(problems)
    report = run(ctx.audit.verify)
    assert report.ok, report.lines()


def test_a_bid_checked_before_the_deadline_is_not_stamped_after_it(
    client: TestClient, run: Any, ctx: Any, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two submissions of one bidder: the second passes the deadline check, then waits for
    the first to release the registration row; the deadline passes meanwhile. It must be
    refused, or stamped with the instant it was checked at, never recorded as a late bid."""
    agency = factories.make_agency(run, ctx)
    bidder = factories.make_bidder(run, ctx, "stamp")
    made = factories.make_tender(run, ctx, clock, agency, "published", bidders=[bidder])
    deadline = made.deadline_at
    clock.set(deadline - timedelta(seconds=1))
    record = ctx.audit.record
    seen: list[str] = []

    async def record_then_pass_the_deadline(**event: Any) -> Any:
        written = await record(**event)
        if event["action"] == "bidding:bid:submitted" and not seen:
            seen.append("first")
            conn = connections.get("default")
            for _ in range(500):  # until the other submission waits for a row lock
                rows = await conn.execute_query_dict(
                    "SELECT count(*) AS n FROM pg_locks WHERE NOT granted")
                if rows[0]["n"]:
                    break
                await asyncio.sleep(0.01)
            else:
                pytest.fail("the second submission never waited for the first")
            clock.set(deadline)
        return written

    monkeypatch.setattr(ctx.audit, "record", record_then_pass_the_deadline)

    async def both() -> list[Any]:
        return list(await asyncio.wait_for(asyncio.gather(
            *(_submit(ctx, bidder, made.id, price) for price in ("11100000.00", "11200000.00"))
        ), timeout=WAVE_TIMEOUT))

    outcomes = run(both)
    monkeypatch.setattr(ctx.audit, "record", record)
    stamped_late = [o.submitted_at.isoformat() for o in outcomes
                    if isinstance(o, Bid) and o.submitted_at >= deadline]
    wrong = [repr(o) for o in outcomes if not isinstance(o, (Bid, DeadlinePassed))]
    assert not wrong, wrong
    assert not stamped_late, (
        f"a bid that passed the deadline check was recorded at {stamped_late}, at or after "
        f"the deadline {deadline.isoformat()}, and the opening record will say so")


def test_concurrent_submissions_of_one_bidder_leave_one_current_bid(
    client: TestClient, run: Any, ctx: Any, clock: FixedClock
) -> None:
    agency = factories.make_agency(run, ctx)
    bidder = factories.make_bidder(run, ctx, "twice")
    made = factories.make_tender(run, ctx, clock, agency, "published", bidders=[bidder])
    clock.advance(hours=1)

    async def many() -> list[Any]:
        prices = [f"{11_000_000 + k}.00" for k in range(6)]
        return list(await asyncio.wait_for(asyncio.gather(
            *(_submit(ctx, bidder, made.id, p) for p in prices)), timeout=WAVE_TIMEOUT))

    outcomes = run(many)
    assert all(isinstance(o, Bid) for o in outcomes), [repr(o) for o in outcomes]
    _, bids, _ = run(_state, made.id)
    statuses = Counter(b.status for b in bids)
    assert statuses == {BidStatus.SUBMITTED: 1, BidStatus.SUPERSEDED: 5}, statuses
    # The one left current is the last one written, and each replaced bid ended no earlier
    # than it was submitted.
    current = next(b for b in bids if b.status == BidStatus.SUBMITTED)
    assert all(b.ended_at is not None and b.ended_at >= b.submitted_at
               for b in bids if b is not current)
