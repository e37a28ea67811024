"""Liveness, readiness and metrics through HTTP, against real databases and Redis."""

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient

from hub.app import create_app
from hub.db import open_database
from tests.conftest import make_settings
from tests.servers import RedisServer

Client = TestClient[web.Request, web.Application]


async def test_healthz_answers_ok(client: Client) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_readyz_is_ready_when_database_and_redis_answer(client: Client) -> None:
    response = await client.get("/readyz")
    body = await response.json()
    assert response.status == 200
    assert body["status"] == "ready"
    assert body["checks"] == {"database": "ok", "redis": "ok"}
    assert body["live_workers"] == 0


async def test_readyz_is_503_naming_redis_when_redis_stops(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
    redis_server: RedisServer,
    migrated_database: Callable[[str], str],
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path, migrated_database("sqlite"), redis_server.url)
    async with open_database(settings):
        client = await aiohttp_client(create_app(settings))
        assert (await client.get("/readyz")).status == 200

        redis_server.stop()
        response = await client.get("/readyz")

        body = await response.json()
        assert response.status == 503
        assert body["status"] == "unavailable"
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["redis"].startswith("unavailable")
        assert "live_workers" not in body
