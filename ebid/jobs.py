"""Background work: the deadline scheduler now, analysis jobs later.

``tick`` is idempotent and reads only the clock and the database, so running it late (after a
restart) simply catches up, and running it on two machines at once is harmless: each state
change locks its tender row and re-checks it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from bidding import services as bidding
from bidding.services import uploads as bid_uploads
from collusion import services as collusion
from kernel.context import Context
from signing import crl_fetch, login
from signing import log as receipts_log

log = logging.getLogger(__name__)


async def tick(ctx: Context) -> dict[str, int]:
    """Move every tender whose period has ended, do the housekeeping, checkpoint the audit chain."""
    moved = await bidding.advance_due(ctx)
    await housekeeping(ctx)
    await ctx.audit.checkpoint(at=ctx.clock.now())
    return moved


async def _log_head(ctx: Context) -> object:
    every = ctx.settings.log_head_interval_seconds
    return await receipts_log.publish_periodic_head(ctx, every_seconds=every)


HOUSEKEEPING: tuple[tuple[str, Callable[[Context], Awaitable[object]]], ...] = (
    ("periodic log head", _log_head),
    ("CRL fetch", crl_fetch.fetch_due),
    ("stale uploads", bid_uploads.clean_expired),
    ("old login challenges", login.purge_expired),
)


async def housekeeping(ctx: Context) -> None:
    """Work that moves no tender. Each step on its own: a CA's unreachable CRL address or a
    full disk must not keep the log's heads or the next step from running."""
    for name, step in HOUSEKEEPING:
        try:
            await step(ctx)
        except Exception:
            log.exception("%s failed; retrying next tick", name)


async def analyse(ctx: Context) -> int:
    """Run the collusion analyses still queued (their opening's process did not run them)."""
    return await collusion.run_queued(ctx)


class InProcessRunner:
    """Runs ``tick`` inside the web process: the embedded SQLite default needs no worker."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="ebid-scheduler")

    async def _loop(self) -> None:
        interval = self.ctx.settings.scheduler_interval_seconds
        while True:
            try:
                moved = await tick(self.ctx)
                if any(moved.values()):
                    log.info("scheduler moved tenders: %s", moved)
                await analyse(self.ctx)
            except Exception:
                log.exception("scheduler tick failed; retrying next interval")
            await asyncio.sleep(interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def start_inprocess(ctx: Context) -> InProcessRunner | None:
    """Start the in-process scheduler unless a separate worker does the work."""
    if ctx.settings.job_backend != "inprocess":
        return None
    runner = InProcessRunner(ctx)
    runner.start()
    return runner
