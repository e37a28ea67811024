"""Orders paid through WeChat Pay (or posted by a POS), and payments that did not add up."""

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from hub.models.brand import Brand, Store
from hub.models.member import Member
from hub.models.staff import Staff


class OrderStatus(StrEnum):
    CREATED = "created"
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    CLOSED = "closed"


class Order(Model):
    """A sale in a store: created by the mini-program, settled by the Pay notification."""

    id = fields.BigIntField(primary_key=True)
    brand: fields.ForeignKeyRelation[Brand] = fields.ForeignKeyField(
        "hub.Brand", related_name="orders", on_delete=fields.RESTRICT
    )
    brand_id: int
    store: fields.ForeignKeyRelation[Store] = fields.ForeignKeyField(
        "hub.Store", related_name="orders", on_delete=fields.RESTRICT
    )
    store_id: int
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
    mchid = fields.CharField(max_length=32)
    appid = fields.CharField(max_length=32)
    description = fields.CharField(max_length=127, default="")
    amount_fen = fields.BigIntField()
    # What the payer actually paid after WeChat coupons (amount.payer_total).
    payer_fen = fields.BigIntField(null=True)
    refunded_fen = fields.BigIntField(default=0)
    status = fields.CharEnumField(OrderStatus, max_length=24, default=OrderStatus.CREATED)
    transaction_id = fields.CharField(max_length=32, null=True, unique=True)
    points_earned = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    paid_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "sale_order"
        indexes = (("brand_id", "status", "paid_at"), ("store_id", "paid_at"))


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
