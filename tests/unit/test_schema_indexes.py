"""Every index a model declares exists in the migrated database, on SQLite and PostgreSQL.

SQLite carries out some migrations by rebuilding a table, and a rebuild once left out the
tables' secondary indexes (bidding/migrations/0006_restore_sqlite_indexes.py): the portal
went on working, only slower. This compares the models with the database the migrations made.
"""

from __future__ import annotations

from typing import Any

from tortoise import Tortoise, connections

PG_INDEXES = """
SELECT t.relname, i.relname, array_agg(a.attname ORDER BY k.n)
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace ns ON ns.oid = t.relnamespace
CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, n)
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
WHERE ns.nspname = current_schema()
GROUP BY t.relname, i.relname
"""


def declared() -> set[tuple[str, tuple[str, ...]]]:
    """(table, columns) of every index the models ask for, primary keys aside."""
    wanted = set()
    for app in Tortoise.apps.values():
        for model in app.values():
            meta = model._meta
            column = meta.fields_db_projection
            for name, field in meta.fields_map.items():
                if getattr(field, "index", False) and not field.pk:
                    wanted.add((meta.db_table, (column[name],)))
            for index in meta.indexes:
                names = getattr(index, "fields", index)
                wanted.add((meta.db_table, tuple(column.get(n, n) for n in names)))
    return wanted


async def actual() -> set[tuple[str, tuple[str, ...]]]:
    conn = connections.get("default")
    found = set()
    if conn.capabilities.dialect == "postgres":
        _, rows = await conn.execute_query(PG_INDEXES)
        return {(row[0], tuple(row[2])) for row in rows}
    _, tables = await conn.execute_query(
        "SELECT name FROM sqlite_master WHERE type = 'table'")
    for (table,) in [tuple(r) for r in tables]:
        _, indexes = await conn.execute_query(f'PRAGMA index_list("{table}")')
        for index in indexes:
            _, info = await conn.execute_query(f'PRAGMA index_info("{index[1]}")')
            found.add((table, tuple(col[2] for col in sorted(info, key=lambda c: c[0]))))
    return found


def test_every_declared_index_exists(run: Any) -> None:
    present = run(actual)
    missing = {
        (table, columns) for table, columns in declared()
        if not any(t == table and found[:len(columns)] == columns for t, found in present)
    }
    assert not missing, f"indexes the models declare but the database lacks: {sorted(missing)}"
