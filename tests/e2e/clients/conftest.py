"""Our WeChat API clients against the local simulator over loopback."""

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from hub.settings import WeChatSettings
from hub.simulator.app import create_simulator_app
from hub.simulator.demo import generate_world
from hub.simulator.world import User, World
from hub.vault import Vault
from hub.wechat.api import WeChatHttp, wechat_session
from hub.wechat.tokens import TokenBroker

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]


@pytest.fixture(scope="session")
def world() -> World:
    """The demo world, generated once (its RSA keys are the slow part)."""
    return generate_world()


@pytest.fixture
async def simulator(aiohttp_server: ServerFactory, world: World) -> TestServer:
    return await aiohttp_server(create_simulator_app(world, time_scale=1_000_000.0))


async def _accept(_request: web.Request) -> web.Response:
    return web.Response(text="success")


@pytest.fixture
async def sink(aiohttp_server: ServerFactory) -> TestServer:
    """Where the simulator's pushes go in these tests: it accepts them all (no hub here)."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _accept)
    return await aiohttp_server(app)


@pytest.fixture(autouse=True)
async def _pushes_to_sink(simulator: TestServer, sink: TestServer, world: World) -> None:
    accounts = [("mini_program", app.appid) for app in world.mini_programs]
    accounts += [("wechat_pay", merchant.mchid) for merchant in world.merchants]
    accounts += [("channels", shop.appid) for shop in world.shops]
    accounts += [("wecom", corp.corpid) for corp in world.corps]
    for source, account in accounts:
        await control(
            simulator,
            "PUT",
            "/_sim/callbacks",
            {"source": source, "account": account, "url": str(sink.make_url("/"))},
        )


@pytest.fixture
def wechat_settings(simulator: TestServer) -> WeChatSettings:
    base = str(simulator.make_url("")).rstrip("/")
    return WeChatSettings(
        api_base_url=base,
        work_base_url=base,
        pay_base_url=base,
        request_timeout_s=1.0,
        max_attempts=3,
    )


@pytest.fixture
async def http(wechat_settings: WeChatSettings) -> AsyncIterator[WeChatHttp]:
    async with wechat_session() as session:
        yield WeChatHttp(session, wechat_settings)


@pytest.fixture
def broker(redis: Redis) -> TokenBroker:
    return TokenBroker(redis, Vault(bytes(range(32))))


async def control(simulator: TestServer, method: str, path: str, payload: Any = None) -> Any:
    """Drive the simulator as a test (the /_sim control API), asserting success."""
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, str(simulator.make_url(path)), json=payload) as answer,
    ):
        body = await answer.json()
        assert answer.status == 200, body
        return body


async def requests_to(simulator: TestServer, path: str) -> int:
    """How many requests the simulator received for a path."""
    log = await control(simulator, "GET", f"/_sim/requests?path={path}&limit=1000")
    entries = log["requests"] if isinstance(log, dict) else log
    return len(entries)


def demo_user(world: World, key: str) -> User:
    user = world.user(key)
    assert user is not None, key
    return user
