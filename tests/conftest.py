"""Shared fixtures: real servers, settings, a clean database per test on SQLite and PostgreSQL."""

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from arq.connections import ArqRedis
from arq.worker import Worker
from redis.asyncio import Redis
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.context import get_current_context

from hub import db as hub_db
from hub.app import create_app
from hub.queue import create_queue_pool
from hub.services.programme import forget_programmes
from hub.settings import Settings, load_settings
from tests.servers import PostgresServer, RedisServer
from workers.settings import build_worker

BACKENDS = ("sqlite", "postgres")


def make_settings(
    data_dir: Path, database_url: str = "", redis_url: str = "", **overrides: Any
) -> Settings:
    """Settings as the test environment has them, with the given URLs; no process env read."""
    base: dict[str, Any] = {
        "data_dir": str(data_dir),
        "database": {"url": database_url},
        "redis": {"url": redis_url},
    }
    return load_settings(environ={"WXHUB_ENV": "test"}, **(base | overrides))


# -- servers ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """Base URL (no database) of a PostgreSQL server for the whole session."""
    if url := os.environ.get("WXHUB_TEST_POSTGRES_URL"):
        yield url.rstrip("/")
        return
    server = PostgresServer()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    if url := os.environ.get("WXHUB_TEST_REDIS_URL"):
        yield url
        return
    server = RedisServer()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A Redis server of the test's own, which the test may stop."""
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def create_postgres_database(base_url: str, name: str) -> str:
    connection = await asyncpg.connect(f"{base_url}/postgres")
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return f"{base_url}/{name}"


@pytest.fixture(autouse=True)
def _fresh_query_cache() -> None:
    """Forget tortoise's cached SQL: it is keyed by connection name and table, not by dialect,
    so SQL built for SQLite would be reused on PostgreSQL (production runs one backend)."""
    EXECUTOR_CACHE.clear()
    # Programmes are cached per process by brand id; every test starts from an empty database.
    forget_programmes()


async def _migrate(settings: Settings) -> None:
    EXECUTOR_CACHE.clear()
    async with hub_db.open_database(settings):
        await hub_db.migrate()


@pytest.fixture(scope="session")
def migrated_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], str]:
    """The URL of a migrated test database per backend, created on first use in the session."""
    urls: dict[str, str] = {}
    root = tmp_path_factory.mktemp("databases")

    def get(backend: str) -> str:
        if backend not in urls:
            if backend == "postgres":
                base = request.getfixturevalue("postgres_url")
                url = asyncio.run(create_postgres_database(base, "wxhub_test"))
            else:
                url = f"sqlite://{root / 'wxhub_test.sqlite3'}"
            asyncio.run(_migrate(make_settings(root, url)))
            urls[backend] = url
        return urls[backend]

    return get


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked sqlite_only skip their PostgreSQL run (deselected, so counted as such)."""
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("backend") == "postgres"
        (dropped if on_postgres and item.get_closest_marker("sqlite_only") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


# -- per test -----------------------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(
    backend: str, migrated_database: Callable[[str], str], redis_url: str, tmp_path: Path
) -> Settings:
    return make_settings(tmp_path / "var", migrated_database(backend), redis_url)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[None]:
    """The ORM open on a migrated database with every table emptied."""
    async with hub_db.open_database(settings):
        await clean_database(settings)
        yield


async def clean_database(settings: Settings) -> None:
    context = get_current_context()
    assert context is not None
    assert context.apps is not None
    tables = [model._meta.db_table for model in context.apps.get_models_iterable()]
    connection = hub_db.connection()
    if hub_db.is_postgres(settings):
        quoted = ", ".join(f'"{table}"' for table in tables)
        await connection.execute_script(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
        return
    statements = ["PRAGMA foreign_keys = OFF"]
    statements += [f'DELETE FROM "{table}"' for table in tables]
    if await connection.execute_query_dict(
        "SELECT name FROM sqlite_master WHERE name = 'sqlite_sequence'"
    ):
        statements.append("DELETE FROM sqlite_sequence")
    statements.append("PRAGMA foreign_keys = ON")
    await connection.execute_script(";\n".join(statements))


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """A client of the session's Redis, emptied for this test."""
    client: Redis = Redis.from_url(redis_url)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def queue(settings: Settings, redis: Redis) -> AsyncIterator[ArqRedis]:
    """The queue as the app and workers see it (arq's pool on the session's Redis)."""
    pool = await create_queue_pool(settings)
    try:
        yield pool
    finally:
        await pool.aclose()


@pytest.fixture
def app(settings: Settings, db: None, redis: Redis) -> web.Application:
    return create_app(settings)


@pytest.fixture
async def client(
    aiohttp_client: Callable[
        [web.Application], Awaitable[TestClient[web.Request, web.Application]]
    ],
    app: web.Application,
) -> TestClient[web.Request, web.Application]:
    return await aiohttp_client(app)


@pytest.fixture
def run_worker(settings: Settings, db: None, redis: Redis) -> Callable[[], Awaitable[Worker]]:
    """Runs a burst-mode worker until the queue is empty; returns it for its counters."""

    async def run() -> Worker:
        worker = build_worker(settings, burst=True)
        try:
            await worker.async_run()
        finally:
            await worker.close()
        return worker

    return run
