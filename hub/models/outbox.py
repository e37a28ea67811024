"""The transactional outbox: follow-up work written in the same transaction as its cause."""

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model


class OutboxStatus(StrEnum):
    PENDING = "pending"  # committed, not yet handed to the queue
    ENQUEUED = "enqueued"  # handed to arq (job id "outbox:<id>")
    # A task claimed it and is acting (calling WeChat). A crash here leaves the outcome
    # unknown, so such a row is not retried by itself: an operator replays it.
    RUNNING = "running"
    DONE = "done"  # the task finished its effect
    FAILED = "failed"  # the task gave up; kept for inspection and replay


class OutboxMessage(Model):
    """One follow-up for a worker task. `key` makes the same follow-up impossible twice."""

    id = fields.BigIntField(primary_key=True)
    # The arq task (hub.queue.TaskName) that carries the follow-up out.
    task = fields.CharField(max_length=64)
    # e.g. "inbox:42:contact_welcome": unique, so a retried cause adds nothing twice.
    key = fields.CharField(max_length=191, unique=True)
    payload: dict[str, Any] = fields.JSONField(default=dict)
    status = fields.CharEnumField(OutboxStatus, max_length=16, default=OutboxStatus.PENDING)
    attempts = fields.IntField(default=0)
    last_error: str | None = fields.TextField(null=True)
    # What the finished task reported, e.g. "sent", "no_grant", "not_configured".
    outcome = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    enqueued_at = fields.DatetimeField(null=True)
    # When the row was last handed to the queue or claimed by a task: a row still enqueued or
    # running long after it is presumed lost (Redis lost the job, the worker died).
    leased_at = fields.DatetimeField(null=True)
    done_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox_message"
        indexes = (("status", "created_at"), ("status", "leased_at"))
