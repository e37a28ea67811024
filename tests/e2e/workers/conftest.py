"""The hub (web app and workers) against the simulator: pushes in, API calls out."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hub.models.account import ChannelsShop, MiniProgramApp, PayMerchant, WecomCorp
from hub.models.brand import Brand, Store
from hub.models.member import Member, MemberOpenid
from hub.models.staff import Staff, StaffRole
from hub.services import accounts, brands, staff
from hub.services.audit import Actor
from hub.settings import Settings
from hub.simulator.app import create_simulator_app
from hub.simulator.demo import generate_world
from hub.simulator.world import World
from hub.vault import load_vault
from tests.e2e.clients.conftest import control

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
def settings(settings: Settings, simulator: TestServer) -> Settings:
    """The test settings with WeChat's three hosts at the simulator."""
    base = str(simulator.make_url("")).rstrip("/")
    wechat = settings.wechat.model_copy(
        update={"api_base_url": base, "work_base_url": base, "pay_base_url": base}
    )
    return settings.model_copy(update={"wechat": wechat})


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
    """A brand configured with the World's accounts; WeChat's pushes go to the hub."""
    vault, actor = load_vault(settings), Actor.cli()
    brand = await brands.create_brand("demo", "Demo Tea", actor)
    store = await brands.add_store(brand, "s001", "People's Square", actor)
    guide = await staff.add_staff(
        brand,
        "Li Na",
        StaffRole.CLERK,
        actor,
        store=store,
        wecom_userid=world.corps[0].staff[0].userid,
    )
    app, merchant, shop, corp = (
        world.mini_programs[0],
        world.merchants[0],
        world.shops[0],
        world.corps[0],
    )
    await accounts.set_account(
        MiniProgramApp,
        brand,
        accounts.MiniProgramCredentials(
            appid=app.appid,
            secret=app.secret,
            push_token=app.push_token,
            push_aes_key=app.push_aes_key,
        ),
        vault,
        actor,
    )
    assert merchant.merchant_private_key_pem is not None
    # Certificate mode: the hub learns the platform certificate from /v3/certificates.
    await accounts.set_account(
        PayMerchant,
        brand,
        accounts.PayCredentials(
            mchid=merchant.mchid,
            appid=merchant.appid,
            merchant_serial_no=merchant.merchant_serial_no,
            private_key_pem=merchant.merchant_private_key_pem,
            api_v3_key=merchant.api_v3_key,
        ),
        vault,
        actor,
    )
    await accounts.set_account(
        ChannelsShop,
        brand,
        accounts.ChannelsCredentials(
            appid=shop.appid,
            secret=shop.secret,
            push_token=shop.push_token,
            push_aes_key=shop.push_aes_key,
        ),
        vault,
        actor,
    )
    await accounts.set_account(
        WecomCorp,
        brand,
        accounts.WecomCredentials(
            corpid=corp.corpid,
            secret=corp.secret,
            callback_token=corp.callback_token,
            callback_aes_key=corp.callback_aes_key,
            agent_id=corp.agent_id,
        ),
        vault,
        actor,
    )
    members = {}
    for user in world.users:
        member = await Member.create(
            brand=brand, code=f"9{abs(hash(user.key)) % 10**11:011d}", unionid=user.unionid
        )
        await MemberOpenid.create(member=member, appid=app.appid, openid=user.openids[app.appid])
        members[user.key] = member
    for source, account in (
        ("wechat_pay", merchant.mchid),
        ("mini_program", app.appid),
        ("channels", shop.appid),
        ("wecom", corp.corpid),
    ):
        path = {"wechat_pay": "wechatpay", "mini_program": "miniprogram"}.get(source, source)
        url = str(client.make_url(f"/callbacks/{path}/{account}"))
        await control(
            simulator, "PUT", "/_sim/callbacks", {"source": source, "account": account, "url": url}
        )
    return Seeded(brand, store, guide, members)
