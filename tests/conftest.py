"""Test harness: a real database (SQLite file, or PostgreSQL when EBID_TEST_DATABASE_URL says
so), the real app behind Starlette's TestClient, and a FixedClock the tests move by hand.

The schema is built once per session by running the project's migrations (so they are tested
too); each test then starts from empty tables.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from starlette.testclient import TestClient
from tortoise import Tortoise, connections

from ebid.app import create_app
from ebid.migrate import migrate
from kernel.clock import FixedClock
from kernel.settings import Settings

BEIJING = ZoneInfo("Asia/Shanghai")
# A Monday in an ordinary working week, far from holidays.
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=BEIJING)


def is_postgres(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://"))


async def _postgres_schema(base_url: str, schema: str, *, create: bool) -> None:
    import asyncpg

    conn = await asyncpg.connect(base_url.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        if create:
            await conn.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, migrated database for this test run.

    On PostgreSQL each run gets its own schema, so several runs (a developer's and CI's, or
    parallel sessions) can share the ``test`` database without clobbering each other.
    """
    base = os.environ.get("EBID_TEST_DATABASE_URL", "")
    if is_postgres(base):
        schema = f"ebid_test_{os.getpid()}"
        asyncio.run(_postgres_schema(base, schema, create=True))
        # minsize=1: a test's app opens connections as it needs them, not a server's whole pool
        # at every start (kernel.db.POOL_MAX; tests/unit/kernel/test_db.py checks that).
        url = f"{base}{'&' if '?' in base else '?'}schema={schema}&minsize=1"
        asyncio.run(migrate(Settings(database_url=url)))
        yield url
        asyncio.run(_postgres_schema(base, schema, create=False))
    else:
        url = f"sqlite://{tmp_path_factory.mktemp('db')}/test.sqlite3"
        asyncio.run(migrate(Settings(database_url=url)))
        yield url


async def wipe_tables() -> None:
    conn = connections.get("default")
    tables = [
        model._meta.db_table
        for app in Tortoise.apps.values()
        for model in app.values()
    ]
    if conn.capabilities.dialect == "postgres":
        await conn.execute_script(
            "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE;"
        )
    else:
        script = "PRAGMA foreign_keys=OFF;" + "".join(f'DELETE FROM "{t}";' for t in tables)
        await conn.execute_script(script + "PRAGMA foreign_keys=ON;")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        max_upload_bytes=2 * 1024 * 1024,
    )


@pytest.fixture
def client(settings: Settings, clock: FixedClock) -> Iterator[TestClient]:
    app = create_app(settings, clock=clock, run_jobs=False)
    with TestClient(app, base_url="http://testserver") as test_client:
        test_client.portal.call(wipe_tables)
        yield test_client


@pytest.fixture
def run(client: TestClient) -> Callable[..., Any]:
    """Run a coroutine function on the app's event loop: ``run(service.fn, ctx, a=1)``."""

    def runner(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return client.portal.call(functools.partial(fn, *args, **kwargs))

    return runner


@pytest.fixture
def ctx(client: TestClient) -> Any:
    return client.app.state.ctx  # type: ignore[attr-defined]
