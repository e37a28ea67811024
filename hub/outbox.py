"""The transactional outbox: add() follow-ups inside the transaction, flush() them after commit.

A follow-up (a WeChat call, a message, a webhook) is a row written in the same transaction as
the change that causes it, so it exists exactly when the change does. After the commit, flush()
hands each new row to the queue; if that fails (Redis away, a crash in between), relay() hands
over whatever is still pending, and re-queues rows whose job was lost. Each task claims its
row before acting (one atomic update), so a row handed over twice still acts once.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from redis.exceptions import RedisError
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from hub.models.outbox import OutboxMessage, OutboxStatus
from hub.queue import TaskName

log = logging.getLogger(__name__)

# Handing a job to Redis takes milliseconds; a hung Redis must not hold a caller for long.
ENQUEUE_TIMEOUT_S = 1.0
# A row enqueued or running this long is presumed lost: beyond the longest retry delay of an
# outbox task (30 min) plus any job's timeout.
LEASE_S = 3600.0

# Rows added during the current unit of work, to be flushed once it commits.
_added: ContextVar[list[int] | None] = ContextVar("wxhub_outbox_added", default=None)


class Enqueuer(Protocol):
    """What flush() needs of the queue (arq's ArqRedis.enqueue_job)."""

    async def enqueue_job(
        self, function: str, *args: Any, _job_id: str | None = None, _defer_by: float | None = None
    ) -> Any: ...


def job_id(message: OutboxMessage) -> str:
    # One id per attempt: arq keeps a finished job's id for a while, so re-queueing a lost
    # row under an id already used would be silently dropped.
    return f"outbox:{message.id}:{message.attempts}"


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
    """Hand committed pending rows to the queue; returns how many were handed over.

    A queue failure is logged, not raised: the caller's work is committed, and relay() retries.
    """
    if not message_ids:
        return 0
    messages = await OutboxMessage.filter(id__in=list(message_ids), status=OutboxStatus.PENDING)
    return await _hand_over(messages, queue, from_status=OutboxStatus.PENDING)


async def relay(queue: Enqueuer, *, older_than_s: float, limit: int = 500) -> int:
    """Hand over rows flush() missed, and re-queue rows whose job or worker was lost."""
    now = datetime.now(UTC)
    pending = (
        await OutboxMessage.filter(
            status=OutboxStatus.PENDING, created_at__lt=now - timedelta(seconds=older_than_s)
        )
        .order_by("id")
        .limit(limit)
    )
    handed = await _hand_over(pending, queue, from_status=OutboxStatus.PENDING)
    lost = (
        await OutboxMessage.filter(
            Q(status__in=[OutboxStatus.ENQUEUED, OutboxStatus.RUNNING]),
            Q(leased_at__lt=now - timedelta(seconds=LEASE_S)) | Q(leased_at=None),
        )
        .order_by("id")
        .limit(limit)
    )
    return handed + await _requeue_lost(lost, queue)


async def _hand_over(
    messages: Iterable[OutboxMessage], queue: Enqueuer, *, from_status: OutboxStatus
) -> int:
    handed = 0
    for message in messages:
        try:
            async with asyncio.timeout(ENQUEUE_TIMEOUT_S):
                await queue.enqueue_job(message.task, message.id, _job_id=job_id(message))
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning(
                "outbox %d (%s): enqueue failed (%s); the relay will retry",
                message.id,
                message.task,
                type(exc).__name__,
            )
            return handed
        now = datetime.now(UTC)
        await OutboxMessage.filter(id=message.id, status=from_status).update(
            status=OutboxStatus.ENQUEUED, enqueued_at=now, leased_at=now
        )
        handed += 1
    return handed


async def _requeue_lost(messages: Iterable[OutboxMessage], queue: Enqueuer) -> int:
    requeued = 0
    for message in messages:
        if message.status is OutboxStatus.RUNNING and not TaskName(message.task).repeatable:
            # Cut short mid-call to WeChat: acting again could act twice.
            await OutboxMessage.filter(id=message.id, status=OutboxStatus.RUNNING).update(
                status=OutboxStatus.FAILED, last_error="interrupted; not repeated"
            )
            continue
        # Counted as an attempt, which also gives the re-queued job a fresh id.
        await OutboxMessage.filter(id=message.id, status=message.status).update(
            status=OutboxStatus.PENDING, attempts=F("attempts") + 1
        )
        message.attempts += 1
        requeued += await _hand_over([message], queue, from_status=OutboxStatus.PENDING)
    if requeued:
        log.warning("re-queued %d outbox row(s) whose job or worker was lost", requeued)
    return requeued


async def claim(message_id: int) -> OutboxMessage | None:
    """Take the row for one attempt (pending/enqueued → running), or None.

    None means someone else has it or it is finished. Claiming is one atomic update, so two
    workers never both act.
    """
    claimed = await OutboxMessage.filter(
        id=message_id, status__in=[OutboxStatus.PENDING, OutboxStatus.ENQUEUED]
    ).update(status=OutboxStatus.RUNNING, leased_at=datetime.now(UTC))
    return await OutboxMessage.get(id=message_id) if claimed else None


async def finish(message_id: int, outcome: str | None = None) -> None:
    """The claimed row's effect is done; `outcome` is what the task reported (kept on the row)."""
    await OutboxMessage.filter(id=message_id, status=OutboxStatus.RUNNING).update(
        status=OutboxStatus.DONE,
        attempts=F("attempts") + 1,
        done_at=datetime.now(UTC),
        last_error=None,
        outcome=None if outcome is None else outcome[:64],
    )


async def release(message_id: int, error: str, *, retry: bool) -> None:
    """The claimed attempt failed: back to enqueued for another attempt, or failed for good."""
    await OutboxMessage.filter(id=message_id, status=OutboxStatus.RUNNING).update(
        status=OutboxStatus.ENQUEUED if retry else OutboxStatus.FAILED,
        attempts=F("attempts") + 1,
        last_error=error[:2000],
        leased_at=datetime.now(UTC),
    )


async def replay(message_ids: Sequence[int], queue: Enqueuer | None) -> int:
    """An operator's replay: failed rows become pending again (and are handed over)."""
    reset = await OutboxMessage.filter(id__in=list(message_ids), status=OutboxStatus.FAILED).update(
        status=OutboxStatus.PENDING, last_error=None
    )
    if queue is not None:
        await flush(message_ids, queue)
    return reset
