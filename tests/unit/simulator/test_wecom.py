"""WeCom: contact ways, scans and their events, externalcontact/get, welcome window, tags."""

from typing import Any

import pytest

from hub.simulator.delivery import MESSAGE_SCHEDULE_S
from hub.simulator.wecom_api import WELCOME_WINDOW_S
from hub.simulator.world import Corp, external_userid_of
from hub.wechat.message_crypto import PushCrypto, PushQuery
from hub.wechat.wire import parse_xml
from tests.unit.simulator.conftest import Received, SimClient, simulator_of
from tests.unit.simulator.helpers import api, control, control_status, wecom_token

BASE = "/cgi-bin/externalcontact"


async def call(
    client: SimClient, world, name: str, payload: dict[str, Any] | None = None, /, **params: str
) -> Any:
    token = await wecom_token(client, world)
    if payload is None:
        return await api(client, "GET", f"{BASE}/{name}", token, params=params)
    return await api(client, "POST", f"{BASE}/{name}", token, json=payload)


async def contact_way(
    client: SimClient, world, userid: str = "guide01", state: str = "s001g01"
) -> str:
    answer = await call(
        client, world, "add_contact_way", {"type": 1, "scene": 2, "user": [userid], "state": state}
    )
    assert answer["errcode"] == 0, answer
    assert answer["qr_code"].startswith("https://")
    return str(answer["config_id"])


def open_event(corp: Corp, received: Received) -> dict[str, Any]:
    crypto = PushCrypto.for_wecom(corp.callback_token, corp.callback_aes_key, corp.corpid)
    query = PushQuery(**{n: received.query.get(n) for n in ("msg_signature", "timestamp", "nonce")})
    return crypto.open_push(received.body, query, max_bytes=65536).fields


@pytest.fixture
async def wecom(wechat: SimClient, world, receiver) -> SimClient:
    await control(
        wechat,
        "PUT",
        "/_sim/callbacks",
        {"source": "wecom", "account": world.corps[0].corpid, "url": receiver.url()},
    )
    return wechat


async def scan(client: SimClient, config_id: str, user: str = "alice", **extra: Any) -> Any:
    return await control(
        client,
        "POST",
        "/_sim/wecom/scans",
        {"config_id": config_id, "user": user, "wait": True} | extra,
    )


async def test_a_scan_pushes_add_external_contact_with_state_and_welcome_code(
    wecom, world, receiver
):
    corp = world.corps[0]
    config_id = await contact_way(wecom, world)
    result = await scan(wecom, config_id)
    [received] = receiver.requests
    assert set(received.query) == {"msg_signature", "timestamp", "nonce"}
    envelope = parse_xml(received.body)
    assert (envelope["ToUserName"], envelope["AgentID"]) == (corp.corpid, str(corp.agent_id))
    event = open_event(corp, received)
    external_userid = external_userid_of(corp.corpid, world.user("alice"))
    assert event == {
        "ToUserName": corp.corpid,
        "FromUserName": "sys",
        "CreateTime": event["CreateTime"],
        "MsgType": "event",
        "Event": "change_external_contact",
        "ChangeType": "add_external_contact",
        "UserID": "guide01",
        "ExternalUserID": external_userid,
        "State": "s001g01",
        "WelcomeCode": result["welcome_code"],
    }


async def test_external_contact_carries_follow_user_state_and_unionid(wecom, world):
    await scan(wecom, await contact_way(wecom, world, "guide01", "s001g01"))
    await scan(wecom, await contact_way(wecom, world, "guide02", "s002g02"))
    external_userid = external_userid_of(world.corps[0].corpid, world.user("alice"))
    answer = await call(wecom, world, "get", external_userid=external_userid)
    assert answer["external_contact"]["unionid"] == world.user("alice").unionid
    assert answer["external_contact"]["type"] == 1
    assert [(f["userid"], f["state"]) for f in answer["follow_user"]] == [
        ("guide01", "s001g01"),
        ("guide02", "s002g02"),
    ]
    assert answer["next_cursor"] == ""


async def test_external_contact_pages_follow_users_by_cursor(start_simulator, world, receiver):
    client = await start_simulator(follow_user_page_size=1)
    await control(
        client,
        "PUT",
        "/_sim/callbacks",
        {"source": "wecom", "account": world.corps[0].corpid, "url": receiver.url()},
    )
    for userid in ("guide01", "guide02", "guide03"):
        await scan(client, await contact_way(client, world, userid))
    external_userid = external_userid_of(world.corps[0].corpid, world.user("alice"))
    seen, cursor = [], ""
    for _ in range(5):
        page = await call(
            client,
            world,
            "get",
            external_userid=external_userid,
            **({"cursor": cursor} if cursor else {}),
        )
        seen += [follow["userid"] for follow in page["follow_user"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ["guide01", "guide02", "guide03"]


async def test_external_contact_errors(wecom, world):
    assert (await call(wecom, world, "get", external_userid="wmNobody"))["errcode"] == 40096
    stranger = external_userid_of(world.corps[0].corpid, world.user("dave"))
    assert (await call(wecom, world, "get", external_userid=stranger))["errcode"] == 84061


async def test_welcome_message_once_within_20_seconds(wecom, world):
    first = await scan(wecom, await contact_way(wecom, world))
    late = await scan(wecom, await contact_way(wecom, world, "guide02"), user="bob")
    message = {
        "text": {"content": "欢迎光临"},
        "attachments": [
            {
                "msgtype": "miniprogram",
                "miniprogram": {"title": "会员中心", "appid": "wx", "page": "p"},
            }
        ],
    }
    assert (
        await call(
            wecom, world, "send_welcome_msg", {"welcome_code": first["welcome_code"]} | message
        )
    )["errcode"] == 0
    again = await call(
        wecom, world, "send_welcome_msg", {"welcome_code": first["welcome_code"]} | message
    )
    assert again["errcode"] == 41051
    simulator_of(wecom).clock.advance(WELCOME_WINDOW_S + 1)
    expired = await call(
        wecom, world, "send_welcome_msg", {"welcome_code": late["welcome_code"]} | message
    )
    assert expired["errcode"] == 41051
    messages = (await control(wecom, "GET", "/_sim/messages"))["welcome"]
    assert [(m["userid"], m["text"]) for m in messages] == [("guide01", "欢迎光临")]


async def test_welcome_message_needs_content_and_at_most_nine_attachments(wecom, world):
    code = (await scan(wecom, await contact_way(wecom, world)))["welcome_code"]
    empty = await call(wecom, world, "send_welcome_msg", {"welcome_code": code})
    too_many = await call(
        wecom,
        world,
        "send_welcome_msg",
        {"welcome_code": code, "attachments": [{"msgtype": "image"}] * 10},
    )
    assert (empty["errcode"], too_many["errcode"]) == (40058, 40058)


@pytest.mark.parametrize("how", [{"welcome_code": False}, {"fault": {"omit_welcome_code": True}}])
async def test_a_scan_without_welcome_code(wecom, world, receiver, how):
    result = await scan(wecom, await contact_way(wecom, world), **how)
    assert result["welcome_code"] is None
    assert "WelcomeCode" not in open_event(world.corps[0], receiver.requests[0])


async def test_mark_tag_and_corp_tag_list(wecom, world):
    await scan(wecom, await contact_way(wecom, world))
    corp = world.corps[0]
    tags = await call(wecom, world, "get_corp_tag_list", {})
    vip = next(
        tag["id"] for group in tags["tag_group"] for tag in group["tag"] if tag["name"] == "VIP"
    )
    external_userid = external_userid_of(corp.corpid, world.user("alice"))
    marked = await call(
        wecom,
        world,
        "mark_tag",
        {"userid": "guide01", "external_userid": external_userid, "add_tag": [vip]},
    )
    assert marked["errcode"] == 0
    contact = await call(wecom, world, "get", external_userid=external_userid)
    assert [t["tag_name"] for t in contact["follow_user"][0]["tags"]] == ["VIP"]
    only_group = await call(wecom, world, "get_corp_tag_list", {"tag_id": [vip]})
    assert [g["group_name"] for g in only_group["tag_group"]] == ["会员等级"]
    bad: list[dict[str, Any]] = [
        {"userid": "nobody", "external_userid": external_userid, "add_tag": [vip]},
        {"userid": "guide02", "external_userid": external_userid, "add_tag": [vip]},
        {"userid": "guide01", "external_userid": external_userid, "add_tag": ["etUnknown"]},
        {"userid": "guide01", "external_userid": external_userid},
    ]
    codes = [(await call(wecom, world, "mark_tag", payload))["errcode"] for payload in bad]
    assert codes == [60111, 84061, 40068, 40058]


async def test_contact_way_get_update_delete(wecom, world):
    config_id = await contact_way(wecom, world)
    updated = await call(
        wecom,
        world,
        "update_contact_way",
        {"config_id": config_id, "state": "s009g01", "remark": "门店9"},
    )
    assert updated["errcode"] == 0
    way = (await call(wecom, world, "get_contact_way", {"config_id": config_id}))["contact_way"]
    assert (way["state"], way["remark"], way["user"]) == ("s009g01", "门店9", ["guide01"])
    assert (await call(wecom, world, "del_contact_way", {"config_id": config_id}))["errcode"] == 0
    gone = await call(wecom, world, "get_contact_way", {"config_id": config_id})
    assert gone["errcode"] == 40058


@pytest.mark.parametrize(
    "payload",
    [
        {"type": 1, "scene": 2, "user": ["guide01"], "state": "x" * 31},
        {"type": 1, "scene": 2, "user": ["guide01", "guide02"]},
        {"type": 3, "scene": 2, "user": ["guide01"]},
        {"type": 1, "scene": 2, "user": []},
    ],
)
async def test_add_contact_way_checks_its_parameters(wecom, world, payload):
    assert (await call(wecom, world, "add_contact_way", payload))["errcode"] == 40058


async def test_unknown_staff_cannot_have_a_contact_way(wecom, world):
    payload = {"type": 1, "scene": 2, "user": ["nobody"]}
    assert (await call(wecom, world, "add_contact_way", payload))["errcode"] == 60111


async def test_deleting_the_guide_ends_the_relationship(wecom, world, receiver):
    corp = world.corps[0]
    await scan(wecom, await contact_way(wecom, world))
    await control(
        wecom,
        "POST",
        "/_sim/wecom/changes",
        {"change_type": "del_follow_user", "userid": "guide01", "user": "alice", "wait": True},
    )
    event = open_event(corp, receiver.requests[-1])
    assert (event["ChangeType"], event["UserID"]) == ("del_follow_user", "guide01")
    external_userid = external_userid_of(corp.corpid, world.user("alice"))
    assert (await call(wecom, world, "get", external_userid=external_userid))["errcode"] == 84061
    again = {"change_type": "del_follow_user", "userid": "guide01", "user": "alice"}
    assert await control_status(wecom, "POST", "/_sim/wecom/changes", again) == 404


@pytest.mark.parametrize(
    ("change", "field", "value"),
    [
        (
            {"change_type": "transfer_fail", "fail_reason": "customer_limit_exceed"},
            "FailReason",
            "customer_limit_exceed",
        ),
        (
            {"change_type": "del_external_contact", "source": "DELETE_BY_TRANSFER"},
            "Source",
            "DELETE_BY_TRANSFER",
        ),
        ({"change_type": "edit_external_contact"}, "ChangeType", "edit_external_contact"),
    ],
)
async def test_other_change_types(wecom, world, receiver, change, field, value):
    await scan(wecom, await contact_way(wecom, world))
    await control(
        wecom,
        "POST",
        "/_sim/wecom/changes",
        {"userid": "guide01", "user": "alice", "wait": True} | change,
    )
    assert open_event(world.corps[0], receiver.requests[-1])[field] == value


async def test_wecom_pushes_are_retried_three_times(wecom, world, receiver):
    receiver.status = 503
    result = await scan(wecom, await contact_way(wecom, world))
    assert len(result["deliveries"][0]["attempts"]) == 1 + len(MESSAGE_SCHEDULE_S)


async def test_url_check_with_unescaped_plus_verifies_from_the_raw_query(wecom, world, receiver):
    corp = world.corps[0]
    crypto = PushCrypto.for_wecom(corp.callback_token, corp.callback_aes_key, corp.corpid)
    for _ in range(10):
        await control(
            wecom, "POST", "/_sim/callbacks/verify", {"source": "wecom", "unescaped_plus": True}
        )
        raw = receiver.requests[-1].query_string
        # §3.9: read the raw query string: aiohttp's query and query_string turn "+" into " ".
        assert crypto.verify_wecom_url(PushQuery.from_query_string(raw)).isdigit()
        if "+" in raw:
            assert " " in receiver.requests[-1].query["echostr"]
            return
    pytest.fail("no echostr with a '+' in ten tries")
