"""Orders paid through WeChat Pay (or posted by a POS), and payments that did not add up."""

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from hub.models.brand import Brand, Store
from hub.models.member import Member
from hub.models.membership import CardType
from hub.models.staff import Staff


class OrderStatus(StrEnum):
    CREATED = "created"
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    CLOSED = "closed"


class OrderKind(StrEnum):
    SALE = "sale"  # goods or services in a store: earns points and counts as spend
    RECHARGE = "recharge"  # stored value bought (plus the tier's bonus)
    CARD = "card"  # a paid member card bought


class OrderSource(StrEnum):
    MINIPROGRAM = "miniprogram"  # created by the customer, paid through WeChat Pay
    POS = "pos"  # posted by the brand's till through the open API, already paid


class Order(Model):
    """A sale, recharge or card purchase, created by the mini-program or posted by a POS.

    Amounts: `original_fen` as entered, less the level's `discount_fen`, is `amount_fen`.
    `stored_value_fen` of it comes from the member's balance (held at creation), the rest
    (`wechat_fen`) through WeChat Pay.
    """

    id = fields.BigIntField(primary_key=True)
    brand: fields.ForeignKeyRelation[Brand] = fields.ForeignKeyField(
        "hub.Brand", related_name="orders", on_delete=fields.RESTRICT
    )
    brand_id: int
    # Where the sale was made. A recharge or card bought outside a store has none.
    store: fields.ForeignKeyNullableRelation[Store] = fields.ForeignKeyField(
        "hub.Store", related_name="orders", null=True, on_delete=fields.RESTRICT
    )
    store_id: int | None
    member: fields.ForeignKeyNullableRelation[Member] = fields.ForeignKeyField(
        "hub.Member", related_name="orders", null=True, on_delete=fields.RESTRICT
    )
    member_id: int | None
    # The member's guide when the order was paid: sales are attributed to them.
    guide: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "hub.Staff", related_name="guided_orders", null=True, on_delete=fields.SET_NULL
    )
    guide_id: int | None
    # Our order number at WeChat Pay: 6-32 of [0-9A-Za-z_-|*], unique per merchant.
    out_trade_no = fields.CharField(max_length=32, unique=True)
    # Empty for an order that does not go through WeChat Pay (POS, paid by stored value).
    mchid = fields.CharField(max_length=32)
    appid = fields.CharField(max_length=32)
    kind = fields.CharEnumField(OrderKind, max_length=16, default=OrderKind.SALE)
    source = fields.CharEnumField(OrderSource, max_length=16, default=OrderSource.MINIPROGRAM)
    description = fields.CharField(max_length=127, default="")
    original_fen = fields.BigIntField(default=0)
    discount_fen = fields.BigIntField(default=0)
    amount_fen = fields.BigIntField()
    # Paid from stored value, split as it was spent: principal first, bonus last.
    stored_value_fen = fields.BigIntField(default=0)
    sv_principal_fen = fields.BigIntField(default=0)
    sv_bonus_fen = fields.BigIntField(default=0)
    # A recharge: the bonus its tier promised when the order was created.
    recharge_bonus_fen = fields.BigIntField(default=0)
    # A coupon used on a sale: reserved while the order is unpaid, used when it is paid.
    coupon_id = fields.BigIntField(null=True)
    coupon_discount_fen = fields.BigIntField(default=0)
    # A card purchase: the card bought.
    card_type: fields.ForeignKeyNullableRelation[CardType] = fields.ForeignKeyField(
        "hub.CardType", related_name="orders", null=True, on_delete=fields.RESTRICT
    )
    card_type_id: int | None
    # The POS's own id of an offline order: the same sale posted twice is one order.
    external_id = fields.CharField(max_length=64, null=True)
    # The mini-program's Idempotency-Key: a retried "create order" returns the first order.
    client_key = fields.CharField(max_length=64, null=True)
    # The payer's openid under `appid` (prepay), and until when WeChat accepts payment.
    payer_openid = fields.CharField(max_length=64, null=True)
    expires_at = fields.DatetimeField(null=True)
    # The member's n-th paid sale (1: first purchase; 2 and more: a repeat purchase).
    member_order_no = fields.IntField(null=True)
    # What the payer actually paid after WeChat coupons (amount.payer_total).
    payer_fen = fields.BigIntField(null=True)
    refunded_fen = fields.BigIntField(default=0)
    status = fields.CharEnumField(OrderStatus, max_length=24, default=OrderStatus.CREATED)
    transaction_id = fields.CharField(max_length=32, null=True, unique=True)
    points_earned = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    paid_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "sale_order"
        unique_together = (("brand", "external_id"), ("member", "client_key"))
        indexes = (
            ("brand_id", "status", "paid_at"),
            ("store_id", "paid_at"),
            ("guide_id", "paid_at"),
            ("member_id", "paid_at"),
            ("status", "expires_at"),
        )

    @property
    def wechat_fen(self) -> int:
        """What WeChat Pay collects: the amount less the stored-value part (none of a POS sale)."""
        if self.source is OrderSource.POS:
            return 0
        return int(self.amount_fen) - int(self.stored_value_fen)


class RefundStatus(StrEnum):
    REQUESTED = "requested"  # asked of WeChat Pay; its notification settles it
    SUCCEEDED = "succeeded"
    CLOSED = "closed"
    ABNORMAL = "abnormal"


class Refund(Model):
    """A refund of an order: its stored-value part restored at once, its WeChat part by Pay.

    Requested through the open API, or learnt from a Pay notification of a refund made in the
    merchant platform.
    """

    id = fields.BigIntField(primary_key=True)
    brand: fields.ForeignKeyRelation[Brand] = fields.ForeignKeyField(
        "hub.Brand", related_name="refunds", on_delete=fields.RESTRICT
    )
    brand_id: int
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "hub.Order", related_name="refunds", on_delete=fields.RESTRICT
    )
    order_id: int
    mchid = fields.CharField(max_length=32)
    # The merchant's refund number: unique per merchant (WeChat's rule).
    out_refund_no = fields.CharField(max_length=64)
    refund_fen = fields.BigIntField()
    stored_value_fen = fields.BigIntField(default=0)
    wechat_fen = fields.BigIntField(default=0)
    status = fields.CharEnumField(RefundStatus, max_length=16)
    reason = fields.CharField(max_length=80, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    settled_at = fields.DatetimeField(null=True)

    class Meta:
        table = "refund"
        unique_together = (("mchid", "out_refund_no"),)


class PaymentAnomaly(Model):
    """A payment notification that did not match its order: recorded, never credited."""

    id = fields.BigIntField(primary_key=True)
    brand: fields.ForeignKeyRelation[Brand] = fields.ForeignKeyField(
        "hub.Brand", related_name="payment_anomalies", on_delete=fields.RESTRICT
    )
    brand_id: int
    order: fields.ForeignKeyNullableRelation[Order] = fields.ForeignKeyField(
        "hub.Order", related_name="anomalies", null=True, on_delete=fields.RESTRICT
    )
    order_id: int | None
    out_trade_no = fields.CharField(max_length=32)
    transaction_id = fields.CharField(max_length=32, default="")
    # amount_mismatch, mchid_mismatch, appid_mismatch, unknown_order, paid_twice,
    # paid_after_close
    kind = fields.CharField(max_length=32)
    details: dict[str, Any] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "payment_anomaly"
