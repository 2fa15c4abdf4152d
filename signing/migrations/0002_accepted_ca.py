from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('signing', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AcceptedCA',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('der', fields.BinaryField()),
                ('subject', fields.CharField(max_length=1024)),
                ('fingerprint', fields.CharField(unique=True, max_length=64)),
                ('is_root', fields.BooleanField()),
                ('not_after', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('added_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('active', fields.BooleanField(default=True, db_index=True)),
                ('crl_url', fields.CharField(default='', max_length=1024)),
            ],
            options={'table': 'signing_accepted_ca', 'app': 'signing', 'pk_attr': 'id', 'table_description': 'A root or intermediate CA the centre accepts, as uploaded by the centre admin.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CaCrl',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('ca', fields.ForeignKeyField('signing.AcceptedCA', source_field='ca_id', db_constraint=True, to_field='id', related_name='crls', on_delete=OnDelete.RESTRICT)),
                ('der', fields.BinaryField()),
                ('this_update', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('next_update', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('crl_number', fields.CharField(default='', max_length=64)),
                ('uploaded_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'signing_ca_crl', 'app': 'signing', 'pk_attr': 'id', 'table_description': 'One CRL of an accepted CA, kept for the record. The newest still valid one is current.'},
            bases=['Model'],
        ),
    ]
