"""The edges of callback handling: out-of-order notices, hostile bytes, stale pushes, tenancy."""

import gzip
import time
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from arq.connections import ArqRedis

from hub.callbacks import pipeline
from hub.errors import DeliveryError
from hub.models.account import MiniProgramApp, PayMerchant
from hub.models.brand import Brand
from hub.models.contact import ContactLink, ContactStatus
from hub.models.inbox import InboxCallback, InboxStatus, RejectedCallback
from hub.models.member import Member
from hub.models.order import Order, OrderStatus
from hub.models.points import PointsEntry
from hub.services import accounts, brands, orders
from hub.services.audit import Actor
from hub.services.members import create_member
from hub.settings import Settings
from hub.vault import load_vault
from hub.wechat.message_crypto import compute_signature
from tests import builders
from tests.builders import APPID, CORPID, MCHID, HubBrand, PayNotice, Push

Client = TestClient[web.Request, web.Application]
PAY_URL = f"/callbacks/wechatpay/{MCHID}"


@pytest.fixture
async def hub(db: None, settings: Settings) -> HubBrand:
    return await builders.create_hub_brand(load_vault(settings))


async def member_order(hub: HubBrand, settings: Settings, amount_fen: int) -> Order:
    member = await create_member(hub.brand, load_vault(settings), phone="13800138000")
    return await orders.create_order(hub.store, amount_fen, mchid=MCHID, appid=APPID, member=member)


async def post_pay(client: Client, notice: PayNotice) -> Any:
    headers, body = notice.request()
    return await client.post(PAY_URL, data=body, headers=headers)


async def test_a_refund_before_its_payment_waits_and_is_applied_after_it(
    client: Client, hub: HubBrand, settings: Settings, queue: ArqRedis
) -> None:
    order = await member_order(hub, settings, 10_000)
    refund = PayNotice("REFUND.SUCCESS", builders.refund(order.out_trade_no, "R1", 10_000, 10_000))

    assert (await post_pay(client, refund)).status == 204
    waiting = await InboxCallback.get(event_type="REFUND.SUCCESS")
    assert waiting.status is InboxStatus.FAILED
    assert "before its payment" in (waiting.last_error or "")

    paid = PayNotice("TRANSACTION.SUCCESS", builders.transaction(order.out_trade_no, 10_000))
    assert (await post_pay(client, paid)).status == 204
    result = await pipeline.process(waiting.id, load_vault(settings), queue)  # its retry

    assert result.outcome == "refunded"
    settled = await Order.get(id=order.id)
    assert settled.status is OrderStatus.REFUNDED
    member = await Member.get(id=order.member_id)
    assert (member.points_balance, member.total_spend_fen) == (0, 0)


async def test_a_failed_v2_notice_does_not_shadow_the_success(
    client: Client, hub: HubBrand, settings: Settings
) -> None:
    order = await member_order(hub, settings, 500)
    success = builders.v2_payment(order.out_trade_no, 500, transaction_id="4200000000777")
    failure = builders.v2_payment(
        order.out_trade_no, 500, transaction_id="4200000000777", result_code="FAIL"
    )

    for body in (failure, success):
        await client.post(f"{PAY_URL}/v2", data=body, headers={"Content-Type": "text/xml"})

    assert sorted(row.event_type for row in await InboxCallback.all()) == [
        "TRANSACTION.FAIL",
        "TRANSACTION.SUCCESS",
    ]
    assert (await Order.get(id=order.id)).status is OrderStatus.PAID


async def test_refunds_with_the_same_number_at_two_merchants_both_take_points_back(
    client: Client, hub: HubBrand, settings: Settings
) -> None:
    vault = load_vault(settings)
    other = await brands.create_brand("other", "Other", Actor.cli())
    other_store = await brands.add_store(other, "o1", "Other store", Actor.cli())
    await accounts.set_account(
        PayMerchant,
        other,
        accounts.PayCredentials(
            mchid="1900000109",
            appid="wx7777777777777777",
            merchant_serial_no="ABCDEF0123",
            private_key_pem=builders._pem(builders.merchant_key()),
            api_v3_key=builders.API_V3_KEY,
            platform_public_key_id=builders.PUBLIC_KEY_ID,
            platform_public_key_pem=builders._public_pem(builders.platform_key()),
        ),
        vault,
        Actor.cli(),
    )
    ours = await member_order(hub, settings, 1_000)
    theirs_member = await create_member(other, vault, phone="13900139000")
    theirs = await orders.create_order(
        other_store, 1_000, mchid="1900000109", appid="wx7777777777777777", member=theirs_member
    )
    for order, mchid, appid in ((ours, MCHID, APPID), (theirs, "1900000109", "wx7777777777777777")):
        url = f"/callbacks/wechatpay/{mchid}"
        for notice in (
            PayNotice(
                "TRANSACTION.SUCCESS",
                builders.transaction(order.out_trade_no, 1_000, mchid=mchid, appid=appid),
            ),
            PayNotice(
                "REFUND.SUCCESS",
                builders.refund(order.out_trade_no, "R001", 1_000, 1_000) | {"mchid": mchid},
            ),
        ):
            headers, body = notice.request()
            assert (await client.post(url, data=body, headers=headers)).status == 204

    assert (await Member.get(id=ours.member_id)).points_balance == 0
    assert (await Member.get(id=theirs_member.id)).points_balance == 0
    assert await PointsEntry.filter(kind="reverse").count() == 2


async def test_a_late_add_does_not_revive_an_ended_contact(client: Client, hub: HubBrand) -> None:
    added = builders.wecom_change("add_external_contact", "wm_late")
    removed = builders.wecom_change("del_follow_user", "wm_late")
    removed["CreateTime"] = added["CreateTime"] + 5
    retried_add = dict(added) | {"CreateTime": added["CreateTime"] + 1}

    for event in (added, removed, retried_add):
        query, body = Push(event, receive_id=CORPID, xml=True).request()
        assert (await client.post(f"/callbacks/wecom/{CORPID}?{query}", data=body)).status == 200

    link = await ContactLink.get()
    assert link.status is ContactStatus.ENDED
    assert (await InboxCallback.filter(outcome="stale").count()) == 1


async def test_stale_pushes_are_refused(client: Client, hub: HubBrand) -> None:
    event = builders.subscribe_popup("o_user", [("T", "accept")])
    query, body = Push(event, timestamp=int(time.time()) - 3600).request()

    answer = await client.post(f"/callbacks/miniprogram/{APPID}?{query}", data=body)

    assert answer.status == 401
    assert (await answer.json())["reason"] == "stale_timestamp"
    assert await InboxCallback.all().count() == 0


async def test_push_event_keys_do_not_store_openids(client: Client, hub: HubBrand) -> None:
    event = builders.subscribe_popup("o9AgO5Kd5ggOC-bXrbNODIiE3bGY", [("T", "accept")])
    query, body = Push(event).request()

    await client.post(f"/callbacks/miniprogram/{APPID}?{query}", data=body)

    row = await InboxCallback.get()
    assert "o9AgO5" not in row.event_key
    assert len(row.event_key) == 64


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/callbacks/wechatpay/abc%00", 404),
        ("/callbacks/wecom/ww%20x", 404),
        ("/callbacks/miniprogram/" + "a" * 40, 404),
    ],
)
async def test_malformed_account_ids_are_not_routes(
    client: Client, hub: HubBrand, path: str, status: int
) -> None:
    answer = await client.post(path, data=b"{}")
    assert answer.status == status


async def test_a_body_that_does_not_decode_is_a_400(client: Client, hub: HubBrand) -> None:
    headers, _ = PayNotice("TRANSACTION.SUCCESS", builders.transaction("W1", 100)).request()

    answer = await client.post(
        PAY_URL, data=b"not gzip at all", headers=headers | {"Content-Encoding": "gzip"}
    )

    assert answer.status == 400
    assert (await answer.json())["message"] == "bad_encoding"
    assert gzip  # (a valid gzip body would be read normally)


@pytest.fixture
async def plain_app(hub: HubBrand, settings: Settings) -> str:
    """A mini-program in plain mode: its push bodies are not signed (protocols §3.3)."""
    appid = "wx6666666666666666"
    await accounts.set_account(
        MiniProgramApp,
        hub.brand,
        accounts.MiniProgramCredentials(
            appid=appid,
            secret=builders.APP_SECRET,
            push_token=builders.PUSH_TOKEN,
        ),
        load_vault(settings),
        Actor.cli(),
    )
    return appid


def plain_query() -> str:
    timestamp, nonce = str(int(time.time())), "12345"
    return (
        f"signature={compute_signature(builders.PUSH_TOKEN, timestamp, nonce)}"
        f"&timestamp={timestamp}&nonce={nonce}"
    )


@pytest.mark.parametrize(
    ("fields", "status", "reason"),
    [
        ({"MsgId": {"deep": {"er": 1}}}, 400, "malformed_field"),
        ({"Event": "x" * 200}, 400, "malformed_field"),
        ({"Event": "debug\u0000"}, 400, "nul_character"),
        ({"Event": "subscribe_msg_popup_event", "List": 5}, 200, None),
    ],
)
async def test_plain_mode_junk_is_refused_or_harmless_never_a_500(
    client: Client, plain_app: str, fields: dict[str, Any], status: int, reason: str | None
) -> None:
    body = {
        "ToUserName": "gh_1",
        "FromUserName": "o_user",
        "CreateTime": int(time.time()),
        "MsgType": "event",
        "Event": "debug_demo",
    } | fields

    answer = await client.post(f"/callbacks/miniprogram/{plain_app}?{plain_query()}", json=body)

    assert answer.status == status
    if reason:
        assert (await answer.json())["reason"] == reason
        assert (await RejectedCallback.get()).reason == reason


async def test_a_failed_call_never_carries_its_query_into_the_error(
    client: Client, hub: HubBrand
) -> None:
    error = DeliveryError("GET /sns/jscode2session: no answer (TimeoutError)", retryable=True)
    assert "secret" not in str(error)
    # The message is built from the path alone (hub.wechat.api.WeChatHttp.send_once).
    assert await Brand.all().count() == 1
