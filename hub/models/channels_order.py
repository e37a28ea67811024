"""Orders of the brand's Channels (视频号) shop, attributed to members for points."""

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from hub.models.brand import Brand
from hub.models.member import Member


class ChannelsOrderStatus(StrEnum):
    NEW = "new"
    PAID = "paid"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


class ChannelsOrder(Model):
    id = fields.BigIntField(primary_key=True)
    brand: fields.ForeignKeyRelation[Brand] = fields.ForeignKeyField(
        "hub.Brand", related_name="channels_orders", on_delete=fields.RESTRICT
    )
    brand_id: int
    shop_appid = fields.CharField(max_length=32)
    # A 64-bit id above 2^53 (protocols §5.1): kept as a string.
    order_id = fields.CharField(max_length=32)
    status = fields.CharEnumField(ChannelsOrderStatus, max_length=16)
    # The buyer, as the shop knows them (openid under the shop, unionid when bound).
    openid = fields.CharField(max_length=64, null=True)
    unionid = fields.CharField(max_length=64, null=True)
    member: fields.ForeignKeyNullableRelation[Member] = fields.ForeignKeyField(
        "hub.Member", related_name="channels_orders", null=True, on_delete=fields.SET_NULL
    )
    member_id: int | None
    # From the order details API once fetched (the push carries only the order id).
    amount_fen = fields.BigIntField(null=True)
    refunded_fen = fields.BigIntField(default=0)
    points_earned = fields.IntField(default=0)
    paid_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "channels_order"
        unique_together = (("shop_appid", "order_id"),)
