"""Liveness, readiness and metrics endpoints for load balancers and Prometheus."""

import asyncio
import logging
import time

from aiohttp import web

from hub import db, worker_presence
from hub.keys import metrics_key, redis_key, settings_key

log = logging.getLogger(__name__)

# Readiness must answer quickly even when a dependency hangs.
_PROBE_TIMEOUT_S = 1.0


async def healthz(_request: web.Request) -> web.Response:
    """The process is alive and serving HTTP."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """200 when the database and Redis answer; 503 naming the failing part otherwise."""
    checks = {"database": await _probe_database(), "redis": await _probe_redis(request.app)}
    ready = all(result == "ok" for result in checks.values())
    body: dict[str, object] = {"status": "ready" if ready else "unavailable", "checks": checks}
    if checks["redis"] == "ok":
        interval = request.app[settings_key].worker.heartbeat_interval_s
        body["live_workers"] = await worker_presence.count_live(
            request.app[redis_key], time.time(), interval
        )
    return web.json_response(body, status=200 if ready else 503)


async def _probe_database() -> str:
    try:
        await db.ping(_PROBE_TIMEOUT_S)
    # A readiness probe reports any failure of its dependency instead of raising it.
    except Exception as exc:  # noqa: BLE001
        log.warning("readiness: database unavailable: %s", type(exc).__name__)
        return f"unavailable: {type(exc).__name__}"
    return "ok"


async def _probe_redis(app: web.Application) -> str:
    try:
        async with asyncio.timeout(_PROBE_TIMEOUT_S):
            await app[redis_key].ping()
    except Exception as exc:  # noqa: BLE001 - as above
        log.warning("readiness: redis unavailable: %s", type(exc).__name__)
        return f"unavailable: {type(exc).__name__}"
    return "ok"


async def metrics(request: web.Request) -> web.Response:
    registry = request.app[metrics_key]
    return web.Response(body=registry.render(), headers={"Content-Type": registry.content_type})
