"""How an outbox task's attempt ends: done, retried, failed for good, or given back."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from arq.connections import ArqRedis
from arq.worker import Retry

from hub.accounts import Accounts
from hub.errors import DeliveryError
from hub.models.outbox import OutboxMessage, OutboxStatus
from hub.settings import Settings
from hub.vault import load_vault
from hub.wechat.api import WeChatHttp, wechat_session
from hub.wechat.tokens import TokenBroker
from workers.context import WorkerDeps
from workers.outbox_relay import MAX_TRIES, Effect, carry_out


@pytest.fixture
async def ctx(db: None, settings: Settings, queue: ArqRedis) -> AsyncIterator[dict[str, Any]]:
    vault = load_vault(settings)
    async with wechat_session() as session:
        accounts = Accounts(
            vault,
            WeChatHttp(session, settings.wechat),
            TokenBroker(queue, vault),
            push_windows=settings.callbacks,
        )
        yield {"deps": WorkerDeps(settings, vault, queue, accounts, "test-worker"), "job_try": 1}


@pytest.fixture
async def row() -> OutboxMessage:
    return await OutboxMessage.create(
        task="sync_channels_order", key="k", payload={}, status=OutboxStatus.ENQUEUED
    )


def failing(error: BaseException) -> Effect:
    async def effect(_worker: WorkerDeps, _message: OutboxMessage) -> str:
        raise error

    return effect


async def test_success_marks_the_row_done(ctx: dict[str, Any], row: OutboxMessage) -> None:
    async def effect(_worker: WorkerDeps, _message: OutboxMessage) -> str:
        return "synced"

    assert await carry_out(ctx, row.id, effect) == "synced"
    assert await carry_out(ctx, row.id, effect) == "not_claimed"
    done = await OutboxMessage.get(id=row.id)
    assert (done.status, done.attempts) == (OutboxStatus.DONE, 1)


@pytest.mark.parametrize(
    "error", [DeliveryError("WeChat busy", retryable=True), ConnectionResetError("db gone")]
)
async def test_a_passing_failure_is_retried_with_back_off(
    ctx: dict[str, Any], row: OutboxMessage, error: Exception
) -> None:
    with pytest.raises(Retry) as retry:
        await carry_out(ctx, row.id, failing(error))

    assert retry.value.defer_score == 5_000
    again = await OutboxMessage.get(id=row.id)
    assert (again.status, again.attempts) == (OutboxStatus.ENQUEUED, 1)


async def test_the_last_try_fails_the_row_for_an_operator(
    ctx: dict[str, Any], row: OutboxMessage
) -> None:
    ctx["job_try"] = MAX_TRIES

    outcome = await carry_out(ctx, row.id, failing(RuntimeError("still broken")))

    assert outcome == "failed"
    failed = await OutboxMessage.get(id=row.id)
    assert failed.status is OutboxStatus.FAILED
    assert failed.last_error == "RuntimeError: still broken"


async def test_a_refusal_fails_at_once(ctx: dict[str, Any], row: OutboxMessage) -> None:
    refused = DeliveryError("41051 already welcomed", retryable=False)

    assert await carry_out(ctx, row.id, failing(refused)) == "failed"
    assert (await OutboxMessage.get(id=row.id)).status is OutboxStatus.FAILED


async def test_a_task_stopped_mid_way_gives_its_row_back(
    ctx: dict[str, Any], row: OutboxMessage
) -> None:
    with pytest.raises(asyncio.CancelledError):
        await carry_out(ctx, row.id, failing(asyncio.CancelledError()))

    again = await OutboxMessage.get(id=row.id)
    assert (again.status, again.last_error) == (OutboxStatus.ENQUEUED, "interrupted")
