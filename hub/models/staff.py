"""Store staff and guides, with their role and the store or region they act in."""

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from hub.models.brand import Brand, Region, Store


class StaffRole(StrEnum):
    CLERK = "clerk"
    STORE_MANAGER = "store_manager"
    REGION_MANAGER = "region_manager"
    HQ_ADMIN = "hq_admin"


class Staff(Model):
    """A person working for the brand. Clerks and store managers belong to one store."""

    id = fields.IntField(primary_key=True)
    brand: fields.ForeignKeyRelation[Brand] = fields.ForeignKeyField(
        "hub.Brand", related_name="staff", on_delete=fields.RESTRICT
    )
    brand_id: int
    name = fields.CharField(max_length=64)
    # The WeCom userid links WeCom events (a guide adding a customer) to this person.
    wecom_userid = fields.CharField(max_length=64, null=True)
    role = fields.CharEnumField(StaffRole, max_length=24)
    store: fields.ForeignKeyNullableRelation[Store] = fields.ForeignKeyField(
        "hub.Store", related_name="staff", null=True, on_delete=fields.RESTRICT
    )
    store_id: int | None
    region: fields.ForeignKeyNullableRelation[Region] = fields.ForeignKeyField(
        "hub.Region", related_name="staff", null=True, on_delete=fields.RESTRICT
    )
    region_id: int | None
    # SHA-256 of the bearer token; the token itself is shown once when issued.
    token_hash = fields.CharField(max_length=64, null=True, unique=True)
    token_issued_at = fields.DatetimeField(null=True)
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "staff"
        unique_together = (("brand", "wecom_userid"),)
