"""Housekeeping that keeps the shared Redis state bounded."""

import logging
import time
from typing import Any

from hub import worker_presence
from workers.context import deps

log = logging.getLogger(__name__)


async def prune_worker_presence(ctx: dict[str, Any]) -> int:
    """Forget workers that stopped announcing themselves (crashed or killed)."""
    worker = deps(ctx)
    pruned = await worker_presence.prune(
        worker.redis, time.time(), worker.settings.worker.heartbeat_interval_s
    )
    if pruned:
        log.info("forgot %d worker(s) that stopped announcing themselves", pruned)
    return pruned
