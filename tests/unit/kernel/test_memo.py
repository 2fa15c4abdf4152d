"""kernel.memo.Memo: values kept for a bounded time of the context's clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from kernel.memo import Memo

T = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def test_a_value_is_kept_for_its_age_and_no_longer() -> None:
    memo = Memo()
    memo.put("k", 1, now=T)
    assert memo.get("k", now=T + timedelta(seconds=5), max_age=5) == 1
    assert memo.get("k", now=T + timedelta(seconds=5.001), max_age=5) is None
    # A clock set back does not make an old value young.
    assert memo.get("k", now=T - timedelta(seconds=1), max_age=5) is None
    memo.forget("k")
    assert memo.get("k", now=T, max_age=5) is None


def test_fetch_reads_once_and_keeps_no_none() -> None:
    memo = Memo()
    reads: list[str] = []

    async def read(value: int | None) -> int | None:
        reads.append("read")
        return value

    async def main() -> tuple[object, ...]:
        a = await memo.fetch("a", lambda: read(7), now=T, max_age=1)
        b = await memo.fetch("a", lambda: read(8), now=T, max_age=1)
        c = await memo.fetch("n", lambda: read(None), now=T, max_age=1)
        d = await memo.fetch("n", lambda: read(None), now=T, max_age=1)
        return a, b, c, d

    assert asyncio.run(main()) == (7, 7, None, None)
    assert len(reads) == 3  # the missing value is asked for again: it may appear any moment


def test_it_stays_bounded() -> None:
    memo = Memo(max_entries=3)
    for n in range(10):
        memo.put(n, n, now=T)
    assert sum(memo.get(n, now=T, max_age=1) is not None for n in range(10)) <= 3
