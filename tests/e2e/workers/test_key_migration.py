"""WeChat Pay's move from platform certificates to a public key: the hub holds both."""

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer

from hub.models.account import PayMerchant
from hub.models.inbox import InboxCallback, RejectedCallback
from hub.models.order import Order, OrderStatus
from hub.services import accounts
from hub.services.audit import Actor
from hub.services.orders import create_order
from hub.settings import Settings
from hub.simulator.world import World
from hub.vault import load_vault
from hub.wechat.api import WeChatHttp, wechat_session
from hub.wechat.pay_api import JsapiOrder
from tests.e2e.clients.conftest import control, demo_user
from tests.e2e.clients.test_pay_client import client as pay_client
from tests.e2e.workers.conftest import HubClient, Seeded, prepay


@pytest.fixture
async def wechat_http(settings: Settings) -> AsyncIterator[WeChatHttp]:
    async with wechat_session() as session:
        yield WeChatHttp(session, settings.wechat)


@pytest.fixture
async def migrating(seeded: Seeded, settings: Settings, world: World) -> Seeded:
    """The merchant also holds WeChat Pay's public key (PUB_KEY_ID_…): mid-migration."""
    merchant = world.merchants[0]
    assert merchant.merchant_private_key_pem is not None
    await accounts.set_account(
        PayMerchant,
        seeded.brand,
        accounts.PayCredentials(
            mchid=merchant.mchid,
            appid=merchant.appid,
            merchant_serial_no=merchant.merchant_serial_no,
            private_key_pem=merchant.merchant_private_key_pem,
            api_v3_key=merchant.api_v3_key,
            platform_public_key_id=world.platform.public_key_id,
            platform_public_key_pem=world.platform.public_key_pem,
        ),
        load_vault(settings),
        Actor.cli(),
    )
    return seeded


async def unpaid_order(seeded: Seeded, client: HubClient, world: World) -> Order:
    merchant = world.merchants[0]
    order = await create_order(
        seeded.store,
        1_000,
        mchid=merchant.mchid,
        appid=merchant.appid,
        member=seeded.members["dave"],
    )
    await prepay(client, world, order, "dave")
    return order


@pytest.mark.parametrize("sign_mode", ["certificate", "public_key"])
async def test_notifications_in_either_mode_verify_during_the_migration(
    migrating: Seeded, client: HubClient, simulator: TestServer, world: World, sign_mode: str
) -> None:
    order = await unpaid_order(migrating, client, world)
    await control(simulator, "POST", "/_sim/faults/pushes", {"sign_mode": sign_mode})

    paid = await control(
        simulator, "POST", f"/_sim/pay/orders/{order.out_trade_no}/pay", {"wait": True}
    )

    assert paid["deliveries"][0]["status"] == "delivered"
    assert (await Order.get(id=order.id)).status is OrderStatus.PAID


async def test_an_unreachable_certificate_download_defers_instead_of_failing(
    seeded: Seeded,
    client: HubClient,
    simulator: TestServer,
    world: World,
    wechat_http: WeChatHttp,
) -> None:
    # The order reaches WeChat through another process (public-key mode): this hub has never
    # seen the platform certificate, and WeChat cannot hand it over now.
    merchant = world.merchants[0]
    order = await create_order(
        seeded.store,
        1_000,
        mchid=merchant.mchid,
        appid=merchant.appid,
        member=seeded.members["dave"],
    )
    await pay_client(wechat_http, world, public_key_mode=True).jsapi_prepay(
        JsapiOrder(
            out_trade_no=order.out_trade_no,
            description="奶茶",
            amount_fen=1_000,
            payer_openid=demo_user(world, "dave").openids[merchant.appid],
            notify_url=str(client.make_url(f"/callbacks/wechatpay/{merchant.mchid}")),
        )
    )
    await control(
        simulator, "POST", "/_sim/faults/endpoints", {"endpoint": "/v3/certificates", "status": 503}
    )

    paid = await control(
        simulator,
        "POST",
        f"/_sim/pay/orders/{order.out_trade_no}/pay",
        {"wait": True, "fault": {"retry_schedule_s": []}},
    )

    attempts = paid["deliveries"][0]["attempts"]
    assert [(a["status"], a["body"]) for a in attempts] == [
        (503, '{"code": "FAIL", "message": "temporarily_unavailable"}')
    ]
    assert await InboxCallback.all().count() == 0
    assert await RejectedCallback.all().count() == 0
    assert (await Order.get(id=order.id)).status is OrderStatus.CREATED
