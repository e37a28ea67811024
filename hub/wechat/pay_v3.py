"""WeChat Pay API v3 for merchants (wechat-protocols.md §1): signing, verification, notifications.

Keys are in pay_keys.py; the WeChat side that the local simulator plays is in pay_v3_platform.py.
"""

import secrets
import string
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, NamedTuple

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from hub.errors import PayloadError, SignatureError, TimestampError
from hub.wechat.pay_keys import PlatformKeys, decrypt_certificates, decrypt_resource
from hub.wechat.primitives import Certificate, rsa_sign, rsa_verify
from hub.wechat.wire import (
    check_size,
    encode_utf8,
    get_object_field,
    get_str_field,
    parse_utf8_json_object,
)

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
# §1.3: WeChat probes merchants with signatures carrying this prefix; they must fail, quietly.
SIGNTEST_PREFIX = "WECHATPAY/SIGNTEST/"
# §1.3: the anti-replay window WeChat recommends around Wechatpay-Timestamp.
MAX_CLOCK_SKEW_S = 300
# A payment notification is 1-2 KB even with coupons; 64 KiB is far above any genuine one.
MAX_NOTIFICATION_BYTES = 64 * 1024
RESOURCE_TYPE = "encrypt-resource"
# §1.7: nonceStr is at most 32 characters.
_NONCE_CHARS = 32
_NONCE_ALPHABET = string.ascii_uppercase + string.digits
# Unix seconds have 10 digits until 2286; anything much longer is not a timestamp.
_MAX_TIMESTAMP_DIGITS = 12

HEADER_TIMESTAMP = "Wechatpay-Timestamp"
HEADER_NONCE = "Wechatpay-Nonce"
HEADER_SIGNATURE = "Wechatpay-Signature"
HEADER_SERIAL = "Wechatpay-Serial"
HEADER_SIGNATURE_TYPE = "Wechatpay-Signature-Type"
_SIGNED_HEADERS = (
    HEADER_TIMESTAMP,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_SERIAL,
    HEADER_SIGNATURE_TYPE,
)

Clock = Callable[[], float]


def generate_nonce(length: int = _NONCE_CHARS) -> str:
    """Return a random nonce of uppercase letters and digits (nonce_str, nonceStr, GCM nonce)."""
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(length))


# -- outbound merchant requests (§1.2) ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MerchantKey:
    """What signs the merchant's requests: mchid, merchant certificate serial and private key."""

    mchid: str
    serial_no: str
    private_key: RSAPrivateKey


def request_signing_message(
    method: str, canonical_url: str, timestamp: int | str, nonce: str, body: bytes
) -> bytes:
    """Return the five-line string of §1.2 over the exact body bytes sent."""
    head = f"{method.upper()}\n{canonical_url}\n{timestamp}\n{nonce}\n"
    return encode_utf8(head) + body + b"\n"


def authorization_header(
    merchant: MerchantKey,
    method: str,
    canonical_url: str,
    body: bytes,
    timestamp: int,
    nonce: str,
) -> str:
    """Return the `Authorization` header value for one request (§1.2)."""
    message = request_signing_message(method, canonical_url, timestamp, nonce, body)
    signature = rsa_sign(merchant.private_key, message)
    return (
        f'{SIGNATURE_TYPE} mchid="{merchant.mchid}",nonce_str="{nonce}",'
        f'signature="{signature}",timestamp="{timestamp}",serial_no="{merchant.serial_no}"'
    )


# -- verifying responses and notifications (§1.3) -----------------------------------------------


class VerifiedMessage(NamedTuple):
    """A response or notification body whose Wechatpay-* signature checked out."""

    body: bytes
    serial: str
    timestamp: int
    nonce: str


# NamedTuples rather than frozen dataclasses on the per-callback path: immutable all the same,
# at a third of the construction cost (bench/pay_crypto.py).
class _SignatureHeaders(NamedTuple):
    timestamp: str
    nonce: str
    signature: str
    serial: str
    timestamp_s: int


def _header(headers: Mapping[str, str], name: str) -> str:
    # aiohttp's CIMultiDict matches any case; plain dicts come with canonical or lowercase names
    # (HTTP/2 proxies lowercase them, §1.3); any other spelling costs one scan.
    value = headers.get(name) or headers.get(name.lower())
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name.lower()), "")
    return value


def check_timestamp(value: str, now: float) -> int:
    """Return a Unix-seconds timestamp within MAX_CLOCK_SKEW_S of `now` (§1.2, §1.3).

    Raises:
        TimestampError: "bad_timestamp", "stale_timestamp" or "future_timestamp".
    """
    if not (value.isascii() and value.isdigit()) or len(value) > _MAX_TIMESTAMP_DIGITS:
        raise TimestampError("bad_timestamp")
    timestamp = int(value)
    if now - timestamp > MAX_CLOCK_SKEW_S:
        raise TimestampError("stale_timestamp")
    if timestamp - now > MAX_CLOCK_SKEW_S:
        raise TimestampError("future_timestamp")
    return timestamp


def _read_signature_headers(headers: Mapping[str, str], now: float) -> _SignatureHeaders:
    timestamp, nonce, signature, serial, signature_type = [
        _header(headers, name) for name in _SIGNED_HEADERS
    ]
    # Checked first so that a probe is always reported as one, whatever else it lacks.
    if signature.startswith(SIGNTEST_PREFIX):
        raise SignatureError("signtest_probe")
    if not (timestamp and nonce and signature and serial and signature_type):
        raise SignatureError("missing_signature")
    if signature_type != SIGNATURE_TYPE:
        raise SignatureError("unsupported_signature_type")
    timestamp_s = check_timestamp(timestamp, now)
    return _SignatureHeaders(timestamp, nonce, signature, serial, timestamp_s)


def response_signing_message(timestamp: int | str, nonce: str, body: bytes) -> bytes:
    """Return the three-line string of §1.3 that signs a response or notification body."""
    return encode_utf8(f"{timestamp}\n{nonce}\n") + body + b"\n"


def _check_signature(
    signed: _SignatureHeaders, body: bytes, public_key: RSAPublicKey
) -> VerifiedMessage:
    message = response_signing_message(signed.timestamp, signed.nonce, body)
    rsa_verify(public_key, message, signed.signature)
    return VerifiedMessage(body, signed.serial, signed.timestamp_s, signed.nonce)


def verify_message(
    headers: Mapping[str, str], body: bytes, keys: PlatformKeys, *, clock: Clock = time.time
) -> VerifiedMessage:
    """Check the Wechatpay-* signature of a notification or API response over its raw body.

    Raises:
        SignatureError: "missing_signature", "signtest_probe", "unsupported_signature_type",
            "unknown_serial", "expired_certificate" or "bad_signature".
        TimestampError: "bad_timestamp", "stale_timestamp" or "future_timestamp".
    """
    now = clock()
    signed = _read_signature_headers(headers, now)
    return _check_signature(signed, body, keys.public_key_for(signed.serial, now))


async def verify_message_refetching(
    headers: Mapping[str, str], body: bytes, keys: PlatformKeys, *, clock: Clock = time.time
) -> VerifiedMessage:
    """Like verify_message, refetching the platform certificates once on an unknown serial.

    Raises:
        SignatureError: as verify_message.
        TimestampError: as verify_message.
    """
    now = clock()
    signed = _read_signature_headers(headers, now)
    public_key = await keys.public_key_for_refetching(signed.serial, now)
    return _check_signature(signed, body, public_key)


# -- notifications (§1.4-§1.6) -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Notification:
    """A verified, decrypted Pay v3 notification; `resource` is the decrypted JSON object."""

    id: str
    created_at: datetime
    event_type: str
    resource_type: str
    summary: str
    original_type: str
    resource: Mapping[str, Any]
    signed_by: str


def _time_field(obj: Mapping[str, Any], name: str) -> datetime:
    value = get_str_field(obj, name)
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise PayloadError("bad_field", f"time without offset: {name}")
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise PayloadError("bad_field", f"not an RFC 3339 time: {name}") from None


def parse_notification(message: VerifiedMessage, api_v3_key: str) -> Notification:
    """Parse the envelope of a verified notification and decrypt its resource (§1.5, §1.6).

    Raises:
        PayloadError: "malformed_json", "missing_field", "bad_field", "unsupported_resource_type".
        DecryptionError: as decrypt_resource.
    """
    envelope = parse_utf8_json_object(message.body)
    resource = get_object_field(envelope, "resource")
    resource_type = get_str_field(envelope, "resource_type")
    if resource_type != RESOURCE_TYPE:
        raise PayloadError("unsupported_resource_type")
    notification_id = get_str_field(envelope, "id")
    created_at = _time_field(envelope, "create_time")
    event_type = get_str_field(envelope, "event_type")
    summary = get_str_field(envelope, "summary", "")
    original_type = get_str_field(resource, "original_type", "")
    plaintext = parse_utf8_json_object(decrypt_resource(resource, api_v3_key))
    return Notification(
        id=notification_id,
        created_at=created_at,
        event_type=event_type,
        resource_type=resource_type,
        summary=summary,
        original_type=original_type,
        resource=MappingProxyType(plaintext),
        signed_by=message.serial,
    )


def read_notification(
    headers: Mapping[str, str],
    body: bytes,
    keys: PlatformKeys,
    api_v3_key: str,
    *,
    clock: Clock = time.time,
    max_bytes: int = MAX_NOTIFICATION_BYTES,
) -> Notification:
    """Check size, verify, then parse and decrypt one notification (no certificate refetch).

    Raises:
        BodyTooLargeError: the body exceeds `max_bytes`.
        SignatureError, TimestampError: as verify_message.
        PayloadError, DecryptionError: as parse_notification.
    """
    check_size(body, max_bytes)
    return parse_notification(verify_message(headers, body, keys, clock=clock), api_v3_key)


async def read_notification_refetching(
    headers: Mapping[str, str],
    body: bytes,
    keys: PlatformKeys,
    api_v3_key: str,
    *,
    clock: Clock = time.time,
    max_bytes: int = MAX_NOTIFICATION_BYTES,
) -> Notification:
    """Like read_notification, refetching the platform certificates once on an unknown serial.

    Raises:
        BodyTooLargeError, SignatureError, TimestampError, PayloadError, DecryptionError: as
            read_notification.
    """
    check_size(body, max_bytes)
    message = await verify_message_refetching(headers, body, keys, clock=clock)
    return parse_notification(message, api_v3_key)


# -- platform certificates download (§1.8) -------------------------------------------------------


def read_certificates_response(
    headers: Mapping[str, str], body: bytes, api_v3_key: str, *, clock: Clock = time.time
) -> list[Certificate]:
    """Decrypt a /v3/certificates response, then verify it with the certificates it holds.

    The GCM tag under the APIv3 key authenticates each certificate, so they may vouch for the
    response that carries them (a new certificate cannot be checked with the old set).

    Raises:
        PayloadError, DecryptionError: as decrypt_certificates.
        SignatureError, TimestampError: as verify_message.
    """
    certificates = decrypt_certificates(body, api_v3_key)
    verify_message(headers, body, PlatformKeys(certificates=certificates), clock=clock)
    return certificates


# -- JSAPI / mini-program payment (§1.7) ---------------------------------------------------------


def pay_sign(
    appid: str, timestamp: int, nonce: str, prepay_id: str, private_key: RSAPrivateKey
) -> str:
    """Return the client `paySign`: RSA-SHA256 over appId, timeStamp, nonceStr, package lines."""
    message = f"{appid}\n{timestamp}\n{nonce}\nprepay_id={prepay_id}\n"
    return rsa_sign(private_key, encode_utf8(message))


def request_payment_params(
    appid: str, prepay_id: str, private_key: RSAPrivateKey, *, timestamp: int, nonce: str
) -> dict[str, str]:
    """Return the `wx.requestPayment` parameters (add `appId` for 公众号 H5's JSBridge)."""
    return {
        "timeStamp": str(timestamp),
        "nonceStr": nonce,
        "package": f"prepay_id={prepay_id}",
        "signType": "RSA",
        "paySign": pay_sign(appid, timestamp, nonce, prepay_id, private_key),
    }
