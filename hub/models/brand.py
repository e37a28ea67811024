"""The tenant (Brand) and its organisation: regions and stores."""

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class Brand(Model):
    """A chain brand: the tenant every other row belongs to."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=32, unique=True)
    name = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "brand"


class Region(Model):
    """A group of stores managed by a region manager."""

    id = fields.IntField(primary_key=True)
    brand: fields.ForeignKeyRelation[Brand] = fields.ForeignKeyField(
        "hub.Brand", related_name="regions", on_delete=fields.RESTRICT
    )
    brand_id: int
    code = fields.CharField(max_length=32)
    name = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "region"
        unique_together = (("brand", "code"),)


class StoreStatus(StrEnum):
    OPEN = "open"
    PAUSED = "paused"


class Store(Model):
    """A physical store: sales, staff and coupons are scoped to it."""

    id = fields.IntField(primary_key=True)
    brand: fields.ForeignKeyRelation[Brand] = fields.ForeignKeyField(
        "hub.Brand", related_name="stores", on_delete=fields.RESTRICT
    )
    brand_id: int
    region: fields.ForeignKeyNullableRelation[Region] = fields.ForeignKeyField(
        "hub.Region", related_name="stores", null=True, on_delete=fields.RESTRICT
    )
    region_id: int | None
    code = fields.CharField(max_length=32)
    name = fields.CharField(max_length=64)
    address = fields.CharField(max_length=255, default="")
    # Free text as shown to customers, e.g. "Mon-Sun 10:00-22:00".
    opening_hours = fields.CharField(max_length=128, default="")
    status = fields.CharEnumField(StoreStatus, max_length=16, default=StoreStatus.OPEN)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "store"
        unique_together = (("brand", "code"),)
