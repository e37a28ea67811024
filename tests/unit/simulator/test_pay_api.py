"""Pay v3 APIs: Authorization checked on every request, every answer signed in the asked mode."""

import json
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from hub.errors import SignatureError
from hub.simulator.world import ResponseKeyMode
from hub.wechat import pay_v3
from tests.unit.simulator.conftest import SimClient, simulator_of
from tests.unit.simulator.helpers import (
    PAY_PATH,
    control,
    control_status,
    create_order,
    jsapi_order,
    merchant_key,
    pay,
    platform_keys,
)


def verify(world, headers, body) -> pay_v3.VerifiedMessage:
    return pay_v3.verify_message(headers, body, platform_keys(world))


def error_code(body: bytes) -> str:
    return str(json.loads(body)["code"])


async def test_an_unsigned_request_is_refused_with_sign_error(wechat, world):
    status, headers, body = await pay(
        wechat, world, "POST", PAY_PATH, jsapi_order(world, "T000001"), signed=False
    )
    assert (status, error_code(body)) == (401, "SIGN_ERROR")
    verify(world, headers, body)


async def test_a_request_signed_with_another_key_is_refused(wechat, world):
    key = merchant_key(world)
    other = pay_v3.MerchantKey(key.mchid, key.serial_no, rsa.generate_private_key(65537, 2048))
    status, _, body = await pay(
        wechat, world, "POST", PAY_PATH, jsapi_order(world, "T000002"), key=other
    )
    assert (status, error_code(body)) == (401, "SIGN_ERROR")
    sign_information = json.loads(body)["detail"]["sign_information"]
    assert sign_information["truncated_sign_message"].startswith(f"POST\n{PAY_PATH}\n")


@pytest.mark.parametrize("field", ["mchid", "serial_no"])
async def test_the_mchid_and_serial_must_be_the_merchants(wechat, world, field):
    key = merchant_key(world)
    wrong = {"mchid": "1999999999", "serial_no": "ABCDEF0123456789"}[field]
    forged = pay_v3.MerchantKey(
        wrong if field == "mchid" else key.mchid,
        wrong if field == "serial_no" else key.serial_no,
        key.private_key,
    )
    status, _, body = await pay(
        wechat, world, "POST", PAY_PATH, jsapi_order(world, "T000003"), key=forged
    )
    assert (status, error_code(body)) == (401, "SIGN_ERROR")


async def test_a_stale_timestamp_is_refused(wechat, world):
    status, _, body = await pay(
        wechat,
        world,
        "POST",
        PAY_PATH,
        jsapi_order(world, "T000004"),
        timestamp=int(time.time()) - 600,
    )
    assert (status, error_code(body)) == (401, "SIGN_ERROR")


@pytest.mark.parametrize("mode", ["certificate", "public_key"])
async def test_every_answer_verifies_in_the_mode_the_request_asked_for(wechat, world, mode):
    platform = world.platform
    serial = platform.public_key_id if mode == "public_key" else None
    expected = platform.public_key_id if mode == "public_key" else platform.serial_no
    mchid = world.merchants[0].mchid
    answers = [
        await pay(wechat, world, "POST", PAY_PATH, jsapi_order(world, "M000001"), serial=serial),
        await pay(
            wechat,
            world,
            "GET",
            f"/v3/pay/transactions/out-trade-no/M000001?mchid={mchid}",
            serial=serial,
        ),
        await pay(
            wechat,
            world,
            "GET",
            f"/v3/pay/transactions/out-trade-no/NOPE00?mchid={mchid}",
            serial=serial,
        ),
        await pay(
            wechat,
            world,
            "POST",
            "/v3/pay/transactions/out-trade-no/M000001/close",
            {"mchid": mchid},
            serial=serial,
        ),
        await pay(wechat, world, "POST", PAY_PATH, {"appid": "x"}, serial=serial, signed=False),
    ]
    assert [status for status, _, _ in answers] == [200, 200, 404, 204, 401]
    for _, headers, body in answers:
        assert verify(world, headers, body).serial == expected
        assert headers["Request-ID"]


async def test_identical_prepay_requests_get_the_same_prepay_id(wechat, world):
    first = await create_order(wechat, world, "D000001")
    assert first == await create_order(wechat, world, "D000001")
    assert first.startswith("wx")
    assert len(first) == 36


async def test_a_duplicate_out_trade_no_with_another_amount_is_refused(wechat, world):
    await create_order(wechat, world, "D000002", total_fen=100)
    status, _, body = await pay(
        wechat, world, "POST", PAY_PATH, jsapi_order(world, "D000002", total_fen=200)
    )
    assert (status, error_code(body)) == (400, "INVALID_REQUEST")


async def test_prepay_on_a_paid_order_is_refused(wechat, world, receiver):
    await create_order(wechat, world, "D000003", notify_url=receiver.url())
    await control(wechat, "POST", "/_sim/pay/orders/D000003/pay", {"wait": True})
    status, _, body = await pay(
        wechat, world, "POST", PAY_PATH, jsapi_order(world, "D000003", notify_url=receiver.url())
    )
    assert (status, error_code(body)) == (403, "ORDERPAID")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"out_trade_no": "short"}, "PARAM_ERROR"),
        ({"out_trade_no": "has space 123"}, "PARAM_ERROR"),
        ({"amount": {"total": 0}}, "PARAM_ERROR"),
        ({"amount": {"total": 100, "currency": "USD"}}, "PARAM_ERROR"),
        ({"notify_url": "https://hub.example.com/callbacks?x=1"}, "PARAM_ERROR"),
        ({"payer": {"openid": "oSomeoneElse"}}, "PARAM_ERROR"),
        ({"description": "x" * 128}, "PARAM_ERROR"),
        ({"mchid": "1999999999"}, "PARAM_ERROR"),
        ({"appid": "wx0123456789abcdef"}, "APPID_MCHID_NOT_MATCH"),
        ({"time_expire": "tomorrow"}, "PARAM_ERROR"),
    ],
)
async def test_prepay_parameters_are_checked(wechat, world, change, code):
    status, _, body = await pay(
        wechat, world, "POST", PAY_PATH, jsapi_order(world, "P000001") | change
    )
    assert (status, error_code(body)) == (400, code)


async def test_queries_by_out_trade_no_and_transaction_id_after_payment(wechat, world, receiver):
    mchid = world.merchants[0].mchid
    await create_order(wechat, world, "Q000001", total_fen=2500, notify_url=receiver.url())
    path = f"/v3/pay/transactions/out-trade-no/Q000001?mchid={mchid}"
    unpaid = json.loads((await pay(wechat, world, "GET", path))[2])
    assert unpaid["trade_state"] == "NOTPAY"
    assert "transaction_id" not in unpaid
    await control(wechat, "POST", "/_sim/pay/orders/Q000001/pay", {"payer_total_fen": 2000})
    paid = json.loads((await pay(wechat, world, "GET", path))[2])
    assert paid["trade_state"] == "SUCCESS"
    assert paid["amount"] == {
        "total": 2500,
        "payer_total": 2000,
        "currency": "CNY",
        "payer_currency": "CNY",
    }
    by_id = f"/v3/pay/transactions/id/{paid['transaction_id']}?mchid={mchid}"
    assert json.loads((await pay(wechat, world, "GET", by_id))[2]) == paid
    status, _, body = await pay(wechat, world, "GET", "/v3/pay/transactions/out-trade-no/Q000001")
    assert (status, error_code(body)) == (400, "PARAM_ERROR")


async def test_close_answers_204_and_refuses_a_paid_order(wechat, world, receiver):
    mchid = world.merchants[0].mchid
    await create_order(wechat, world, "C000001")
    await create_order(wechat, world, "C000002", notify_url=receiver.url())
    await control(wechat, "POST", "/_sim/pay/orders/C000002/pay")
    closed = await pay(
        wechat, world, "POST", "/v3/pay/transactions/out-trade-no/C000001/close", {"mchid": mchid}
    )
    paid = await pay(
        wechat, world, "POST", "/v3/pay/transactions/out-trade-no/C000002/close", {"mchid": mchid}
    )
    assert (closed[0], closed[2]) == (204, b"")
    assert (paid[0], error_code(paid[2])) == (403, "ORDERPAID")
    status, _, body = await pay(wechat, world, "POST", PAY_PATH, jsapi_order(world, "C000001"))
    assert (status, error_code(body)) == (400, "ORDER_CLOSED")
    assert await control_status(wechat, "POST", "/_sim/pay/orders/C000001/pay") == 409


async def test_refund_is_processing_until_settled_and_can_be_queried(wechat, world, receiver):
    await create_order(wechat, world, "R000001", total_fen=1000, notify_url=receiver.url())
    await control(wechat, "POST", "/_sim/pay/orders/R000001/pay")
    request = {
        "out_trade_no": "R000001",
        "out_refund_no": "RF000001",
        "reason": "退货",
        "amount": {"refund": 400, "total": 1000, "currency": "CNY"},
    }
    status, _, body = await pay(wechat, world, "POST", "/v3/refund/domestic/refunds", request)
    refund = json.loads(body)
    assert (status, refund["status"], refund["amount"]["refund"]) == (200, "PROCESSING", 400)
    assert refund["refund_id"].startswith("50300")
    # Repeating the same request returns the same refund.
    again = await pay(wechat, world, "POST", "/v3/refund/domestic/refunds", request)
    assert json.loads(again[2])["refund_id"] == refund["refund_id"]
    await control(wechat, "POST", "/_sim/pay/refunds/RF000001/result", {"status": "SUCCESS"})
    queried = json.loads(
        (await pay(wechat, world, "GET", "/v3/refund/domestic/refunds/RF000001"))[2]
    )
    assert queried["status"] == "SUCCESS"
    assert "success_time" in queried


async def test_refunds_cannot_exceed_the_order_or_precede_payment(wechat, world, receiver):
    await create_order(wechat, world, "R000002", total_fen=1000, notify_url=receiver.url())
    path = "/v3/refund/domestic/refunds"

    def refund(number: str, amount: int, total: int = 1000) -> dict[str, object]:
        return {
            "out_trade_no": "R000002",
            "out_refund_no": number,
            "amount": {"refund": amount, "total": total, "currency": "CNY"},
        }

    unpaid = await pay(wechat, world, "POST", path, refund("RF1", 100))
    assert (unpaid[0], error_code(unpaid[2])) == (404, "RESOURCE_NOT_EXISTS")
    await control(wechat, "POST", "/_sim/pay/orders/R000002/pay")
    assert (await pay(wechat, world, "POST", path, refund("RF1", 600)))[0] == 200
    too_much = await pay(wechat, world, "POST", path, refund("RF2", 500))
    assert (too_much[0], error_code(too_much[2])) == (403, "NOT_ENOUGH")
    wrong_total = await pay(wechat, world, "POST", path, refund("RF3", 100, total=999))
    assert (wrong_total[0], error_code(wrong_total[2])) == (400, "PARAM_ERROR")
    changed = await pay(wechat, world, "POST", path, refund("RF1", 700))
    assert (changed[0], error_code(changed[2])) == (400, "INVALID_REQUEST")


async def test_certificates_download_decrypts_and_verifies_with_our_reader(wechat, world):
    status, headers, body = await pay(wechat, world, "GET", "/v3/certificates")
    assert status == 200
    certificates = pay_v3.read_certificates_response(headers, body, world.merchants[0].api_v3_key)
    assert [cert.serial_no for cert in certificates] == [world.platform.serial_no]


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (500, "SYSTEM_ERROR"),
        (429, "RATELIMIT_EXCEEDED"),
        (401, "SIGN_ERROR"),
        (503, "SERVICE_UNAVAILABLE"),
    ],
)
async def test_forced_pay_statuses_are_signed_error_answers(wechat, world, status, code):
    await control(
        wechat,
        "POST",
        "/_sim/faults/endpoints",
        {"endpoint": "/v3/*", "status": status, "times": 1},
    )
    answer = await pay(wechat, world, "POST", PAY_PATH, jsapi_order(world, "F000001"))
    assert (answer[0], error_code(answer[2])) == (status, code)
    verify(world, answer[1], answer[2])
    assert (await pay(wechat, world, "POST", PAY_PATH, jsapi_order(world, "F000001")))[0] == 200


@pytest.mark.parametrize(
    ("fault", "reason"), [("bad_signature", "bad_signature"), ("unknown_serial", "unknown_serial")]
)
async def test_response_signature_faults_fail_verification(wechat, world, fault, reason):
    await control(
        wechat, "POST", "/_sim/faults/endpoints", {"endpoint": PAY_PATH, fault: True, "times": 1}
    )
    status, headers, body = await pay(
        wechat, world, "POST", PAY_PATH, jsapi_order(world, "F000002")
    )
    assert status == 200
    with pytest.raises(SignatureError) as caught:
        verify(world, headers, body)
    assert caught.value.reason == reason


async def test_a_delay_fault_times_out_a_client(wechat, world):
    await control(
        wechat, "POST", "/_sim/faults/endpoints", {"endpoint": PAY_PATH, "delay_s": 0.3, "times": 1}
    )
    started = time.monotonic()
    status, _, _ = await pay(wechat, world, "POST", PAY_PATH, jsapi_order(world, "F000003"))
    assert status == 200
    assert time.monotonic() - started >= 0.3


async def test_a_merchant_without_certificates_signs_every_answer_with_the_public_key(
    start_simulator, world
):
    merchant = world.merchants[0].model_copy(
        update={"response_key_mode": ResponseKeyMode.PUBLIC_KEY}
    )
    client: SimClient = await start_simulator(world.model_copy(update={"merchants": (merchant,)}))
    _, headers, body = await pay(client, world, "POST", PAY_PATH, jsapi_order(world, "K000001"))
    assert verify(world, headers, body).serial == world.platform.public_key_id
    assert simulator_of(client).state.orders


async def test_an_unknown_pay_path_is_a_signed_json_404(wechat, world):
    status, headers, body = await pay(wechat, world, "GET", "/v3/no/such/api")
    assert (status, error_code(body)) == (404, "RESOURCE_NOT_EXISTS")
    verify(world, headers, body)
