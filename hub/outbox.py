"""The transactional outbox: add() follow-ups inside the transaction, flush() them after commit.

A follow-up (a WeChat call, a message, a webhook) is a row written in the same transaction as
the change that causes it, so it exists exactly when the change does. After the commit, flush()
hands each new row to the queue with the job id "outbox:<id>"; if that fails (Redis away, a
crash in between), the relay_outbox cron hands over whatever is still pending. Each task checks
the row's status before acting, so a row handed over twice still acts once.
"""

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from hub.models.outbox import OutboxMessage, OutboxStatus
from hub.queue import TaskName

log = logging.getLogger(__name__)

# Rows added during the current unit of work, to be flushed once it commits.
_added: ContextVar[list[int] | None] = ContextVar("wxhub_outbox_added", default=None)


class Enqueuer(Protocol):
    """What flush() needs of the queue (arq's ArqRedis.enqueue_job)."""

    async def enqueue_job(
        self, function: str, *args: Any, _job_id: str | None = None, _defer_by: float | None = None
    ) -> Any: ...


def job_id(message_id: int) -> str:
    return f"outbox:{message_id}"


async def add(task: TaskName, key: str, payload: dict[str, Any]) -> OutboxMessage | None:
    """Add a follow-up in the current transaction; None if one with this key exists already."""
    try:
        # A savepoint: a duplicate key must not abort the caller's transaction (PostgreSQL).
        async with in_transaction():
            message = await OutboxMessage.create(task=task.value, key=key, payload=payload)
    except IntegrityError:
        return None
    added = _added.get()
    if added is not None:
        added.append(message.id)
    return message


@asynccontextmanager
async def collecting() -> AsyncIterator[list[int]]:
    """Collect the ids of rows add()ed inside the block (flush them after the commit)."""
    added: list[int] = []
    token = _added.set(added)
    try:
        yield added
    finally:
        _added.reset(token)


async def flush(message_ids: Sequence[int], queue: Enqueuer) -> int:
    """Hand committed rows to the queue; returns how many were handed over.

    A failure is logged, not raised: the caller's work is committed, and relay() retries.
    """
    handed = 0
    for message_id in message_ids:
        message = await OutboxMessage.get_or_none(id=message_id, status=OutboxStatus.PENDING)
        if message is None:
            continue
        try:
            await queue.enqueue_job(message.task, message.id, _job_id=job_id(message.id))
        except Exception:
            log.warning(
                "outbox %d (%s): enqueue failed; the relay will retry",
                message.id,
                message.task,
                exc_info=True,
            )
            continue
        await OutboxMessage.filter(id=message.id, status=OutboxStatus.PENDING).update(
            status=OutboxStatus.ENQUEUED, enqueued_at=datetime.now(UTC)
        )
        handed += 1
    return handed


async def relay(queue: Enqueuer, *, older_than_s: float, limit: int = 500) -> int:
    """Hand over pending rows that flush() missed (older than `older_than_s`)."""
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
    stale = (
        await OutboxMessage.filter(status=OutboxStatus.PENDING, created_at__lt=cutoff)
        .order_by("id")
        .limit(limit)
        .only("id")
    )
    return await flush([message.id for message in stale], queue)


async def claim(message_id: int) -> OutboxMessage | None:
    """Take the row for one attempt (pending/enqueued → running), or None.

    None means someone else has it or it is finished. Claiming is one atomic update, so two
    workers never both act.
    """
    claimed = await OutboxMessage.filter(
        id=message_id, status__in=[OutboxStatus.PENDING, OutboxStatus.ENQUEUED]
    ).update(status=OutboxStatus.RUNNING)
    return await OutboxMessage.get(id=message_id) if claimed else None


async def finish(message_id: int) -> None:
    """The claimed row's effect is done."""
    await OutboxMessage.filter(id=message_id, status=OutboxStatus.RUNNING).update(
        status=OutboxStatus.DONE,
        attempts=F("attempts") + 1,
        done_at=datetime.now(UTC),
        last_error=None,
    )


async def release(message_id: int, error: str, *, retry: bool) -> None:
    """The claimed attempt failed: back to enqueued for another attempt, or failed for good."""
    await OutboxMessage.filter(id=message_id, status=OutboxStatus.RUNNING).update(
        status=OutboxStatus.ENQUEUED if retry else OutboxStatus.FAILED,
        attempts=F("attempts") + 1,
        last_error=error[:2000],
    )
