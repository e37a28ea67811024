"""Pay v3 as WeChat does it (simulator): wechatpayv3 accepts our output; Authorization checks."""

import json
import time
from datetime import UTC, datetime

import pytest
import wechatpayv3.core
from cryptography.hazmat.primitives.asymmetric import rsa
from multidict import CIMultiDict
from wechatpayv3 import WeChatPay
from wechatpayv3.utils import build_authorization

from hub.errors import CallbackRejected, SignatureError, TimestampError
from hub.wechat import pay_v3, pay_v3_platform
from tests.unit.wechat.samples import (
    API_V3_KEY,
    APPID,
    CERT_SIGNER,
    CERTIFICATE,
    MCHID,
    MERCHANT_KEY,
    MERCHANT_SERIAL,
    NONCE,
    NOW,
    OTHER_KEY,
    PUBLIC_KEY_SIGNER,
    TRANSACTION,
    clock,
    envelope,
    one_character_changed,
    public_key_mode_client,
    resource,
    signed,
    wechatpayv3_client,
)

# -- notifications wechatpayv3 accepts -------------------------------------------------------------


def certificate_mode_client(tmp_path) -> WeChatPay:
    # wechatpayv3 reads platform certificates from cert_dir before trying to download them.
    (tmp_path / f"{CERTIFICATE.serial_no}.pem").write_text(CERTIFICATE.pem)
    return wechatpayv3_client(cert_dir=str(tmp_path))


def test_wechatpayv3_accepts_our_notification_in_certificate_mode(tmp_path):
    client = certificate_mode_client(tmp_path)
    headers, body = signed(signer=CERT_SIGNER)
    result = client.callback(CIMultiDict(headers), body)
    assert result["resource"] == TRANSACTION
    assert result["event_type"] == "TRANSACTION.SUCCESS"
    assert client.callback(CIMultiDict(headers), one_character_changed(body)) is None


def test_wechatpayv3_accepts_our_notification_in_public_key_mode():
    client = public_key_mode_client()
    headers, body = signed(signer=PUBLIC_KEY_SIGNER)
    assert client.callback(CIMultiDict(headers), body)["resource"] == TRANSACTION
    assert client.callback(CIMultiDict(headers), one_character_changed(body)) is None


def test_wechatpayv3_rejects_our_resource_under_another_apiv3_key():
    client = public_key_mode_client()
    fields = envelope(resource=resource(api_v3_key="X" * 32))
    headers, body = signed(fields, signer=PUBLIC_KEY_SIGNER)
    assert client.callback(CIMultiDict(headers), body) is None


def test_wechatpayv3_downloads_the_certificates_body_we_build(monkeypatch):
    certificates_body = pay_v3_platform.build_certificates_body([CERTIFICATE], API_V3_KEY)
    paths = []

    def fake_request(self, path, *args, **kwargs):
        paths.append(path)
        return 200, certificates_body.decode()

    # The only I/O wechatpayv3 does at construction in certificate mode is this download.
    monkeypatch.setattr(wechatpayv3.core.Core, "request", fake_request)
    client = wechatpayv3_client()
    assert paths == ["/v3/certificates"]
    assert [cert.serial_number for cert in client._core._certificates] == [
        int(CERTIFICATE.serial_no, 16)
    ]
    headers, body = signed(signer=CERT_SIGNER)
    assert client.callback(CIMultiDict(headers), body)["resource"] == TRANSACTION


# -- merchant Authorization (§1.2) -----------------------------------------------------------------


def test_we_accept_the_authorization_wechatpayv3_builds():
    order = {"mchid": MCHID, "appid": APPID, "description": "会员卡", "amount": {"total": 1}}
    header = build_authorization(
        "/v3/pay/transactions/jsapi", "POST", MCHID, MERCHANT_SERIAL, MERCHANT_KEY, data=order
    )
    body = json.dumps(order).encode()
    auth = pay_v3_platform.verify_authorization(
        header, MERCHANT_KEY.public_key(), "POST", "/v3/pay/transactions/jsapi", body
    )
    assert (auth.mchid, auth.serial_no) == (MCHID, MERCHANT_SERIAL)
    with pytest.raises(SignatureError) as caught:
        pay_v3_platform.verify_authorization(
            header, MERCHANT_KEY.public_key(), "POST", "/v3/pay/transactions/jsapi", body + b" "
        )
    assert caught.value.reason == "bad_signature"


def merchant_request(
    body: bytes = b'{"mchid":"1230000109"}', timestamp: int = NOW
) -> tuple[str, str, bytes]:
    merchant = pay_v3.MerchantKey(MCHID, MERCHANT_SERIAL, MERCHANT_KEY)
    path = "/v3/pay/transactions/out-trade-no/1217752501201407033233368018/close"
    return pay_v3.authorization_header(merchant, "POST", path, body, timestamp, NONCE), path, body


def verify_request(
    header: str, path: str, body: bytes, key: rsa.RSAPrivateKey = MERCHANT_KEY
) -> pay_v3_platform.Authorization:
    return pay_v3_platform.verify_authorization(
        header, key.public_key(), "POST", path, body, clock=clock
    )


def test_merchant_authorization_verifies():
    header, path, body = merchant_request()
    assert verify_request(header, path, body).mchid == MCHID


@pytest.mark.parametrize(
    ("change", "error", "reason"),
    [
        (lambda h, p, b: (h, p, b + b" "), SignatureError, "bad_signature"),
        (lambda h, p, b: (h, p + "?x=1", b), SignatureError, "bad_signature"),
        (lambda h, p, b: (h, p, b, OTHER_KEY), SignatureError, "bad_signature"),
        (lambda _h, p, b: ("", p, b), SignatureError, "missing_signature"),
        (lambda _h, p, b: ("Bearer abc", p, b), SignatureError, "unsupported_signature_type"),
        (lambda h, p, b: (h.split(",")[0], p, b), SignatureError, "malformed_authorization"),
        (lambda h, p, b: (h + ',mchid="1"', p, b), SignatureError, "malformed_authorization"),
        (lambda h, p, b: (h + ",junk", p, b), SignatureError, "malformed_authorization"),
        (
            lambda h, p, b: (h.replace(f'timestamp="{NOW}"', 'timestamp="1"'), p, b),
            TimestampError,
            "stale_timestamp",
        ),
    ],
    ids=[
        "body",
        "url",
        "key",
        "empty",
        "scheme",
        "missing_fields",
        "duplicate_field",
        "junk",
        "stale",
    ],
)
def test_merchant_authorization_rejections(change, error, reason):
    with pytest.raises(CallbackRejected) as caught:
        verify_request(*change(*merchant_request()))
    assert type(caught.value) is error
    assert caught.value.reason == reason


def test_authorization_mchid_and_serial_are_not_signed_so_the_caller_checks_them():
    header, path, body = merchant_request()
    forged = header.replace(f'mchid="{MCHID}"', 'mchid="1230000110"')
    assert verify_request(forged, path, body).mchid == "1230000110"


def test_authorization_parser_takes_fields_in_any_order_with_spaces():
    header = (
        'WECHATPAY2-SHA256-RSA2048 serial_no="AB", timestamp="1", signature="c2ln", '
        'nonce_str="n", mchid="1230000109"'
    )
    assert pay_v3_platform.parse_authorization(header) == pay_v3_platform.Authorization(
        mchid="1230000109", nonce_str="n", signature="c2ln", timestamp="1", serial_no="AB"
    )


def test_authorization_verification_uses_the_real_clock_by_default():
    header, path, body = merchant_request(timestamp=int(time.time()))
    assert pay_v3_platform.verify_authorization(
        header, MERCHANT_KEY.public_key(), "POST", path, body
    )


# -- resources and envelopes (§1.4, §1.5) ----------------------------------------------------------


def test_encrypt_resource_draws_a_12_character_nonce():
    first, second = resource(), resource()
    assert len(first["nonce"]) == 12
    assert first["nonce"] != second["nonce"]
    assert first["algorithm"] == "AEAD_AES_256_GCM"


def test_build_notification_writes_create_time_in_beijing_time():
    body = pay_v3_platform.build_notification(
        "EV-1", datetime(2015, 5, 20, 5, 29, 35, tzinfo=UTC), "REFUND.SUCCESS", "退款成功", {}
    )
    fields = json.loads(body)
    assert fields["create_time"] == "2015-05-20T13:29:35+08:00"
    assert fields["resource_type"] == "encrypt-resource"
    assert "退款成功".encode() in body
