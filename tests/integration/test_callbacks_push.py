"""Mini-program, WeCom and Channels pushes through HTTP: verification, events, bad input."""

import asyncio
import time

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from hub.models.channels_order import ChannelsOrder, ChannelsOrderStatus
from hub.models.contact import ContactLink, ContactStatus
from hub.models.inbox import InboxCallback, InboxStatus, RejectedCallback
from hub.models.outbox import OutboxMessage
from hub.models.staff import StaffRole
from hub.models.subscription import GrantStatus, SubscriptionGrant, SubscriptionMessage
from hub.services.audit import Actor
from hub.services.contacts import contact_state
from hub.services.staff import add_staff
from hub.settings import Settings
from hub.vault import load_vault
from hub.wechat.message_crypto import PushCrypto, compute_signature
from tests import builders
from tests.builders import APPID, CORPID, PUSH_TOKEN, SHOP_APPID, HubBrand, Push

Client = TestClient[web.Request, web.Application]
MP_URL = f"/callbacks/miniprogram/{APPID}"
WECOM_URL = f"/callbacks/wecom/{CORPID}"
SHOP_URL = f"/callbacks/channels/{SHOP_APPID}"


@pytest.fixture
async def hub(db: None, settings: Settings) -> HubBrand:
    return await builders.create_hub_brand(load_vault(settings))


async def push(client: Client, url: str, message: Push) -> str:
    query, body = message.request()
    answer = await client.post(f"{url}?{query}", data=body)
    assert answer.status == 200, await answer.text()
    return await answer.text()


async def test_miniprogram_url_verification_echoes(client: Client, hub: HubBrand) -> None:
    timestamp, nonce = str(int(time.time())), "1514711492"
    signature = compute_signature(PUSH_TOKEN, timestamp, nonce)

    good = await client.get(
        MP_URL,
        params={
            "signature": signature,
            "timestamp": timestamp,
            "nonce": nonce,
            "echostr": "4375120948345356249",
        },
    )
    bad = await client.get(
        MP_URL,
        params={
            "signature": "0" * 40,
            "timestamp": timestamp,
            "nonce": nonce,
            "echostr": "4375120948345356249",
        },
    )

    assert await good.text() == "4375120948345356249"
    assert bad.status == 401
    assert (await RejectedCallback.get()).reason == "bad_signature"


async def test_wecom_url_verification_returns_the_decrypted_echostr(
    client: Client, hub: HubBrand
) -> None:
    echo = PushCrypto(PUSH_TOKEN, builders.AES_KEY, CORPID).encrypt("1616140317555161061")

    answer = await client.get(
        WECOM_URL,
        params={
            "msg_signature": echo.msg_signature,
            "timestamp": echo.timestamp,
            "nonce": echo.nonce,
            "echostr": echo.encrypt,
        },
    )

    assert answer.status == 200
    assert await answer.text() == "1616140317555161061"


@pytest.mark.parametrize("as_object", [False, True], ids=["list_array", "list_object"])
async def test_subscribe_popup_grants_one_send_per_accept(
    client: Client, hub: HubBrand, as_object: bool
) -> None:
    items = (
        [("TPL_RECEIPT", "accept")]
        if as_object
        else [
            ("TPL_RECEIPT", "accept"),
            ("TPL_POINTS", "reject"),
            ("TPL_COUPON", "acceptWithAudio"),
        ]
    )
    event = builders.subscribe_popup(
        "o_user", items, as_object=as_object, create_time=str(int(time.time()))
    )

    assert await push(client, MP_URL, Push(event)) == "success"
    assert await push(client, MP_URL, Push(event)) == "success"  # a duplicate

    grants = {grant.template_id: grant for grant in await SubscriptionGrant.all()}
    assert grants["TPL_RECEIPT"].remaining == 1
    assert grants["TPL_RECEIPT"].status is GrantStatus.ACCEPTED
    if not as_object:
        assert grants["TPL_POINTS"].status is GrantStatus.REJECTED
        assert grants["TPL_COUPON"].remaining == 1
    assert await InboxCallback.all().count() == 1


async def test_turning_a_template_off_takes_grants_back(client: Client, hub: HubBrand) -> None:
    accept = builders.subscribe_popup("o_user", [("TPL_RECEIPT", "accept")])
    await push(client, MP_URL, Push(accept))
    turned_off = {
        **accept,
        "Event": "subscribe_msg_change_event",
        "CreateTime": accept["CreateTime"] + 1,
        "List": [{"TemplateId": "TPL_RECEIPT", "SubscribeStatusString": "reject"}],
    }

    await push(client, MP_URL, Push(turned_off))

    grant = await SubscriptionGrant.get()
    assert grant.remaining == 0
    assert grant.status is GrantStatus.REJECTED


async def test_sent_event_in_xml_records_the_delivery(client: Client, hub: HubBrand) -> None:
    fields = {
        "ToUserName": "gh_97417a04a28d",
        "FromUserName": "o_user",
        "CreateTime": int(time.time()),
        "MsgType": "event",
        "Event": "subscribe_msg_sent_event",
        "SubscribeMsgSentEvent": {
            "List": {
                "TemplateId": "TPL_RECEIPT",
                "MsgID": "1988810812324364291",
                "ErrorCode": "0",
                "ErrorStatus": "success",
            }
        },
    }

    assert await push(client, MP_URL, Push(fields, xml=True)) == "success"

    message = await SubscriptionMessage.get(msgid="1988810812324364291")
    assert message.status.value == "delivered"


@pytest.mark.parametrize(
    ("message", "status", "reason"),
    [
        (
            Push(builders.subscribe_popup("o", [("T", "accept")]), token="WrongToken"),
            401,
            "bad_signature",
        ),
        (
            Push(builders.subscribe_popup("o", [("T", "accept")]), receive_id="wx0000000000000001"),
            400,
            "wrong_receiver",
        ),
        (Push({"ToUserName": "gh_97417a04a28d", "MsgType": "event"}), 400, "missing_field"),
    ],
)
async def test_bad_pushes_are_refused_and_recorded(
    client: Client, hub: HubBrand, message: Push, status: int, reason: str
) -> None:
    query, body = message.request()

    answer = await client.post(f"{MP_URL}?{query}", data=body)

    assert answer.status == status
    assert (await answer.json())["reason"] == reason
    assert (await RejectedCallback.get()).reason == reason
    assert await InboxCallback.all().count() == 0


async def test_malformed_body_and_unknown_app_are_refused(client: Client, hub: HubBrand) -> None:
    query, _ = Push(builders.subscribe_popup("o", [("T", "accept")])).request()

    malformed = await client.post(f"{MP_URL}?{query}", data=b"{not json")
    unknown = await client.post(f"/callbacks/miniprogram/wx0000000000000002?{query}", data=b"{}")

    assert malformed.status == 400
    assert unknown.status == 404
    assert sorted(r.reason for r in await RejectedCallback.all()) == [
        "malformed_json",
        "unknown_account",
    ]


async def test_unknown_mini_program_event_is_stored_as_ignored(
    client: Client, hub: HubBrand
) -> None:
    fields = {
        "ToUserName": "gh_97417a04a28d",
        "FromUserName": "o_user",
        "CreateTime": int(time.time()),
        "MsgType": "event",
        "Event": "debug_demo",
    }

    await push(client, MP_URL, Push(fields))

    assert (await InboxCallback.get()).status is InboxStatus.IGNORED


async def test_new_contact_is_linked_to_guide_and_store_with_follow_ups(
    client: Client, hub: HubBrand
) -> None:
    guide = await add_staff(
        hub.brand, "Li", StaffRole.CLERK, Actor.cli(), store=hub.store, wecom_userid="guide01"
    )
    added = builders.wecom_change(
        "add_external_contact",
        "wm_customer",
        State=contact_state(hub.store.id, guide.id),
        WelcomeCode="WELCOME123",
    )

    await push(client, WECOM_URL, Push(added, receive_id=CORPID, xml=True))
    await push(client, WECOM_URL, Push(added, receive_id=CORPID, xml=True))

    link = await ContactLink.get()
    assert link.status is ContactStatus.ACTIVE
    assert link.guide_id == guide.id
    assert link.store_id == hub.store.id
    assert sorted(m.task for m in await OutboxMessage.all()) == [
        "link_contact_member",
        "welcome_contact",
    ]


async def test_customer_deleting_the_guide_ends_the_link(client: Client, hub: HubBrand) -> None:
    await push(
        client,
        WECOM_URL,
        Push(builders.wecom_change("add_external_contact", "wm_c"), receive_id=CORPID, xml=True),
    )
    await asyncio.sleep(0)
    removed = builders.wecom_change("del_follow_user", "wm_c")
    removed["CreateTime"] += 1

    await push(client, WECOM_URL, Push(removed, receive_id=CORPID, xml=True))

    link = await ContactLink.get()
    assert link.status is ContactStatus.ENDED
    assert link.end_reason == "deleted_by_customer"


async def test_shop_order_paid_is_recorded_and_queued_for_details(
    client: Client, hub: HubBrand
) -> None:
    order_id = "3705115058471208928"  # above 2^53: must survive as a string

    await push(
        client,
        SHOP_URL,
        Push(builders.channels_order("channels_ec_order_new", order_id), receive_id=SHOP_APPID),
    )
    await push(
        client,
        SHOP_URL,
        Push(builders.channels_order("channels_ec_order_pay", order_id), receive_id=SHOP_APPID),
    )

    order = await ChannelsOrder.get()
    assert order.order_id == order_id
    assert order.status is ChannelsOrderStatus.PAID
    assert [m.task for m in await OutboxMessage.all()] == ["sync_channels_order"]
