"""Substring-search indexes: trigram GIN on PostgreSQL, FTS5 trigram tables on SQLite.

Hand-written (Tortoise cannot express either); the statements live in bidding/search.py.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

from bidding.search import (
    TRGM_EXTENSION,
    TRGM_SCHEMA_QUERY,
    create_statements,
    drop_statements,
)


async def _run(statements, schema_editor) -> None:
    for sql in statements:
        await schema_editor.client.execute_script(sql)


async def _forward(schema_editor) -> None:
    client = schema_editor.client
    dialect = client.capabilities.dialect
    schema = "public"
    if dialect == "postgres":
        await client.execute_script(TRGM_EXTENSION)
        _, rows = await client.execute_query(TRGM_SCHEMA_QUERY)
        schema = rows[0][0]
    await _run(create_statements(dialect, schema), schema_editor)


def forward(apps, schema_editor):
    return _forward(schema_editor)


def backward(apps, schema_editor):
    return _run(drop_statements(schema_editor.client.capabilities.dialect), schema_editor)


class Migration(migrations.Migration):
    dependencies = [("bidding", "0002_portal_indexes")]

    initial = False

    operations = [ops.RunPython(forward, reverse_code=backward)]
