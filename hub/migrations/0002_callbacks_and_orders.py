from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from hub.models.channels_order import ChannelsOrderStatus
from hub.models.contact import ContactStatus
from hub.models.inbox import CallbackSource, InboxStatus
from hub.models.order import OrderStatus
from hub.models.outbox import OutboxStatus
from hub.models.points import PointsKind
from hub.models.subscription import DeliveryStatus, GrantStatus
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('hub', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ChannelsOrder',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('brand', fields.ForeignKeyField('hub.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name='channels_orders', on_delete=OnDelete.RESTRICT)),
                ('shop_appid', fields.CharField(max_length=32)),
                ('order_id', fields.CharField(max_length=32)),
                ('status', fields.CharEnumField(description='NEW: new\nPAID: paid\nCANCELLED: cancelled\nREFUNDED: refunded', enum_type=ChannelsOrderStatus, max_length=16)),
                ('openid', fields.CharField(null=True, max_length=64)),
                ('unionid', fields.CharField(null=True, max_length=64)),
                ('member', fields.ForeignKeyField('hub.Member', source_field='member_id', null=True, db_constraint=True, to_field='id', related_name='channels_orders', on_delete=OnDelete.SET_NULL)),
                ('amount_fen', fields.BigIntField(null=True)),
                ('refunded_fen', fields.BigIntField(default=0)),
                ('points_earned', fields.IntField(default=0)),
                ('paid_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'channels_order', 'app': 'hub', 'unique_together': (('shop_appid', 'order_id'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ContactLink',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('brand', fields.ForeignKeyField('hub.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name='contact_links', on_delete=OnDelete.RESTRICT)),
                ('corpid', fields.CharField(max_length=32)),
                ('userid', fields.CharField(max_length=64)),
                ('external_userid', fields.CharField(max_length=64)),
                ('guide', fields.ForeignKeyField('hub.Staff', source_field='guide_id', null=True, db_constraint=True, to_field='id', related_name='contact_links', on_delete=OnDelete.SET_NULL)),
                ('store', fields.ForeignKeyField('hub.Store', source_field='store_id', null=True, db_constraint=True, to_field='id', related_name='contact_links', on_delete=OnDelete.SET_NULL)),
                ('state', fields.CharField(null=True, max_length=30)),
                ('member', fields.ForeignKeyField('hub.Member', source_field='member_id', null=True, db_constraint=True, to_field='id', related_name='contact_links', on_delete=OnDelete.SET_NULL)),
                ('status', fields.CharEnumField(description='PENDING: pending\nACTIVE: active\nENDED: ended', enum_type=ContactStatus, max_length=16)),
                ('added_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('ended_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('end_reason', fields.CharField(null=True, max_length=32)),
                ('transfer_failure', fields.CharField(null=True, max_length=32)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'contact_link', 'app': 'hub', 'unique_together': (('corpid', 'userid', 'external_userid'),), 'pk_attr': 'id', 'table_description': 'A guide (WeCom userid) and a customer (external_userid) connected in WeCom.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='InboxCallback',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('source', fields.CharEnumField(description='WECHAT_PAY: wechatpay\nMINIPROGRAM: miniprogram\nCHANNELS: channels\nWECOM: wecom', enum_type=CallbackSource, max_length=16)),
                ('account', fields.CharField(max_length=32)),
                ('brand', fields.ForeignKeyField('hub.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name='inbox_callbacks', on_delete=OnDelete.RESTRICT)),
                ('event_type', fields.CharField(max_length=64)),
                ('event_key', fields.CharField(max_length=191)),
                ('occurred_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('payload_sealed', fields.BinaryField()),
                ('status', fields.CharEnumField(default=InboxStatus.PENDING, description='PENDING: pending\nDONE: done\nFAILED: failed\nIGNORED: ignored', enum_type=InboxStatus, max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('last_error', fields.TextField(null=True, unique=False)),
                ('next_attempt_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('outcome', fields.CharField(null=True, max_length=64)),
                ('processed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'inbox_callback', 'app': 'hub', 'unique_together': (('source', 'account', 'event_key'),), 'indexes': [Index(fields=['status', 'next_attempt_at']), Index(fields=['source', 'received_at'])], 'pk_attr': 'id', 'table_description': 'One verified callback, stored before WeChat is answered, unique per event key.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Order',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('brand', fields.ForeignKeyField('hub.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name='orders', on_delete=OnDelete.RESTRICT)),
                ('store', fields.ForeignKeyField('hub.Store', source_field='store_id', db_constraint=True, to_field='id', related_name='orders', on_delete=OnDelete.RESTRICT)),
                ('member', fields.ForeignKeyField('hub.Member', source_field='member_id', null=True, db_constraint=True, to_field='id', related_name='orders', on_delete=OnDelete.RESTRICT)),
                ('guide', fields.ForeignKeyField('hub.Staff', source_field='guide_id', null=True, db_constraint=True, to_field='id', related_name='guided_orders', on_delete=OnDelete.SET_NULL)),
                ('out_trade_no', fields.CharField(unique=True, max_length=32)),
                ('mchid', fields.CharField(max_length=32)),
                ('appid', fields.CharField(max_length=32)),
                ('description', fields.CharField(default='', max_length=127)),
                ('amount_fen', fields.BigIntField()),
                ('payer_fen', fields.BigIntField(null=True)),
                ('refunded_fen', fields.BigIntField(default=0)),
                ('status', fields.CharEnumField(default=OrderStatus.CREATED, description='CREATED: created\nPAID: paid\nPARTIALLY_REFUNDED: partially_refunded\nREFUNDED: refunded\nCLOSED: closed', enum_type=OrderStatus, max_length=24)),
                ('transaction_id', fields.CharField(null=True, unique=True, max_length=32)),
                ('points_earned', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('paid_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'sale_order', 'app': 'hub', 'indexes': [Index(fields=['brand_id', 'status', 'paid_at']), Index(fields=['store_id', 'paid_at'])], 'pk_attr': 'id', 'table_description': 'A sale in a store: created by the mini-program, settled by the Pay notification.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OutboxMessage',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('task', fields.CharField(max_length=64)),
                ('key', fields.CharField(unique=True, max_length=191)),
                ('payload', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('status', fields.CharEnumField(default=OutboxStatus.PENDING, description='PENDING: pending\nENQUEUED: enqueued\nRUNNING: running\nDONE: done\nFAILED: failed', enum_type=OutboxStatus, max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('last_error', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('enqueued_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('done_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'outbox_message', 'app': 'hub', 'indexes': [Index(fields=['status', 'created_at'])], 'pk_attr': 'id', 'table_description': 'One follow-up for a worker task. `key` makes the same follow-up impossible twice.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PaymentAnomaly',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('brand', fields.ForeignKeyField('hub.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name='payment_anomalies', on_delete=OnDelete.RESTRICT)),
                ('order', fields.ForeignKeyField('hub.Order', source_field='order_id', null=True, db_constraint=True, to_field='id', related_name='anomalies', on_delete=OnDelete.RESTRICT)),
                ('out_trade_no', fields.CharField(max_length=32)),
                ('transaction_id', fields.CharField(default='', max_length=32)),
                ('kind', fields.CharField(max_length=32)),
                ('details', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'payment_anomaly', 'app': 'hub', 'pk_attr': 'id', 'table_description': 'A payment notification that did not match its order: recorded, never credited.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PointsEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('brand', fields.ForeignKeyField('hub.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name='points_entries', on_delete=OnDelete.RESTRICT)),
                ('member', fields.ForeignKeyField('hub.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='points_entries', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharEnumField(description='EARN: earn\nREVERSE: reverse\nREDEEM: redeem\nEXPIRE: expire\nADJUST: adjust', enum_type=PointsKind, max_length=16)),
                ('delta', fields.IntField()),
                ('requested_delta', fields.IntField()),
                ('balance_after', fields.IntField()),
                ('store', fields.ForeignKeyField('hub.Store', source_field='store_id', null=True, db_constraint=True, to_field='id', related_name='points_entries', on_delete=OnDelete.RESTRICT)),
                ('guide', fields.ForeignKeyField('hub.Staff', source_field='guide_id', null=True, db_constraint=True, to_field='id', related_name='points_entries', on_delete=OnDelete.SET_NULL)),
                ('reason', fields.CharField(default='', max_length=128)),
                ('idempotency_key', fields.CharField(unique=True, max_length=128)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'points_entry', 'app': 'hub', 'indexes': [Index(fields=['member_id', 'created_at'])], 'pk_attr': 'id', 'table_description': "One change of a member's points. The member's balance moves only together with it."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RejectedCallback',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('source', fields.CharEnumField(description='WECHAT_PAY: wechatpay\nMINIPROGRAM: miniprogram\nCHANNELS: channels\nWECOM: wecom', enum_type=CallbackSource, max_length=16)),
                ('account', fields.CharField(max_length=64)),
                ('reason', fields.CharField(max_length=64)),
                ('status_code', fields.SmallIntField()),
                ('request_id', fields.CharField(null=True, max_length=64)),
                ('remote', fields.CharField(null=True, max_length=64)),
                ('headers', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('body_excerpt', fields.TextField(default='', unique=False)),
                ('body_bytes', fields.IntField(default=0)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'rejected_callback', 'app': 'hub', 'indexes': [Index(fields=['source', 'received_at']), Index(fields=['reason', 'received_at'])], 'pk_attr': 'id', 'table_description': 'A callback refused before it was stored: the reason, and enough to investigate it.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SubscriptionGrant',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('brand', fields.ForeignKeyField('hub.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name='subscription_grants', on_delete=OnDelete.RESTRICT)),
                ('appid', fields.CharField(max_length=32)),
                ('openid', fields.CharField(max_length=64)),
                ('member', fields.ForeignKeyField('hub.Member', source_field='member_id', null=True, db_constraint=True, to_field='id', related_name='subscription_grants', on_delete=OnDelete.SET_NULL)),
                ('template_id', fields.CharField(max_length=64)),
                ('remaining', fields.IntField(default=0)),
                ('status', fields.CharEnumField(description='ACCEPTED: accepted\nREJECTED: rejected', enum_type=GrantStatus, max_length=16)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'subscription_grant', 'app': 'hub', 'unique_together': (('appid', 'openid', 'template_id'),), 'pk_attr': 'id', 'table_description': 'How many one-time sends a user granted for a template (each accept grants one).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SubscriptionMessage',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('brand', fields.ForeignKeyField('hub.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name='subscription_messages', on_delete=OnDelete.RESTRICT)),
                ('appid', fields.CharField(max_length=32)),
                ('openid', fields.CharField(max_length=64)),
                ('template_id', fields.CharField(max_length=64)),
                ('msgid', fields.CharField(unique=True, max_length=32)),
                ('status', fields.CharEnumField(default=DeliveryStatus.SENT, description='SENT: sent\nDELIVERED: delivered\nFAILED: failed', enum_type=DeliveryStatus, max_length=16)),
                ('error_code', fields.IntField(null=True)),
                ('error_status', fields.CharField(null=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('reported_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'subscription_message', 'app': 'hub', 'pk_attr': 'id', 'table_description': 'One subscription message WeChat accepted, and its delivery as WeChat later reports it.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Member',
            name='points_balance',
            field=fields.IntField(default=0),
        ),
        ops.AddField(
            model_name='Member',
            name='total_spend_fen',
            field=fields.BigIntField(default=0),
        ),
    ]
