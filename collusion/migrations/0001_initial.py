from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from collusion.models import AnalysisStatus, CaseStatus
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Analysis',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tender_id', fields.IntField(db_index=True)),
                ('status', fields.CharEnumField(default=AnalysisStatus.QUEUED, description='QUEUED: queued\nRUNNING: running\nDONE: done\nFAILED: failed', enum_type=AnalysisStatus, max_length=16)),
                ('error', fields.TextField(default='', unique=False)),
                ('requested_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('facts', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'collusion_analysis', 'app': 'collusion', 'indexes': [Index(fields=['tender_id', 'requested_at'])], 'pk_attr': 'id', 'table_description': 'One run of every detector over one opened tender.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Case',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tender_id', fields.IntField(null=True, unique=True)),
                ('group_key', fields.CharField(null=True, unique=True, max_length=32)),
                ('status', fields.CharEnumField(default=CaseStatus.OPEN, description='OPEN: open\nUNDER_REVIEW: under_review\nDISMISSED: dismissed\nREFERRED: referred', enum_type=CaseStatus, max_length=16)),
                ('reason', fields.TextField(default='', unique=False)),
                ('opened_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'collusion_case', 'app': 'collusion', 'pk_attr': 'id', 'table_description': 'A supervisor case file on one tender or on one group across tenders.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CaseEvent',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('case', fields.ForeignKeyField('collusion.Case', source_field='case_id', db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.CASCADE)),
                ('from_status', fields.CharField(default='', max_length=16)),
                ('to_status', fields.CharField(max_length=16)),
                ('reason', fields.TextField(default='', unique=False)),
                ('actor_id', fields.IntField(null=True)),
                ('actor_label', fields.CharField(default='', max_length=200)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'collusion_case_event', 'app': 'collusion', 'pk_attr': 'id', 'table_description': 'One status change of a case, with who, when and why: the history of the case.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Group',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('analysis', fields.ForeignKeyField('collusion.Analysis', source_field='analysis_id', null=True, db_constraint=True, to_field='id', related_name='groups', on_delete=OnDelete.CASCADE)),
                ('scope', fields.CharField(default='tender', max_length=16)),
                ('lot', fields.IntField(default=1)),
                ('key', fields.CharField(db_index=True, max_length=32)),
                ('bidders', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('score', fields.FloatField()),
                ('detectors', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'collusion_group', 'app': 'collusion', 'pk_attr': 'id', 'table_description': 'Bidders tied together by evidence: within one analysis, or across history.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StoredFlag',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('analysis', fields.ForeignKeyField('collusion.Analysis', source_field='analysis_id', db_constraint=True, to_field='id', related_name='flags', on_delete=OnDelete.CASCADE)),
                ('detector', fields.CharField(max_length=40)),
                ('lot', fields.IntField(default=1)),
                ('bidders', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('score', fields.FloatField()),
                ('strength', fields.CharField(max_length=16)),
                ('evidence', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('summary', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'collusion_flag', 'app': 'collusion', 'pk_attr': 'id', 'table_description': 'A Flag of a detector as found (collusion.base.Flag), kept with its evidence.'},
            bases=['Model'],
        ),
    ]
