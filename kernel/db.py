"""Database configuration. The app package names the model modules; the kernel knows none."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from tortoise import Tortoise, fields
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.connection import connections
from tortoise.models import Model


def normalise_url(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgres://" + url.removeprefix("postgresql://")
    return url


# Connections per process. Tortoise's default pool is 5: at the deadline rush every submission's
# transaction and its checks queued for one of them (bench/RESULTS.md, P1).
POOL_MAX = 20


def _connection(url: str, pool_min: int | None) -> str | dict[str, Any]:
    url = normalise_url(url)
    if not url.startswith("postgres://"):
        return url
    config = expand_db_url(url)
    # Plans are made for each statement's actual parameters: a generic plan cached after five
    # runs does not know the search word and scans instead of using the trigram indexes.
    settings = config["credentials"].setdefault("server_settings", {})
    settings["plan_cache_mode"] = "force_custom_plan"
    # A URL may still say ?maxsize=N (and ?minsize=N).
    config["credentials"].setdefault("maxsize", POOL_MAX)
    if pool_min is not None:
        # A server opens its pool at startup and keeps it (asyncpg closes a connection idle for
        # 5 minutes down to the minimum). Opened on demand, the connections a deadline rush
        # needs were made in its first second, each a new PostgreSQL backend with cold caches
        # and no prepared statements, while 200 uploads a second waited: the step's p99 went
        # from 0.34 s to 0.6-1.6 s (bench/RESULTS.md, P1).
        config["credentials"].setdefault(
            "minsize", min(pool_min, int(config["credentials"]["maxsize"])))
    # asyncpg resets every connection it takes back (advisory locks, cursors, LISTEN, SET): one
    # more round trip for each query outside a transaction, a tenth of a sealed submission's
    # time. The platform's connections never take advantage of session state (grep finds no
    # SET, LISTEN or advisory lock; the job queue has its own connections), so only an open
    # transaction is rolled back, which asyncpg does before calling this.
    config["credentials"]["reset"] = _keep_session
    return config


async def _keep_session(connection: Any) -> None:
    """The pool's reset: nothing beyond asyncpg's own rollback (see _connection)."""


def tortoise_config(
    url: str, apps: Mapping[str, Sequence[str]], *, pool_min: int | None = None
) -> dict[str, Any]:
    """Build the Tortoise config: one app label per domain, each with its migrations package.

    ``pool_min``: connections to PostgreSQL opened at once and kept (a server: ``POOL_MAX``);
    by default one, opened on first use (commands, tests).
    """
    return {
        "connections": {"default": _connection(url, pool_min)},
        "apps": {
            label: {
                "models": list(modules),
                "migrations": f"{label}.migrations",
                "default_connection": "default",
            }
            for label, modules in apps.items()
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def init(config: dict[str, Any]) -> None:
    # Global fallback: Starlette runs the lifespan in a different task from the requests, and
    # Tortoise 1.x keeps its connections in a context variable otherwise.
    await Tortoise.init(config=config, _enable_global_fallback=True)


async def close() -> None:
    await Tortoise.close_connections()


def random_id() -> int:
    """A random 53-bit primary key (safe as a JavaScript number).

    Used for rows whose number would otherwise count other people's sealed actions: with
    sequential ids a bidder who bids twice learns from the gap how many others bid meanwhile.
    """
    return secrets.randbits(53) or 1


def random_ids(count: int) -> list[int]:
    """``count`` random 53-bit keys from one read of the system's random source, which costs
    a system call each (and a slow one in a sandbox): a batch of bids needs many at once."""
    data = secrets.token_bytes(8 * count)
    return [(int.from_bytes(data[8 * n: 8 * n + 8], "big") >> 11) or 1 for n in range(count)]


def RandomIdField() -> fields.BigIntField:
    return fields.BigIntField(primary_key=True, generated=False, default=random_id)


_PARAMETER = re.compile(r"\$(\d+)")


async def fetch_all(sql: str, *params: Any) -> list[dict[str, Any]]:
    """Rows of a hand-written, parameterised SELECT (``$1``, ``$2`` ... on both databases).

    For the few queries on the hot paths only (a request's session, a sealed submission):
    building a query through the ORM costs about 1 ms of CPU, five times the query itself, and
    the deadline rush runs hundreds a second (bench/RESULTS.md, P1). Parameters are always
    bound, never formatted into the text. Timestamps come back as SQLite stores them (text):
    read them with :func:`instant`, and compare them in Python rather than in the query.
    """
    conn = connections.get("default")
    if conn.capabilities.dialect == "sqlite":
        order = [int(n) - 1 for n in _PARAMETER.findall(sql)]
        sql = _PARAMETER.sub("?", sql)
        params = tuple(params[n] for n in order)
    return list(await conn.execute_query_dict(sql, list(params)))


async def fetch_locked(sql: str, *params: Any) -> list[dict[str, Any]]:
    """:func:`fetch_all` of a ``SELECT ... FOR UPDATE`` (the clause ends ``sql``), inside the
    caller's transaction. SQLite has neither row locks nor the clause (a write transaction
    there holds the whole database), so it is left out there, as the ORM does."""
    if not sql.endswith(_FOR_UPDATE):
        raise ValueError("fetch_locked needs a query ending in FOR UPDATE")
    if connections.get("default").capabilities.dialect == "sqlite":
        sql = sql.removesuffix(_FOR_UPDATE)
    return await fetch_all(sql, *params)


_FOR_UPDATE = " FOR UPDATE"


async def lock_single_row(model: type[Model], sql: str, row_id: int) -> dict[str, Any]:
    """Row ``row_id`` of a one-row table (a chain's head), read by ``sql`` (a
    :func:`fetch_locked` query taking the id) and locked; created with its defaults first if
    absent. ON CONFLICT DO NOTHING: a concurrent first writer may be creating it too; we wait
    for it and then lock whichever row won."""
    rows = await fetch_locked(sql, row_id)
    if not rows:
        await model.bulk_create([model(id=row_id)], ignore_conflicts=True)
        rows = await fetch_locked(sql, row_id)
    return rows[0]


def json_value(value: Any) -> Any:
    """A JSON column's value as a hand-written query returns it: text on both databases."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def instant(value: Any) -> datetime | None:
    """A timestamp column's value as an aware UTC datetime (SQLite gives text)."""
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
