"""A duplicate storm against two web processes sharing PostgreSQL: every effect lands once."""

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from hub.db import open_database
from hub.embedded_redis import free_tcp_port
from hub.models.contact import ContactLink
from hub.models.inbox import InboxCallback, InboxStatus
from hub.models.member import Member
from hub.models.order import Order, OrderStatus
from hub.models.outbox import OutboxMessage
from hub.models.points import PointsEntry
from hub.services.members import create_member
from hub.services.orders import create_order
from hub.settings import Settings
from hub.vault import load_vault
from tests import builders
from tests.builders import CORPID, MCHID, PayNotice, Push
from tests.conftest import clean_database, make_settings

pytestmark = pytest.mark.slow

COPIES = 50
# WeChat Pay's retry schedule has 15 steps (protocols §1.5); here they come back to back.
RETRIES = 15
READY_TIMEOUT_S = 60


@pytest.fixture
def postgres_database(migrated_database: Callable[[str], str]) -> str:
    # Resolved outside the event loop: the first use migrates with asyncio.run().
    return migrated_database("postgres")


@pytest.fixture
async def pg_settings(
    postgres_database: str, redis_url: str, tmp_path: Path
) -> AsyncIterator[Settings]:
    settings = make_settings(tmp_path / "var", postgres_database, redis_url)
    async with open_database(settings):
        await clean_database(settings)
        yield settings


async def start_web(settings: Settings, port: int, log: Path) -> asyncio.subprocess.Process:
    env = {name: value for name, value in os.environ.items() if not name.startswith("WXHUB_")}
    env |= {
        "WXHUB_ENV": "test",
        "WXHUB_DATA_DIR": str(settings.data_dir),
        "WXHUB_DATABASE__URL": settings.database_url,
        "WXHUB_REDIS__URL": settings.redis.url,
        "WXHUB_HTTP__PORT": str(port),
        "WXHUB_LOGGING__LEVEL": "WARNING",
    }
    with log.open("wb") as output:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "hub",
            "serve",
            env=env,
            stdout=output,
            stderr=output,
        )


async def wait_ready(session: aiohttp.ClientSession, port: int) -> None:
    for _ in range(READY_TIMEOUT_S * 10):
        try:
            async with session.get(f"http://127.0.0.1:{port}/readyz") as answer:
                if answer.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"web process on {port} did not become ready")


@pytest.fixture
async def two_web_processes(pg_settings: Settings, tmp_path: Path) -> AsyncIterator[list[str]]:
    ports = [free_tcp_port(), free_tcp_port()]
    processes = [await start_web(pg_settings, port, tmp_path / f"web{port}.log") for port in ports]
    try:
        async with aiohttp.ClientSession() as session:
            for port in ports:
                await wait_ready(session, port)
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            await asyncio.wait_for(process.wait(), 30)


async def storm(bases: list[str], path: str, body: bytes, headers: dict[str, str]) -> set[int]:
    async with aiohttp.ClientSession() as session:

        async def deliver(base: str) -> int:
            async with session.post(base + path, data=body, headers=headers) as answer:
                return answer.status

        concurrent = await asyncio.gather(*(deliver(bases[number % 2]) for number in range(COPIES)))
        retries = [await deliver(bases[number % 2]) for number in range(RETRIES)]
    return set(concurrent) | set(retries)


async def test_payment_storm_across_two_processes_settles_once(
    pg_settings: Settings, two_web_processes: list[str]
) -> None:
    vault = load_vault(pg_settings)
    hub = await builders.create_hub_brand(vault)
    member = await create_member(hub.brand, vault, phone="13800138000")
    order = await create_order(hub.store, 19_900, mchid=MCHID, appid=builders.APPID, member=member)
    headers, body = PayNotice(
        "TRANSACTION.SUCCESS", builders.transaction(order.out_trade_no, 19_900)
    ).request()

    statuses = await storm(two_web_processes, f"/callbacks/wechatpay/{MCHID}", body, headers)

    assert statuses == {204}
    assert (await Order.get(id=order.id)).status is OrderStatus.PAID
    assert await InboxCallback.filter(status=InboxStatus.DONE).count() == 1
    assert await PointsEntry.all().count() == 1
    assert (await Member.get(id=member.id)).points_balance == 199


async def test_contact_storm_writes_one_outbox_row_per_follow_up(
    pg_settings: Settings, two_web_processes: list[str]
) -> None:
    await builders.create_hub_brand(load_vault(pg_settings))
    added = builders.wecom_change("add_external_contact", "wm_storm", WelcomeCode="W1")
    query, body = Push(added, receive_id=CORPID, xml=True).request()

    statuses = await storm(two_web_processes, f"/callbacks/wecom/{CORPID}?{query}", body, {})

    assert statuses == {200}
    assert await InboxCallback.all().count() == 1
    assert await ContactLink.all().count() == 1
    assert sorted(message.task for message in await OutboxMessage.all()) == [
        "link_contact_member",
        "welcome_contact",
    ]
