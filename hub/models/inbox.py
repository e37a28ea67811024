"""Callbacks from WeChat: the durable inbox of accepted ones and the record of refused ones."""

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from hub.models.brand import Brand


class CallbackSource(StrEnum):
    WECHAT_PAY = "wechatpay"
    MINIPROGRAM = "miniprogram"
    CHANNELS = "channels"
    WECOM = "wecom"


class InboxStatus(StrEnum):
    PENDING = "pending"  # stored, not processed yet (a retry after a failure is FAILED)
    DONE = "done"  # processed: its effects are committed (or refused, see outcome)
    FAILED = "failed"  # the last attempt raised; retried with back-off, replayable
    IGNORED = "ignored"  # an event type wxhub does not act on: acknowledged and kept


class InboxCallback(Model):
    """One verified callback, stored before WeChat is answered, unique per event key."""

    id = fields.BigIntField(primary_key=True)
    source = fields.CharEnumField(CallbackSource, max_length=16)
    # The account the callback was addressed to: appid, mchid or corpid.
    account = fields.CharField(max_length=32)
    brand: fields.ForeignKeyRelation[Brand] = fields.ForeignKeyField(
        "hub.Brand", related_name="inbox_callbacks", on_delete=fields.RESTRICT
    )
    brand_id: int
    event_type = fields.CharField(max_length=64)
    # What makes two deliveries the same event (transaction_id, MsgId, …), per source.
    event_key = fields.CharField(max_length=191)
    occurred_at = fields.DatetimeField()
    received_at = fields.DatetimeField(auto_now_add=True)
    # The parsed event as JSON, sealed: it holds openids and order details.
    payload_sealed = fields.BinaryField()
    status = fields.CharEnumField(InboxStatus, max_length=16, default=InboxStatus.PENDING)
    attempts = fields.IntField(default=0)
    last_error: str | None = fields.TextField(null=True)
    # When a failed row is due again; the retry_callbacks cron picks up rows whose job was lost.
    next_attempt_at = fields.DatetimeField(null=True)
    # What processing concluded, e.g. "paid", "amount_mismatch", "already_paid".
    outcome = fields.CharField(max_length=64, null=True)
    processed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "inbox_callback"
        unique_together = (("source", "account", "event_key"),)
        indexes = (("status", "next_attempt_at"), ("source", "received_at"))


class RejectedCallback(Model):
    """A callback refused before it was stored: the reason, and enough to investigate it."""

    id = fields.BigIntField(primary_key=True)
    source = fields.CharEnumField(CallbackSource, max_length=16)
    # As given in the URL (it may name no account at all), truncated.
    account = fields.CharField(max_length=64)
    reason = fields.CharField(max_length=64)
    status_code = fields.SmallIntField()
    request_id = fields.CharField(max_length=64, null=True)
    remote = fields.CharField(max_length=64, null=True)
    # Headers with secret-looking values redacted, and the start of the body.
    headers: dict[str, Any] = fields.JSONField(default=dict)
    body_excerpt = fields.TextField(default="")
    body_bytes = fields.IntField(default=0)
    received_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "rejected_callback"
        indexes = (("source", "received_at"), ("reason", "received_at"))
