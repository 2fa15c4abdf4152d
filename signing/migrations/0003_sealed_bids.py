from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from signing.models import CertificateUse
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('signing', '0002_accepted_ca')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AccountCertificate',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user_id', fields.IntField(db_index=True)),
                ('organization_id', fields.IntField(null=True, db_index=True)),
                ('use', fields.CharEnumField(description='SIGNING: signing\nENCRYPTION: encryption', enum_type=CertificateUse, max_length=16)),
                ('der', fields.BinaryField()),
                ('fingerprint', fields.CharField(max_length=64)),
                ('subject', fields.CharField(max_length=1024)),
                ('not_after', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('registered_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('active', fields.BooleanField(default=True)),
            ],
            options={'table': 'signing_account_certificate', 'app': 'signing', 'unique_together': (('user_id', 'fingerprint'),), 'pk_attr': 'id', 'table_description': "A certificate registered to a user account (officers' encryption certificates, and the"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LoginChallenge',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('nonce_hash', fields.CharField(unique=True, max_length=64)),
                ('link_hash', fields.CharField(null=True, unique=True, max_length=64)),
                ('user_id', fields.IntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'signing_login_challenge', 'app': 'signing', 'pk_attr': 'id', 'table_description': 'A one-time challenge for certificate login, and the one-time link it turns into.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OpeningKey',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tender_id', fields.IntField(unique=True)),
                ('key_id', fields.CharField(max_length=64)),
                ('public_key_pem', fields.TextField(unique=False)),
                ('setup', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'signing_opening_key', 'app': 'signing', 'pk_attr': 'id', 'table_description': "A tender's opening key: the public part and the encrypted shares (signing.opening_key's"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OpeningShare',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tender_id', fields.IntField(db_index=True)),
                ('index', fields.SmallIntField()),
                ('user_id', fields.IntField()),
                ('share', fields.BinaryField()),
                ('submitted_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'signing_opening_share', 'app': 'signing', 'unique_together': (('tender_id', 'index'),), 'pk_attr': 'id', 'table_description': 'A share of an opening key as an officer submitted it, after the deadline. Accepted only'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='AcceptedCA',
            name='crl_fetch_error',
            field=fields.CharField(default='', max_length=1000),
        ),
        ops.AddField(
            model_name='AcceptedCA',
            name='crl_fetched_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
