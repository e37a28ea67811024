from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from hub.models.coupon import CouponKind, CouponStatus, IssueSource, RefundRule, StoreScope
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('hub', '0004_membership')]

    initial = False

    operations = [
        # Rolling back this migration on SQLite rebuilds member and sale_order to drop the new
        # columns, and tortoise's rebuild loses the indexes 0004 made on them; put them back
        # (run last on the way down; IF NOT EXISTS makes it a no-op on PostgreSQL).
        ops.RunSQL(
            "SELECT 1",
            reverse_sql=[
                'CREATE INDEX IF NOT EXISTS "idx_member_guide_i_107505" ON "member" ("guide_id", "guide_since")',
                'CREATE INDEX IF NOT EXISTS "idx_member_home_st_f57056" ON "member" ("home_store_id", "created_at")',
                'CREATE INDEX IF NOT EXISTS "idx_sale_order_guide_i_e2a862" ON "sale_order" ("guide_id", "paid_at")',
                'CREATE INDEX IF NOT EXISTS "idx_sale_order_member__c7cfab" ON "sale_order" ("member_id", "paid_at")',
                'CREATE INDEX IF NOT EXISTS "idx_sale_order_status_bae496" ON "sale_order" ("status", "expires_at")',
                'CREATE UNIQUE INDEX IF NOT EXISTS "uid_sale_order_brand_i_29201a" ON "sale_order" ("brand_id", "external_id")',
                'CREATE UNIQUE INDEX IF NOT EXISTS "uid_sale_order_member__dac9c9" ON "sale_order" ("member_id", "client_key")',
            ],
        ),
        ops.CreateModel(
            name='CouponTemplate',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('brand', fields.ForeignKeyField('hub.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name='coupon_templates', on_delete=OnDelete.RESTRICT)),
                ('code', fields.CharField(max_length=32)),
                ('name', fields.CharField(max_length=64)),
                ('kind', fields.CharEnumField(description='CASH_OFF: cash_off\nPERCENT_OFF: percent_off\nGIFT: gift\nCOUNT_CARD: count_card', enum_type=CouponKind, max_length=16)),
                ('face_value_fen', fields.BigIntField(default=0)),
                ('percent_off', fields.IntField(default=0)),
                ('threshold_fen', fields.BigIntField(default=0)),
                ('gift_name', fields.CharField(default='', max_length=64)),
                ('uses', fields.IntField(default=1)),
                ('valid_from', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('valid_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('valid_days', fields.IntField(null=True)),
                ('stock_total', fields.IntField(null=True)),
                ('issued_count', fields.IntField(default=0)),
                ('per_member_limit', fields.IntField(null=True)),
                ('store_scope', fields.CharEnumField(default=StoreScope.ALL, description='ALL: all\nREGION: region\nSTORES: stores', enum_type=StoreScope, max_length=8)),
                ('region', fields.ForeignKeyField('hub.Region', source_field='region_id', null=True, db_constraint=True, to_field='id', related_name='coupon_templates', on_delete=OnDelete.RESTRICT)),
                ('store_ids', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('level_ids', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('stackable', fields.BooleanField(default=False)),
                ('refund_rule', fields.CharEnumField(default=RefundRule.RESTORE, description='RESTORE: restore\nVOID: void', enum_type=RefundRule, max_length=8)),
                ('active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'coupon_template', 'app': 'hub', 'unique_together': (('brand', 'code'),), 'pk_attr': 'id', 'table_description': 'What a coupon is worth, where and when it is accepted, and how many may be issued.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Coupon',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('brand', fields.ForeignKeyField('hub.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name='coupons', on_delete=OnDelete.RESTRICT)),
                ('template', fields.ForeignKeyField('hub.CouponTemplate', source_field='template_id', db_constraint=True, to_field='id', related_name='coupons', on_delete=OnDelete.RESTRICT)),
                ('member', fields.ForeignKeyField('hub.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='coupons', on_delete=OnDelete.RESTRICT)),
                ('status', fields.CharEnumField(default=CouponStatus.AVAILABLE, description='AVAILABLE: available\nRESERVED: reserved\nUSED: used\nEXPIRED: expired\nVOIDED: voided', enum_type=CouponStatus, max_length=16)),
                ('uses_total', fields.IntField()),
                ('uses_left', fields.IntField()),
                ('valid_from', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('valid_until', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('source', fields.CharEnumField(description='STAFF: staff\nAPI: api\nCLI: cli\nBIRTHDAY: birthday\nUPGRADE: upgrade\nCAMPAIGN: campaign\nREFERRAL: referral', enum_type=IssueSource, max_length=16)),
                ('issue_key', fields.CharField(max_length=128)),
                ('reserved_order_id', fields.BigIntField(null=True)),
                ('reminded_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('issued_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'coupon', 'app': 'hub', 'unique_together': (('brand', 'issue_key'),), 'indexes': [Index(fields=['member_id', 'status']), Index(fields=['status', 'valid_until']), Index(fields=['template_id'])], 'pk_attr': 'id', 'table_description': 'One coupon held by one member. Its code is never shown: the QR carries a signed token.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Redemption',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('brand', fields.ForeignKeyField('hub.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name='redemptions', on_delete=OnDelete.RESTRICT)),
                ('coupon', fields.ForeignKeyField('hub.Coupon', source_field='coupon_id', db_constraint=True, to_field='id', related_name='redemptions', on_delete=OnDelete.RESTRICT)),
                ('template_id', fields.IntField()),
                ('member_id', fields.IntField()),
                ('store', fields.ForeignKeyField('hub.Store', source_field='store_id', db_constraint=True, to_field='id', related_name='redemptions', on_delete=OnDelete.RESTRICT)),
                ('staff', fields.ForeignKeyField('hub.Staff', source_field='staff_id', null=True, db_constraint=True, to_field='id', related_name='redemptions', on_delete=OnDelete.RESTRICT)),
                ('order_id', fields.BigIntField(null=True)),
                ('order_ref', fields.CharField(default='', max_length=64)),
                ('order_amount_fen', fields.BigIntField(default=0)),
                ('discount_fen', fields.BigIntField(default=0)),
                ('redemption_key', fields.CharField(max_length=128)),
                ('redeemed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('undone_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('undone_by', fields.ForeignKeyField('hub.Staff', source_field='undone_by_id', null=True, db_constraint=True, to_field='id', related_name='undone_redemptions', on_delete=OnDelete.RESTRICT)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'redemption', 'app': 'hub', 'unique_together': (('brand', 'redemption_key'),), 'indexes': [Index(fields=['coupon_id']), Index(fields=['store_id', 'redeemed_at']), Index(fields=['template_id', 'redeemed_at'])], 'pk_attr': 'id', 'table_description': 'One use of a coupon: in which store, by whom, on what order, and what it took off.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Level',
            name='birthday_coupon',
            field=fields.CharField(default='', max_length=32),
        ),
        ops.AddField(
            model_name='Level',
            name='upgrade_coupons',
            field=fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='Member',
            name='birthday',
            field=fields.DateField(null=True),
        ),
        ops.AddField(
            model_name='Member',
            name='birthday_mmdd',
            field=fields.CharField(null=True, db_index=True, max_length=4),
        ),
        ops.AddField(
            model_name='Order',
            name='coupon_discount_fen',
            field=fields.BigIntField(default=0),
        ),
        ops.AddField(
            model_name='Order',
            name='coupon_id',
            field=fields.BigIntField(null=True),
        ),
    ]
