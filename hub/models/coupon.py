"""Coupons: the templates head office designs, the coupons members hold, their redemptions."""

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from hub.models.brand import Brand, Region, Store
from hub.models.member import Member
from hub.models.staff import Staff


class CouponKind(StrEnum):
    CASH_OFF = "cash_off"  # face value off an order of at least the threshold
    PERCENT_OFF = "percent_off"  # a percentage off, at most the cap
    GIFT = "gift"  # a gift item handed over at the till
    COUNT_CARD = "count_card"  # N uses, one per redemption (e.g. 10 car washes)


class StoreScope(StrEnum):
    ALL = "all"
    REGION = "region"
    STORES = "stores"


class RefundRule(StrEnum):
    """What becomes of a coupon used on an order that is then refunded in full."""

    RESTORE = "restore"  # the member gets the use back
    VOID = "void"  # the use is gone


class CouponTemplate(Model):
    """What a coupon is worth, where and when it is accepted, and how many may be issued."""

    id = fields.IntField(primary_key=True)
    brand: fields.ForeignKeyRelation[Brand] = fields.ForeignKeyField(
        "hub.Brand", related_name="coupon_templates", on_delete=fields.RESTRICT
    )
    brand_id: int
    code = fields.CharField(max_length=32)
    name = fields.CharField(max_length=64)
    kind = fields.CharEnumField(CouponKind, max_length=16)
    # cash_off: the amount taken off. percent_off: at most this much (0: no cap).
    face_value_fen = fields.BigIntField(default=0)
    percent_off = fields.IntField(default=0)
    # The order must be at least this much (0: any order).
    threshold_fen = fields.BigIntField(default=0)
    # gift: what the clerk hands over.
    gift_name = fields.CharField(max_length=64, default="")
    # Uses per coupon: 1, or N for a count card.
    uses = fields.IntField(default=1)
    # Validity: a fixed window, or a number of days from issue.
    valid_from = fields.DatetimeField(null=True)
    valid_until = fields.DatetimeField(null=True)
    valid_days = fields.IntField(null=True)
    # Stock: how many may ever be issued (None: no limit). issued_count only grows, under a
    # conditional UPDATE, so concurrent issuance never oversells.
    stock_total = fields.IntField(null=True)
    issued_count = fields.IntField(default=0)
    per_member_limit = fields.IntField(null=True)
    store_scope = fields.CharEnumField(StoreScope, max_length=8, default=StoreScope.ALL)
    region: fields.ForeignKeyNullableRelation[Region] = fields.ForeignKeyField(
        "hub.Region", related_name="coupon_templates", null=True, on_delete=fields.RESTRICT
    )
    region_id: int | None
    # StoreScope.STORES: the ids of the stores that accept it.
    store_ids: list[int] = fields.JSONField(default=list)
    # The level ids whose members may receive it (empty: every member).
    level_ids: list[int] = fields.JSONField(default=list)
    # Whether it may be used together with another coupon on one order.
    stackable = fields.BooleanField(default=False)
    refund_rule = fields.CharEnumField(RefundRule, max_length=8, default=RefundRule.RESTORE)
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "coupon_template"
        unique_together = (("brand", "code"),)


class CouponStatus(StrEnum):
    AVAILABLE = "available"
    RESERVED = "reserved"  # held by an unpaid mini-program order
    USED = "used"  # no use left
    EXPIRED = "expired"
    VOIDED = "voided"


class IssueSource(StrEnum):
    STAFF = "staff"
    API = "api"
    CLI = "cli"
    BIRTHDAY = "birthday"
    UPGRADE = "upgrade"
    CAMPAIGN = "campaign"
    REFERRAL = "referral"


class Coupon(Model):
    """One coupon held by one member. Its code is never shown: the QR carries a signed token."""

    id = fields.BigIntField(primary_key=True)
    brand: fields.ForeignKeyRelation[Brand] = fields.ForeignKeyField(
        "hub.Brand", related_name="coupons", on_delete=fields.RESTRICT
    )
    brand_id: int
    template: fields.ForeignKeyRelation[CouponTemplate] = fields.ForeignKeyField(
        "hub.CouponTemplate", related_name="coupons", on_delete=fields.RESTRICT
    )
    template_id: int
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "hub.Member", related_name="coupons", on_delete=fields.RESTRICT
    )
    member_id: int
    status = fields.CharEnumField(CouponStatus, max_length=16, default=CouponStatus.AVAILABLE)
    uses_total = fields.IntField()
    uses_left = fields.IntField()
    valid_from = fields.DatetimeField()
    valid_until = fields.DatetimeField()
    source = fields.CharEnumField(IssueSource, max_length=16)
    # Unique per brand: the same issuance (a birthday, a campaign reward, an API retry) twice
    # is one coupon.
    issue_key = fields.CharField(max_length=128)
    # The unpaid order holding it (status reserved).
    reserved_order_id = fields.BigIntField(null=True)
    # When the "expiring soon" reminder was queued (once per coupon).
    reminded_at = fields.DatetimeField(null=True)
    issued_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "coupon"
        unique_together = (("brand", "issue_key"),)
        indexes = (("member_id", "status"), ("status", "valid_until"), ("template_id",))


class Redemption(Model):
    """One use of a coupon: in which store, by whom, on what order, and what it took off."""

    id = fields.BigIntField(primary_key=True)
    brand: fields.ForeignKeyRelation[Brand] = fields.ForeignKeyField(
        "hub.Brand", related_name="redemptions", on_delete=fields.RESTRICT
    )
    brand_id: int
    coupon: fields.ForeignKeyRelation[Coupon] = fields.ForeignKeyField(
        "hub.Coupon", related_name="redemptions", on_delete=fields.RESTRICT
    )
    coupon_id: int
    template_id = fields.IntField()
    member_id = fields.IntField()
    store: fields.ForeignKeyRelation[Store] = fields.ForeignKeyField(
        "hub.Store", related_name="redemptions", on_delete=fields.RESTRICT
    )
    store_id: int
    # The clerk who scanned it (None: paid in the mini-program).
    staff: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "hub.Staff", related_name="redemptions", null=True, on_delete=fields.RESTRICT
    )
    staff_id: int | None
    # A mini-program order, or the till's own reference of the sale.
    order_id = fields.BigIntField(null=True)
    order_ref = fields.CharField(max_length=64, default="")
    order_amount_fen = fields.BigIntField(default=0)
    discount_fen = fields.BigIntField(default=0)
    # Unique per brand: a scan (its token), an offline batch item or an order's use, applied once.
    redemption_key = fields.CharField(max_length=128)
    redeemed_at = fields.DatetimeField()
    undone_at = fields.DatetimeField(null=True)
    undone_by: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "hub.Staff", related_name="undone_redemptions", null=True, on_delete=fields.RESTRICT
    )
    undone_by_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "redemption"
        unique_together = (("brand", "redemption_key"),)
        indexes = (("coupon_id",), ("store_id", "redeemed_at"), ("template_id", "redeemed_at"))

    def snapshot(self) -> dict[str, Any]:
        """The audit form of a redemption."""
        return {
            "coupon": self.coupon_id,
            "store": self.store_id,
            "order_ref": self.order_ref,
            "order_amount_fen": self.order_amount_fen,
            "discount_fen": self.discount_fen,
            "undone": self.undone_at is not None,
        }
