"""Retrying and replaying stored callbacks (the inline attempt happens in the web process)."""

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.expressions import Q

from hub.callbacks import pipeline
from hub.errors import RetryLaterError
from hub.models.inbox import InboxCallback, InboxStatus
from hub.queue import TaskName
from hub.routes import event_table
from workers.context import deps

log = logging.getLogger(__name__)

# A row still pending this long after it arrived was never processed (its process crashed).
_STUCK_AFTER_S = 60


async def process_callback(ctx: dict[str, Any], inbox_id: int) -> str | None:
    """Process one stored callback; a failure schedules the next attempt."""
    worker = deps(ctx)
    try:
        result = await pipeline.process(inbox_id, worker.vault, worker.redis, event_table())
    except LookupError:
        log.warning("inbox %d does not exist", inbox_id)
        return None
    except RetryLaterError as exc:
        log.info("inbox %d still waits: %s", inbox_id, exc)
        delay = await pipeline.fail(inbox_id, exc, worker.redis)
        return "waiting" if delay is not None else "failed_for_good"
    except Exception as exc:
        log.exception("inbox %d failed again", inbox_id, extra={"inbox_id": inbox_id})
        delay = await pipeline.fail(inbox_id, exc, worker.redis)
        return "failed" if delay is not None else "failed_for_good"
    return result.outcome


async def retry_callbacks(ctx: dict[str, Any]) -> int:
    """Cron: queue callbacks whose next attempt is due but whose job went missing."""
    now = datetime.now(UTC)
    due = (
        await InboxCallback.filter(
            Q(status=InboxStatus.FAILED, next_attempt_at__lte=now)
            | Q(status=InboxStatus.PENDING, received_at__lt=now - timedelta(seconds=_STUCK_AFTER_S))
        )
        .order_by("id")
        .limit(500)
    )
    redis = deps(ctx).redis
    for row in due:
        # The job id of this attempt: if the job is still queued, arq adds nothing.
        await redis.enqueue_job(
            TaskName.PROCESS_CALLBACK.value,
            row.id,
            _job_id=pipeline.retry_job_id(row.id, row.attempts),
        )
    return len(due)
