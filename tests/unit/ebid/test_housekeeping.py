"""ebid.jobs.housekeeping, run by every tick: periodic log heads, and steps that fail alone."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from tortoise.transactions import in_transaction

from ebid import jobs
from signing import log
from signing.models import HeadReason, SignedHead


async def _append(ctx: Any, n: int) -> None:
    async with in_transaction():
        await log.append(ctx, leaf=hashlib.sha256(str(n).encode()).digest())


def _periodic(run: Any) -> list[SignedHead]:
    return run(lambda: SignedHead.filter(reason=HeadReason.PERIODIC).order_by("id"))


def test_a_periodic_head_when_the_log_grew_and_the_interval_passed(run, ctx, clock):
    run(jobs.tick, ctx)
    assert _periodic(run) == []  # an empty log commits to nothing

    run(_append, ctx, 1)
    run(jobs.tick, ctx)
    heads = _periodic(run)
    assert [head.tree_size for head in heads] == [1]

    run(_append, ctx, 2)
    clock.advance(seconds=ctx.settings.log_head_interval_seconds - 1)
    run(jobs.tick, ctx)
    assert len(_periodic(run)) == 1  # too soon
    clock.advance(seconds=1)
    run(jobs.tick, ctx)
    assert [head.tree_size for head in _periodic(run)] == [1, 2]

    clock.advance(hours=3)
    run(jobs.tick, ctx)
    assert len(_periodic(run)) == 2  # the log did not grow


def test_any_head_counts_towards_the_interval(run, ctx, clock):
    run(_append, ctx, 1)
    run(log.publish_head, ctx, reason=HeadReason.DEADLINE, tender_id=7)
    run(_append, ctx, 2)
    clock.advance(minutes=5)
    run(jobs.tick, ctx)
    assert _periodic(run) == []


def test_a_failing_step_does_not_stop_the_others(run, ctx, monkeypatch, caplog):
    ran = []

    async def broken(ctx: Any) -> None:
        raise OSError("disk full")

    async def fine(ctx: Any) -> None:
        ran.append("fine")

    monkeypatch.setattr(jobs, "HOUSEKEEPING", (("broken", broken), ("fine", fine)))
    with caplog.at_level(logging.ERROR, logger="ebid.jobs"):
        run(jobs.tick, ctx)
    assert ran == ["fine"]
    assert "broken failed" in caplog.text
