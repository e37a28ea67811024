"""The stored-value ledger: every change of a member's balance is one row, written with it."""

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from hub.models.brand import Brand, Store
from hub.models.member import Member
from hub.models.staff import Staff


class StoredValueKind(StrEnum):
    RECHARGE = "recharge"  # a paid recharge: principal, plus its tier's bonus
    SPEND = "spend"  # part of an order paid with the balance (held when the order is created)
    RESTORE = "restore"  # a refunded or unpaid order gives back what it took
    REVOKE = "revoke"  # a refunded recharge takes back its principal (and its bonus)


class StoredValueEntry(Model):
    """One change of a member's stored value, split into principal and bonus."""

    id = fields.BigIntField(primary_key=True)
    brand: fields.ForeignKeyRelation[Brand] = fields.ForeignKeyField(
        "hub.Brand", related_name="stored_value_entries", on_delete=fields.RESTRICT
    )
    brand_id: int
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "hub.Member", related_name="stored_value_entries", on_delete=fields.RESTRICT
    )
    member_id: int
    kind = fields.CharEnumField(StoredValueKind, max_length=16)
    principal_delta = fields.BigIntField()
    bonus_delta = fields.BigIntField()
    # What was asked: a revocation is capped at the balance; the difference is the shortfall.
    requested_fen = fields.BigIntField()
    principal_after = fields.BigIntField()
    bonus_after = fields.BigIntField()
    order_id = fields.BigIntField(null=True)
    store: fields.ForeignKeyNullableRelation[Store] = fields.ForeignKeyField(
        "hub.Store", related_name="stored_value_entries", null=True, on_delete=fields.RESTRICT
    )
    store_id: int | None
    guide: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "hub.Staff", related_name="stored_value_entries", null=True, on_delete=fields.SET_NULL
    )
    guide_id: int | None
    reason = fields.CharField(max_length=128, default="")
    # e.g. "order:W1…:spend": the same change can never be written twice.
    idempotency_key = fields.CharField(max_length=128, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "stored_value_entry"
        indexes = (("member_id", "created_at"),)
