"""Independent implementations against the simulator: wechatpayv3 as a Pay client and as a
notification verifier, wechatpy's message crypto and v2 Pay parsers on the pushes."""

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import xmltodict
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpy.crypto import WeChatCrypto as WechatpyMiniProgramCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WechatpyWeComCrypto
from wechatpy.pay import WeChatPay as WechatpyV2Pay

from hub.simulator.world import PushFormat, World
from tests.unit.simulator.conftest import Receiver, SimClient
from tests.unit.simulator.helpers import (
    control,
    create_order,
    openid,
    pay,
    private_key_of,
    wecom_token,
)


def gateway(client: SimClient) -> str:
    return str(client.make_url("")).rstrip("/")


def wechatpayv3_client(world: World, client: SimClient, receiver: Receiver, **mode) -> WeChatPay:
    merchant = world.merchants[0]
    pay = WeChatPay(
        wechatpay_type=WeChatPayType.MINIPROG,
        mchid=merchant.mchid,
        private_key=merchant.merchant_private_key_pem,
        cert_serial_no=merchant.merchant_serial_no,
        appid=merchant.appid,
        apiv3_key=merchant.api_v3_key,
        notify_url=receiver.url("/callbacks/wechat_pay/1"),
        **mode,
    )
    # §1.9: the gateway is hard-coded; point it at the simulator.
    pay._core._gate_way = gateway(client)
    return pay


def unrelated_certificate(world: World) -> str:
    """A valid certificate that is not the platform's, so that wechatpayv3 must download."""
    key = private_key_of(world.merchants[0].merchant_private_key_pem)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not the platform")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1234567)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


async def run_order_flow(
    pay: WeChatPay, world: World, wechat: SimClient, receiver: Receiver
) -> None:
    """Prepay, query, user pays (notification verified by wechatpayv3), refund, close."""
    code, message = await asyncio.to_thread(
        pay.pay,
        description="门店消费",
        out_trade_no="WXPV3000001",
        amount={"total": 880, "currency": "CNY"},
        payer={"openid": openid(world)},
    )
    assert code == 200, message
    assert json.loads(message)["prepay_id"].startswith("wx")
    code, message = await asyncio.to_thread(pay.query, out_trade_no="WXPV3000001")
    assert (code, json.loads(message)["trade_state"]) == (200, "NOTPAY")

    await control(wechat, "POST", "/_sim/pay/orders/WXPV3000001/pay", {"wait": True})
    notice = receiver.requests[-1]
    result = pay.callback(notice.headers, notice.body)
    assert result["event_type"] == "TRANSACTION.SUCCESS"
    assert result["resource"]["out_trade_no"] == "WXPV3000001"
    assert result["resource"]["amount"]["total"] == 880

    code, message = await asyncio.to_thread(pay.query, out_trade_no="WXPV3000001")
    transaction_id = json.loads(message)["transaction_id"]
    assert (code, json.loads(message)["trade_state"]) == (200, "SUCCESS")
    code, message = await asyncio.to_thread(
        pay.refund,
        out_refund_no="WXPV3R00001",
        transaction_id=transaction_id,
        amount={"refund": 300, "total": 880, "currency": "CNY"},
    )
    assert (code, json.loads(message)["status"]) == (200, "PROCESSING")
    await control(wechat, "POST", "/_sim/pay/refunds/WXPV3R00001/result", {"wait": True})
    refund_notice = pay.callback(receiver.requests[-1].headers, receiver.requests[-1].body)
    assert refund_notice["resource"]["refund_status"] == "SUCCESS"
    code, message = await asyncio.to_thread(pay.query_refund, out_refund_no="WXPV3R00001")
    assert (code, json.loads(message)["status"]) == (200, "SUCCESS")

    code, message = await asyncio.to_thread(
        pay.pay,
        description="未支付",
        out_trade_no="WXPV3000002",
        amount={"total": 100},
        payer={"openid": openid(world)},
    )
    assert code == 200
    assert (await asyncio.to_thread(pay.close, out_trade_no="WXPV3000002"))[0] == 204


async def test_wechatpayv3_in_certificate_mode_downloads_certificates_and_verifies_answers(
    wechat, world, receiver, tmp_path: Path
):
    (tmp_path / "unrelated.pem").write_text(unrelated_certificate(world))
    pay = wechatpayv3_client(world, wechat, receiver, cert_dir=str(tmp_path))
    await run_order_flow(pay, world, wechat, receiver)
    # The first answer named an unknown serial: wechatpayv3 fetched /v3/certificates from us.
    assert (tmp_path / f"{world.platform.serial_no}.pem").exists()


async def test_wechatpayv3_in_public_key_mode_verifies_answers_and_notifications(
    wechat, world, receiver
):
    platform = world.platform
    await control(
        wechat, "POST", "/_sim/faults/pushes", {"source": "wechat_pay", "sign_mode": "public_key"}
    )
    pay = wechatpayv3_client(
        world,
        wechat,
        receiver,
        public_key=platform.public_key_pem,
        public_key_id=platform.public_key_id,
    )
    await run_order_flow(pay, world, wechat, receiver)
    assert receiver.requests[0].headers["Wechatpay-Serial"] == platform.public_key_id


async def test_wechatpayv3_rejects_a_tampered_notification(wechat, world, receiver):
    pay = wechatpayv3_client(
        world,
        wechat,
        receiver,
        public_key=world.platform.public_key_pem,
        public_key_id=world.platform.public_key_id,
    )
    await asyncio.to_thread(
        pay.pay,
        description="x",
        out_trade_no="WXPV3000003",
        amount={"total": 1},
        payer={"openid": openid(world)},
    )
    fault = {"tamper_body": True, "sign_mode": "public_key"}
    await control(
        wechat, "POST", "/_sim/pay/orders/WXPV3000003/pay", {"fault": fault, "wait": True}
    )
    notice = receiver.requests[-1]
    assert pay.callback(notice.headers, notice.body) is None


# -- wechatpy: message crypto and Pay v2 ---------------------------------------------------------


async def register(client: SimClient, source: str, account: str, url: str) -> None:
    await control(
        client, "PUT", "/_sim/callbacks", {"source": source, "account": account, "url": url}
    )


@pytest.mark.parametrize("fmt", [PushFormat.JSON, PushFormat.XML])
async def test_wechatpy_decrypts_mini_program_subscription_events(
    start_simulator, world, receiver, fmt
):
    app = world.mini_programs[0].model_copy(update={"push_format": fmt})
    client = await start_simulator(world.model_copy(update={"mini_programs": (app,)}))
    await register(client, "mini_program", app.appid, receiver.url())
    answers = [{"template_id": t.template_id} for t in world.templates[:2]]
    await control(
        client,
        "POST",
        "/_sim/mp/subscriptions",
        {"user": "alice", "answers": answers, "wait": True},
    )
    push = receiver.requests[0]
    crypto = WechatpyMiniProgramCrypto(app.push_token, app.push_aes_key, app.appid)
    envelope = json.loads(push.body) if fmt is PushFormat.JSON else push.body.decode()
    plain = crypto.decrypt_message(
        envelope, push.query["msg_signature"], push.query["timestamp"], push.query["nonce"]
    )
    if fmt is PushFormat.JSON:
        items = json.loads(plain)["List"]
    else:
        items = xmltodict.parse(plain)["xml"]["SubscribeMsgPopupEvent"]["List"]
    assert [item["TemplateId"] for item in items] == [t.template_id for t in world.templates[:2]]
    assert push.query["openid"] == openid(world)


async def test_wechatpy_decrypts_wecom_contact_events_and_url_checks(wechat, world, receiver):
    corp = world.corps[0]
    await register(wechat, "wecom", corp.corpid, receiver.url())
    token = await wecom_token(wechat, world)
    way = await (
        await wechat.post(
            "/cgi-bin/externalcontact/add_contact_way",
            params={"access_token": token},
            json={"type": 1, "scene": 2, "user": ["guide01"], "state": "s001g01"},
        )
    ).json()
    await control(
        wechat,
        "POST",
        "/_sim/wecom/scans",
        {"config_id": way["config_id"], "user": "bob", "wait": True},
    )
    push = receiver.requests[0]
    crypto = WechatpyWeComCrypto(corp.callback_token, corp.callback_aes_key, corp.corpid)
    plain = crypto.decrypt_message(
        push.body.decode(),
        push.query["msg_signature"],
        push.query["timestamp"],
        push.query["nonce"],
    )
    event = xmltodict.parse(plain)["xml"]
    assert (event["ChangeType"], event["UserID"], event["State"]) == (
        "add_external_contact",
        "guide01",
        "s001g01",
    )
    assert event["WelcomeCode"]

    await control(wechat, "POST", "/_sim/callbacks/verify", {"source": "wecom"})
    check = receiver.requests[-1]
    echo = crypto.check_signature(
        check.query["msg_signature"],
        check.query["timestamp"],
        check.query["nonce"],
        check.query["echostr"],
    )
    assert echo.isdigit()


async def test_wechatpy_decrypts_shop_pushes_with_the_shop_appid(wechat, world, receiver):
    shop = world.shops[0]
    await register(wechat, "channels", shop.appid, receiver.url())
    await control(wechat, "POST", "/_sim/shop/orders", {"user": "carol", "wait": True})
    push = receiver.requests[0]
    crypto = WechatpyMiniProgramCrypto(shop.push_token, shop.push_aes_key, shop.appid)
    plain = crypto.decrypt_message(
        json.loads(push.body),
        push.query["msg_signature"],
        push.query["timestamp"],
        push.query["nonce"],
    )
    event = json.loads(plain)
    assert event["Event"] == "channels_ec_order_new"
    assert isinstance(event["order_info"]["order_id"], int)
    assert event["order_info"]["order_id"] > 2**53


async def test_wechatpy_verifies_v2_payment_and_decrypts_v2_refund_notifications(
    wechat, world, receiver
):
    merchant = world.merchants[0]
    await create_order(wechat, world, "V2000001", total_fen=500, notify_url=receiver.url())
    await control(wechat, "POST", "/_sim/pay/orders/V2000001/pay", {"protocol": "v2", "wait": True})
    v2 = WechatpyV2Pay(merchant.appid, merchant.api_v2_key, merchant.mchid)
    payment = v2.parse_payment_result(receiver.requests[-1].body)
    assert (payment["out_trade_no"], payment["total_fee"]) == ("V2000001", 500)
    refund = {
        "out_trade_no": "V2000001",
        "out_refund_no": "V2R000001",
        "amount": {"refund": 200, "total": 500, "currency": "CNY"},
    }
    assert (await pay(wechat, world, "POST", "/v3/refund/domestic/refunds", refund))[0] == 200
    await control(
        wechat, "POST", "/_sim/pay/refunds/V2R000001/result", {"protocol": "v2", "wait": True}
    )
    refunded = v2.parse_refund_notify_result(receiver.requests[-1].body)
    assert (refunded["out_refund_no"], refunded["refund_fee"]) == ("V2R000001", 200)
    assert refunded["refund_status"] == "SUCCESS"
