"""Handing outbox rows to the queue when flush() could not, and carrying one row out."""

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from arq.worker import Retry

from hub import outbox
from hub.errors import DeliveryError
from hub.models.outbox import OutboxMessage
from workers.context import WorkerDeps, deps

log = logging.getLogger(__name__)

# Rows older than this and still pending missed their flush (crash, Redis away).
_STALE_AFTER_S = 30.0
# Retries of a follow-up that failed for a passing reason: 5 s, 30 s, 2 min, 10 min, 30 min.
RETRY_DELAYS_S = (5, 30, 120, 600, 1800)
MAX_TRIES = len(RETRY_DELAYS_S) + 1

Effect = Callable[[WorkerDeps, OutboxMessage], Awaitable[str]]


async def relay_outbox(ctx: dict[str, Any]) -> int:
    """Cron: hand pending rows that were never handed over to the queue."""
    handed = await outbox.relay(deps(ctx).redis, older_than_s=_STALE_AFTER_S)
    if handed:
        log.info("relayed %d pending outbox row(s)", handed)
    return handed


async def carry_out(ctx: dict[str, Any], outbox_id: int, effect: Effect) -> str:
    """Claim the row, act, and record the result; retry passing failures with back-off.

    Raises:
        Retry: a retryable failure with tries left (arq runs the job again after the delay).
    """
    message = await outbox.claim(outbox_id)
    if message is None:
        return "not_claimed"  # done already, or another worker has it
    try:
        outcome = await effect(deps(ctx), message)
    except DeliveryError as exc:
        try_number = int(ctx.get("job_try", 1))
        retry = exc.retryable and try_number < MAX_TRIES
        await outbox.release(outbox_id, str(exc), retry=retry)
        if retry:
            raise Retry(defer=RETRY_DELAYS_S[try_number - 1]) from exc
        log.warning("outbox %d (%s) failed for good: %s", outbox_id, message.task, exc)
        return "failed"
    except Exception as exc:
        # The worker boundary: an unexpected failure is kept on the row for an operator.
        await outbox.release(outbox_id, f"{type(exc).__name__}: {exc}", retry=False)
        raise
    await outbox.finish(outbox_id)
    return outcome
