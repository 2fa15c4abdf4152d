from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from bidding.models import Decryption, KeyMode, TenderStatus
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

from bidding.search import TRGM_SCHEMA_QUERY, create_statements


async def _restore_search(schema_editor) -> None:
    # SQLite carries out the AlterField of bidding_tender.status below by rebuilding the table,
    # which drops the FTS5 triggers of 0003: without this, tenders stop being found. Every
    # statement is IF NOT EXISTS (and the FTS table is rebuilt), so on PostgreSQL it is a no-op.
    client = schema_editor.client
    dialect = client.capabilities.dialect
    schema = "public"
    if dialect == "postgres":
        _, rows = await client.execute_query(TRGM_SCHEMA_QUERY)
        schema = rows[0][0]
    for sql in create_statements(dialect, schema):
        await client.execute_script(sql)


def restore_search(apps, schema_editor):
    return _restore_search(schema_editor)

class Migration(migrations.Migration):
    dependencies = [('bidding', '0003_search_indexes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='BidFile',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('bid', fields.ForeignKeyField('bidding.Bid', source_field='bid_id', db_constraint=True, to_field='id', related_name='files', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=255)),
                ('sha256', fields.CharField(max_length=64)),
                ('size', fields.BigIntField()),
            ],
            options={'table': 'bidding_bid_file', 'app': 'bidding', 'unique_together': (('bid_id', 'name'),), 'pk_attr': 'id', 'table_description': 'A file of a decrypted bid, stored in the blob store by its SHA-256 after the opening.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OpeningIncident',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tender', fields.ForeignKeyField('bidding.Tender', source_field='tender_id', db_constraint=True, to_field='id', related_name='incidents', on_delete=OnDelete.CASCADE)),
                ('bid_id', fields.BigIntField(null=True)),
                ('kind', fields.CharField(max_length=40)),
                ('detail', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'bidding_opening_incident', 'app': 'bidding', 'pk_attr': 'id', 'table_description': "A failure at the opening that is the platform's fault (or another event worth a record):"},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='Bid',
            name='price',
            field=fields.DecimalField(null=True, max_digits=16, decimal_places=2),
        ),
        ops.AddField(
            model_name='Bid',
            name='certificate_sha256',
            field=fields.CharField(default='', max_length=64),
        ),
        ops.AddField(
            model_name='Bid',
            name='decrypted_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Bid',
            name='decryption',
            field=fields.CharEnumField(default=Decryption.PENDING, description='PENDING: pending\nDECRYPTED: decrypted\nRECOVERED: recovered\nFAILED_BIDDER: failed_bidder\nFAILED_PLATFORM: failed_platform', enum_type=Decryption, max_length=16),
        ),
        ops.AddField(
            model_name='Bid',
            name='decryption_detail',
            field=fields.CharField(default='', max_length=500),
        ),
        ops.AddField(
            model_name='Bid',
            name='log_index',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='Bid',
            name='manifest',
            field=fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='Bid',
            name='receipt',
            field=fields.BinaryField(null=True),
        ),
        ops.AddField(
            model_name='Bid',
            name='signer_subject',
            field=fields.CharField(default='', max_length=300),
        ),
        ops.AddField(
            model_name='Bid',
            name='upload_address',
            field=fields.CharField(default='', max_length=64),
        ),
        ops.AddField(
            model_name='OpeningRecord',
            name='signature',
            field=fields.BinaryField(null=True),
        ),
        ops.AlterField(
            model_name='Tender',
            name='status',
            field=fields.CharEnumField(default=TenderStatus.DRAFT, description='DRAFT: draft\nPUBLISHED: published\nSUSPENDED: suspended\nOPENING: opening\nOPENED: opened\nFAILED: failed\nPUBLICITY: publicity\nAWARDED: awarded\nCONTRACTED: contracted\nCLOSED: closed', enum_type=TenderStatus, max_length=16),
        ),
        ops.AddField(
            model_name='Tender',
            name='decryption_ends_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Tender',
            name='decryption_minutes',
            field=fields.IntField(default=30),
        ),
        ops.AddField(
            model_name='Tender',
            name='key_mode',
            field=fields.CharEnumField(default=KeyMode.EITHER, description='EITHER: either\nBOTH: both', enum_type=KeyMode, max_length=8),
        ),
        ops.RunPython(restore_search, reverse_code=ops.RunPython.noop),
    ]
