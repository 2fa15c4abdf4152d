"""1,000 sealed submissions straddling the deadline, at once, on PostgreSQL (issue 3).

A sealed bid is judged by the instant its last byte arrived (``received_at``), not by when the
platform gets round to checking it: half of the submissions here arrived in the last half
second before the deadline and half in the first half second after it, and all of them are
processed concurrently (each in its own transaction, real row locks) while the scheduler keeps
trying to start the opening. None may be accepted after the deadline, none refused before it,
each bidder ends with exactly one current bid, every accepted bid has exactly one log entry,
and the opening, once the intake grace is over, takes exactly the current bids. (This replaces
the plain-upload race tests of issue 2.)
"""

from __future__ import annotations

import asyncio
import random
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import factories
import pytest
from starlette.testclient import TestClient

from bidding import services as bidding
from bidding.exceptions import DeadlinePassed
from bidding.models import Bid, BidStatus, OpeningRecord, Tender, TenderStatus
from kernel.clock import FixedClock
from kernel.errors import DomainError
from kernel.settings import Settings
from signing.models import LogEntry

pytestmark = pytest.mark.postgres_only

BIDDERS = 100
PER_BIDDER = 10  # 1,000 submissions
TIMEOUT = 300  # seconds: a lock cycle must fail the test, not hang the run


@pytest.fixture(autouse=True)
def _postgres(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if not database_url.startswith(("postgres://", "postgresql://")):
        pytest.skip("row locks need PostgreSQL: set EBID_TEST_DATABASE_URL=postgres://...")
    factories.cheap_password_hashing(monkeypatch)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(session_max_age_seconds=180 * 24 * 3600)


async def _submit(ctx: Any, bidder: factories.Account, tender_id: int, package: Path,
                  received_at: datetime) -> Any:
    try:
        bid, _, _ = await bidding.submit_sealed_bid(
            ctx, actor=bidder.actor, tender_id=tender_id, lot_number=1, package_path=package,
            received_at=received_at, remote_addr="10.0.0.1",
        )
        return bid
    except DomainError as exc:
        return exc


async def _storm(ctx: Any, tender_id: int,
                 jobs: list[tuple[factories.Account, Path, datetime]]) -> tuple[list[Any], int]:
    """Every submission at once, and the scheduler asking to open the tender meanwhile."""
    submissions = [asyncio.ensure_future(_submit(ctx, bidder, tender_id, path, at))
                   for bidder, path, at in jobs]
    openings = 0

    async def scheduler() -> None:
        nonlocal openings
        while not all(s.done() for s in submissions):
            opened = await bidding.advance_due(ctx)
            openings += sum(opened.values()) if isinstance(opened, dict) else 0
            await asyncio.sleep(0.01)

    outcomes = await asyncio.wait_for(asyncio.gather(*submissions), timeout=TIMEOUT)
    await asyncio.wait_for(scheduler(), timeout=TIMEOUT)
    return list(outcomes), openings


def test_a_thousand_submissions_straddling_the_deadline(
    client: TestClient, run: Any, ctx: Any, clock: FixedClock
) -> None:
    agency = factories.make_agency(run, ctx)
    bidders = [factories.make_bidder(run, ctx, f"storm{n}") for n in range(BIDDERS)]
    made = factories.make_tender(run, ctx, clock, agency, "published", bidders=bidders)
    deadline = made.deadline_at
    clock.set(deadline - timedelta(hours=1))

    rng = random.Random(2026)
    offsets_ms = list(range(-500, 500))  # one submission per millisecond around the deadline
    rng.shuffle(offsets_ms)
    workdir = Path(tempfile.mkdtemp(prefix="ebid-storm-", dir=ctx.settings.data_dir))
    jobs = []
    for n, offset in enumerate(offsets_ms):
        bidder = bidders[n % BIDDERS]
        price = f"{10_000_000 + n}.00"
        path = workdir / f"{n}.sealed"
        path.write_bytes(factories.seal_bid(run, ctx, bidder, made.id, price,
                                            files={"投标文件.txt": price.encode()}))
        jobs.append((bidder, path, deadline + timedelta(milliseconds=offset)))

    # The platform works through them a second after the deadline, well inside the intake
    # grace: the opening must not start while they are being checked.
    clock.set(deadline + timedelta(seconds=1))
    outcomes, openings = run(_storm, ctx, made.id, jobs)

    refused_early = [(at.isoformat(), repr(o)) for (_, _, at), o in zip(jobs, outcomes, strict=True)
                     if at < deadline and not isinstance(o, Bid)]
    taken_late = [at.isoformat() for (_, _, at), o in zip(jobs, outcomes, strict=True)
                  if at >= deadline and isinstance(o, Bid)]
    wrong_reason = [repr(o) for (_, _, at), o in zip(jobs, outcomes, strict=True)
                    if at >= deadline and not isinstance(o, (Bid, DeadlinePassed))]
    assert not refused_early, (
        f"{len(refused_early)} refused before the deadline: {refused_early[:5]}")
    assert not taken_late, f"{len(taken_late)} accepted after the deadline: {taken_late[:5]}"
    assert not wrong_reason, f"late ones refused for another reason: {wrong_reason[:5]}"
    assert openings == 0, "the opening started inside the intake grace"

    async def stored() -> tuple[list[Bid], list[int]]:
        bids = list(await Bid.filter(tender_id=made.id))
        entries = list(await LogEntry.filter(tender_id=made.id).values_list("index", flat=True))
        return bids, entries

    bids, entries = run(stored)
    accepted = [o for o in outcomes if isinstance(o, Bid)]
    assert len(accepted) == 500
    assert {b.id for b in bids} == {b.id for b in accepted}, "a refusal left a row behind"
    assert all(b.submitted_at < deadline for b in bids)
    assert sorted(entries) == sorted(b.log_index for b in bids), "log entries and bids differ"
    current = [b for b in bids if b.status == BidStatus.SUBMITTED]
    wanted = sorted(b.organization_id for b in bidders)
    assert sorted(b.organization_id for b in current) == wanted, (
        "every bidder must end with exactly one current bid")

    # After the grace the scheduler starts the opening, and it holds exactly the current bids.
    clock.set(deadline + timedelta(seconds=ctx.settings.intake_grace_seconds))
    run(bidding.advance_due, ctx)
    tender = run(Tender.get, id=made.id)
    assert tender.status == TenderStatus.OPENING
    # Every bidder sends the key of its current bid; the opening record lists exactly those.
    current_of = {c.organization_id: c.id for c in current}
    made.bid_ids = {b.username: current_of[b.organization_id] for b in bidders}
    factories.decrypt_bids(run, ctx, made)
    run(bidding.advance_due, ctx)
    tender = run(Tender.get, id=made.id)
    assert tender.status == TenderStatus.OPENED
    record = run(OpeningRecord.get, tender_id=made.id)
    assert {int(row["bid_id"]) for row in record.rows} == {b.id for b in current}
    late = factories.seal_bid(run, ctx, bidders[0], made.id, "9999999.00")
    with pytest.raises(DomainError):
        factories.submit_package(run, ctx, bidders[0], made.id, late,
                                 received_at=deadline - timedelta(milliseconds=1))
    report = run(ctx.audit.verify)
    assert report.ok, report.lines()
