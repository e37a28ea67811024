"""A callback whose processing fails is kept, retried by the worker, and takes effect once."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from arq.connections import ArqRedis
from arq.worker import Worker
from redis.asyncio import Redis

from hub import outbox
from hub.callbacks import inbox, pipeline
from hub.callbacks.envelope import Envelope
from hub.models.inbox import CallbackSource, InboxCallback, InboxStatus
from hub.models.member import Member
from hub.models.order import Order, OrderStatus
from hub.models.outbox import OutboxMessage, OutboxStatus
from hub.models.points import PointsEntry
from hub.services import orders, settlement
from hub.services.members import create_member
from hub.settings import Settings
from hub.vault import load_vault
from tests import builders
from tests.builders import MCHID, HubBrand, PayNotice

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def hub(db: None, settings: Settings) -> HubBrand:
    return await builders.create_hub_brand(load_vault(settings))


@pytest.fixture
async def order(hub: HubBrand, settings: Settings) -> Order:
    member = await create_member(hub.brand, load_vault(settings), phone="13800138000")
    return await orders.create_order(
        hub.store, 8_800, mchid=MCHID, appid=builders.APPID, member=member
    )


@pytest.fixture
def failing_once(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Injects one failure into payment settlement (a database hiccup, a bug fixed later)."""
    calls: list[int] = []
    real = settlement.settle_payment

    async def settle(brand_id: int, payment: settlement.PaymentResult) -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("injected failure")
        return await real(brand_id, payment)

    monkeypatch.setattr(settlement, "settle_payment", settle)
    return calls


async def test_failed_processing_is_answered_success_and_retried_once_by_the_worker(
    client: Client,
    order: Order,
    failing_once: list[int],
    redis: Redis,
    run_worker: Callable[[], Awaitable[Worker]],
) -> None:
    headers, body = PayNotice(
        "TRANSACTION.SUCCESS", builders.transaction(order.out_trade_no, 8_800)
    ).request()

    answer = await client.post(f"/callbacks/wechatpay/{MCHID}", data=body, headers=headers)

    assert answer.status == 204  # stored, so WeChat must not resend
    row = await InboxCallback.get()
    assert row.status is InboxStatus.FAILED
    assert row.attempts == 1
    assert row.last_error == "RuntimeError: injected failure"
    assert row.next_attempt_at is not None
    assert await redis.zcard("wxhub:queue") == 1  # the deferred retry

    # Bring the deferred job forward instead of waiting 10 s.
    # (arq reads a score of 0 as "not queued": any time in the past will do.)
    await redis.zadd("wxhub:queue", {f"callback:{row.id}:1": 1})
    await run_worker()

    row = await InboxCallback.get(id=row.id)
    assert row.status is InboxStatus.DONE
    assert row.outcome == "paid"
    await order.refresh_from_db()
    assert order.status is OrderStatus.PAID
    assert await PointsEntry.all().count() == 1
    assert (await Member.get(id=order.member_id)).points_balance == 88


async def test_replaying_a_done_callback_changes_nothing(
    client: Client, order: Order, settings: Settings, queue: ArqRedis
) -> None:
    headers, body = PayNotice(
        "TRANSACTION.SUCCESS", builders.transaction(order.out_trade_no, 8_800)
    ).request()
    await client.post(f"/callbacks/wechatpay/{MCHID}", data=body, headers=headers)
    row = await InboxCallback.get()

    result = await pipeline.process(row.id, load_vault(settings), queue)

    assert result.status is InboxStatus.DONE
    assert await PointsEntry.all().count() == 1


async def test_retry_cron_requeues_a_due_callback_whose_job_was_lost(
    client: Client,
    order: Order,
    failing_once: list[int],
    redis: Redis,
    run_worker: Callable[[], Awaitable[Worker]],
) -> None:
    headers, body = PayNotice(
        "TRANSACTION.SUCCESS", builders.transaction(order.out_trade_no, 8_800)
    ).request()
    await client.post(f"/callbacks/wechatpay/{MCHID}", data=body, headers=headers)
    await redis.flushdb()  # Redis lost the deferred job
    await InboxCallback.all().update(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))

    await run_worker()  # retry_callbacks runs at start-up, then the job it queued

    row = await InboxCallback.get()
    assert row.status is InboxStatus.DONE
    assert await PointsEntry.all().count() == 1


async def test_a_callback_failing_every_time_stops_after_its_last_attempt(
    hub: HubBrand,
    order: Order,
    settings: Settings,
    queue: ArqRedis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def always_fails(*_args: Any) -> str:
        raise RuntimeError("still broken")

    monkeypatch.setattr(settlement, "settle_payment", always_fails)
    vault = load_vault(settings)
    recorded = await inbox.record(
        Envelope(
            source=CallbackSource.WECHAT_PAY,
            account=MCHID,
            brand_id=hub.brand.id,
            event_type="TRANSACTION.SUCCESS",
            event_key="T1",
            occurred_at=datetime.now(UTC),
            payload={"resource": builders.transaction(order.out_trade_no, 8_800)},
        ),
        vault,
    )
    delays = []
    for _ in range(pipeline.MAX_ATTEMPTS):
        with pytest.raises(RuntimeError, match="still broken"):
            await pipeline.process(recorded.inbox_id, vault, queue)
        delays.append(await pipeline.fail(recorded.inbox_id, RuntimeError("still broken"), queue))

    row = await InboxCallback.get(id=recorded.inbox_id)
    assert delays[:3] == [10, 30, 60]
    assert delays[-1] is None
    assert row.status is InboxStatus.FAILED
    assert row.attempts == pipeline.MAX_ATTEMPTS
    await order.refresh_from_db()
    assert order.status is OrderStatus.CREATED


async def test_outbox_relay_hands_over_rows_that_were_never_flushed(
    hub: HubBrand, queue: ArqRedis
) -> None:
    stale = await OutboxMessage.create(
        task="sync_channels_order", key="k1", payload={"channels_order_id": 999}
    )
    fresh = await OutboxMessage.create(task="sync_channels_order", key="k2", payload={})
    await OutboxMessage.filter(id=stale.id).update(
        created_at=datetime.now(UTC) - timedelta(minutes=5)
    )

    assert await outbox.relay(queue, older_than_s=5) == 1

    assert (await OutboxMessage.get(id=stale.id)).status is OutboxStatus.ENQUEUED
    assert (await OutboxMessage.get(id=fresh.id)).status is OutboxStatus.PENDING
    assert await queue.zscore("wxhub:queue", f"outbox:{stale.id}:0") is not None


async def test_outbox_relay_requeues_rows_whose_job_was_lost(
    hub: HubBrand, queue: ArqRedis
) -> None:
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    lost = await OutboxMessage.create(
        task="sync_channels_order",
        key="k1",
        payload={},
        status=OutboxStatus.ENQUEUED,
        leased_at=long_ago,
    )
    interrupted = await OutboxMessage.create(
        task="welcome_contact",
        key="k2",
        payload={},
        status=OutboxStatus.RUNNING,
        leased_at=long_ago,
    )
    recent = await OutboxMessage.create(
        task="sync_channels_order",
        key="k3",
        payload={},
        status=OutboxStatus.ENQUEUED,
        leased_at=datetime.now(UTC),
    )

    await outbox.relay(queue, older_than_s=5)

    requeued = await OutboxMessage.get(id=lost.id)
    assert requeued.status is OutboxStatus.ENQUEUED
    assert requeued.attempts == 1
    assert await queue.zscore("wxhub:queue", f"outbox:{lost.id}:1") is not None
    # A welcome cut short may have been sent: never repeated.
    failed = await OutboxMessage.get(id=interrupted.id)
    assert failed.status is OutboxStatus.FAILED
    assert failed.last_error == "interrupted; not repeated"
    assert (await OutboxMessage.get(id=recent.id)).attempts == 0


async def test_callbacks_past_their_last_attempt_wait_for_an_operator(
    hub: HubBrand,
    order: Order,
    settings: Settings,
    queue: ArqRedis,
    redis: Redis,
    run_worker: Callable[[], Awaitable[Worker]],
) -> None:
    vault = load_vault(settings)
    recorded = await inbox.record(
        Envelope(
            source=CallbackSource.WECHAT_PAY,
            account=MCHID,
            brand_id=hub.brand.id,
            event_type="TRANSACTION.SUCCESS",
            event_key="T9",
            occurred_at=datetime.now(UTC),
            payload={"resource": builders.transaction(order.out_trade_no, 8_800)},
        ),
        vault,
    )
    await InboxCallback.filter(id=recorded.inbox_id).update(attempts=pipeline.MAX_ATTEMPTS - 1)

    assert await pipeline.fail(recorded.inbox_id, RuntimeError("broken"), queue) is None
    await redis.flushdb()
    await run_worker()  # retry_callbacks runs at start-up

    row = await InboxCallback.get(id=recorded.inbox_id)
    assert row.status is InboxStatus.FAILED
    assert row.next_attempt_at is None
    assert row.attempts == pipeline.MAX_ATTEMPTS


async def test_metrics_count_callbacks_by_result(client: Client, order: Order) -> None:
    notice = PayNotice("TRANSACTION.SUCCESS", builders.transaction(order.out_trade_no, 8_800))
    headers, body = notice.request()
    for _ in range(2):
        await client.post(f"/callbacks/wechatpay/{MCHID}", data=body, headers=headers)
    await client.post(
        f"/callbacks/wechatpay/{MCHID}", data=body.replace(b"{", b"[", 1), headers=headers
    )

    text = await (await client.get("/metrics")).text()

    assert 'wxhub_callbacks_total{result="accepted",source="wechatpay"} 1.0' in text
    assert 'wxhub_callbacks_total{result="duplicate",source="wechatpay"} 1.0' in text
    assert 'wxhub_callbacks_rejected_total{reason="bad_signature",source="wechatpay"} 1.0' in text
    assert "wxhub_callback_processing_seconds_count" in text
