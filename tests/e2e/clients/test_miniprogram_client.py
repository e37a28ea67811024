"""The mini-program client and the token broker against the simulator."""

import asyncio

import pytest
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from hub.errors import DeliveryError, WeChatApiError
from hub.simulator.world import World
from hub.vault import Vault
from hub.wechat.api import WeChatHttp
from hub.wechat.miniprogram_api import MiniProgramApi, SubscribeMessage
from hub.wechat.tokens import TokenBroker
from tests.e2e.clients.conftest import control, demo_user, requests_to

RECEIPT_DATA = {
    "thing1": "奶茶两杯",
    "amount2": "¥28.00",
    "time3": "2026年11月23日 15:01",
    "character_string4": "W123456",
}


@pytest.fixture
def mini(http: WeChatHttp, broker: TokenBroker, world: World) -> MiniProgramApi:
    app = world.mini_programs[0]
    return MiniProgramApi(http, broker, app.appid, app.secret)


def receipt(world: World, openid: str, **data: str) -> SubscribeMessage:
    return SubscribeMessage(
        touser=openid, template_id=world.templates[0].template_id, data=RECEIPT_DATA | data
    )


async def test_login_code_is_exchanged_once(
    mini: MiniProgramApi, simulator: TestServer, world: World
) -> None:
    code = (await control(simulator, "POST", "/_sim/codes/login", {"user": "alice"}))["code"]

    session = await mini.code_to_session(code)

    alice = demo_user(world, "alice")
    assert session.openid == alice.openids[mini.appid]
    assert session.unionid == alice.unionid
    assert session.session_key
    with pytest.raises(WeChatApiError) as reused:
        await mini.code_to_session(code)
    assert reused.value.errcode in {40029, 40163}
    assert not reused.value.retryable


async def test_phone_number_from_a_phone_code(
    mini: MiniProgramApi, simulator: TestServer, world: World
) -> None:
    code = (await control(simulator, "POST", "/_sim/codes/phone", {"user": "bob"}))["code"]

    phone = await mini.phone_number(code)

    assert phone.pure_phone_number == demo_user(world, "bob").phone
    assert phone.country_code == "86"


async def test_subscribe_message_needs_a_grant_and_uses_it_once(
    mini: MiniProgramApi, simulator: TestServer, world: World
) -> None:
    openid = demo_user(world, "alice").openids[mini.appid]
    message = receipt(world, openid)
    with pytest.raises(WeChatApiError) as refused:
        await mini.send_subscribe_message(message)
    assert refused.value.errcode == 43101
    await control(
        simulator,
        "POST",
        "/_sim/mp/subscriptions",
        {"user": "alice", "answers": [{"template_id": message.template_id, "status": "accept"}]},
    )

    msgid = await mini.send_subscribe_message(message)

    assert msgid > 0
    with pytest.raises(WeChatApiError, match="43101"):
        await mini.send_subscribe_message(message)


async def test_a_value_breaking_its_keyword_rule_is_refused_with_the_field(
    mini: MiniProgramApi, simulator: TestServer, world: World
) -> None:
    openid = demo_user(world, "alice").openids[mini.appid]
    await control(
        simulator,
        "POST",
        "/_sim/mp/subscriptions",
        {
            "user": "alice",
            "answers": [{"template_id": world.templates[0].template_id, "status": "accept"}],
        },
    )

    with pytest.raises(WeChatApiError) as refused:
        await mini.send_subscribe_message(receipt(world, openid, thing1="x" * 21))

    assert refused.value.errcode == 47003
    assert "thing1" in refused.value.errmsg


async def test_unlimited_code_is_a_png_and_a_bad_scene_an_error(mini: MiniProgramApi) -> None:
    image = await mini.unlimited_code("s=1001", check_path=False)

    assert image.startswith(b"\x89PNG")
    with pytest.raises(WeChatApiError) as refused:
        await mini.unlimited_code("x" * 33)
    assert refused.value.errcode == 40169


async def test_one_token_fetch_serves_every_process(
    http: WeChatHttp, redis: Redis, simulator: TestServer, world: World
) -> None:
    app = world.mini_programs[0]
    vault = Vault(bytes(range(32)))
    # Five processes' clients, each with its own broker, sharing one Redis.
    clients = [
        MiniProgramApi(http, TokenBroker(redis, vault), app.appid, app.secret) for _ in range(5)
    ]

    tokens = await asyncio.gather(*(client.access_token() for client in clients * 4))

    assert len(set(tokens)) == 1
    assert await requests_to(simulator, "/cgi-bin/stable_token") == 1


async def test_a_revoked_token_is_replaced_once_and_the_call_succeeds(
    mini: MiniProgramApi, simulator: TestServer, world: World
) -> None:
    first = await mini.access_token()
    await control(simulator, "POST", "/_sim/tokens/revoke", {"token": first})
    await control(
        simulator,
        "POST",
        "/_sim/mp/subscriptions",
        {
            "user": "alice",
            "answers": [{"template_id": world.templates[0].template_id, "status": "accept"}],
        },
    )

    msgid = await mini.send_subscribe_message(
        receipt(world, demo_user(world, "alice").openids[mini.appid])
    )

    assert msgid > 0
    assert await mini.access_token() != first


async def test_a_stale_rejection_does_not_throw_away_a_fresh_token(
    mini: MiniProgramApi, broker: TokenBroker, simulator: TestServer
) -> None:
    current = await mini.access_token()

    replacement = await broker.replace("api:" + mini.appid, "an-older-token", mini.fetch_token)

    assert replacement == current
    assert await requests_to(simulator, "/cgi-bin/stable_token") == 1


async def test_busy_answers_are_retried(mini: MiniProgramApi, simulator: TestServer) -> None:
    await control(
        simulator,
        "POST",
        "/_sim/faults/endpoints",
        {"endpoint": "/wxa/getwxacodeunlimit", "errcode": -1, "times": 2},
    )

    image = await mini.unlimited_code("s=1", check_path=False)

    assert image.startswith(b"\x89PNG")


async def test_rate_limits_are_retryable_and_outages_give_up_after_the_attempts(
    mini: MiniProgramApi, simulator: TestServer
) -> None:
    await control(
        simulator,
        "POST",
        "/_sim/faults/endpoints",
        {"endpoint": "/wxa/getwxacodeunlimit", "errcode": 45009, "times": 1},
    )
    with pytest.raises(WeChatApiError) as limited:
        await mini.unlimited_code("s=1")
    assert limited.value.retryable

    await control(
        simulator,
        "POST",
        "/_sim/faults/endpoints",
        {"endpoint": "/wxa/getwxacodeunlimit", "status": 502},
    )
    with pytest.raises(DeliveryError) as down:
        await mini.unlimited_code("s=1")
    assert down.value.retryable
    assert await requests_to(simulator, "/wxa/getwxacodeunlimit") == 1 + 3
