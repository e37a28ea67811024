"""The WeCom and Channels shop clients against the simulator."""

import pytest
from aiohttp.test_utils import TestServer

from hub.errors import WeChatApiError
from hub.simulator.world import World
from hub.wechat.api import WeChatHttp
from hub.wechat.channels_api import ChannelsShopApi
from hub.wechat.tokens import TokenBroker
from hub.wechat.wecom_api import WecomApi, WelcomeMessage
from tests.e2e.clients.conftest import control, demo_user


@pytest.fixture
def wecom(http: WeChatHttp, broker: TokenBroker, world: World) -> WecomApi:
    corp = world.corps[0]
    return WecomApi(http, broker, corp.corpid, corp.secret, corp.agent_id)


@pytest.fixture
def shop(http: WeChatHttp, broker: TokenBroker, world: World) -> ChannelsShopApi:
    return ChannelsShopApi(http, broker, world.shops[0].appid, world.shops[0].secret)


async def test_a_contact_way_scan_gives_a_contact_to_welcome_and_tag(
    wecom: WecomApi, simulator: TestServer, world: World
) -> None:
    way = await wecom.add_contact_way("guide01", "s1g1", remark="store 1")
    assert way.qr_code
    scanned = await control(
        simulator,
        "POST",
        "/_sim/wecom/scans",
        {"config_id": way.config_id, "user": "alice", "wait": True},
    )
    external_userid = scanned["relationship"]["external_userid"]

    contact = await wecom.external_contact(external_userid)
    await wecom.send_welcome_message(WelcomeMessage(scanned["welcome_code"], text="您好"))
    tags = await wecom.corp_tags()
    await wecom.mark_tags("guide01", external_userid, add=[next(iter(tags))])

    assert contact.unionid == demo_user(world, "alice").unionid
    assert [(f.userid, f.state) for f in contact.follow_users] == [("guide01", "s1g1")]
    messages = await control(simulator, "GET", "/_sim/messages")
    assert "您好" in str(messages)
    with pytest.raises(WeChatApiError) as again:
        await wecom.send_welcome_message(WelcomeMessage(scanned["welcome_code"], text="您好"))
    assert again.value.errcode == 41051


async def test_unknown_contact_is_an_error(wecom: WecomApi) -> None:
    with pytest.raises(WeChatApiError) as refused:
        await wecom.external_contact("wm_nobody")
    assert refused.value.errcode in {40096, 84061}


async def test_shop_order_details_are_read_with_the_shop_token(
    shop: ChannelsShopApi, simulator: TestServer, world: World
) -> None:
    placed = await control(
        simulator, "POST", "/_sim/shop/orders", {"user": "carol", "price_fen": 4_990}
    )
    order_id = str(placed["order"]["order_id"])
    await control(simulator, "POST", f"/_sim/shop/orders/{order_id}/pay", {})

    order = await shop.order(order_id)

    assert str(order["order_id"]) == order_id
    assert order["order_detail"]["price_info"]["order_price"] == 4_990
    assert order["unionid"] == demo_user(world, "carol").unionid
    with pytest.raises(WeChatApiError):
        await shop.order("1")
