"""Handing outbox rows to the queue when flush() could not, and carrying one row out."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from arq.worker import Retry

from hub import outbox
from hub.errors import DeliveryError
from hub.models.outbox import OutboxMessage
from workers.context import WorkerDeps, deps

log = logging.getLogger(__name__)

# Rows still pending this long after their commit missed their flush (crash, Redis away).
_STALE_AFTER_S = 5.0
# Retries of a follow-up that failed for a passing reason: 5 s, 30 s, 2 min, 10 min, 30 min.
RETRY_DELAYS_S = (5, 30, 120, 600, 1800)
MAX_TRIES = len(RETRY_DELAYS_S) + 1

Effect = Callable[[WorkerDeps, OutboxMessage], Awaitable[str]]


async def relay_outbox(ctx: dict[str, Any]) -> int:
    """Cron: hand over rows never handed to the queue, and re-queue rows whose job was lost."""
    handed = await outbox.relay(deps(ctx).redis, older_than_s=_STALE_AFTER_S)
    if handed:
        log.info("relayed %d outbox row(s)", handed)
    return handed


async def carry_out(
    ctx: dict[str, Any], outbox_id: int, effect: Effect, *, max_tries: int = MAX_TRIES
) -> str:
    """Claim the row, act, and record the result; retry failures with back-off.

    A DeliveryError that is not retryable fails the row at once. Anything else — a retryable
    DeliveryError, a database or Redis hiccup, a bug — is retried until the task's `max_tries`
    (which must match its arq registration), then the row fails and waits for an operator.

    Raises:
        Retry: tries are left (arq runs the job again after the delay).
    """
    message = await outbox.claim(outbox_id)
    if message is None:
        return "not_claimed"  # done already, or another worker has it
    try:
        outcome = await effect(deps(ctx), message)
    except (asyncio.CancelledError, TimeoutError):
        # Stopped (shutdown, job timeout): give the row back before going away.
        await asyncio.shield(outbox.release(outbox_id, "interrupted", retry=True))
        raise
    # The worker boundary: every failure is kept on the row, retried or left for a person.
    except Exception as exc:
        try_number = int(ctx.get("job_try", 1))
        permanent = isinstance(exc, DeliveryError) and not exc.retryable
        retry = not permanent and try_number < max_tries
        await outbox.release(outbox_id, f"{type(exc).__name__}: {exc}", retry=retry)
        if retry:
            raise Retry(defer=RETRY_DELAYS_S[min(try_number, len(RETRY_DELAYS_S)) - 1]) from exc
        log.warning("outbox %d (%s) failed for good: %s", outbox_id, message.task, exc)
        return "failed"
    await outbox.finish(outbox_id, outcome)
    return outcome
