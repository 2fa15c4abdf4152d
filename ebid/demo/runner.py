"""Running the demo: play every story's steps in time order under the scheduler, and
``build_demo``, which resets, migrates and fills the database (the entry point of ``ebid demo``)."""

from __future__ import annotations

import heapq
import shutil
from datetime import datetime
from pathlib import Path

import anyio.to_thread
from tortoise import connections

from bidding import services as bidding
from ebid import jobs
from ebid.app import build_context
from ebid.config import tortoise_config
from ebid.demo.data import ADMIN, logins
from ebid.demo.stories import STORIES
from ebid.demo.tools import Demo
from ebid.migrate import migrate
from kernel import db
from kernel.accounts.models import User
from kernel.clock import FixedClock, SystemClock
from kernel.settings import Settings


async def _play(d: Demo) -> None:
    """Run every story's steps in time order, opening what is due before each step."""
    stories = [story(d) for story in STORIES]
    queue: list[tuple[datetime, int]] = []
    for i, steps in enumerate(stories):
        heapq.heappush(queue, (await anext(steps), i))  # a story acts only after its 1st yield
    await d.setup(d.before(queue[0][0], 1, "09:00"))
    while queue:
        at, i = heapq.heappop(queue)
        if not d.clock.now() <= at <= d.now:
            raise RuntimeError(f"{STORIES[i].__name__}: a step at {at} is out of order")
        if d.day(at) != d.day(d.clock.now()):
            # The live scheduler signs a checkpoint every 30 s; once a day is plenty here,
            # and each one costs an fsync.
            await d.ctx.audit.checkpoint(at=d.clock.now())
        d.clock.set(at)
        await bidding.advance_due(d.ctx)
        try:
            heapq.heappush(queue, (await anext(stories[i]), i))
        except StopAsyncIteration:
            pass
    d.clock.set(d.now)
    await jobs.tick(d.ctx)  # opens whatever is due by now, and signs the final checkpoint


async def _reset(settings: Settings) -> None:
    """Dangerous: deletes the database and the data directory (keys, uploads, checkpoints)."""
    if settings.is_postgres:
        await db.init(tortoise_config(settings))
        try:
            await connections.get("default").execute_script(
                "DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        finally:
            await db.close()
    await anyio.to_thread.run_sync(_remove_files, settings)


def _remove_files(settings: Settings) -> None:
    if settings.database_url.startswith("sqlite://"):
        path = settings.database_url.removeprefix("sqlite://").split("?", 1)[0]
        if path and path != ":memory:":
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(path + suffix).unlink(missing_ok=True)
    shutil.rmtree(settings.data_dir, ignore_errors=True)


def _without_fsync(settings: Settings) -> Settings:
    """SQLite settings that skip the fsync after each commit (WAL keeps the file consistent):
    an interrupted build is simply run again with --reset, and it saves seconds."""
    url = settings.database_url
    if url.startswith("sqlite://") and "?" not in url:
        return settings.with_(database_url=url + "?synchronous=NORMAL")
    return settings


async def build_demo(
    settings: Settings, *, reset: bool, now: datetime | None = None
) -> list[tuple[str, str, str]]:
    """Fill the database with the demo (``reset`` first wipes it) and return the logins.

    Does nothing but return the logins when the demo is already there. ``now`` (for tests)
    stands in for the real time the story ends at.
    """
    if reset:
        await _reset(settings)
    await migrate(settings)
    await db.init(tortoise_config(_without_fsync(settings)))
    try:
        if await User.filter(username=ADMIN[0]).exists():
            return logins()
        if await User.exists():
            raise RuntimeError("the database holds other data: run `ebid demo --reset`")
        end = now or SystemClock().now()
        clock = FixedClock(end)
        d = Demo(build_context(settings, clock), clock, end)
        await _play(d)
    finally:
        await db.close()
    return logins()
