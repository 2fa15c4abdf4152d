"""Substring search over tender and notice titles that an index can answer.

Users search Chinese titles by any fragment ("体育馆"), so a prefix index is useless and a
plain ``LIKE '%q%'`` reads every row. Measured with 10,000 tenders (bench/RESULTS.md) that
scan alone broke the 100 ms p95 target. So:

- PostgreSQL: trigram GIN indexes (pg_trgm) on exactly the expression Tortoise's
  ``icontains`` produces, ``UPPER(CAST(col AS VARCHAR))``, so ``icontains`` uses them.
- SQLite: FTS5 tables with the trigram tokenizer (SQLite >= 3.34), kept in step with their
  tables by triggers; a quoted phrase query on them is a substring match. Queries shorter than
  three characters (a trigram needs three) fall back to ``LIKE``; SQLite's LIKE and UPPER fold
  ASCII only, so ``contains`` matches what ``icontains`` would, without two UPPER calls a row.

The DDL runs in the migration bidding/migrations/0003_search_indexes.py.
"""

from __future__ import annotations

from tortoise import connections
from tortoise.expressions import Q

# Above this many matches a LIKE scan is as cheap as binding the ids.
MAX_INDEX_IDS = 5000

TENDER_INDEX = "bidding_tender_search"
NOTICE_INDEX = "bidding_notice_search"
_SQLITE_INDEXES = (
    (TENDER_INDEX, "bidding_tender", ("title", "code", "tenderer_name")),
    (NOTICE_INDEX, "bidding_notice", ("title",)),
)
_POSTGRES_COLUMNS = (
    ("bidding_tender", "title"),
    ("bidding_tender", "code"),
    ("bidding_tender", "tenderer_name"),
    ("bidding_notice", "title"),
)


def _dialect() -> str:
    return str(connections.get("default").capabilities.dialect)


def contains_lookup() -> str:
    """The case-insensitive substring lookup the database answers cheaply (see above)."""
    return "contains" if _dialect() == "sqlite" else "icontains"


def matches(q: str, *columns: str) -> Q:
    """``col contains q`` for any of ``columns``, with the cheap lookup."""
    lookup = contains_lookup()
    condition = Q(**{f"{columns[0]}__{lookup}": q})
    for column in columns[1:]:
        condition |= Q(**{f"{column}__{lookup}": q})
    return condition


async def indexed_ids(index: str, q: str) -> list[int] | None:
    """Row ids whose indexed columns contain ``q`` (SQLite FTS5), or None when the index
    cannot answer: not SQLite, fewer than 3 characters, or too many matches to bind."""
    conn = connections.get("default")
    if conn.capabilities.dialect != "sqlite" or len(q) < 3:
        return None
    phrase = '"' + q.replace('"', '""') + '"'
    _, rows = await conn.execute_query(
        f"SELECT rowid FROM {index} WHERE {index} MATCH ? LIMIT ?",
        [phrase, MAX_INDEX_IDS + 1],
    )
    ids = [row[0] for row in rows]
    return None if len(ids) > MAX_INDEX_IDS else ids


def _sqlite_ddl(index: str, source: str, columns: tuple[str, ...]) -> list[str]:
    # Names come from the constants above, never from input.
    cols = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {index} USING fts5({cols}, content='{source}', "
        f"content_rowid='id', tokenize='trigram')",
        f"INSERT INTO {index}({index}) VALUES ('rebuild')",
        f"CREATE TRIGGER IF NOT EXISTS {index}_ai AFTER INSERT ON {source} BEGIN "
        f"INSERT INTO {index}(rowid, {cols}) VALUES (new.id, {new}); END",
        f"CREATE TRIGGER IF NOT EXISTS {index}_ad AFTER DELETE ON {source} BEGIN "
        f"INSERT INTO {index}({index}, rowid, {cols}) VALUES ('delete', old.id, {old}); END",
        f"CREATE TRIGGER IF NOT EXISTS {index}_au AFTER UPDATE OF {cols} ON {source} BEGIN "
        f"INSERT INTO {index}({index}, rowid, {cols}) VALUES ('delete', old.id, {old}); "
        f"INSERT INTO {index}(rowid, {cols}) VALUES (new.id, {new}); END",
    ]


TRGM_EXTENSION = "CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public"
# The extension is database-wide and lives in one schema, whichever created it first; the
# operator class is named with that schema so the indexes work whatever the search_path.
TRGM_SCHEMA_QUERY = (
    "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
    "WHERE e.extname = 'pg_trgm'"
)


def create_statements(dialect: str, trgm_schema: str = "public") -> list[str]:
    """The DDL that creates the search indexes on ``dialect`` (PostgreSQL: after
    TRGM_EXTENSION, with the schema TRGM_SCHEMA_QUERY names)."""
    if dialect == "sqlite":
        return [sql for spec in _SQLITE_INDEXES for sql in _sqlite_ddl(*spec)]
    if dialect == "postgres":
        return [
            f"CREATE INDEX IF NOT EXISTS {table}_{column}_trgm ON {table} "
            f'USING gin (UPPER(CAST({column} AS VARCHAR)) "{trgm_schema}".gin_trgm_ops)'
            for table, column in _POSTGRES_COLUMNS
        ]
    return []


def drop_statements(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return [
            sql
            for index, _, _ in _SQLITE_INDEXES
            for sql in (
                *(f"DROP TRIGGER IF EXISTS {index}_{s}" for s in ("ai", "ad", "au")),
                f"DROP TABLE IF EXISTS {index}",
            )
        ]
    if dialect == "postgres":
        return [f"DROP INDEX IF EXISTS {t}_{c}_trgm" for t, c in _POSTGRES_COLUMNS]
    return []
