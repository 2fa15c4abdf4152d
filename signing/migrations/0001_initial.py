from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from signing.models import HeadReason
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='LogEntry',
            fields=[
                ('index', fields.BigIntField(primary_key=True, generated=False, unique=True, db_index=True)),
                ('leaf_hash', fields.BinaryField()),
                ('receipt', fields.BinaryField(null=True)),
                ('tender_id', fields.IntField(null=True, db_index=True)),
                ('appended_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'signing_log_entry', 'app': 'signing', 'pk_attr': 'index', 'table_description': 'One receipt in the log, at its index. The tender id stays here, out of the log API.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LogNode',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('level', fields.SmallIntField()),
                ('index', fields.BigIntField()),
                ('hash', fields.BinaryField()),
            ],
            options={'table': 'signing_log_node', 'app': 'signing', 'unique_together': (('level', 'index'),), 'pk_attr': 'id', 'table_description': 'The hash of one complete perfect subtree, as CompactRange.append reports it.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LogState',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('size', fields.BigIntField(default=0)),
                ('hashes', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'signing_log_state', 'app': 'signing', 'pk_attr': 'id', 'table_description': 'One row, locked by every append so that indexes are handed out one at a time.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SignedHead',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tree_size', fields.BigIntField()),
                ('root_hash', fields.BinaryField()),
                ('timestamp', fields.BigIntField()),
                ('published_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('signature', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('reason', fields.CharEnumField(description='PERIODIC: periodic\nDEADLINE: deadline\nOPENING: opening', enum_type=HeadReason, max_length=16)),
                ('tender_id', fields.IntField(null=True, db_index=True)),
            ],
            options={'table': 'signing_signed_head', 'app': 'signing', 'pk_attr': 'id', 'table_description': 'A signed tree head as published, with why it was published.'},
            bases=['Model'],
        ),
    ]
