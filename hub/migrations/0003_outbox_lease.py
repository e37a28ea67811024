from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('hub', '0002_callbacks_and_orders')]

    initial = False

    operations = [
        ops.AddField(
            model_name='OutboxMessage',
            name='leased_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddIndex(
            model_name='OutboxMessage',
            index=Index(fields=['status', 'leased_at']),
        ),
    ]
