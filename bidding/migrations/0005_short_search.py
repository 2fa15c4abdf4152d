"""Gram tables that answer searches of one or two characters on both databases.

Hand-written (Tortoise cannot express triggers); the statements live in bidding/search.py.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

from bidding.search import gram_create_statements, gram_drop_statements


async def _run(statements, schema_editor) -> None:
    for sql in statements:
        await schema_editor.client.execute_script(sql)


async def _forward(schema_editor) -> None:
    client = schema_editor.client
    dialect = client.capabilities.dialect
    schema = "public"
    if dialect == "postgres":
        _, rows = await client.execute_query("SELECT current_schema()")
        schema = rows[0][0]
    await _run(gram_create_statements(dialect, schema), schema_editor)


def forward(apps, schema_editor):
    return _forward(schema_editor)


def backward(apps, schema_editor):
    return _run(gram_drop_statements(schema_editor.client.capabilities.dialect), schema_editor)


class Migration(migrations.Migration):
    dependencies = [("bidding", "0004_sealed_bids")]

    initial = False

    operations = [ops.RunPython(forward, reverse_code=backward)]
