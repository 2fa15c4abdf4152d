"""kernel.batching.GroupCommit: items that arrive while a batch runs share the next one; a batch
that fails as a whole is retried item by item; a cancelled caller strands nobody."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from kernel.batching import GroupCommit


class Refused(Exception):
    pass


def test_items_arriving_during_a_batch_share_the_next_one() -> None:
    batches: list[list[int]] = []

    async def main() -> list[object]:
        gate = asyncio.Event()

        async def handler(items: Sequence[int]) -> list[int | BaseException]:
            batches.append(list(items))
            await gate.wait()  # a transaction in progress
            return [item * 10 if item != 3 else Refused(item) for item in items]

        group: GroupCommit[int, int] = GroupCommit(handler)
        first = asyncio.ensure_future(group.submit("k", 0))
        await asyncio.sleep(0.01)  # its batch is running
        rest = [asyncio.ensure_future(group.submit("k", n)) for n in range(1, 6)]
        await asyncio.sleep(0.01)
        gate.set()
        return await asyncio.gather(first, *rest, return_exceptions=True)

    results = asyncio.run(main())
    assert results[:3] == [0, 10, 20] and isinstance(results[3], Refused)
    assert results[4:] == [40, 50]
    # The five that queued while the first batch ran share the next one.
    assert batches == [[0], [1, 2, 3, 4, 5]]


def test_batches_never_mix_keys_and_stop_at_max_batch() -> None:
    batches: list[list[tuple[str, int]]] = []

    async def handler(items: Sequence[tuple[str, int]]) -> list[int | BaseException]:
        batches.append(list(items))
        await asyncio.sleep(0)
        return [n for _, n in items]

    group: GroupCommit[tuple[str, int], int] = GroupCommit(handler, max_batch=2)

    async def main() -> None:
        await asyncio.gather(*(group.submit(key, (key, n)) for n in range(5) for key in "ab"))

    asyncio.run(main())
    assert all(len(batch) <= 2 and len({key for key, _ in batch}) == 1 for batch in batches)
    assert sorted(item for batch in batches for item in batch) == sorted(
        (key, n) for n in range(5) for key in "ab")


def test_a_batch_that_fails_as_a_whole_is_retried_one_by_one() -> None:
    calls: list[list[int]] = []

    async def handler(items: Sequence[int]) -> list[int | BaseException]:
        calls.append(list(items))
        await asyncio.sleep(0)
        if 2 in items:
            raise RuntimeError("the database refused the batch")
        return list(items)

    group: GroupCommit[int, int] = GroupCommit(handler)

    async def main() -> list[object]:
        return await asyncio.gather(*(group.submit("k", n) for n in range(4)),
                                    return_exceptions=True)

    results = asyncio.run(main())
    assert results[0] == 0 and results[1] == 1 and results[3] == 3
    assert isinstance(results[2], RuntimeError)
    assert calls == [[0, 1, 2, 3], [0], [1], [2], [3]]


def test_a_cancelled_caller_neither_aborts_the_batch_nor_strands_the_others() -> None:
    done: list[int] = []

    async def main() -> list[int]:
        gate = asyncio.Event()

        async def handler(items: Sequence[int]) -> list[int | BaseException]:
            await gate.wait()
            done.extend(items)
            return list(items)

        group: GroupCommit[int, int] = GroupCommit(handler)
        first = asyncio.ensure_future(group.submit("k", 1))
        await asyncio.sleep(0)
        others = [asyncio.ensure_future(group.submit("k", n)) for n in (2, 3)]
        await asyncio.sleep(0)
        first.cancel()  # its client hung up while the batch ran
        gate.set()
        with pytest.raises(asyncio.CancelledError):
            await first
        return list(await asyncio.gather(*others))

    assert asyncio.run(main()) == [2, 3]
    assert done == [1, 2, 3]  # the cancelled item was still committed: a retry must be safe
