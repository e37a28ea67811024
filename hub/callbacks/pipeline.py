"""Processing a stored callback: exactly once, inline and from the process_callback job.

process() locks the inbox row in a new transaction, runs the one handler for its event type,
and marks the row done in that same transaction — so either the handler's effects and the
"done" both commit, or neither does and the row can be tried again. Follow-ups the handler
adds to the outbox are handed to the queue after the commit.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from hub import outbox
from hub.callbacks.envelope import Envelope
from hub.callbacks.inbox import envelope_of
from hub.models.inbox import CallbackSource, InboxCallback, InboxStatus
from hub.queue import TaskName
from hub.vault import Vault

log = logging.getLogger(__name__)

# A handler turns an envelope into one domain service call and returns its outcome code.
EventHandler = Callable[[Envelope], Awaitable[str]]

# Retries of a failing callback by the worker: 10 s, 30 s, 1 min, 5 min, 15 min, 1 h, 3 h, 6 h,
# 12 h — about a day, like WeChat's own schedule. After the last, the row stays failed.
RETRY_DELAYS_S = (10, 30, 60, 300, 900, 3600, 10800, 21600, 43200)
MAX_ATTEMPTS = len(RETRY_DELAYS_S) + 1
# Handing a job to Redis takes milliseconds; a hung Redis must not hold WeChat's answer.
ENQUEUE_TIMEOUT_S = 1.0


class EventTable:
    """Which handler processes which (source, event type); filled by handlers/ on import."""

    def __init__(self) -> None:
        self._handlers: dict[tuple[CallbackSource, str], EventHandler] = {}

    def on(
        self, source: CallbackSource, *event_types: str
    ) -> Callable[[EventHandler], EventHandler]:
        def register(handler: EventHandler) -> EventHandler:
            for event_type in event_types:
                key = (source, event_type)
                if key in self._handlers:
                    raise ValueError(f"two handlers for {source.value} {event_type}")
                self._handlers[key] = handler
            return handler

        return register

    def handler_for(self, source: CallbackSource, event_type: str) -> EventHandler | None:
        return self._handlers.get((source, event_type))


# The one table of the process: handlers/ modules register into it when hub.routes imports them.
EVENTS = EventTable()


@dataclass(frozen=True)
class Processed:
    status: InboxStatus
    outcome: str | None


async def process(
    inbox_id: int,
    vault: Vault,
    queue: outbox.Enqueuer | None,
    events: EventTable = EVENTS,
    *,
    envelope: Envelope | None = None,
) -> Processed:
    """Process one stored callback once; a done or ignored row is left as it is.

    `envelope` is the callback as just stored (the inline path), saving a read and decrypt of
    the payload. Follow-ups are handed to `queue` after the commit; without a queue they wait
    for the relay_outbox cron.

    Raises:
        LookupError: no inbox row with this id.
        Exception: whatever the handler raised (nothing it did is committed).
    """
    async with outbox.collecting() as added, in_transaction():
        row = await _lock(inbox_id, load_payload=envelope is None)
        if row.status in {InboxStatus.DONE, InboxStatus.IGNORED}:
            return Processed(row.status, row.outcome)
        handler = events.handler_for(row.source, row.event_type)
        if handler is None:
            status, outcome = InboxStatus.IGNORED, "ignored"
        else:
            status = InboxStatus.DONE
            outcome = (await handler(envelope or envelope_of(row, vault)))[:64]
        await InboxCallback.filter(id=inbox_id).update(
            status=status,
            outcome=outcome,
            attempts=F("attempts") + 1,
            last_error=None,
            processed_at=datetime.now(UTC),
        )
    if queue is not None:
        await outbox.flush(added, queue)
    return Processed(status, outcome)


async def _lock(inbox_id: int, *, load_payload: bool) -> InboxCallback:
    columns = ["id", "status", "outcome", "source", "event_type"]
    if load_payload:
        columns += ["account", "brand_id", "event_key", "occurred_at", "payload_sealed"]
    row = await InboxCallback.select_for_update().filter(id=inbox_id).only(*columns).first()
    if row is None:
        raise LookupError(f"no inbox row {inbox_id}")
    return row


@dataclass(frozen=True)
class Failure:
    attempts: int
    # Seconds until the next attempt; None when none is left (the row stays failed).
    retry_in_s: int | None


async def record_failure(inbox_id: int, error: BaseException) -> Failure | None:
    """Note a failed attempt and when the next one is due, in one transaction.

    The due time is on the row, so the retry_callbacks cron re-queues the attempt even if its
    job is lost; after the last attempt it is cleared, so the row is left for an operator.
    Returns None when the row is done, ignored or gone.
    """
    async with in_transaction():
        row = await InboxCallback.select_for_update().get_or_none(id=inbox_id)
        if row is None or row.status in {InboxStatus.DONE, InboxStatus.IGNORED}:
            return None
        row.status = InboxStatus.FAILED
        row.attempts += 1
        row.last_error = f"{type(error).__name__}: {error}"[:2000]
        delay = retry_delay_s(row.attempts)
        row.next_attempt_at = (
            None if delay is None else datetime.now(UTC) + timedelta(seconds=delay)
        )
        await row.save(update_fields=["status", "attempts", "last_error", "next_attempt_at"])
        return Failure(row.attempts, delay)


async def fail(inbox_id: int, error: BaseException, queue: outbox.Enqueuer) -> int | None:
    """Record a failed attempt and queue the next one; returns its delay (None: no more).

    If queueing fails (Redis away), the retry_callbacks cron finds the row when it is due.
    """
    failure = await record_failure(inbox_id, error)
    if failure is None or failure.retry_in_s is None:
        return None
    async with asyncio.timeout(ENQUEUE_TIMEOUT_S):
        await queue.enqueue_job(
            TaskName.PROCESS_CALLBACK.value,
            inbox_id,
            _job_id=retry_job_id(inbox_id, failure.attempts),
            _defer_by=failure.retry_in_s,
        )
    return failure.retry_in_s


def retry_job_id(inbox_id: int, attempts: int) -> str:
    # One job per attempt: arq keeps a finished job's id for a while, so reusing one id would
    # silently drop the next attempt.
    return f"callback:{inbox_id}:{attempts}"


def retry_delay_s(attempts: int) -> int | None:
    """How long to wait before the next attempt, or None when there is none left."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return RETRY_DELAYS_S[max(0, attempts - 1)]
