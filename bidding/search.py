"""Substring search over tender and notice titles that an index can answer.

Users search Chinese titles by any fragment ("体育馆"), so a prefix index is useless and a
plain ``LIKE '%q%'`` reads every row. Measured with 10,000 tenders (bench/RESULTS.md) that
scan alone broke the 100 ms p95 target. So:

- PostgreSQL: trigram GIN indexes (pg_trgm) on exactly the expression Tortoise's
  ``icontains`` produces, ``UPPER(CAST(col AS VARCHAR))``, so ``icontains`` uses them.
- SQLite: FTS5 tables with the trigram tokenizer (SQLite >= 3.34), kept in step with their
  tables by triggers; a quoted phrase query on them is a substring match. SQLite's LIKE and
  UPPER fold ASCII only, so ``contains`` matches what ``icontains`` would, without two UPPER
  calls a row.
- Fragments of one or two characters, on both databases: a trigram index cannot answer them
  (it needs three), and they are common in Chinese (医院, 道路). Gram tables hold every
  character and every pair of adjacent characters of each indexed column, upper-cased by the
  database's own UPPER (so they fold exactly as the LIKE they replace), one row per distinct
  gram and row: a fragment of one or two characters is in a column exactly when it is one of
  its grams. Triggers keep them in step (on SQLite through a table of positions, as a trigger
  may not use a recursive query); on PostgreSQL a foreign key removes a row's grams with it,
  and TRUNCATE ... CASCADE empties them too.

The DDL runs in the migrations bidding/migrations/0003_search_indexes.py and
0005_short_search.py. On SQLite a migration whose AlterField rebuilds bidding_tender or
bidding_notice drops their triggers: it must run ``create_statements`` and
``gram_create_statements`` again (0004 shows how; both are idempotent).
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


class TooMany(Exception):
    """More rows match than are worth binding as ids: filter with ``matches`` instead."""


async def indexed_ids(index: str, q: str) -> list[int] | None:
    """Row ids whose indexed columns contain ``q``, or None when no index can answer (three
    characters or more on PostgreSQL: pg_trgm serves ``matches`` there). Raises TooMany when
    more than MAX_INDEX_IDS rows match."""
    conn = connections.get("default")
    dialect = conn.capabilities.dialect
    if len(q) <= MAX_GRAM:
        table, _, key, _ = _GRAMS[index]
        sql = (f"SELECT {key} FROM {table} WHERE gram = UPPER(?) LIMIT ?" if dialect == "sqlite"
               else f"SELECT {key} FROM {table} WHERE gram = UPPER($1) LIMIT $2")
        _, rows = await conn.execute_query(sql, [q, MAX_INDEX_IDS + 1])
    elif dialect == "sqlite":
        phrase = '"' + q.replace('"', '""') + '"'
        _, rows = await conn.execute_query(
            f"SELECT rowid FROM {index} WHERE {index} MATCH ? LIMIT ?",
            [phrase, MAX_INDEX_IDS + 1],
        )
    else:
        return None
    ids = [row[0] for row in rows]
    if len(ids) > MAX_INDEX_IDS:
        raise TooMany()
    return ids


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


# The gram tables: (table, indexed table, its key column there, indexed columns), by the name
# the search services know the index by. Names come from here, never from input.
MAX_GRAM = 2
_GRAMS = {
    TENDER_INDEX: ("bidding_tender_gram", "bidding_tender", "tender_id",
                   ("title", "code", "tenderer_name")),
    NOTICE_INDEX: ("bidding_notice_gram", "bidding_notice", "notice_id", ("title",)),
}
# SQLite's triggers read each column's characters at these positions: more than any indexed
# column's max_length (300), which the models enforce.
POSITIONS_TABLE = "bidding_search_position"
MAX_POSITION = 1024


def _sqlite_grams(table: str, key: str, values: str) -> str:
    """INSERT the grams of ``values``, a query of (row_id, v) rows, into ``table``."""
    return (f"INSERT OR IGNORE INTO {table} (gram, {key}) "
            f"SELECT substr(upper(s.v), p.n, k.k), s.row_id FROM ({values}) AS s "
            f"JOIN {POSITIONS_TABLE} AS p ON p.n <= length(s.v) "
            f"JOIN (SELECT 1 AS k UNION ALL SELECT 2) AS k ON p.n + k.k - 1 <= length(s.v)")


def _sqlite_gram_ddl(table: str, source: str, key: str, columns: tuple[str, ...]) -> list[str]:
    new = " UNION ALL ".join(f"SELECT new.id AS row_id, new.{c} AS v" for c in columns)
    existing = " UNION ALL ".join(f"SELECT id AS row_id, {c} AS v FROM {source}"
                                  for c in columns)
    cols = ", ".join(columns)
    # Only when an indexed column changed: a tender's every transition saves all its columns.
    changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in columns)
    return [
        f"CREATE TABLE IF NOT EXISTS {table} (gram TEXT NOT NULL, {key} INTEGER NOT NULL, "
        f"PRIMARY KEY (gram, {key})) WITHOUT ROWID",
        f"CREATE INDEX IF NOT EXISTS {table}_{key} ON {table} ({key})",
        f"CREATE TRIGGER IF NOT EXISTS {table}_ai AFTER INSERT ON {source} BEGIN "
        f"{_sqlite_grams(table, key, new)}; END",
        f"CREATE TRIGGER IF NOT EXISTS {table}_ad AFTER DELETE ON {source} BEGIN "
        f"DELETE FROM {table} WHERE {key} = old.id; END",
        f"CREATE TRIGGER IF NOT EXISTS {table}_au AFTER UPDATE OF {cols} ON {source} "
        f"WHEN {changed} BEGIN "
        f"DELETE FROM {table} WHERE {key} = old.id; {_sqlite_grams(table, key, new)}; END",
        # Rows there before the table was made (the migration), or while a rebuilt table had
        # lost its triggers: INSERT OR IGNORE leaves rows already indexed as they are.
        _sqlite_grams(table, key, existing),
    ]


def _postgres_gram_ddl(table: str, source: str, key: str, columns: tuple[str, ...],
                       schema: str) -> list[str]:
    function = f"{table}_sync"
    values = ", ".join(f"NEW.{c}" for c in columns)
    cols = ", ".join(columns)
    # Only when an indexed column changed: a tender's every transition saves all its columns.
    changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in columns)
    return [
        f"CREATE TABLE IF NOT EXISTS {table} (gram TEXT NOT NULL, "
        f"{key} INTEGER NOT NULL REFERENCES {source} (id) ON DELETE CASCADE, "
        f"PRIMARY KEY (gram, {key}))",
        f"CREATE INDEX IF NOT EXISTS {table}_{key} ON {table} ({key})",
        # The schema it was made in, named: the function finds its tables whatever the
        # search_path of the session that fires it.
        f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql "
        f"SET search_path = {_quoted(schema)} AS $$ BEGIN "
        f"IF TG_OP = 'UPDATE' THEN DELETE FROM {table} WHERE {key} = NEW.id; END IF; "
        f"INSERT INTO {table} (gram, {key}) SELECT DISTINCT g, NEW.id "
        f"FROM bidding_search_grams(VARIADIC ARRAY[{values}]::text[]) AS g; "
        f"RETURN NULL; END $$",
        f"DROP TRIGGER IF EXISTS {function} ON {source}",
        f"DROP TRIGGER IF EXISTS {function}_update ON {source}",
        f"CREATE TRIGGER {function} AFTER INSERT ON {source} "
        f"FOR EACH ROW EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {function}_update AFTER UPDATE OF {cols} ON {source} "
        f"FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION {function}()",
        f"INSERT INTO {table} (gram, {key}) SELECT DISTINCT g, s.id FROM {source} AS s, "
        f"bidding_search_grams(VARIADIC ARRAY[{', '.join(f's.{c}' for c in columns)}]::text[]) "
        f"AS g ON CONFLICT DO NOTHING",
    ]


# Every character and every pair of adjacent characters of the texts, upper-cased first, as
# Tortoise's icontains does (UPPER(CAST(col AS VARCHAR)) LIKE UPPER(...)).
_POSTGRES_GRAMS_FUNCTION = (
    "CREATE OR REPLACE FUNCTION bidding_search_grams(VARIADIC texts text[]) RETURNS SETOF text "
    "LANGUAGE sql IMMUTABLE AS $$ SELECT substr(u.u, n, k) FROM unnest(texts) AS t(v) "
    "CROSS JOIN LATERAL (SELECT UPPER(t.v) AS u) AS u "
    "CROSS JOIN LATERAL generate_series(1, length(u.u)) AS n "
    "CROSS JOIN (VALUES (1), (2)) AS k(k) "
    "WHERE t.v IS NOT NULL AND n + k - 1 <= length(u.u) $$"
)


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def gram_create_statements(dialect: str, schema: str = "public") -> list[str]:
    """The DDL that creates (or re-creates, idempotently) the gram tables, their triggers and
    their rows for what is already there; on PostgreSQL in ``schema`` (the migration's
    ``current_schema()``)."""
    if dialect == "sqlite":
        return [
            f"CREATE TABLE IF NOT EXISTS {POSITIONS_TABLE} (n INTEGER PRIMARY KEY)",
            f"INSERT OR IGNORE INTO {POSITIONS_TABLE} (n) "
            f"SELECT value FROM (WITH RECURSIVE c(value) AS (SELECT 1 UNION ALL "
            f"SELECT value + 1 FROM c WHERE value < {MAX_POSITION}) SELECT value FROM c)",
            *(sql for spec in _GRAMS.values() for sql in _sqlite_gram_ddl(*spec)),
        ]
    if dialect == "postgres":
        return [_POSTGRES_GRAMS_FUNCTION,
                *(sql for spec in _GRAMS.values() for sql in _postgres_gram_ddl(*spec, schema))]
    return []


def gram_drop_statements(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return [
            *(sql for table, _, _, _ in _GRAMS.values() for sql in (
                *(f"DROP TRIGGER IF EXISTS {table}_{s}" for s in ("ai", "ad", "au")),
                f"DROP TABLE IF EXISTS {table}")),
            f"DROP TABLE IF EXISTS {POSITIONS_TABLE}",
        ]
    if dialect == "postgres":
        return [
            *(sql for table, source, _, _ in _GRAMS.values() for sql in (
                f"DROP TRIGGER IF EXISTS {table}_sync ON {source}",
                f"DROP TRIGGER IF EXISTS {table}_sync_update ON {source}",
                f"DROP FUNCTION IF EXISTS {table}_sync()",
                f"DROP TABLE IF EXISTS {table}")),
            "DROP FUNCTION IF EXISTS bidding_search_grams(text[])",
        ]
    return []


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
