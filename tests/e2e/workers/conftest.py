"""The hub (web app and workers) against the simulator: pushes in, API calls out."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hub.keys import accounts_key
from hub.models.brand import Brand, Store
from hub.models.member import Member
from hub.models.order import Order
from hub.models.staff import Staff
from hub.services.audit import Actor
from hub.settings import Settings
from hub.simulator.app import create_simulator_app
from hub.simulator.context import simulator_key
from hub.simulator.demo import generate_world
from hub.simulator.hub_urls import register_hub
from hub.simulator.seed import DEMO_BRAND, seed_demo
from hub.simulator.world import World
from hub.vault import load_vault
from hub.wechat.pay_api import JsapiOrder
from tests.e2e.clients.conftest import demo_user

HubClient = TestClient[web.Request, web.Application]


@pytest.fixture(scope="session")
def world() -> World:
    return generate_world()


@pytest.fixture
async def simulator(
    aiohttp_server: Callable[[web.Application], Awaitable[TestServer]], world: World
) -> TestServer:
    return await aiohttp_server(create_simulator_app(world, time_scale=1_000_000.0))


@pytest.fixture
def hub_port(unused_tcp_port: int) -> int:
    """Where the hub under test listens: known in advance, so it is its public URL too."""
    return unused_tcp_port


@pytest.fixture
def settings(settings: Settings, simulator: TestServer, hub_port: int) -> Settings:
    """The test settings with WeChat's three hosts at the simulator, and the hub's public URL
    (Pay notify_url) at the test server."""
    base = str(simulator.make_url("")).rstrip("/")
    wechat = settings.wechat.model_copy(
        update={"api_base_url": base, "work_base_url": base, "pay_base_url": base}
    )
    http = settings.http.model_copy(update={"public_url": f"http://127.0.0.1:{hub_port}"})
    return settings.model_copy(update={"wechat": wechat, "http": http})


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., Awaitable[HubClient]], app: web.Application, hub_port: int
) -> HubClient:
    return await aiohttp_client(app, server_kwargs={"port": hub_port})


@dataclass(frozen=True)
class Seeded:
    brand: Brand
    store: Store
    guide: Staff
    # Members by the World's user key.
    members: dict[str, Member]


@pytest.fixture
async def seeded(
    db: None, settings: Settings, world: World, client: HubClient, simulator: TestServer
) -> Seeded:
    """The demo brand seeded from the World (as `wxhub demo` does); pushes go to the hub."""
    await seed_demo(world, load_vault(settings), Actor.cli())
    brand = await Brand.get(code=DEMO_BRAND)
    guide = await Staff.get(brand=brand, wecom_userid=world.corps[0].staff[0].userid)
    store = await Store.get(id=guide.store_id)
    members = {
        user.key: await Member.get(brand=brand, unionid=user.unionid) for user in world.users
    }
    register_hub(simulator.app[simulator_key], str(client.make_url("")).rstrip("/"))
    return Seeded(brand, store, guide, members)


async def prepay(client: HubClient, world: World, order: Order, user: str) -> None:
    """Make the order known to WeChat Pay, as the mini-program's checkout does."""
    merchant = world.merchants[0]
    account = await client.app[accounts_key].pay(merchant.mchid)
    assert account is not None
    await (
        client.app[accounts_key]
        .pay_api(account)
        .jsapi_prepay(
            JsapiOrder(
                out_trade_no=order.out_trade_no,
                description="奶茶",
                amount_fen=order.amount_fen,
                payer_openid=demo_user(world, user).openids[merchant.appid],
                notify_url=str(client.make_url(f"/callbacks/wechatpay/{merchant.mchid}")),
            )
        )
    )
