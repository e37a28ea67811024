"""The points ledger: every change of a member's balance is one row, written with it."""

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from hub.models.brand import Brand, Store
from hub.models.member import Member
from hub.models.staff import Staff


class PointsKind(StrEnum):
    EARN = "earn"
    REVERSE = "reverse"  # a refund takes back what its order earned
    REDEEM = "redeem"
    EXPIRE = "expire"
    ADJUST = "adjust"
    GIFT = "gift"  # given on reaching a level for the first time


class PointsEntry(Model):
    """One change of a member's points. The member's balance moves only together with it.

    A positive entry is also a lot: `remaining` is what is left of it after negative entries
    took from the oldest lots first, and it expires at `expires_at`. The member's balance is
    the sum of the remaining of their lots.
    """

    id = fields.BigIntField(primary_key=True)
    brand: fields.ForeignKeyRelation[Brand] = fields.ForeignKeyField(
        "hub.Brand", related_name="points_entries", on_delete=fields.RESTRICT
    )
    brand_id: int
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "hub.Member", related_name="points_entries", on_delete=fields.RESTRICT
    )
    member_id: int
    kind = fields.CharEnumField(PointsKind, max_length=16)
    # What was applied, and what was asked: a reversal is capped at the balance, so the
    # difference is the shortfall that could not be taken back.
    delta = fields.IntField()
    requested_delta = fields.IntField()
    balance_after = fields.IntField()
    # Where and through whom the points were earned or spent (cross-store attribution).
    store: fields.ForeignKeyNullableRelation[Store] = fields.ForeignKeyField(
        "hub.Store", related_name="points_entries", null=True, on_delete=fields.RESTRICT
    )
    store_id: int | None
    guide: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "hub.Staff", related_name="points_entries", null=True, on_delete=fields.SET_NULL
    )
    guide_id: int | None
    reason = fields.CharField(max_length=128, default="")
    # The order that earned or reversed it (a reversal takes from its order's lot first).
    order_id = fields.BigIntField(null=True)
    remaining = fields.IntField(default=0)
    expires_at = fields.DatetimeField(null=True)
    # e.g. "order:ABC123:earn": the same change can never be written twice.
    idempotency_key = fields.CharField(max_length=128, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "points_entry"
        indexes = (("member_id", "created_at"), ("member_id", "remaining"), ("expires_at",))
