from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from kernel.accounts.models import OrgKind, Role
from kernel.db import random_id
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='AuditEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('seq', fields.BigIntField(unique=True)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('actor_id', fields.IntField(null=True)),
                ('actor_label', fields.CharField(default='', max_length=200)),
                ('action', fields.CharField(db_index=True, max_length=100)),
                ('object_type', fields.CharField(max_length=50)),
                ('object_id', fields.CharField(max_length=64)),
                ('scope', fields.CharField(default='', db_index=True, max_length=64)),
                ('sealed', fields.BooleanField(default=False)),
                ('before_hash', fields.CharField(default='', max_length=64)),
                ('after_hash', fields.CharField(default='', max_length=64)),
                ('detail', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('prev_mac', fields.CharField(max_length=64)),
                ('mac', fields.CharField(max_length=64)),
            ],
            options={'table': 'kernel_audit_event', 'app': 'kernel', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AuditHead',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('seq', fields.BigIntField(default=0)),
                ('mac', fields.CharField(default='', max_length=64)),
            ],
            options={'table': 'kernel_audit_head', 'app': 'kernel', 'pk_attr': 'id', 'table_description': 'One row, locked by every append so the chain has a single writer at a time.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LoginAttempt',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('username', fields.CharField(db_index=True, max_length=64)),
                ('remote_addr', fields.CharField(default='', max_length=64)),
                ('succeeded', fields.BooleanField()),
                ('attempted_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'kernel_login_attempt', 'app': 'kernel', 'pk_attr': 'id', 'table_description': 'Kept in the database so the throttle holds across several server processes.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Organization',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharEnumField(description='BIDDER: bidder\nAGENCY: agency\nAUTHORITY: authority\nCENTRE: centre', enum_type=OrgKind, max_length=16)),
                ('name', fields.CharField(max_length=200)),
                ('credit_code', fields.CharField(unique=True, max_length=18)),
                ('legal_rep', fields.CharField(default='', max_length=100)),
                ('contact_name', fields.CharField(default='', max_length=100)),
                ('contact_phone', fields.CharField(default='', max_length=40)),
                ('email', fields.CharField(default='', max_length=200)),
                ('address', fields.CharField(default='', max_length=300)),
                ('bank_name', fields.CharField(default='', max_length=200)),
                ('bank_account', fields.CharField(default='', max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'kernel_organization', 'app': 'kernel', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Notification',
            fields=[
                ('id', fields.BigIntField(primary_key=True, generated=False, default=random_id, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('kernel.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='notifications', on_delete=OnDelete.CASCADE)),
                ('title', fields.CharField(max_length=300)),
                ('body', fields.TextField(default='', unique=False)),
                ('link', fields.CharField(default='', max_length=300)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('read_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'kernel_notification', 'app': 'kernel', 'pk_attr': 'id', 'table_description': 'A message to one organisation (e.g. a clarification reaching each registered bidder).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='User',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('username', fields.CharField(unique=True, max_length=64)),
                ('password_hash', fields.CharField(max_length=255)),
                ('role', fields.CharEnumField(description='BIDDER: bidder\nAGENCY: agency\nSUPERVISOR: supervisor\nADMIN: admin', enum_type=Role, max_length=16)),
                ('organization', fields.ForeignKeyField('kernel.Organization', source_field='organization_id', null=True, db_constraint=True, to_field='id', related_name='users', on_delete=OnDelete.RESTRICT)),
                ('display_name', fields.CharField(default='', max_length=100)),
                ('email', fields.CharField(default='', max_length=200)),
                ('phone', fields.CharField(default='', max_length=40)),
                ('is_active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'kernel_user', 'app': 'kernel', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Session',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('user', fields.ForeignKeyField('kernel.User', source_field='user_id', db_constraint=True, to_field='id', related_name='sessions', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'kernel_session', 'app': 'kernel', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
