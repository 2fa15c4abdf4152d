"""The indexes of bidding_tender and bidding_bid again, on SQLite.

SQLite carries out 0004's AlterFields (bidding_tender.status, bidding_bid.price) by rebuilding
the two tables, and Tortoise's rebuild left out their secondary indexes: on the embedded
database the portal's newest-first list and every query by tender, agency, deadline or bidder
scanned the tables from then on (found by bench/portal.py, 2026-12-08). PostgreSQL alters in
place and kept them; there every statement below is a no-op (IF NOT EXISTS, the same names).
tests/unit/test_schema_indexes.py checks that every index a model declares exists, on both
databases, so a later rebuild cannot drop one unnoticed.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

# Tortoise's own names for them, as on PostgreSQL.
INDEXES = (
    ("idx_bidding_bid_organiz_69327b", "bidding_bid", ("organization_id",)),
    ("idx_bidding_bid_tender__860846", "bidding_bid", ("tender_id", "lot_id", "status")),
    ("idx_bidding_ten_agency__3492c5", "bidding_tender", ("agency_id",)),
    ("idx_bidding_ten_deadlin_64e429", "bidding_tender", ("deadline_at",)),
    ("idx_bidding_ten_issued__b5cca6", "bidding_tender", ("issued_at", "id", "status")),
    ("idx_bidding_ten_status_5dbd2d", "bidding_tender", ("status", "deadline_at")),
)


async def _forward(schema_editor) -> None:
    for name, table, columns in INDEXES:
        cols = ", ".join(f'"{c}"' for c in columns)
        await schema_editor.client.execute_script(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ({cols})')


def forward(apps, schema_editor):
    return _forward(schema_editor)


def backward(apps, schema_editor):
    async def nothing() -> None:  # the indexes belong to the models: keep them
        return None

    return nothing()


class Migration(migrations.Migration):
    dependencies = [("bidding", "0005_short_search")]

    initial = False

    operations = [ops.RunPython(forward, reverse_code=backward)]
