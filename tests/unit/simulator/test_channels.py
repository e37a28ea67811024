"""Channels shop: order and after-sale pushes (secure JSON, shop schedule) and the order APIs."""

from typing import Any

import pytest

from hub.simulator.delivery import SHOP_SCHEDULE_S
from hub.simulator.world import Shop
from hub.wechat.message_crypto import PushCrypto, PushQuery
from tests.unit.simulator.conftest import Received, SimClient
from tests.unit.simulator.helpers import api, control, control_status, mp_token, shop_token


def open_push(shop: Shop, received: Received) -> dict[str, Any]:
    crypto = PushCrypto.for_channels_shop(shop.push_token, shop.push_aes_key, shop.appid)
    query = PushQuery(
        **{n: received.query.get(n) for n in ("signature", "msg_signature", "timestamp", "nonce")}
    )
    push = crypto.open_push(received.body, query, max_bytes=65536)
    assert push.receiver_matches
    return push.fields


@pytest.fixture
async def shop_client(wechat: SimClient, world, receiver) -> SimClient:
    await control(
        wechat,
        "PUT",
        "/_sim/callbacks",
        {"source": "channels", "account": world.shops[0].appid, "url": receiver.url()},
    )
    return wechat


async def new_order(client: SimClient, **extra) -> str:
    answer = await control(
        client,
        "POST",
        "/_sim/shop/orders",
        {"user": "carol", "price_fen": 3900, "wait": True} | extra,
    )
    return str(answer["order"]["order_id"])


async def test_order_lifecycle_pushes_and_order_get(shop_client, world, receiver):
    shop = world.shops[0]
    order_id = await new_order(shop_client)
    await control(shop_client, "POST", f"/_sim/shop/orders/{order_id}/pay", {"wait": True})
    token = await shop_token(shop_client, world)
    order = (
        await api(shop_client, "POST", "/channels/ec/order/get", token, json={"order_id": order_id})
    )["order"]
    assert (order["order_id"], order["status"]) == (order_id, 20)
    assert order["openid"] == world.user("carol").openids[shop.appid]
    assert order["order_detail"]["price_info"]["order_price"] == 3900
    await control(
        shop_client,
        "POST",
        f"/_sim/shop/orders/{order_id}/cancel",
        {"cancel_type": 3, "wait": True},
    )
    events = [open_push(shop, received) for received in receiver.requests]
    assert [event["Event"] for event in events] == [
        "channels_ec_order_new",
        "channels_ec_order_pay",
        "channels_ec_order_cancel",
    ]
    assert {event["order_info"]["order_id"] for event in events} == {int(order_id)}
    assert events[1]["order_info"]["pay_time"] == order["order_detail"]["pay_info"]["pay_time"]
    assert events[2]["order_info"]["cancel_type"] == 3
    assert events[0]["FromUserName"] == order["openid"]
    assert {event["ToUserName"] for event in events} == {shop.original_id}


async def test_aftersale_updates_push_and_read_back(shop_client, world, receiver):
    shop = world.shops[0]
    order_id = await new_order(shop_client)
    created = await control(
        shop_client,
        "POST",
        "/_sim/shop/aftersales",
        {"order_id": order_id, "refund_fen": 1000, "wait": True},
    )
    aftersale_id = created["aftersale"]["after_sale_order_id"]
    await control(
        shop_client,
        "POST",
        "/_sim/shop/aftersales",
        {
            "order_id": order_id,
            "after_sale_order_id": aftersale_id,
            "status": "MERCHANT_REFUND_SUCCESS",
            "wait": True,
            "fault": {"order_id_as_string": True},
        },
    )
    first, second = (open_push(shop, received) for received in receiver.requests[1:])
    assert first["FromUserName"] == second["FromUserName"] == shop.aftersale_openid
    update = second["finder_shop_aftersale_status_update"]
    assert update == {
        "status": "MERCHANT_REFUND_SUCCESS",
        "after_sale_order_id": aftersale_id,
        "order_id": order_id,
    }
    token = await shop_token(shop_client, world)
    read = await api(
        shop_client,
        "POST",
        "/channels/ec/aftersale/getaftersaleorder",
        token,
        json={"after_sale_order_id": int(aftersale_id)},
    )
    assert read["after_sale_order"]["status"] == "MERCHANT_REFUND_SUCCESS"
    assert read["after_sale_order"]["refund_info"]["amount"] == 1000


async def test_other_order_events_can_be_pushed(shop_client, world, receiver):
    order_id = await new_order(shop_client)
    await control(
        shop_client,
        "POST",
        "/_sim/shop/events",
        {"order_id": order_id, "event": "channels_ec_order_wait_shipping", "wait": True},
    )
    assert (
        open_push(world.shops[0], receiver.requests[-1])["Event"]
        == "channels_ec_order_wait_shipping"
    )


async def test_a_failing_receiver_gets_the_shop_schedule(shop_client, receiver):
    receiver.status = 500
    answer = await control(
        shop_client, "POST", "/_sim/shop/orders", {"user": "carol", "wait": True}
    )
    [delivery] = answer["deliveries"]
    assert (delivery["status"], len(delivery["attempts"])) == ("failed", 1 + len(SHOP_SCHEDULE_S))
    assert len(receiver.requests) == 10


async def test_order_apis_need_the_shops_token_and_a_known_order(shop_client, world):
    order_id = await new_order(shop_client)
    with_mp = await api(
        shop_client,
        "POST",
        "/channels/ec/order/get",
        await mp_token(shop_client, world),
        json={"order_id": order_id},
    )
    assert with_mp["errcode"] == 48001
    token = await shop_token(shop_client, world)
    unknown = await api(
        shop_client, "POST", "/channels/ec/order/get", token, json={"order_id": "1"}
    )
    assert unknown["errcode"] == 40097


async def test_shop_order_actions_refuse_wrong_states(shop_client):
    order_id = await new_order(shop_client)
    assert await control_status(shop_client, "POST", f"/_sim/shop/orders/{order_id}/pay") == 200
    assert await control_status(shop_client, "POST", f"/_sim/shop/orders/{order_id}/pay") == 409
    assert await control_status(shop_client, "POST", "/_sim/shop/orders/42/pay") == 404
    duplicate = {"user": "carol", "order_id": order_id}
    assert await control_status(shop_client, "POST", "/_sim/shop/orders", duplicate) == 409
