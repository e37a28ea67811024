"""The migration tree builds the schema on empty SQLite and PostgreSQL, rolls back, re-applies,
and matches the models exactly."""

import uuid
from pathlib import Path

import pytest
from tortoise.context import get_current_context

from hub import db
from hub.models import MODEL_MODULES
from hub.settings import Settings
from tests.conftest import BACKENDS, create_postgres_database, make_settings


@pytest.fixture(params=BACKENDS)
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "postgres":
        base = request.getfixturevalue("postgres_url")
        url = await create_postgres_database(base, f"wxhub_mig_{uuid.uuid4().hex[:8]}")
    else:
        url = f"sqlite://{tmp_path / 'empty.sqlite3'}"
    return make_settings(tmp_path, url)


async def tables(settings: Settings) -> set[str]:
    if db.is_postgres(settings):
        query = "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'"
    else:
        query = "SELECT name FROM sqlite_master WHERE type = 'table'"
    return {row["name"] for row in await db.connection().execute_query_dict(query)}


def model_tables() -> set[str]:
    context = get_current_context()
    assert context is not None
    assert context.apps is not None
    return {model._meta.db_table for model in context.apps.get_models_iterable()}


async def test_migrations_apply_roll_back_reapply_and_match_models(
    empty_database: Settings,
) -> None:
    async with db.open_database(empty_database):
        expected = model_tables()
        assert len(expected) >= len(MODEL_MODULES)
        tree = await db.unapplied_migrations()
        assert tree[0] == "0001_initial"
        assert tree == sorted(tree)

        await db.migrate()
        assert expected <= await tables(empty_database)
        assert await db.unapplied_migrations() == []
        assert await db.applied_migrations() == tree
        assert await db.pending_model_changes() == []

        await db.migrate(backward=True)
        assert not expected & await tables(empty_database)
        assert await db.applied_migrations() == []

        await db.migrate()
        assert expected <= await tables(empty_database)
        assert await db.unapplied_migrations() == []


async def test_unknown_migration_target_is_refused(empty_database: Settings) -> None:
    async with db.open_database(empty_database):
        with pytest.raises(ValueError, match="9999_nope"):
            await db.migrate("9999_nope")
