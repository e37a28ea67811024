"""WeChat Pay notifications through HTTP: exactly-once settlement and every kind of bad input."""

import asyncio
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from hub.models.inbox import InboxCallback, InboxStatus, RejectedCallback
from hub.models.member import Member
from hub.models.order import Order, OrderStatus, PaymentAnomaly
from hub.models.points import PointsEntry
from hub.services.members import create_member
from hub.services.orders import create_order
from hub.settings import Settings
from hub.vault import load_vault
from tests import builders
from tests.builders import MCHID, HubBrand, PayNotice

Client = TestClient[web.Request, web.Application]
URL = f"/callbacks/wechatpay/{MCHID}"


@pytest.fixture
async def hub(db: None, settings: Settings) -> HubBrand:
    return await builders.create_hub_brand(load_vault(settings))


async def paying_member_order(hub: HubBrand, settings: Settings, amount_fen: int) -> Order:
    member = await create_member(hub.brand, load_vault(settings), phone="13800138000")
    return await create_order(
        hub.store, amount_fen, mchid=MCHID, appid=builders.APPID, member=member
    )


async def post(client: Client, notice: PayNotice, url: str = URL) -> Any:
    headers, body = notice.request()
    return await client.post(url, data=body, headers=headers)


async def assert_nothing_changed(order: Order) -> None:
    await order.refresh_from_db()
    assert order.status is OrderStatus.CREATED
    assert await PointsEntry.all().count() == 0
    assert await InboxCallback.all().count() == 0


async def test_payment_settles_the_order_and_credits_points_once(
    client: Client, hub: HubBrand, settings: Settings
) -> None:
    order = await paying_member_order(hub, settings, 12_345)
    notice = PayNotice("TRANSACTION.SUCCESS", builders.transaction(order.out_trade_no, 12_345))

    first = await post(client, notice)
    again = await post(client, notice)

    assert first.status == 204
    assert again.status == 204
    await order.refresh_from_db()
    assert order.status is OrderStatus.PAID
    assert order.points_earned == 123
    member = await Member.get(id=order.member_id)
    assert member.points_balance == 123
    assert member.total_spend_fen == 12_345
    assert await PointsEntry.all().count() == 1
    row = await InboxCallback.get()
    assert row.status is InboxStatus.DONE
    assert row.outcome == "paid"


async def test_concurrent_copies_settle_once(
    client: Client, hub: HubBrand, settings: Settings
) -> None:
    order = await paying_member_order(hub, settings, 5_000)
    notice = PayNotice("TRANSACTION.SUCCESS", builders.transaction(order.out_trade_no, 5_000))

    answers = await asyncio.gather(*(post(client, notice) for _ in range(20)))

    assert {answer.status for answer in answers} == {204}
    assert await InboxCallback.all().count() == 1
    assert await PointsEntry.all().count() == 1
    assert (await Member.get(id=order.member_id)).points_balance == 50


async def test_amount_mismatch_is_recorded_and_never_credited(
    client: Client, hub: HubBrand, settings: Settings
) -> None:
    order = await paying_member_order(hub, settings, 10_000)
    notice = PayNotice("TRANSACTION.SUCCESS", builders.transaction(order.out_trade_no, 1))

    assert (await post(client, notice)).status == 204

    await order.refresh_from_db()
    assert order.status is OrderStatus.CREATED
    anomaly = await PaymentAnomaly.get()
    assert anomaly.kind == "amount_mismatch"
    assert anomaly.details["order_amount_fen"] == 10_000
    assert await PointsEntry.all().count() == 0
    assert (await InboxCallback.get()).outcome == "amount_mismatch"


async def test_a_second_transaction_for_a_paid_order_is_an_anomaly(
    client: Client, hub: HubBrand, settings: Settings
) -> None:
    order = await paying_member_order(hub, settings, 2_000)
    for _ in range(2):  # two different transactions for the same order
        notice = PayNotice("TRANSACTION.SUCCESS", builders.transaction(order.out_trade_no, 2_000))
        assert (await post(client, notice)).status == 204

    assert [a.kind for a in await PaymentAnomaly.all()] == ["paid_twice"]
    assert await PointsEntry.all().count() == 1


async def test_refund_takes_points_back_in_proportion(
    client: Client, hub: HubBrand, settings: Settings
) -> None:
    order = await paying_member_order(hub, settings, 10_000)
    paid = PayNotice("TRANSACTION.SUCCESS", builders.transaction(order.out_trade_no, 10_000))
    assert (await post(client, paid)).status == 204

    for number, refund_fen in enumerate((2_500, 2_500)):
        notice = PayNotice(
            "REFUND.SUCCESS", builders.refund(order.out_trade_no, f"R{number}", refund_fen, 10_000)
        )
        assert (await post(client, notice)).status == 204

    await order.refresh_from_db()
    assert order.status is OrderStatus.PARTIALLY_REFUNDED
    assert order.refunded_fen == 5_000
    member = await Member.get(id=order.member_id)
    assert member.points_balance == 50
    assert member.total_spend_fen == 5_000


async def test_abnormal_refund_changes_nothing(
    client: Client, hub: HubBrand, settings: Settings
) -> None:
    order = await paying_member_order(hub, settings, 10_000)
    assert (
        await post(
            client,
            PayNotice("TRANSACTION.SUCCESS", builders.transaction(order.out_trade_no, 10_000)),
        )
    ).status == 204
    abnormal = PayNotice(
        "REFUND.ABNORMAL",
        builders.refund(order.out_trade_no, "R1", 10_000, 10_000, status="ABNORMAL"),
    )

    assert (await post(client, abnormal)).status == 204

    await order.refresh_from_db()
    assert order.status is OrderStatus.PAID
    assert (await InboxCallback.get(event_type="REFUND.ABNORMAL")).outcome == "refund_abnormal"


@pytest.mark.parametrize(
    ("break_it", "status", "reason"),
    [
        (lambda n: setattr(n, "signer_key", builders.merchant_key()), 401, "bad_signature"),
        (lambda n: setattr(n, "timestamp", n.timestamp - 600), 401, "stale_timestamp"),
        (lambda n: setattr(n, "timestamp", n.timestamp + 600), 401, "future_timestamp"),
        (lambda n: setattr(n, "key_id", "PUB_KEY_ID_9999999999"), 401, "unknown_serial"),
        (lambda n: setattr(n, "signtest", True), 401, "signtest_probe"),
        (lambda n: setattr(n, "api_v3_key", "x" * 32), 400, "gcm_tag_mismatch"),
        (lambda n: n.resource.update(mchid="1900000109"), 400, "wrong_merchant"),
        (lambda n: n.resource.pop("transaction_id"), 400, "bad_resource"),
    ],
)
async def test_bad_notifications_are_refused_recorded_and_change_nothing(
    client: Client, hub: HubBrand, settings: Settings, break_it: Any, status: int, reason: str
) -> None:
    order = await paying_member_order(hub, settings, 1_000)
    notice = PayNotice("TRANSACTION.SUCCESS", builders.transaction(order.out_trade_no, 1_000))
    break_it(notice)

    answer = await post(client, notice)

    assert answer.status == status
    assert await answer.json() == {"code": "FAIL", "message": reason}
    rejected = await RejectedCallback.get()
    assert rejected.reason == reason
    assert rejected.status_code == status
    assert rejected.headers.get("Wechatpay-Signature") == "[redacted]"
    await assert_nothing_changed(order)


async def test_tampered_body_is_refused(client: Client, hub: HubBrand, settings: Settings) -> None:
    order = await paying_member_order(hub, settings, 1_000)
    headers, body = PayNotice(
        "TRANSACTION.SUCCESS", builders.transaction(order.out_trade_no, 1_000)
    ).request()

    answer = await client.post(
        URL, data=body.replace(b"TRANSACTION", b"TRANSACTIOM"), headers=headers
    )

    assert answer.status == 401
    await assert_nothing_changed(order)


@pytest.mark.parametrize(
    ("path", "headers", "body", "status", "reason"),
    [
        (
            "/callbacks/wechatpay/1900000000",
            {"Content-Type": "application/json"},
            b"{}",
            404,
            "unknown_account",
        ),
        (URL, {"Content-Type": "text/plain"}, b"{}", 415, "unsupported_media_type"),
        (URL, {"Content-Type": "application/json"}, b"x" * 70_000, 413, "body_too_large"),
        (URL, {"Content-Type": "application/json"}, b"not json", 401, "missing_signature"),
    ],
)
async def test_malformed_requests_get_a_clear_4xx(
    client: Client,
    hub: HubBrand,
    path: str,
    headers: dict[str, str],
    body: bytes,
    status: int,
    reason: str,
) -> None:
    answer = await client.post(path, data=body, headers=headers)

    assert answer.status == status
    assert (await answer.json())["message"] == reason
    assert (await RejectedCallback.get()).reason == reason


async def test_unknown_event_type_is_stored_and_acknowledged(client: Client, hub: HubBrand) -> None:
    notice = PayNotice("TRANSACTION.CLOSED", {"mchid": MCHID, "out_trade_no": "X1"})

    assert (await post(client, notice)).status == 204

    row = await InboxCallback.get()
    assert row.status is InboxStatus.IGNORED
    assert row.event_type == "TRANSACTION.CLOSED"


async def test_v2_payment_and_refund_settle_like_v3(
    client: Client, hub: HubBrand, settings: Settings
) -> None:
    order = await paying_member_order(hub, settings, 3_000)
    body = builders.v2_payment(order.out_trade_no, 3_000)

    first = await client.post(f"{URL}/v2", data=body, headers={"Content-Type": "text/xml"})
    again = await client.post(f"{URL}/v2", data=body, headers={"Content-Type": "text/xml"})
    refunded = await client.post(
        f"{URL}/v2",
        data=builders.v2_refund(order.out_trade_no, "R9", 3_000, 3_000),
        headers={"Content-Type": "text/xml"},
    )

    assert b"<return_code><![CDATA[SUCCESS]]></return_code>" in await first.read()
    assert again.status == refunded.status == 200
    await order.refresh_from_db()
    assert order.status is OrderStatus.REFUNDED
    assert order.points_earned == 30
    assert (await Member.get(id=order.member_id)).points_balance == 0
    assert await PointsEntry.all().count() == 2


async def test_v2_bad_signature_is_refused_in_v2_format(client: Client, hub: HubBrand) -> None:
    body = builders.v2_payment("W123", 100).replace(b"<total_fee>", b"<total_fee>9")

    answer = await client.post(f"{URL}/v2", data=body, headers={"Content-Type": "text/xml"})

    assert answer.status == 401
    assert b"<return_code><![CDATA[FAIL]]></return_code>" in await answer.read()
