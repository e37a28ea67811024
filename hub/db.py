"""The database: tortoise configuration, the connection lifecycle and migrations.

SQLite is the embedded default, PostgreSQL the production database; one migration tree
(`hub/migrations`, tortoise's built-in migrations) serves both.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tortoise.backends.base.client import BaseDBAsyncClient, TransactionalDBClient
from tortoise.connection import get_connection
from tortoise.context import TortoiseContext, get_current_context
from tortoise.migrations.autodetector import MigrationAutodetector
from tortoise.migrations.executor import MigrationExecutor, MigrationTarget
from tortoise.migrations.writer import MigrationWriter, format_migration_name
from tortoise.transactions import in_transaction

from hub.models import MODEL_MODULES
from hub.settings import Settings

APP_LABEL = "hub"
MIGRATIONS_MODULE = "hub.migrations"
CONNECTION = "default"

log = logging.getLogger(__name__)


def apps_config() -> dict[str, dict[str, Any]]:
    return {
        APP_LABEL: {
            "models": MODEL_MODULES,
            "migrations": MIGRATIONS_MODULE,
            "default_connection": CONNECTION,
        }
    }


def tortoise_config(settings: Settings) -> dict[str, Any]:
    """The tortoise configuration for these settings (UTC, timezone-aware datetimes)."""
    return {
        "connections": {CONNECTION: _connection_url(settings)},
        "apps": apps_config(),
        "use_tz": True,
        "timezone": "UTC",
    }


def is_postgres(settings: Settings) -> bool:
    return settings.database_url.startswith(("postgres://", "postgresql://"))


def _connection_url(settings: Settings) -> str:
    url = settings.database_url
    if not is_postgres(settings):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return url
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.setdefault("maxsize", str(settings.database.pool_max_size))
    return urlunsplit(parts._replace(scheme="postgres", query=urlencode(query)))


@asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[None]:
    """Open the ORM for the current task and the tasks it starts; close it on exit.

    Re-entrant: when this context already has an open ORM (the CLI opened it, or a test
    fixture did), it is used as it is and left open.
    """
    current = get_current_context()
    if current is not None and current.inited:
        yield
        return
    async with TortoiseContext() as context:
        await context.init(config=tortoise_config(settings))
        yield


def connection() -> BaseDBAsyncClient:
    return get_connection(CONNECTION)


def atomic() -> AbstractAsyncContextManager[object]:
    """A transaction, or — when the caller already runs in one — simply that transaction.

    Services use it so that they are atomic on their own and cheap inside a caller's
    transaction: a nested in_transaction() costs a SAVEPOINT and a RELEASE round trip. Where
    a failure must be caught without aborting the caller's transaction (an IntegrityError on
    PostgreSQL), use in_transaction() for its savepoint.
    """
    if isinstance(connection(), TransactionalDBClient):
        return nullcontext()
    return in_transaction(CONNECTION)


async def ping(timeout_s: float) -> None:
    """Run one trivial query.

    Raises:
        TimeoutError: the database did not answer within `timeout_s`.
        Exception: whatever the driver raises when the database is unreachable.
    """
    async with asyncio.timeout(timeout_s):
        await connection().execute_query("SELECT 1")


async def migrate(
    target: str | None = None,
    *,
    backward: bool = False,
    progress: Callable[[str, str, str], object] | None = None,
) -> None:
    """Apply (or with `backward`, unapply down to `target`) the migrations in an open database.

    `target` is a migration name; None means the latest, or with `backward` all of them (an
    empty schema). Backward to a named migration keeps that migration applied.

    Raises:
        ValueError: `target` names no migration.
    """
    executor = MigrationExecutor(connection(), apps_config())
    default = "__first__" if backward else "__latest__"
    await executor.migrate(
        [MigrationTarget(APP_LABEL, target or default)],
        direction="backward" if backward else "forward",
        progress=progress,
    )


async def applied_migrations() -> list[str]:
    executor = MigrationExecutor(connection(), apps_config())
    return [key.name for key in await executor.recorder.applied_migrations()]


async def unapplied_migrations() -> list[str]:
    """Names of the migrations in the tree that the database has not applied, in order."""
    executor = MigrationExecutor(connection(), apps_config())
    return [step.migration.name for step in await executor.plan() if not step.backward]


async def pending_model_changes() -> list[MigrationWriter]:
    """Migrations that would have to be written for the migration tree to match the models."""
    context = get_current_context()
    if context is None or context.apps is None:
        raise RuntimeError("open_database() first")
    return await MigrationAutodetector(context.apps, apps_config()).changes()


async def make_migrations(name: str | None = None) -> list[str]:
    """Write migration files for model changes; returns the written paths."""
    writers = await pending_model_changes()
    paths = []
    for writer in writers:
        if name:
            number = int(writer.name.split("_", 1)[0])
            writer.name = format_migration_name(number, name)
        paths.append(str(writer.write()))
    return paths
