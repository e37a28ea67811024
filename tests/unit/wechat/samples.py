"""Keys, certificates and signed Pay v3 notifications shared by the wechat unit tests."""

import asyncio
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from wechatpayv3 import WeChatPay, WeChatPayType

from hub.errors import CallbackRejected
from hub.wechat import pay_keys, pay_v3, pay_v3_platform
from hub.wechat.primitives import Certificate, load_certificate

MCHID = "1230000109"
APPID = "wxd678efh567hg6787"
MERCHANT_SERIAL = "444F4864EA9B34415ABCDEF0123456789ABCDEF0"
API_V3_KEY = "0123456789abcdefghijklmnopqrstuv"
PUBLIC_KEY_ID = "PUB_KEY_ID_0112860886012025062700111588000000"
NOW = 1_717_834_061
NONCE = "593BEC0C930BF1AFEB40B4A08C8FB242"

# RSA key generation is slow: once per test session.
MERCHANT_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PLATFORM_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC_MODE_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)

TRANSACTION: dict[str, Any] = {
    "mchid": MCHID,
    "appid": APPID,
    "out_trade_no": "1217752501201407033233368018",
    "transaction_id": "4200000000000000000000000000",
    "trade_type": "JSAPI",
    "trade_state": "SUCCESS",
    "trade_state_desc": "支付成功",
    "bank_type": "CMC",
    "attach": "store=S001",
    "success_time": "2018-06-08T10:34:56+08:00",
    "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
    "amount": {"total": 100, "payer_total": 100, "currency": "CNY", "payer_currency": "CNY"},
}


def private_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_pem(key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def certificate_pem(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    serial: int,
    not_after: datetime = datetime(2040, 1, 1, tzinfo=UTC),
) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def self_signed(
    key: rsa.RSAPrivateKey, not_after: datetime = datetime(2040, 1, 1, tzinfo=UTC)
) -> Certificate:
    return load_certificate(certificate_pem(key, x509.random_serial_number(), not_after))


CERTIFICATE = self_signed(PLATFORM_KEY)
CERT_SIGNER = pay_v3_platform.PlatformSigner(CERTIFICATE.serial_no, PLATFORM_KEY)
PUBLIC_KEY_SIGNER = pay_v3_platform.PlatformSigner(PUBLIC_KEY_ID, PUBLIC_MODE_KEY)


def clock() -> float:
    return NOW


def platform_keys(**kwargs: Any) -> pay_keys.PlatformKeys:
    """Both modes at once, as during a migration from certificates to the public key."""
    return pay_keys.PlatformKeys(
        certificates=[CERTIFICATE],
        public_keys={PUBLIC_KEY_ID: PUBLIC_MODE_KEY.public_key()},
        **kwargs,
    )


def resource(
    plaintext: bytes | None = None, *, api_v3_key: str = API_V3_KEY, associated_data="transaction"
) -> dict[str, str]:
    plaintext = (
        json.dumps(TRANSACTION, ensure_ascii=False).encode() if plaintext is None else plaintext
    )
    return pay_v3_platform.encrypt_resource(
        api_v3_key, plaintext, associated_data=associated_data, original_type="transaction"
    )


def envelope(**fields: Any) -> dict[str, Any]:
    return {
        "id": "EV-2018022511223320873",
        "create_time": "2015-05-20T13:29:35+08:00",
        "resource_type": "encrypt-resource",
        "event_type": "TRANSACTION.SUCCESS",
        "summary": "支付成功",
        "resource": resource(),
    } | fields


def signed(
    body: bytes | dict[str, Any] | None = None,
    *,
    signer: pay_v3_platform.PlatformSigner = CERT_SIGNER,
    timestamp: int = NOW,
) -> tuple[dict[str, str], bytes]:
    if body is None:
        body = envelope()
    if isinstance(body, dict):
        body = json.dumps(body, ensure_ascii=False).encode()
    return pay_v3_platform.sign_message(signer, body, timestamp=timestamp, nonce=NONCE), body


def read(
    headers: Mapping[str, str],
    body: bytes,
    keys: pay_keys.PlatformKeys | None = None,
    api_v3_key: str = API_V3_KEY,
    **kwargs: Any,
) -> pay_v3.Notification:
    keys = platform_keys() if keys is None else keys
    return pay_v3.read_notification(headers, body, keys, api_v3_key, clock=clock, **kwargs)


def assert_rejected(error: type[CallbackRejected], reason: str, headers, body, **kwargs) -> None:
    with pytest.raises(CallbackRejected) as caught:
        read(headers, body, **kwargs)
    assert type(caught.value) is error
    assert caught.value.reason == reason


def wechatpayv3_client(**mode: Any) -> WeChatPay:
    return WeChatPay(
        wechatpay_type=WeChatPayType.MINIPROG,
        mchid=MCHID,
        private_key=private_pem(MERCHANT_KEY),
        cert_serial_no=MERCHANT_SERIAL,
        appid=APPID,
        apiv3_key=API_V3_KEY,
        **mode,
    )


def public_key_mode_client() -> WeChatPay:
    return wechatpayv3_client(
        public_key=public_pem(PUBLIC_MODE_KEY.public_key()), public_key_id=PUBLIC_KEY_ID
    )


def one_character_changed(body: bytes) -> bytes:
    return body.replace(b"TRANSACTION.SUCCESS", b"TRANSACTION.SUCCESs")


class Refetch:
    """A stand-in for the API client's /v3/certificates download."""

    def __init__(self, certificates: list[Certificate]) -> None:
        self.certificates = certificates
        self.calls = 0

    async def __call__(self) -> list[Certificate]:
        self.calls += 1
        await asyncio.sleep(0)
        return self.certificates
