"""The PostgreSQL job queue (procrastinate): workers may run on several machines.

``ebid worker`` runs one. The periodic ``ebid.tick`` job runs every minute; procrastinate's
periodic deferrer and the queueing lock make sure only one tick is queued at a time however
many workers run, and ``tick`` itself is idempotent (each tender is locked and re-checked), so
a tick that runs late or twice is harmless. On the embedded SQLite default the web process runs
the same ``tick`` itself (ebid.jobs.InProcessRunner) and no worker is needed.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import procrastinate
from procrastinate.testing import InMemoryConnector

from ebid import jobs
from ebid.app import build_context
from ebid.config import tortoise_config
from kernel import db
from kernel.context import Context
from kernel.settings import Settings

log = logging.getLogger(__name__)

# Set by the worker process before it starts taking jobs.
_ctx: Context | None = None


# Parameters of the URL that are Tortoise's (its pool), not libpq's: psycopg refuses them.
_TORTOISE_ONLY = frozenset({"schema", "minsize", "maxsize", "max_queries",
                            "max_inactive_connection_lifetime"})


def _conninfo(url: str) -> str:
    """libpq form of the database URL; tortoise's ``?schema=`` becomes a search_path and its
    pool sizes are left out (the job queue's pool is psycopg's)."""
    for prefix in ("postgres://", "asyncpg://"):
        if url.startswith(prefix):
            url = "postgresql://" + url.removeprefix(prefix)
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in _TORTOISE_ONLY]
    schema = dict(parse_qsl(parts.query)).get("schema")
    if schema:
        query.append(("options", f"-csearch_path={schema}"))
    return urlunsplit(parts._replace(query=urlencode(query)))


def make_queue(settings: Settings) -> procrastinate.App:
    """The job-queue app: PostgreSQL-backed, or in memory for SQLite and unit tests."""
    connector: procrastinate.BaseConnector
    if settings.is_postgres:
        connector = procrastinate.PsycopgConnector(conninfo=_conninfo(settings.database_url))
    else:
        connector = InMemoryConnector()
    queue = procrastinate.App(connector=connector)

    @queue.periodic(cron="* * * * *", periodic_id="tick")
    @queue.task(name="ebid.tick", queueing_lock="ebid.tick")
    async def tick(timestamp: int) -> None:
        if _ctx is None:
            raise RuntimeError("the worker context is not set")
        moved = await jobs.tick(_ctx)
        log.info("tick at %s moved %s", timestamp, moved)

    # Analyses queued by a web process (a worker analyses the tenders it opens itself).
    @queue.periodic(cron="* * * * *", periodic_id="collusion")
    @queue.task(name="ebid.collusion", queueing_lock="ebid.collusion")
    async def analyse(timestamp: int) -> None:
        if _ctx is None:
            raise RuntimeError("the worker context is not set")
        done = await jobs.analyse(_ctx)
        log.info("collusion analyses at %s: %s", timestamp, done)

    return queue


async def apply_queue_schema(settings: Settings) -> None:
    """Create procrastinate's tables on PostgreSQL if they are not there yet."""
    if not settings.is_postgres:
        return
    queue = make_queue(settings)
    async with queue.open_async():
        rows = await queue.connector.execute_query_one_async(
            "SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS present"
        )
        if not rows["present"]:
            await queue.schema_manager.apply_schema_async()


async def run_worker(settings: Settings, *, wait: bool = True) -> None:
    """Run a worker until stopped (``wait=False``: process what is queued, then return)."""
    global _ctx
    await db.init(tortoise_config(settings))
    # A worker is a background process: it analyses the tenders it opens at once.
    _ctx = build_context(settings, analyse_now=True)
    queue = make_queue(settings)
    try:
        # Catch up at once after a restart instead of waiting for the next minute.
        await jobs.tick(_ctx)
        await jobs.analyse(_ctx)
        async with queue.open_async():
            await queue.run_worker_async(wait=wait, install_signal_handlers=wait)
    finally:
        _ctx = None
        await db.close()
