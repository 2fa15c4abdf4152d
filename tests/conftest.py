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
from ebid.config import tortoise_config
from ebid.migrate import migrate
from kernel.clock import FixedClock
from kernel.settings import Settings

BEIJING = ZoneInfo("Asia/Shanghai")
# A Monday in an ordinary working week, far from holidays.
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=BEIJING)


def is_postgres(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://"))


async def _reset_schema(url: str) -> None:
    if is_postgres(url):
        await Tortoise.init(config=tortoise_config(Settings(database_url=url)))
        conn = connections.get("default")
        await conn.execute_script("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        await Tortoise.close_connections()
    await migrate(Settings(database_url=url))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("EBID_TEST_DATABASE_URL") or (
        f"sqlite://{tmp_path_factory.mktemp('db')}/test.sqlite3"
    )
    asyncio.run(_reset_schema(url))
    return url


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
