"""Subscription messages: each user's grants per template, each send, each brand's templates."""

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from hub.models.brand import Brand
from hub.models.member import Member


class GrantStatus(StrEnum):
    ACCEPTED = "accepted"
    # The user refused in the popup or turned the template off in 服务通知 settings.
    REJECTED = "rejected"


class SubscriptionGrant(Model):
    """How many one-time sends a user granted for a template (each accept grants one)."""

    id = fields.BigIntField(primary_key=True)
    brand: fields.ForeignKeyRelation[Brand] = fields.ForeignKeyField(
        "hub.Brand", related_name="subscription_grants", on_delete=fields.RESTRICT
    )
    brand_id: int
    appid = fields.CharField(max_length=32)
    openid = fields.CharField(max_length=64)
    member: fields.ForeignKeyNullableRelation[Member] = fields.ForeignKeyField(
        "hub.Member", related_name="subscription_grants", null=True, on_delete=fields.SET_NULL
    )
    member_id: int | None
    template_id = fields.CharField(max_length=64)
    remaining = fields.IntField(default=0)
    status = fields.CharEnumField(GrantStatus, max_length=16)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "subscription_grant"
        unique_together = (("appid", "openid", "template_id"),)


class DeliveryStatus(StrEnum):
    SENT = "sent"  # WeChat accepted the send and gave a msgid
    DELIVERED = "delivered"  # subscribe_msg_sent_event reported success
    FAILED = "failed"  # the sent event reported an error


class SubscriptionMessage(Model):
    """One subscription message WeChat accepted, and its delivery as WeChat later reports it."""

    id = fields.BigIntField(primary_key=True)
    brand: fields.ForeignKeyRelation[Brand] = fields.ForeignKeyField(
        "hub.Brand", related_name="subscription_messages", on_delete=fields.RESTRICT
    )
    brand_id: int
    appid = fields.CharField(max_length=32)
    openid = fields.CharField(max_length=64)
    template_id = fields.CharField(max_length=64)
    # WeChat's msgid (a 64-bit number) as a string.
    msgid = fields.CharField(max_length=32, unique=True)
    status = fields.CharEnumField(DeliveryStatus, max_length=16, default=DeliveryStatus.SENT)
    error_code = fields.IntField(null=True)
    error_status = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    reported_at = fields.DatetimeField(null=True)

    class Meta:
        table = "subscription_message"


class MessageTemplate(Model):
    """Which WeChat template a brand's message (templates/messages/<name>.toml) is sent with.

    The brand adds a library template with the message's keywords to its mini-program and
    records its id here; template ids differ per mini-program, so they are data.
    """

    id = fields.IntField(primary_key=True)
    brand: fields.ForeignKeyRelation[Brand] = fields.ForeignKeyField(
        "hub.Brand", related_name="message_templates", on_delete=fields.RESTRICT
    )
    brand_id: int
    # The mini-program the template belongs to (sends go to the member's openid under it).
    appid = fields.CharField(max_length=32)
    # The message: the name of its file under templates/messages/ (e.g. "coupon_issued").
    name = fields.CharField(max_length=64)
    template_id = fields.CharField(max_length=64)
    # The page the message opens; empty: the page of the message's file.
    page = fields.CharField(max_length=255, default="")
    # An inactive message is not sent (its outbox rows end "not_configured").
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "message_template"
        unique_together = (("brand", "name"),)
