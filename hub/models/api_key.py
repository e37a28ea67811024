"""Brand-scoped keys for the open REST API, stored only as hashes."""

from tortoise import fields
from tortoise.models import Model

from hub.models.brand import Brand


class ApiKey(Model):
    id = fields.IntField(primary_key=True)
    brand: fields.ForeignKeyRelation[Brand] = fields.ForeignKeyField(
        "hub.Brand", related_name="api_keys", on_delete=fields.RESTRICT
    )
    brand_id: int
    name = fields.CharField(max_length=64)
    # The key's public part (`wxk_<prefix>`), shown in lists so people can tell keys apart.
    prefix = fields.CharField(max_length=16, unique=True)
    # SHA-256 of the whole key: keys are 192-bit random, so a fast hash is enough.
    key_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_key"
