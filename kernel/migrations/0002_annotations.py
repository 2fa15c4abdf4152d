from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('kernel', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Annotation',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('subject', fields.CharField(max_length=100)),
                ('kind', fields.CharField(max_length=40)),
                ('level', fields.CharField(default='warning', max_length=16)),
                ('text', fields.CharField(max_length=300)),
                ('count', fields.IntField(default=0)),
                ('link', fields.CharField(default='', max_length=300)),
                ('audience', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'kernel_annotation', 'app': 'kernel', 'unique_together': (('subject', 'kind'),), 'pk_attr': 'id', 'table_description': 'A mark on an object of another package, shown only to the roles in its audience.'},
            bases=['Model'],
        ),
    ]
