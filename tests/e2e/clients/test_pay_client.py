"""The WeChat Pay v3 client against the simulator: signed requests, verified answers."""

import secrets
from functools import cache

import pytest
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from hub.errors import PayApiError
from hub.simulator.world import World
from hub.wechat.api import WeChatHttp
from hub.wechat.pay_api import JsapiOrder, PayApi, RefundRequest
from hub.wechat.pay_keys import PlatformKeys
from hub.wechat.pay_v3 import MerchantKey
from hub.wechat.primitives import Certificate, load_private_key, load_public_key
from tests.e2e.clients.conftest import control, demo_user, requests_to


@cache
def merchant_private_key(pem: str) -> RSAPrivateKey:
    return load_private_key(pem)


def client(http: WeChatHttp, world: World, *, public_key_mode: bool) -> PayApi:
    merchant = world.merchants[0]
    assert merchant.merchant_private_key_pem is not None
    key = MerchantKey(
        merchant.mchid,
        merchant.merchant_serial_no,
        merchant_private_key(merchant.merchant_private_key_pem),
    )
    holder: dict[str, PayApi] = {}

    async def refetch() -> list[Certificate]:
        return await holder["api"].download_certificates()

    platform = world.platform
    public_keys = {platform.public_key_id: load_public_key(platform.public_key_pem)}
    keys = PlatformKeys(public_keys=public_keys if public_key_mode else {}, refetch=refetch)
    api = holder["api"] = PayApi(
        http,
        key,
        merchant.appid,
        merchant.api_v3_key,
        keys,
        public_key_id=platform.public_key_id if public_key_mode else None,
    )
    return api


def order(world: World, amount_fen: int = 8_800) -> JsapiOrder:
    return JsapiOrder(
        out_trade_no="W" + secrets.token_hex(8),
        description="两杯奶茶",
        amount_fen=amount_fen,
        payer_openid=demo_user(world, "alice").openids[world.merchants[0].appid],
        notify_url="https://hub.example.com/callbacks/wechatpay/1900012345",
    )


@pytest.mark.parametrize("public_key_mode", [True, False], ids=["public_key", "certificates"])
async def test_order_lifecycle_with_verified_answers(
    http: WeChatHttp, world: World, simulator: TestServer, public_key_mode: bool
) -> None:
    api = client(http, world, public_key_mode=public_key_mode)
    placed = order(world)

    prepay_id = await api.jsapi_prepay(placed)
    again = await api.jsapi_prepay(placed)  # identical parameters: the same order
    await control(simulator, "POST", f"/_sim/pay/orders/{placed.out_trade_no}/pay", {})
    paid = await api.query_by_out_trade_no(placed.out_trade_no)
    refund = await api.refund(
        RefundRequest(
            placed.out_trade_no, "R" + placed.out_trade_no, refund_fen=800, total_fen=8_800
        )
    )
    queried = await api.query_refund("R" + placed.out_trade_no)

    assert prepay_id.startswith("wx")
    assert again == prepay_id
    assert paid["trade_state"] == "SUCCESS"
    assert paid["amount"]["total"] == 8_800
    assert refund["out_refund_no"] == queried["out_refund_no"] == "R" + placed.out_trade_no
    # Certificate mode learns the platform certificate on the first unknown serial, once.
    expected_downloads = 0 if public_key_mode else 1
    assert await requests_to(simulator, "/v3/certificates") == expected_downloads


async def test_close_and_unknown_orders(http: WeChatHttp, world: World) -> None:
    api = client(http, world, public_key_mode=True)
    placed = order(world)
    await api.jsapi_prepay(placed)

    await api.close(placed.out_trade_no)

    closed = await api.query_by_out_trade_no(placed.out_trade_no)
    assert closed["trade_state"] == "CLOSED"
    with pytest.raises(PayApiError) as missing:
        await api.query_by_out_trade_no("W_no_such_order")
    assert missing.value.status == 404
    assert not missing.value.retryable


async def test_a_different_amount_for_the_same_order_number_is_refused(
    http: WeChatHttp, world: World
) -> None:
    api = client(http, world, public_key_mode=True)
    placed = order(world)
    await api.jsapi_prepay(placed)

    with pytest.raises(PayApiError) as refused:
        await api.jsapi_prepay(JsapiOrder(**{**placed.__dict__, "amount_fen": 1}))

    assert refused.value.status == 400


async def test_an_answer_with_a_bad_signature_is_not_believed(
    http: WeChatHttp, world: World, simulator: TestServer
) -> None:
    api = client(http, world, public_key_mode=True)
    await control(
        simulator,
        "POST",
        "/_sim/faults/endpoints",
        {"endpoint": "/v3/pay/transactions/jsapi", "bad_signature": True},
    )

    with pytest.raises(PayApiError) as refused:
        await api.jsapi_prepay(order(world))

    assert refused.value.code == "bad_signature"
    assert refused.value.retryable


async def test_rate_limits_are_retryable_and_server_errors_are_retried(
    http: WeChatHttp, world: World, simulator: TestServer
) -> None:
    api = client(http, world, public_key_mode=True)
    await control(
        simulator,
        "POST",
        "/_sim/faults/endpoints",
        {"endpoint": "/v3/pay/transactions/jsapi", "status": 429, "times": 1},
    )
    with pytest.raises(PayApiError) as limited:
        await api.jsapi_prepay(order(world))
    assert limited.value.status == 429
    assert limited.value.retryable

    await control(
        simulator,
        "POST",
        "/_sim/faults/endpoints",
        {"endpoint": "/v3/pay/transactions/jsapi", "status": 500, "times": 2},
    )
    assert (await api.jsapi_prepay(order(world))).startswith("wx")
