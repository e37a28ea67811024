from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from hub.models.audit import ActorType
from hub.models.membership import CardKind, LevelChangeReason
from hub.models.order import OrderKind, OrderSource, RefundStatus
from hub.models.points import PointsKind
from hub.models.stored_value import StoredValueKind
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import UniqueConstraint

class Migration(migrations.Migration):
    dependencies = [('hub', '0003_outbox_lease')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CardType',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('brand', fields.ForeignKeyField('hub.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name='card_types', on_delete=OnDelete.RESTRICT)),
                ('code', fields.CharField(max_length=32)),
                ('name', fields.CharField(max_length=64)),
                ('kind', fields.CharEnumField(description='FREE: free\nPAID: paid', enum_type=CardKind, max_length=8)),
                ('price_fen', fields.BigIntField(default=0)),
                ('validity_days', fields.IntField(null=True)),
                ('is_default', fields.BooleanField(default=False)),
                ('level_period_months', fields.IntField(null=True)),
                ('downgrade_at_period_end', fields.BooleanField(default=False)),
                ('active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'card_type', 'app': 'hub', 'unique_together': (('brand', 'code'),), 'pk_attr': 'id', 'table_description': 'A member card a brand offers. Its levels are ranked. A member holds one card at a time.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Level',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('brand', fields.ForeignKeyField('hub.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name='levels', on_delete=OnDelete.RESTRICT)),
                ('card_type', fields.ForeignKeyField('hub.CardType', source_field='card_type_id', db_constraint=True, to_field='id', related_name='levels', on_delete=OnDelete.CASCADE)),
                ('code', fields.CharField(max_length=32)),
                ('name', fields.CharField(max_length=64)),
                ('rank', fields.IntField()),
                ('discount_percent', fields.IntField(default=0)),
                ('points_multiplier_percent', fields.IntField(default=100)),
                ('upgrade_gift_points', fields.IntField(default=0)),
                ('rolling_spend_fen', fields.BigIntField(null=True)),
                ('rolling_months', fields.IntField(null=True)),
                ('cumulative_spend_fen', fields.BigIntField(null=True)),
                ('min_invites', fields.IntField(null=True)),
            ],
            options={'table': 'member_level', 'app': 'hub', 'unique_together': (('card_type', 'rank'), ('brand', 'code')), 'pk_attr': 'id', 'table_description': 'One rank of a card, its benefits, and what it takes to reach it (any rule suffices).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LevelChange',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('brand', fields.ForeignKeyField('hub.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name='level_changes', on_delete=OnDelete.RESTRICT)),
                ('member', fields.ForeignKeyField('hub.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='level_changes', on_delete=OnDelete.RESTRICT)),
                ('from_level', fields.ForeignKeyField('hub.Level', source_field='from_level_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('to_level', fields.ForeignKeyField('hub.Level', source_field='to_level_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('reason', fields.CharEnumField(description='JOINED: joined\nROLLING_SPEND: rolling_spend\nCUMULATIVE_SPEND: cumulative_spend\nINVITES: invites\nPURCHASE: purchase\nCARD_EXPIRED: card_expired\nCARD_REFUNDED: card_refunded\nPERIOD_END: period_end\nMERGE: merge', enum_type=LevelChangeReason, max_length=24)),
                ('order', fields.ForeignKeyField('hub.Order', source_field='order_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('idempotency_key', fields.CharField(unique=True, max_length=128)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'level_change', 'app': 'hub', 'indexes': [Index(fields=['member_id', 'created_at'])], 'pk_attr': 'id', 'table_description': "Every change of a member's card or level, with its reason and cause."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MemberMerge',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('brand', fields.ForeignKeyField('hub.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name='member_merges', on_delete=OnDelete.RESTRICT)),
                ('survivor', fields.ForeignKeyField('hub.Member', source_field='survivor_id', db_constraint=True, to_field='id', related_name='absorbed', on_delete=OnDelete.RESTRICT)),
                ('merged', fields.OneToOneField('hub.Member', source_field='merged_id', db_constraint=True, to_field='id', related_name='merge', on_delete=OnDelete.RESTRICT)),
                ('cause', fields.CharField(max_length=32)),
                ('moved', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'member_merge', 'app': 'hub', 'pk_attr': 'id', 'table_description': "Two members found to be one person: the merged one's history moved to the survivor."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MemberSession',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('member', fields.ForeignKeyField('hub.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='sessions', on_delete=OnDelete.CASCADE)),
                ('brand_id', fields.IntField()),
                ('appid', fields.CharField(max_length=32)),
                ('openid', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'member_session', 'app': 'hub', 'indexes': [Index(fields=['expires_at'])], 'pk_attr': 'id', 'table_description': 'A mini-program login: the bearer token (stored as its hash) and who it stands for.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MembershipPolicy',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('brand', fields.OneToOneField('hub.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name='membership_policy', on_delete=OnDelete.CASCADE)),
                ('fen_per_point', fields.IntField(default=100)),
                ('points_valid_months', fields.IntField(null=True)),
                ('bonus_refundable', fields.BooleanField(default=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'membership_policy', 'app': 'hub', 'pk_attr': 'id', 'table_description': "A brand's earning and stored-value rules (one row per brand, defaults when absent)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RechargeTier',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('brand', fields.ForeignKeyField('hub.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name='recharge_tiers', on_delete=OnDelete.CASCADE)),
                ('pay_fen', fields.BigIntField()),
                ('bonus_fen', fields.BigIntField()),
            ],
            options={'table': 'recharge_tier', 'app': 'hub', 'unique_together': (('brand', 'pay_fen'),), 'pk_attr': 'id', 'table_description': 'A recharge of at least `pay_fen` earns `bonus_fen` of bonus ("pay 1000, get 200").'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Refund',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('brand', fields.ForeignKeyField('hub.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name='refunds', on_delete=OnDelete.RESTRICT)),
                ('order', fields.ForeignKeyField('hub.Order', source_field='order_id', db_constraint=True, to_field='id', related_name='refunds', on_delete=OnDelete.RESTRICT)),
                ('mchid', fields.CharField(max_length=32)),
                ('out_refund_no', fields.CharField(max_length=64)),
                ('refund_fen', fields.BigIntField()),
                ('stored_value_fen', fields.BigIntField(default=0)),
                ('wechat_fen', fields.BigIntField(default=0)),
                ('status', fields.CharEnumField(description='REQUESTED: requested\nSUCCEEDED: succeeded\nCLOSED: closed\nABNORMAL: abnormal', enum_type=RefundStatus, max_length=16)),
                ('reason', fields.CharField(default='', max_length=80)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('settled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'refund', 'app': 'hub', 'unique_together': (('mchid', 'out_refund_no'),), 'pk_attr': 'id', 'table_description': 'A refund of an order: its stored-value part restored at once, its WeChat part by Pay.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StorePointsRule',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('brand', fields.ForeignKeyField('hub.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name='store_points_rules', on_delete=OnDelete.CASCADE)),
                ('store', fields.ForeignKeyField('hub.Store', source_field='store_id', db_constraint=True, to_field='id', related_name='points_rules', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=64)),
                ('bonus_percent', fields.IntField()),
                ('starts_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('ends_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'store_points_rule', 'app': 'hub', 'indexes': [Index(fields=['store_id'])], 'pk_attr': 'id', 'table_description': 'Extra points in one store, e.g. +100 % during its opening month.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StoredValueEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('brand', fields.ForeignKeyField('hub.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name='stored_value_entries', on_delete=OnDelete.RESTRICT)),
                ('member', fields.ForeignKeyField('hub.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='stored_value_entries', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharEnumField(description='RECHARGE: recharge\nSPEND: spend\nRESTORE: restore\nREVOKE: revoke', enum_type=StoredValueKind, max_length=16)),
                ('principal_delta', fields.BigIntField()),
                ('bonus_delta', fields.BigIntField()),
                ('requested_fen', fields.BigIntField()),
                ('principal_after', fields.BigIntField()),
                ('bonus_after', fields.BigIntField()),
                ('order_id', fields.BigIntField(null=True)),
                ('store', fields.ForeignKeyField('hub.Store', source_field='store_id', null=True, db_constraint=True, to_field='id', related_name='stored_value_entries', on_delete=OnDelete.RESTRICT)),
                ('guide', fields.ForeignKeyField('hub.Staff', source_field='guide_id', null=True, db_constraint=True, to_field='id', related_name='stored_value_entries', on_delete=OnDelete.SET_NULL)),
                ('reason', fields.CharField(default='', max_length=128)),
                ('idempotency_key', fields.CharField(unique=True, max_length=128)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'stored_value_entry', 'app': 'hub', 'indexes': [Index(fields=['member_id', 'created_at'])], 'pk_attr': 'id', 'table_description': "One change of a member's stored value, split into principal and bonus."},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='AuditLog',
            name='actor_type',
            field=fields.CharEnumField(description='STAFF: staff\nAPI_KEY: api_key\nMEMBER: member\nCLI: cli\nSYSTEM: system', enum_type=ActorType, max_length=16),
        ),
        ops.AddField(
            model_name='ContactLink',
            name='unionid',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddIndex(
            model_name='ContactLink',
            index=Index(fields=['brand_id', 'unionid']),
        ),
        ops.AddField(
            model_name='Member',
            name='card_expires_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Member',
            name='card_type',
            field=fields.ForeignKeyField('hub.CardType', source_field='card_type_id', null=True, db_constraint=True, to_field='id', related_name='members', on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='Member',
            name='guide_since',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Member',
            name='invite_count',
            field=fields.IntField(default=0),
        ),
        ops.AddField(
            model_name='Member',
            name='invited_by',
            field=fields.ForeignKeyField('hub.Member', source_field='invited_by_id', null=True, db_constraint=True, to_field='id', related_name='invitees', on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='Member',
            name='level',
            field=fields.ForeignKeyField('hub.Level', source_field='level_id', null=True, db_constraint=True, to_field='id', related_name='members', on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='Member',
            name='level_valid_until',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Member',
            name='merged_into',
            field=fields.ForeignKeyField('hub.Member', source_field='merged_into_id', null=True, db_constraint=True, to_field='id', related_name='merged_members', on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='Member',
            name='paid_orders_count',
            field=fields.IntField(default=0),
        ),
        ops.AddField(
            model_name='Member',
            name='sv_bonus_fen',
            field=fields.BigIntField(default=0),
        ),
        ops.AddField(
            model_name='Member',
            name='sv_principal_fen',
            field=fields.BigIntField(default=0),
        ),
        ops.AddIndex(
            model_name='Member',
            index=Index(fields=['home_store_id', 'created_at']),
        ),
        ops.AddIndex(
            model_name='Member',
            index=Index(fields=['guide_id', 'guide_since']),
        ),
        ops.AlterModelOptions(
            name='Order',
            options={'table': 'sale_order', 'app': 'hub', 'unique_together': (('brand', 'external_id'), ('member', 'client_key')), 'indexes': [Index(fields=['brand_id', 'status', 'paid_at']), Index(fields=['store_id', 'paid_at']), Index(fields=['guide_id', 'paid_at']), Index(fields=['member_id', 'paid_at']), Index(fields=['status', 'expires_at'])], 'pk_attr': 'id', 'table_description': 'A sale, recharge or card purchase, created by the mini-program or posted by a POS.'},
        ),
        ops.AlterField(
            model_name='Order',
            name='store',
            field=fields.ForeignKeyField('hub.Store', source_field='store_id', null=True, db_constraint=True, to_field='id', related_name='orders', on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='Order',
            name='card_type',
            field=fields.ForeignKeyField('hub.CardType', source_field='card_type_id', null=True, db_constraint=True, to_field='id', related_name='orders', on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='Order',
            name='client_key',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='Order',
            name='closed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Order',
            name='discount_fen',
            field=fields.BigIntField(default=0),
        ),
        ops.AddField(
            model_name='Order',
            name='expires_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Order',
            name='external_id',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='Order',
            name='kind',
            field=fields.CharEnumField(default=OrderKind.SALE, description='SALE: sale\nRECHARGE: recharge\nCARD: card', enum_type=OrderKind, max_length=16),
        ),
        ops.AddField(
            model_name='Order',
            name='member_order_no',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='Order',
            name='original_fen',
            field=fields.BigIntField(default=0),
        ),
        ops.AddField(
            model_name='Order',
            name='payer_openid',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='Order',
            name='recharge_bonus_fen',
            field=fields.BigIntField(default=0),
        ),
        ops.AddField(
            model_name='Order',
            name='source',
            field=fields.CharEnumField(default=OrderSource.MINIPROGRAM, description='MINIPROGRAM: miniprogram\nPOS: pos', enum_type=OrderSource, max_length=16),
        ),
        ops.AddField(
            model_name='Order',
            name='stored_value_fen',
            field=fields.BigIntField(default=0),
        ),
        ops.AddField(
            model_name='Order',
            name='sv_bonus_fen',
            field=fields.BigIntField(default=0),
        ),
        ops.AddField(
            model_name='Order',
            name='sv_principal_fen',
            field=fields.BigIntField(default=0),
        ),
        ops.AddIndex(
            model_name='Order',
            index=Index(fields=['guide_id', 'paid_at']),
        ),
        ops.AddIndex(
            model_name='Order',
            index=Index(fields=['member_id', 'paid_at']),
        ),
        ops.AddIndex(
            model_name='Order',
            index=Index(fields=['status', 'expires_at']),
        ),
        ops.AddConstraint(
            model_name='Order',
            constraint=UniqueConstraint(fields=('brand', 'external_id'), name=None),
        ),
        ops.AddConstraint(
            model_name='Order',
            constraint=UniqueConstraint(fields=('member', 'client_key'), name=None),
        ),
        ops.AlterField(
            model_name='PointsEntry',
            name='kind',
            field=fields.CharEnumField(description='EARN: earn\nREVERSE: reverse\nREDEEM: redeem\nEXPIRE: expire\nADJUST: adjust\nGIFT: gift', enum_type=PointsKind, max_length=16),
        ),
        ops.AddField(
            model_name='PointsEntry',
            name='expires_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='PointsEntry',
            name='order_id',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='PointsEntry',
            name='remaining',
            field=fields.IntField(default=0),
        ),
        ops.AddIndex(
            model_name='PointsEntry',
            index=Index(fields=['member_id', 'remaining']),
        ),
        ops.AddIndex(
            model_name='PointsEntry',
            index=Index(fields=['expires_at']),
        ),
    ]
