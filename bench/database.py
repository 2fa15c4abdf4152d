"""The portal benchmark's databases: where they are, how they are rebuilt, what is in them.

Each bench database gets its schema from the project's migrations (``ebid.migrate.migrate``),
so it has exactly the tables, indexes and search tables the code expects, and is then filled
by ``bench.dataset``. A rebuild starts from nothing: the SQLite file is deleted, the
PostgreSQL database dropped and created again (so no setting or extension from an older run
survives). ``--reuse`` keeps a database only if it holds a dataset of the requested size and
every migration of the project has been applied to it.

The PostgreSQL bench database is its own database (``ebid_bench`` by default); the script
refuses to drop one whose name does not contain "bench", so the test suite's ``test`` database
is never touched.
"""

from __future__ import annotations

import importlib
import pkgutil
import shutil
import time
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tortoise import Tortoise, connections
from tortoise.transactions import in_transaction

from bench.dataset import LOAD_ORDER, SEARCH_WORD, make_dataset
from bidding.models import Bid, Tender, TenderStatus
from ebid.config import APPS, tortoise_config
from ebid.migrate import migrate
from kernel import db
from kernel.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
DEFAULT_SQLITE = f"sqlite://{VAR}/portal.sqlite3"
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/ebid_bench"
BATCH = 2000


@dataclass
class Target:
    name: str  # "sqlite" or "postgres"
    url: str

    @property
    def settings(self) -> Settings:
        return Settings(database_url=self.url, data_dir=VAR / f"data-{self.name}")

    @property
    def is_postgres(self) -> bool:
        return self.settings.is_postgres


def pg_parts(url: str) -> tuple[str, str]:
    """(URL of the maintenance database ``postgres``, name of the bench database)."""
    parsed = urllib.parse.urlsplit(url)
    name = parsed.path.lstrip("/")
    admin = urllib.parse.urlunsplit(("postgresql", parsed.netloc, "/postgres", parsed.query, ""))
    return admin, name


def pg_dsn(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


async def _pg_exists(url: str) -> bool:
    import asyncpg

    admin, name = pg_parts(url)
    conn = await asyncpg.connect(admin)
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


async def _pg_recreate(url: str) -> None:
    """Drop the bench database and create it empty. Refuses any other database."""
    import asyncpg

    admin, name = pg_parts(url)
    if "bench" not in name or name == "test":
        raise SystemExit(f"refusing to rebuild database {name!r}: its name must contain 'bench'")
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def _sqlite_file(url: str) -> Path:
    return Path(url.removeprefix("sqlite://"))


def project_migrations() -> set[tuple[str, str]]:
    """(app, name) of every migration module in the project."""
    found = set()
    for label in APPS:
        package = importlib.import_module(f"{label}.migrations")
        found |= {(label, m.name) for m in pkgutil.iter_modules(package.__path__)
                  if not m.name.startswith("_")}
    return found


async def _existing(target: Target) -> tuple[int, int, set[tuple[str, str]]] | None:
    """(tenders, bids, applied migrations) in the bench database, or None if it has none."""
    if target.is_postgres:
        if not await _pg_exists(target.url):
            return None
    elif not _sqlite_file(target.url).exists():
        return None
    await db.init(tortoise_config(target.settings))
    try:
        _, rows = await connections.get("default").execute_query(
            "SELECT app, name FROM tortoise_migrations")
        applied = {(row["app"], row["name"]) for row in rows}
        return await Tender.all().count(), await Bid.all().count(), applied
    except Exception:
        return None
    finally:
        await Tortoise.close_connections()


async def build(target: Target, n_tenders: int, n_bids: int, reuse: bool) -> None:
    """Rebuild the bench database from the migrations and fill it (or keep it, see above)."""
    if reuse:
        found = await _existing(target)
        missing = project_migrations() - found[2] if found else set()
        if found and found[:2] == (n_tenders, n_bids) and not missing:
            print(f"[{target.name}] reusing the dataset: {n_tenders} tenders, {n_bids} bids, "
                  "all migrations applied")
            return
        why = ("no database" if found is None else
               f"migrations not applied: {sorted(missing)}" if missing else
               f"{found[0]} tenders, {found[1]} bids")
        print(f"[{target.name}] not reusing the bench database ({why}); rebuilding")
    started = time.perf_counter()
    if target.is_postgres:
        await _pg_recreate(target.url)
    else:
        path = _sqlite_file(target.url)
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(path.name + "*"):
            stale.unlink()
    data_dir = target.settings.data_dir
    if data_dir.exists():
        shutil.rmtree(data_dir)
    await migrate(target.settings)
    now = datetime.now(UTC).replace(microsecond=0)
    data = make_dataset(n_tenders, n_bids, now)
    await db.init(tortoise_config(target.settings))
    try:
        async with in_transaction():
            for name, model in LOAD_ORDER:
                rows = data.rows.get(name, [])
                if rows:
                    await model.bulk_create(rows, batch_size=BATCH)
        conn = connections.get("default")
        if target.is_postgres:
            # Explicit ids leave the sequences behind; the vacuum/analyze is what autovacuum
            # would have done to a database that grew to this size.
            for _, model in LOAD_ORDER:
                table = model._meta.db_table
                await conn.execute_script(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 1) FROM \"{table}\"));"
                )
            await conn.execute_script("VACUUM ANALYZE;")
        # SQLite: no ANALYZE, as in a deployment where nobody runs one.
    finally:
        await Tortoise.close_connections()
    sizes = ", ".join(f"{len(data.rows.get(n, []))} {n}" for n, _ in LOAD_ORDER)
    print(f"[{target.name}] built in {time.perf_counter() - started:.0f} s: {sizes}")
    print(f"[{target.name}] {data.hits} tender titles contain {SEARCH_WORD!r} "
          f"({100 * data.hits / max(1, n_tenders):.2f}%)")


async def schema_report(target: Target) -> list[str]:
    """What the measured database has: applied migrations, search indexes, plan setting."""
    await db.init(tortoise_config(target.settings))
    try:
        conn = connections.get("default")
        _, rows = await conn.execute_query(
            "SELECT app, name FROM tortoise_migrations ORDER BY id")
        lines = ["migrations: " + ", ".join(f"{r['app']}.{r['name']}" for r in rows)]
        if target.is_postgres:
            _, rows = await conn.execute_query(
                "SELECT indexdef AS sql FROM pg_indexes WHERE indexname LIKE '%trgm' "
                "OR indexdef LIKE '%(issued_at, id, status)' "
                "OR indexdef LIKE '%(tender_id, published_at)' ORDER BY indexname")
            _, mode = await conn.execute_query("SHOW plan_cache_mode")
        else:
            _, rows = await conn.execute_query(
                "SELECT sql FROM sqlite_master WHERE sql LIKE '%\"issued_at\", \"id\"%' "
                "OR sql LIKE '%\"tender_id\", \"published_at\"%' "
                "OR (type = 'table' AND sql LIKE '%fts5%') ORDER BY name")
        for row in rows:
            sql = row["sql"].replace('"', "").replace("public.", "")
            lines.append("index: " + (sql.split(" ON ", 1)[1] if " ON " in sql
                                      else sql.removeprefix("CREATE VIRTUAL TABLE ")))
        if target.is_postgres:
            lines.append(f"plan_cache_mode: {mode[0]['plan_cache_mode']}")
        return lines
    finally:
        await Tortoise.close_connections()


async def tender_ids(target: Target, status: TenderStatus) -> list[int]:
    await db.init(tortoise_config(target.settings))
    try:
        rows = await Tender.filter(status=status).order_by("id").values("id")
        return [row["id"] for row in rows]
    finally:
        await Tortoise.close_connections()
