from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('hub', '0005_coupons')]

    initial = False

    operations = [
        # Rolling back this migration on SQLite rebuilds outbox_message to drop `outcome`, and
        # tortoise's rebuild loses its indexes; put them back (run last on the way down;
        # IF NOT EXISTS makes it a no-op on PostgreSQL).
        ops.RunSQL(
            "SELECT 1",
            reverse_sql=[
                'CREATE INDEX IF NOT EXISTS "idx_outbox_mess_status_439645" ON "outbox_message" ("status", "created_at")',
                'CREATE INDEX IF NOT EXISTS "idx_outbox_mess_status_54111f" ON "outbox_message" ("status", "leased_at")',
            ],
        ),
        ops.CreateModel(
            name='MessageTemplate',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('brand', fields.ForeignKeyField('hub.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name='message_templates', on_delete=OnDelete.RESTRICT)),
                ('appid', fields.CharField(max_length=32)),
                ('name', fields.CharField(max_length=64)),
                ('template_id', fields.CharField(max_length=64)),
                ('page', fields.CharField(default='', max_length=255)),
                ('active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'message_template', 'app': 'hub', 'unique_together': (('brand', 'name'),), 'pk_attr': 'id', 'table_description': "Which WeChat template a brand's message (templates/messages/<name>.toml) is sent with."},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='OutboxMessage',
            name='outcome',
            field=fields.CharField(null=True, max_length=64),
        ),
    ]
