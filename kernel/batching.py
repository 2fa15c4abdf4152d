"""Group commit: callers that each need one short write transaction share one.

Why. A write that appends to a chain (the receipts log, the audit trail) locks the chain's head
row from its append to its commit, so such writes go one at a time however many connections
there are, and each pays its own round trips, lock waits and fsync. Under a deadline rush that
queue, not the CPU, sets the rate (bench/RESULTS.md, P1). Handing every request that arrives
while a transaction runs to the next one turns N lock holds and N commits into one.

How. ``submit(key, item)`` queues the item and awaits its result. While nothing runs for that
key on this event loop, a drain task starts and hands the handler every queued item of the key
(up to ``max_batch``) as one batch, again and again until the queue is empty. The handler
returns one result or exception per item. If it raises as a whole, each item of the batch is
handed to it again alone, so one bad item costs the others a retry, never their result.

The drain is its own task, not the first caller's: a caller cancelled while it waits (a client
that hung up) neither aborts the batch nor strands the items queued behind it. A cancelled
caller's item may still be committed; callers must make a retry of the same item safe
(a resent bid answers with its original receipt).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import weakref
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["GroupCommit"]

T = TypeVar("T")
R = TypeVar("R")

Handler = Callable[[Sequence[T]], Awaitable[Sequence["R | BaseException"]]]

log = logging.getLogger(__name__)


@dataclass
class _Queue(Generic[T, R]):
    items: list[tuple[T, asyncio.Future[R]]] = field(default_factory=list)
    draining: asyncio.Task[None] | None = None


class GroupCommit(Generic[T, R]):
    """Batches the items submitted under one key on one event loop; see the module's doc."""

    def __init__(self, handler: Handler[T, R], *, max_batch: int = 64) -> None:
        self._handler = handler
        self.max_batch = max_batch
        # Per event loop: tests and the CLI run several loops in one process over their life.
        self._loops: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[Hashable, _Queue[T, R]]
        ] = weakref.WeakKeyDictionary()

    async def submit(self, key: Hashable, item: T) -> R:
        """Queue ``item`` with the others of ``key`` and return its result (or raise its error)."""
        loop = asyncio.get_running_loop()
        queue = self._loops.setdefault(loop, {}).setdefault(key, _Queue())
        future: asyncio.Future[R] = loop.create_future()
        queue.items.append((item, future))
        if queue.draining is None:
            # A context of its own: the drain must not inherit the first caller's context
            # variables (an ORM transaction among them) and run every batch inside it.
            queue.draining = loop.create_task(self._drain(queue), context=contextvars.Context())
        return await future

    async def _drain(self, queue: _Queue[T, R]) -> None:
        try:
            while queue.items:
                batch = queue.items[: self.max_batch]
                del queue.items[: self.max_batch]
                await self._run(batch)
        except BaseException as error:  # cancelled with its loop: nobody is left to drain
            for _, future in queue.items:
                _settle(future, error)
            queue.items.clear()
            raise
        finally:
            queue.draining = None

    async def _run(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._handler([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError("a group-commit handler must answer every item once")
        except Exception as error:
            if len(batch) == 1:
                _settle(batch[0][1], error)
                return
            log.warning("group commit of %d items failed as a whole (%r): retrying one by one",
                        len(batch), error)
            for one in batch:
                await self._run([one])
            return
        except BaseException as error:  # cancelled: the loop is going away
            for _, future in batch:
                _settle(future, error)
            raise
        for (_, future), result in zip(batch, results, strict=True):
            _settle(future, result)


def _settle(future: asyncio.Future[R], result: R | BaseException) -> None:
    if future.done():  # its caller was cancelled; the result is theirs to fetch again
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)
