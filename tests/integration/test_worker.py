"""The worker announces itself while it runs and prunes workers that stopped announcing."""

import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.test_utils import TestClient
from arq.worker import Worker
from redis.asyncio import Redis

from hub import worker_presence
from hub.settings import Settings

Client = TestClient[web.Request, web.Application]


async def test_worker_announces_itself_and_withdraws_on_stop(
    run_worker: Callable[[], Awaitable[Worker]], redis: Redis, settings: Settings
) -> None:
    worker = await run_worker()

    assert worker.jobs_complete >= 1  # the startup prune ran
    assert await redis.zcard(worker_presence.PRESENCE_KEY) == 0


async def test_prune_forgets_only_workers_that_went_quiet(
    run_worker: Callable[[], Awaitable[Worker]], redis: Redis, settings: Settings
) -> None:
    now = time.time()
    interval = settings.worker.heartbeat_interval_s
    await worker_presence.announce(redis, "crashed-long-ago", now - 10 * interval)
    await worker_presence.announce(redis, "still-beating", now - interval)

    await run_worker()

    members = await redis.zrange(worker_presence.PRESENCE_KEY, 0, -1)
    assert members == [b"still-beating"]


async def test_readyz_counts_live_workers(client: Client, redis: Redis, settings: Settings) -> None:
    now = time.time()
    interval = settings.worker.heartbeat_interval_s
    await worker_presence.announce(redis, "a", now)
    await worker_presence.announce(redis, "b", now - interval)
    await worker_presence.announce(redis, "gone", now - 4 * interval)

    body = await (await client.get("/readyz")).json()

    assert body["live_workers"] == 2
