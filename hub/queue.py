"""The arq queue on Redis: connection settings, JSON job serialisation, the shared pool."""

import json
from enum import StrEnum
from typing import Any

from arq.connections import ArqRedis, RedisSettings, create_pool

from hub.errors import ConfigError
from hub.settings import Settings

QUEUE_NAME = "wxhub:queue"


class TaskName(StrEnum):
    """Every task a worker runs, by the name jobs carry (wire data: never rename one)."""

    @property
    def repeatable(self) -> bool:
        """Whether running the task again after an interruption is harmless."""
        # A message cut short may have been sent; repeating it could send it twice.
        return self not in {TaskName.WELCOME_CONTACT, TaskName.NOTIFY_COUPON}

    # Retry or replay one stored callback (hub.callbacks.pipeline).
    PROCESS_CALLBACK = "process_callback"
    # Outbox follow-ups; each takes the outbox row id.
    SYNC_CHANNELS_ORDER = "sync_channels_order"
    LINK_CONTACT_MEMBER = "link_contact_member"
    WELCOME_CONTACT = "welcome_contact"
    # Ask WeChat Pay to refund the WeChat part of a refund (the notification settles it).
    REQUEST_PAY_REFUND = "request_pay_refund"
    # Tell a member about a coupon by subscription message (issued, expiring soon).
    NOTIFY_COUPON = "notify_coupon"


def serialize_job(job: dict[str, Any]) -> bytes:
    # Jobs are JSON, never pickle: a job read from Redis cannot run code.
    return json.dumps(job, separators=(",", ":")).encode()


def deserialize_job(data: bytes) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(data)
    return result


def redis_settings(settings: Settings) -> RedisSettings:
    """Arq's connection settings for the configured Redis URL.

    Raises:
        ConfigError: no Redis URL (only `wxhub run` starts an embedded Redis) or a bad one.
    """
    if not settings.redis.url:
        raise ConfigError(
            "redis.url is empty (env WXHUB_REDIS__URL): `wxhub run` starts an embedded Redis, "
            "`wxhub serve` and `wxhub worker` need a Redis URL"
        )
    try:
        return RedisSettings.from_dsn(settings.redis.url)
    except (RuntimeError, ValueError) as exc:
        raise ConfigError(f"redis.url is not a redis://, rediss:// or unix:// URL: {exc}") from None


async def create_queue_pool(settings: Settings) -> ArqRedis:
    """Connect to Redis; the pool both talks Redis and enqueues jobs."""
    return await create_pool(
        redis_settings(settings),
        job_serializer=serialize_job,
        job_deserializer=deserialize_job,
        default_queue_name=QUEUE_NAME,
    )
