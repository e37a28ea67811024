"""Mini-program message pushes: modes and formats, subscription-event quirks, faults, retries."""

import json
from typing import Any

import pytest
from aiohttp import web

from hub.errors import ReceiverMismatchError, SignatureError, TimestampError
from hub.simulator.delivery import MESSAGE_SCHEDULE_S
from hub.simulator.world import MiniProgram, PushFormat, PushMode, World
from hub.wechat.message_crypto import PushCrypto, PushQuery
from hub.wechat.wire import parse_message
from tests.unit.simulator.conftest import Received, Receiver, SimClient, StartSimulator
from tests.unit.simulator.helpers import control, mp_token, openid

POPUP = "/_sim/mp/subscriptions"


def app_of(world: World) -> MiniProgram:
    return world.mini_programs[0]


async def simulator_with(
    start_simulator: StartSimulator, world: World, receiver: Receiver, **app_changes
) -> tuple[SimClient, MiniProgram]:
    app = app_of(world).model_copy(update=app_changes)
    client = await start_simulator(world.model_copy(update={"mini_programs": (app,)}))
    await control(
        client,
        "PUT",
        "/_sim/callbacks",
        {"source": "mini_program", "account": app.appid, "url": receiver.url()},
    )
    return client, app


def open_push(app: MiniProgram, received: Received, **crypto_options: Any) -> dict[str, Any]:
    """What the hub does: verify (and decrypt) with our PushCrypto."""
    aes_key = None if app.push_mode is PushMode.PLAIN else app.push_aes_key
    crypto = PushCrypto.for_mini_program(app.push_token, aes_key, app.appid, **crypto_options)
    query = PushQuery(
        **{
            name: received.query.get(name)
            for name in ("signature", "msg_signature", "timestamp", "nonce")
        }
    )
    return crypto.open_push(received.body, query, max_bytes=65536).fields


def popup(templates: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "user": "alice",
        "answers": [{"template_id": t} for t in templates],
        "wait": True,
    } | extra


@pytest.mark.parametrize("mode", list(PushMode))
@pytest.mark.parametrize("fmt", list(PushFormat))
async def test_every_mode_and_format_verifies_with_our_crypto(
    start_simulator, world, receiver, mode, fmt
):
    client, app = await simulator_with(
        start_simulator, world, receiver, push_mode=mode, push_format=fmt
    )
    template = world.templates[0].template_id
    await control(client, "POST", POPUP, popup([template]))
    [received] = receiver.requests
    fields = open_push(app, received)
    assert fields["Event"] == "subscribe_msg_popup_event"
    assert fields["FromUserName"] == received.query["openid"] == openid(world)
    assert (received.query.get("encrypt_type") == "aes") is (mode is not PushMode.PLAIN)
    if mode is PushMode.COMPATIBLE:
        # The plaintext fields travel beside Encrypt.
        assert "Event" in parse_message(received.body)
    if fmt is PushFormat.XML:
        assert fields["SubscribeMsgPopupEvent"]["List"]["TemplateId"] == template
    else:
        assert fields["List"]["TemplateId"] == template
        assert isinstance(fields["CreateTime"], int)


async def test_json_list_is_an_object_for_one_item_and_an_array_for_several(
    start_simulator, world, receiver
):
    client, app = await simulator_with(start_simulator, world, receiver)
    templates = [t.template_id for t in world.templates]
    await control(client, "POST", POPUP, popup(templates[:1]))
    await control(client, "POST", POPUP, popup(templates))
    one, several = (open_push(app, received) for received in receiver.requests)
    assert isinstance(one["List"], dict)
    assert [item["TemplateId"] for item in several["List"]] == templates
    assert {item["SubscribeStatusString"] for item in several["List"]} == {"accept"}
    assert {item["PopupScene"] for item in several["List"]} == {"0"}


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        ({"list_shape": "array"}, lambda f: isinstance(f["List"], list) and len(f["List"]) == 1),
        ({"list_shape": "wrapper"}, lambda f: "List" not in f and "SubscribeMsgPopupEvent" in f),
        ({"create_time_as_string": True}, lambda f: isinstance(f["CreateTime"], str)),
    ],
)
async def test_subscription_event_quirks(start_simulator, world, receiver, fault, check):
    client, app = await simulator_with(start_simulator, world, receiver)
    await control(client, "POST", POPUP, popup([world.templates[0].template_id], fault=fault))
    assert check(open_push(app, receiver.requests[0]))


@pytest.mark.parametrize(
    ("fault", "error", "reason"),
    [
        ({"wrong_msg_signature": True}, SignatureError, "bad_signature"),
        ({"tamper_body": True}, SignatureError, "bad_signature"),
        ({"wrong_receive_id": True}, ReceiverMismatchError, "wrong_receiver"),
        ({"stale_timestamp": True}, TimestampError, "stale_timestamp"),
    ],
)
async def test_message_push_faults_are_caught_by_our_crypto(
    start_simulator, world, receiver, fault, error, reason
):
    client, app = await simulator_with(start_simulator, world, receiver)
    await control(client, "POST", POPUP, popup([world.templates[0].template_id], fault=fault))
    with pytest.raises(error) as caught:
        open_push(app, receiver.requests[0], max_age_s=300)
    assert caught.value.reason == reason


async def test_change_and_sent_events(start_simulator, world, receiver):
    client, app = await simulator_with(start_simulator, world, receiver)
    template = world.templates[2]
    await control(client, "POST", POPUP, popup([template.template_id]))
    token = await mp_token(client, world)
    data = {
        "thing1": "满100减20",
        "thing2": "全场通用",
        "date3": "2025年12月31日",
        "phrase4": "未使用",
    }
    sent = await (
        await client.post(
            "/cgi-bin/message/subscribe/send",
            params={"access_token": token},
            json={
                "touser": openid(world),
                "template_id": template.template_id,
                "data": {k: {"value": v} for k, v in data.items()},
            },
        )
    ).json()
    await control(client, "POST", "/_sim/mp/sent-events", {"msgid": sent["msgid"], "wait": True})
    await control(
        client,
        "POST",
        "/_sim/mp/subscriptions/off",
        {"user": "alice", "template_ids": [template.template_id], "wait": True},
    )
    sent_event, change_event = (open_push(app, r) for r in receiver.requests[1:])
    assert sent_event["Event"] == "subscribe_msg_sent_event"
    assert sent_event["List"] == {
        "TemplateId": template.template_id,
        "MsgID": str(sent["msgid"]),
        "ErrorCode": "0",
        "ErrorStatus": "success",
    }
    assert change_event["Event"] == "subscribe_msg_change_event"
    assert change_event["List"]["SubscribeStatusString"] == "reject"


async def test_any_other_event_can_be_pushed(start_simulator, world, receiver):
    client, app = await simulator_with(start_simulator, world, receiver, push_format=PushFormat.XML)
    data = {"order_id": "123", "shop_appid": world.shops[0].appid}
    await control(
        client,
        "POST",
        "/_sim/mp/events",
        {
            "user": "bob",
            "event": "related_shop_order_submission",
            "fields": {"Data": data},
            "wait": True,
        },
    )
    fields = open_push(app, receiver.requests[0])
    assert fields["Event"] == "related_shop_order_submission"
    assert fields["Data"] == data


async def test_a_failing_receiver_gets_one_push_and_three_retries(start_simulator, world, receiver):
    client, _ = await simulator_with(start_simulator, world, receiver)
    receiver.status = 500
    answer = await control(client, "POST", POPUP, popup([world.templates[0].template_id]))
    [delivery] = answer["deliveries"]
    assert (delivery["status"], len(delivery["attempts"])) == (
        "failed",
        1 + len(MESSAGE_SCHEDULE_S),
    )
    assert len(receiver.requests) == 4
    assert len({r.body for r in receiver.requests}) == 1


async def test_pushes_without_a_callback_url_are_refused_clearly(wechat, world):
    response = await wechat.post(POPUP, json=popup([world.templates[0].template_id]))
    assert response.status == 409
    assert "PUT /_sim/callbacks" in (await response.json())["error"]


@pytest.mark.parametrize("answer_echo", [True, False])
async def test_url_verification_handshake(start_simulator, world, receiver, answer_echo):
    client, app = await simulator_with(start_simulator, world, receiver)
    crypto = PushCrypto.for_mini_program(app.push_token, None, app.appid)

    def answer(received: Received):
        echo = crypto.verify_url(
            PushQuery(
                **{n: received.query.get(n) for n in ("signature", "timestamp", "nonce", "echostr")}
            )
        )
        return web.Response(text=echo if answer_echo else "success")

    receiver.answer = answer
    result = await control(client, "POST", "/_sim/callbacks/verify", {"source": "mini_program"})
    [delivery] = result["deliveries"]
    assert receiver.requests[0].method == "GET"
    assert delivery["status"] == ("delivered" if answer_echo else "failed")


async def test_invalid_control_bodies_are_400_with_details(wechat):
    response = await wechat.post(POPUP, json={"user": "alice", "answers": []})
    body = await response.json()
    assert response.status == 400
    assert body["details"][0]["loc"] == ["answers"]
    assert (await wechat.post(POPUP, data=b"not json")).status == 400
    unknown = await wechat.post(POPUP, json={"user": "nobody", "answers": [{"template_id": "x"}]})
    assert unknown.status == 404
    assert json.loads(await unknown.read())["error"]


async def test_a_push_fault_can_replace_the_retry_schedule(start_simulator, world, receiver):
    client, _ = await simulator_with(start_simulator, world, receiver)
    receiver.status = 500
    fault = {"retry_schedule_s": [1, 1]}
    answer = await control(
        client, "POST", POPUP, popup([world.templates[0].template_id], fault=fault)
    )
    assert len(answer["deliveries"][0]["attempts"]) == 3
