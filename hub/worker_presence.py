"""Which worker processes are alive: each announces itself in a Redis sorted set.

Scores are the time of each worker's last announcement; a worker is live while its last
announcement is younger than three heartbeat intervals.
"""

from redis.asyncio import Redis

PRESENCE_KEY = "wxhub:workers"
# Missing two heartbeats in a row can be a slow moment; missing three means gone.
_LIVE_HEARTBEATS = 3


def live_window_s(heartbeat_interval_s: float) -> float:
    return heartbeat_interval_s * _LIVE_HEARTBEATS


async def announce(redis: Redis, worker_id: str, now: float) -> None:
    await redis.zadd(PRESENCE_KEY, {worker_id: now})


async def withdraw(redis: Redis, worker_id: str) -> None:
    await redis.zrem(PRESENCE_KEY, worker_id)


async def count_live(redis: Redis, now: float, heartbeat_interval_s: float) -> int:
    return int(await redis.zcount(PRESENCE_KEY, now - live_window_s(heartbeat_interval_s), "+inf"))


async def prune(redis: Redis, now: float, heartbeat_interval_s: float) -> int:
    """Forget workers that stopped announcing (crashed); returns how many."""
    cutoff = now - live_window_s(heartbeat_interval_s)
    return int(await redis.zremrangebyscore(PRESENCE_KEY, "-inf", f"({cutoff}"))
