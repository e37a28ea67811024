"""Pay notifications: exact crypto, WeChat's retry schedule (compressed), every push fault."""

import json
from typing import Any

import pytest

from hub.errors import DecryptionError, SignatureError, TimestampError
from hub.simulator.delivery import PAY_SCHEDULE_S
from hub.wechat import pay_v3
from tests.unit.simulator.conftest import Received, Receiver, SimClient, simulator_of
from tests.unit.simulator.helpers import control, create_order, pay, platform_keys

PAY_ORDER = "/_sim/pay/orders/{}/pay"


def read(world, received: Received) -> pay_v3.Notification:
    return pay_v3.read_notification(
        received.headers, received.body, platform_keys(world), world.merchants[0].api_v3_key
    )


async def paid(wechat: SimClient, world, receiver: Receiver, out_trade_no: str, **action) -> Any:
    await create_order(wechat, world, out_trade_no, total_fen=1200, notify_url=receiver.url())
    return await control(wechat, "POST", PAY_ORDER.format(out_trade_no), {"wait": True} | action)


async def test_payment_notification_decrypts_to_the_order(wechat, world, receiver):
    answer = await paid(wechat, world, receiver, "N000001")
    [delivery] = answer["deliveries"]
    assert (delivery["status"], len(delivery["attempts"])) == ("delivered", 1)
    [received] = receiver.requests
    assert received.path == "/callbacks/test/1"
    assert received.headers["Content-Type"] == "application/json"
    notification = read(world, received)
    assert (notification.event_type, notification.summary) == ("TRANSACTION.SUCCESS", "支付成功")
    assert notification.signed_by == world.platform.serial_no
    resource = notification.resource
    assert resource["out_trade_no"] == "N000001"
    assert resource["appid"] == world.merchants[0].appid
    assert resource["mchid"] == world.merchants[0].mchid
    assert resource["amount"]["total"] == 1200
    assert resource["trade_state"] == "SUCCESS"
    assert resource["transaction_id"] == answer["order"]["transaction_id"]
    assert resource["attach"] == "store=S001&guide=guide01"


async def test_a_failing_receiver_gets_the_whole_pay_schedule(wechat, world, receiver):
    receiver.status = 500
    answer = await paid(wechat, world, receiver, "N000002")
    [delivery] = answer["deliveries"]
    assert delivery["status"] == "failed"
    assert len(delivery["attempts"]) == len(receiver.requests) == 1 + len(PAY_SCHEDULE_S) == 16
    assert {attempt["status"] for attempt in delivery["attempts"]} == {500}
    # Every retry is the same notification, signed afresh.
    assert len({r.body for r in receiver.requests}) == 1
    assert len({r.headers["Wechatpay-Nonce"] for r in receiver.requests}) == 16
    span = receiver.requests[-1].at - receiver.requests[0].at
    assert span >= sum(PAY_SCHEDULE_S) / 1_000_000


async def test_retries_follow_the_schedule_scaled_by_time_scale(start_simulator, world, receiver):
    client = await start_simulator(time_scale=1000)
    receiver.statuses = [500, 500, 500, 500]
    await paid(client, world, receiver, "N000003")
    gaps = [
        later.at - earlier.at
        for earlier, later in zip(receiver.requests, receiver.requests[1:], strict=False)
    ]
    expected = [delay / 1000 for delay in PAY_SCHEDULE_S[:4]]  # 15, 15, 30, 180 ms
    assert len(gaps) == 4
    assert all(gap >= want * 0.9 for gap, want in zip(gaps, expected, strict=True))
    assert gaps[3] - gaps[0] > 0.1


@pytest.mark.parametrize("status", [200, 204])
async def test_200_and_204_are_both_accepted(wechat, world, receiver, status):
    receiver.status = status
    [delivery] = (await paid(wechat, world, receiver, "N000004"))["deliveries"]
    assert (delivery["status"], len(delivery["attempts"])) == ("delivered", 1)


async def test_a_slow_hub_is_a_failure_and_is_retried(start_simulator, world, receiver):
    client = await start_simulator(deadline_s=0.25)
    receiver.delays = [0.5]
    [delivery] = (await paid(client, world, receiver, "N000005"))["deliveries"]
    assert [attempt["error"] for attempt in delivery["attempts"]] == ["timeout", None]
    assert delivery["status"] == "delivered"


async def test_duplicate_delivery_sends_the_same_notification_again_afterwards(
    wechat, world, receiver
):
    answer = await paid(wechat, world, receiver, "N000006", fault={"duplicates": 2})
    first, *copies = answer["deliveries"]
    assert [d["copy_of"] for d in copies] == [first["id"], first["id"]]
    assert len(receiver.requests) == 3
    assert len({json.loads(r.body)["id"] for r in receiver.requests}) == 1
    assert receiver.requests[0].at <= receiver.requests[1].at <= receiver.requests[2].at


async def test_concurrent_duplicates_arrive_at_the_same_time(wechat, world, receiver):
    receiver.delay_s = 0.3
    await paid(wechat, world, receiver, "N000007", fault={"concurrent": 1})
    first, second = receiver.requests
    assert first.body == second.body
    # The second arrived while the first was still being answered.
    assert abs(second.at - first.at) < 0.3


async def test_a_tampered_body_fails_verification(wechat, world, receiver):
    await paid(wechat, world, receiver, "N000008", fault={"tamper_body": True})
    with pytest.raises(SignatureError) as caught:
        read(world, receiver.requests[0])
    assert caught.value.reason == "bad_signature"


async def test_a_resource_under_another_apiv3_key_fails_decryption(wechat, world, receiver):
    await paid(wechat, world, receiver, "N000009", fault={"wrong_api_v3_key": True})
    with pytest.raises(DecryptionError) as caught:
        read(world, receiver.requests[0])
    assert caught.value.reason == "gcm_tag_mismatch"


async def test_a_stale_timestamp_is_caught(wechat, world, receiver):
    await paid(wechat, world, receiver, "N000010", fault={"stale_timestamp": True})
    with pytest.raises(TimestampError) as caught:
        read(world, receiver.requests[0])
    assert caught.value.reason == "stale_timestamp"


async def test_signtest_probes_fail_as_probes(wechat, world, receiver):
    await paid(wechat, world, receiver, "N000011", fault={"signtest": True})
    with pytest.raises(SignatureError) as caught:
        read(world, receiver.requests[0])
    assert caught.value.reason == "signtest_probe"
    receiver.status = 401
    probe = await control(
        wechat,
        "POST",
        "/_sim/pay/probes",
        {"mchid": world.merchants[0].mchid, "url": receiver.url(), "wait": True},
    )
    [delivery] = probe["deliveries"]
    # Probes are not retried; the hub's refusal is the right answer.
    assert (delivery["status"], len(delivery["attempts"])) == ("failed", 1)
    assert receiver.requests[-1].headers["Wechatpay-Signature"].startswith("WECHATPAY/SIGNTEST/")


async def test_wrong_appid_mchid_and_amount_inside_the_resource(wechat, world, receiver):
    fault = {"wrong_appid": True, "wrong_mchid": True, "amount_delta_fen": 1}
    await paid(wechat, world, receiver, "N000012", fault=fault)
    resource = read(world, receiver.requests[0]).resource
    assert resource["appid"] != world.merchants[0].appid
    assert resource["mchid"] != world.merchants[0].mchid
    assert resource["amount"]["total"] == 1201


async def test_notifications_can_be_signed_in_public_key_mode(wechat, world, receiver):
    await paid(wechat, world, receiver, "N000013", fault={"sign_mode": "public_key"})
    assert read(world, receiver.requests[0]).signed_by == world.platform.public_key_id


async def test_an_armed_push_fault_applies_as_many_times_as_asked(wechat, world, receiver):
    await control(
        wechat,
        "POST",
        "/_sim/faults/pushes",
        {"source": "wechat_pay", "event": "TRANSACTION.SUCCESS", "tamper_body": True, "times": 1},
    )
    await paid(wechat, world, receiver, "N000014")
    await paid(wechat, world, receiver, "N000015")
    with pytest.raises(SignatureError):
        read(world, receiver.requests[0])
    assert read(world, receiver.requests[1]).resource["out_trade_no"] == "N000015"
    assert (await control(wechat, "GET", "/_sim/faults"))["pushes"] == []


async def test_a_paid_order_cannot_be_paid_again(wechat, world, receiver):
    await paid(wechat, world, receiver, "N000016")
    response = await wechat.post(PAY_ORDER.format("N000016"), json={})
    assert response.status == 409
    assert "not payable" in (await response.json())["error"]


async def refund(wechat: SimClient, world, out_trade_no: str, out_refund_no: str, fen: int):
    payload = {
        "out_trade_no": out_trade_no,
        "out_refund_no": out_refund_no,
        "amount": {"refund": fen, "total": 1200, "currency": "CNY"},
    }
    status, _, body = await pay(wechat, world, "POST", "/v3/refund/domestic/refunds", payload)
    assert status == 200, body


@pytest.mark.parametrize(
    ("status", "event_type"),
    [("SUCCESS", "REFUND.SUCCESS"), ("CLOSED", "REFUND.CLOSED"), ("ABNORMAL", "REFUND.ABNORMAL")],
)
async def test_refund_outcomes_are_notified(wechat, world, receiver, status, event_type):
    await paid(wechat, world, receiver, "N000020")
    await refund(wechat, world, "N000020", "NR00001", 500)
    result = "/_sim/pay/refunds/NR00001/result"
    await control(wechat, "POST", result, {"status": status, "wait": True})
    notification = read(world, receiver.requests[-1])
    assert (notification.event_type, notification.original_type) == (event_type, "refund")
    assert notification.resource["refund_status"] == status
    assert notification.resource["amount"]["refund"] == 500
    assert ("success_time" in notification.resource) is (status == "SUCCESS")
    order = simulator_of(wechat).state.orders[(world.merchants[0].mchid, "N000020")]
    assert order.refunded_fen == (0 if status == "CLOSED" else 500)
    # ABNORMAL is not final; SUCCESS and CLOSED are.
    again = await wechat.post(result, json={"status": "SUCCESS"})
    assert again.status == (200 if status == "ABNORMAL" else 409)


async def test_refund_notifications_go_to_the_refunds_own_notify_url(wechat, world, receiver):
    await paid(wechat, world, receiver, "N000021")
    payload = {
        "out_trade_no": "N000021",
        "out_refund_no": "NR00002",
        "notify_url": receiver.url("/callbacks/wechat_pay/refunds"),
        "amount": {"refund": 1200, "total": 1200, "currency": "CNY"},
    }
    assert (await pay(wechat, world, "POST", "/v3/refund/domestic/refunds", payload))[0] == 200
    await control(wechat, "POST", "/_sim/pay/refunds/NR00002/result", {"wait": True})
    assert receiver.requests[-1].path == "/callbacks/wechat_pay/refunds"


async def test_a_held_payment_notice_arrives_after_its_refunds(wechat, world, receiver):
    await create_order(wechat, world, "N000022", total_fen=1200, notify_url=receiver.url())
    # Held for a (simulated) day: it waits until released.
    held = await control(
        wechat, "POST", PAY_ORDER.format("N000022"), {"fault": {"delay_s": 86400 * 1000}}
    )
    await refund(wechat, world, "N000022", "NR00003", 1200)
    await control(wechat, "POST", "/_sim/pay/refunds/NR00003/result", {"wait": True})
    push_id = held["deliveries"][0]["id"]
    await control(wechat, "POST", f"/_sim/pushes/{push_id}/deliver-now")
    await control(wechat, "POST", f"/_sim/pushes/{push_id}/wait?timeout=5")
    events = [read(world, received).event_type for received in receiver.requests]
    assert events == ["REFUND.SUCCESS", "TRANSACTION.SUCCESS"]
