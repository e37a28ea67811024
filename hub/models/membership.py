"""A brand's membership programme: cards, ranked levels, earning rules, level history."""

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from hub.models.brand import Brand, Store

if TYPE_CHECKING:
    # Members and orders refer to card types and levels: these two only name them back.
    from hub.models.member import Member
    from hub.models.order import Order


class CardKind(StrEnum):
    FREE = "free"  # every member holds one from joining
    PAID = "paid"  # bought through WeChat Pay; granted when the payment settles


class CardType(Model):
    """A member card a brand offers. Its levels are ranked. A member holds one card at a time."""

    id = fields.IntField(primary_key=True)
    brand: fields.ForeignKeyRelation[Brand] = fields.ForeignKeyField(
        "hub.Brand", related_name="card_types", on_delete=fields.RESTRICT
    )
    brand_id: int
    code = fields.CharField(max_length=32)
    name = fields.CharField(max_length=64)
    kind = fields.CharEnumField(CardKind, max_length=8)
    # The price of a paid card; 0 for a free card.
    price_fen = fields.BigIntField(default=0)
    # How long a bought card lasts; when it ends the member returns to the default free card.
    validity_days = fields.IntField(null=True)
    # The free card new members get. At most one per brand (checked when the programme is set).
    is_default = fields.BooleanField(default=False)
    # A level is held for this many months; at the end it is re-evaluated (None: never).
    level_period_months = fields.IntField(null=True)
    # Whether the end of a period may also lower the level (otherwise it only renews it).
    downgrade_at_period_end = fields.BooleanField(default=False)
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "card_type"
        unique_together = (("brand", "code"),)


class Level(Model):
    """One rank of a card, its benefits, and what it takes to reach it (any rule suffices)."""

    id = fields.IntField(primary_key=True)
    brand: fields.ForeignKeyRelation[Brand] = fields.ForeignKeyField(
        "hub.Brand", related_name="levels", on_delete=fields.RESTRICT
    )
    brand_id: int
    card_type: fields.ForeignKeyRelation[CardType] = fields.ForeignKeyField(
        "hub.CardType", related_name="levels", on_delete=fields.CASCADE
    )
    card_type_id: int
    code = fields.CharField(max_length=32)
    name = fields.CharField(max_length=64)
    # 0 is the entry level of the card (it needs no rule); higher ranks are better.
    rank = fields.IntField()
    # Benefits: percent off in-store payments, and points earned per point of the base rule.
    discount_percent = fields.IntField(default=0)
    points_multiplier_percent = fields.IntField(default=100)
    # Points given once, the first time a member reaches this level.
    upgrade_gift_points = fields.IntField(default=0)
    # Coupon templates (by code): given once on first reaching the level, and each birthday.
    upgrade_coupons: list[str] = fields.JSONField(default=list)
    birthday_coupon = fields.CharField(max_length=32, default="")
    # Upgrade rules; a level with none is reached only by rank 0 or by buying the card.
    rolling_spend_fen = fields.BigIntField(null=True)
    rolling_months = fields.IntField(null=True)
    cumulative_spend_fen = fields.BigIntField(null=True)
    min_invites = fields.IntField(null=True)

    class Meta:
        table = "member_level"
        unique_together = (("card_type", "rank"), ("brand", "code"))


class MembershipPolicy(Model):
    """A brand's earning and stored-value rules (one row per brand, defaults when absent)."""

    id = fields.IntField(primary_key=True)
    brand: fields.OneToOneRelation[Brand] = fields.OneToOneField(
        "hub.Brand", related_name="membership_policy", on_delete=fields.CASCADE
    )
    brand_id: int
    # One point per this many fen paid, before the level's multiplier and store bonuses.
    fen_per_point = fields.IntField(default=100)
    # Points expire this many months after they were earned (None: never).
    points_valid_months = fields.IntField(null=True)
    # Whether a refunded recharge leaves its bonus with the member (default: the bonus goes).
    bonus_refundable = fields.BooleanField(default=False)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "membership_policy"


class StorePointsRule(Model):
    """Extra points in one store, e.g. +100 % during its opening month."""

    id = fields.IntField(primary_key=True)
    brand: fields.ForeignKeyRelation[Brand] = fields.ForeignKeyField(
        "hub.Brand", related_name="store_points_rules", on_delete=fields.CASCADE
    )
    brand_id: int
    store: fields.ForeignKeyRelation[Store] = fields.ForeignKeyField(
        "hub.Store", related_name="points_rules", on_delete=fields.CASCADE
    )
    store_id: int
    name = fields.CharField(max_length=64)
    bonus_percent = fields.IntField()
    starts_at = fields.DatetimeField(null=True)
    ends_at = fields.DatetimeField(null=True)

    class Meta:
        table = "store_points_rule"
        indexes = (("store_id",),)


class RechargeTier(Model):
    """A recharge of at least `pay_fen` earns `bonus_fen` of bonus ("pay 1000, get 200")."""

    id = fields.IntField(primary_key=True)
    brand: fields.ForeignKeyRelation[Brand] = fields.ForeignKeyField(
        "hub.Brand", related_name="recharge_tiers", on_delete=fields.CASCADE
    )
    brand_id: int
    pay_fen = fields.BigIntField()
    bonus_fen = fields.BigIntField()

    class Meta:
        table = "recharge_tier"
        unique_together = (("brand", "pay_fen"),)


class LevelChangeReason(StrEnum):
    JOINED = "joined"  # the default card's entry level on joining
    ROLLING_SPEND = "rolling_spend"
    CUMULATIVE_SPEND = "cumulative_spend"
    INVITES = "invites"
    PURCHASE = "purchase"  # a paid card bought
    CARD_EXPIRED = "card_expired"  # a paid card ran out: back to the free card
    CARD_REFUNDED = "card_refunded"
    PERIOD_END = "period_end"  # re-evaluated when the level's period ended
    MERGE = "merge"  # two members merged: the better level kept


class LevelChange(Model):
    """Every change of a member's card or level, with its reason and cause."""

    id = fields.BigIntField(primary_key=True)
    brand: fields.ForeignKeyRelation[Brand] = fields.ForeignKeyField(
        "hub.Brand", related_name="level_changes", on_delete=fields.RESTRICT
    )
    brand_id: int
    member: fields.ForeignKeyRelation["Member"] = fields.ForeignKeyField(
        "hub.Member", related_name="level_changes", on_delete=fields.RESTRICT
    )
    member_id: int
    from_level: fields.ForeignKeyNullableRelation[Level] = fields.ForeignKeyField(
        "hub.Level", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    from_level_id: int | None
    to_level: fields.ForeignKeyNullableRelation[Level] = fields.ForeignKeyField(
        "hub.Level", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    to_level_id: int | None
    reason = fields.CharEnumField(LevelChangeReason, max_length=24)
    # The order whose payment (or refund) caused it, if any.
    order: fields.ForeignKeyNullableRelation["Order"] = fields.ForeignKeyField(
        "hub.Order", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    order_id: int | None
    # e.g. "order:W1…:level": the same cause never changes the level twice.
    idempotency_key = fields.CharField(max_length=128, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "level_change"
        indexes = (("member_id", "created_at"),)
