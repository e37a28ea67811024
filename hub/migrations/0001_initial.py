from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from hub.models.account import PushFormat
from hub.models.audit import ActorType
from hub.models.brand import StoreStatus
from hub.models.staff import StaffRole
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Brand',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, max_length=32)),
                ('name', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'brand', 'app': 'hub', 'pk_attr': 'id', 'table_description': 'A chain brand: the tenant every other row belongs to.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ApiKey',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('brand', fields.ForeignKeyField('hub.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name='api_keys', on_delete=OnDelete.RESTRICT)),
                ('name', fields.CharField(max_length=64)),
                ('prefix', fields.CharField(unique=True, max_length=16)),
                ('key_hash', fields.CharField(unique=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'api_key', 'app': 'hub', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AuditLog',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('brand', fields.ForeignKeyField('hub.Brand', source_field='brand_id', null=True, db_constraint=True, to_field='id', related_name='audit_entries', on_delete=OnDelete.RESTRICT)),
                ('actor_type', fields.CharEnumField(description='STAFF: staff\nAPI_KEY: api_key\nCLI: cli\nSYSTEM: system', enum_type=ActorType, max_length=16)),
                ('actor_id', fields.CharField(max_length=64)),
                ('action', fields.CharField(max_length=64)),
                ('target_type', fields.CharField(max_length=32)),
                ('target_id', fields.CharField(max_length=64)),
                ('before', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('after', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('request_id', fields.CharField(null=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'audit_log', 'app': 'hub', 'indexes': [Index(fields=['brand_id', 'created_at']), Index(fields=['target_type', 'target_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ChannelsShop',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('brand', fields.ForeignKeyField('hub.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name='channels_shops', on_delete=OnDelete.RESTRICT)),
                ('appid', fields.CharField(unique=True, max_length=32)),
                ('original_id', fields.CharField(default='', max_length=32)),
                ('secret_sealed', fields.BinaryField()),
                ('push_token_sealed', fields.BinaryField()),
                ('push_aes_key_sealed', fields.BinaryField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'channels_shop', 'app': 'hub', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MiniProgramApp',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('brand', fields.ForeignKeyField('hub.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name='miniprogram_apps', on_delete=OnDelete.RESTRICT)),
                ('appid', fields.CharField(unique=True, max_length=32)),
                ('original_id', fields.CharField(default='', max_length=32)),
                ('secret_sealed', fields.BinaryField()),
                ('push_token_sealed', fields.BinaryField(null=True)),
                ('push_aes_key_sealed', fields.BinaryField(null=True)),
                ('push_format', fields.CharEnumField(default=PushFormat.JSON, description='JSON: json\nXML: xml', enum_type=PushFormat, max_length=8)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'miniprogram_app', 'app': 'hub', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PayMerchant',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('brand', fields.ForeignKeyField('hub.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name='pay_merchants', on_delete=OnDelete.RESTRICT)),
                ('mchid', fields.CharField(unique=True, max_length=32)),
                ('appid', fields.CharField(max_length=32)),
                ('merchant_serial_no', fields.CharField(max_length=64)),
                ('private_key_sealed', fields.BinaryField()),
                ('api_v3_key_sealed', fields.BinaryField()),
                ('api_v2_key_sealed', fields.BinaryField(null=True)),
                ('platform_public_key_id', fields.CharField(null=True, max_length=64)),
                ('platform_public_key_pem', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'pay_merchant', 'app': 'hub', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Region',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('brand', fields.ForeignKeyField('hub.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name='regions', on_delete=OnDelete.RESTRICT)),
                ('code', fields.CharField(max_length=32)),
                ('name', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'region', 'app': 'hub', 'unique_together': (('brand', 'code'),), 'pk_attr': 'id', 'table_description': 'A group of stores managed by a region manager.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Store',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('brand', fields.ForeignKeyField('hub.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name='stores', on_delete=OnDelete.RESTRICT)),
                ('region', fields.ForeignKeyField('hub.Region', source_field='region_id', null=True, db_constraint=True, to_field='id', related_name='stores', on_delete=OnDelete.RESTRICT)),
                ('code', fields.CharField(max_length=32)),
                ('name', fields.CharField(max_length=64)),
                ('address', fields.CharField(default='', max_length=255)),
                ('opening_hours', fields.CharField(default='', max_length=128)),
                ('status', fields.CharEnumField(default=StoreStatus.OPEN, description='OPEN: open\nPAUSED: paused', enum_type=StoreStatus, max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'store', 'app': 'hub', 'unique_together': (('brand', 'code'),), 'pk_attr': 'id', 'table_description': 'A physical store: sales, staff and coupons are scoped to it.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Staff',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('brand', fields.ForeignKeyField('hub.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name='staff', on_delete=OnDelete.RESTRICT)),
                ('name', fields.CharField(max_length=64)),
                ('wecom_userid', fields.CharField(null=True, max_length=64)),
                ('role', fields.CharEnumField(description='CLERK: clerk\nSTORE_MANAGER: store_manager\nREGION_MANAGER: region_manager\nHQ_ADMIN: hq_admin', enum_type=StaffRole, max_length=24)),
                ('store', fields.ForeignKeyField('hub.Store', source_field='store_id', null=True, db_constraint=True, to_field='id', related_name='staff', on_delete=OnDelete.RESTRICT)),
                ('region', fields.ForeignKeyField('hub.Region', source_field='region_id', null=True, db_constraint=True, to_field='id', related_name='staff', on_delete=OnDelete.RESTRICT)),
                ('token_hash', fields.CharField(null=True, unique=True, max_length=64)),
                ('token_issued_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'staff', 'app': 'hub', 'unique_together': (('brand', 'wecom_userid'),), 'pk_attr': 'id', 'table_description': 'A person working for the brand. Clerks and store managers belong to one store.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Member',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('brand', fields.ForeignKeyField('hub.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name='members', on_delete=OnDelete.RESTRICT)),
                ('code', fields.CharField(max_length=16)),
                ('unionid', fields.CharField(null=True, max_length=64)),
                ('phone_sealed', fields.BinaryField(null=True)),
                ('phone_index', fields.CharField(null=True, max_length=64)),
                ('home_store', fields.ForeignKeyField('hub.Store', source_field='home_store_id', null=True, db_constraint=True, to_field='id', related_name='home_members', on_delete=OnDelete.SET_NULL)),
                ('guide', fields.ForeignKeyField('hub.Staff', source_field='guide_id', null=True, db_constraint=True, to_field='id', related_name='guided_members', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'member', 'app': 'hub', 'unique_together': (('brand', 'code'), ('brand', 'unionid'), ('brand', 'phone_index')), 'pk_attr': 'id', 'table_description': 'One customer of one brand, the same in every store.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MemberOpenid',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member', fields.ForeignKeyField('hub.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='openids', on_delete=OnDelete.CASCADE)),
                ('appid', fields.CharField(max_length=32)),
                ('openid', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'member_openid', 'app': 'hub', 'unique_together': (('appid', 'openid'), ('member', 'appid')), 'pk_attr': 'id', 'table_description': 'The openid a member has under one WeChat app (mini-program, Channels shop).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WecomCorp',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('brand', fields.ForeignKeyField('hub.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name='wecom_corps', on_delete=OnDelete.RESTRICT)),
                ('corpid', fields.CharField(unique=True, max_length=32)),
                ('agent_id', fields.IntField(null=True)),
                ('secret_sealed', fields.BinaryField()),
                ('callback_token_sealed', fields.BinaryField()),
                ('callback_aes_key_sealed', fields.BinaryField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'wecom_corp', 'app': 'hub', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
