"""WeChat Pay API v2 (wechat-protocols.md §2): MD5/HMAC signatures, XML notifications, refunds.

Also the replies, and the signed or encrypted notifications the local simulator sends.
"""

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from hub.errors import PayloadError, SignatureError
from hub.wechat.primitives import (
    aes_ecb_decrypt,
    aes_ecb_encrypt,
    b64decode,
    b64encode,
    hmac_sha256_hex,
    md5_hex,
)
from hub.wechat.wire import check_size, encode_utf8, parse_flat_xml, render_xml


class SignType(StrEnum):
    """The `sign_type` values of §2.1."""

    MD5 = "MD5"
    HMAC_SHA256 = "HMAC-SHA256"


# §2.1: MD5 gives 32 hex characters, so a 64-character signature can only be HMAC-SHA256.
_HMAC_SIGNATURE_CHARS = 64
# A v2 notification is a few dozen short fields (under 2 KB); 64 KiB is far above any genuine one.
MAX_NOTIFICATION_BYTES = 64 * 1024
# §2.2: the one reply WeChat takes as success.
SUCCESS_REPLY = (
    b"<xml><return_code><![CDATA[SUCCESS]]></return_code>"
    b"<return_msg><![CDATA[OK]]></return_msg></xml>"
)


# -- signatures (§2.1) ---------------------------------------------------------------------------


def build_signing_string(params: Mapping[str, str], api_key: str) -> str:
    """Return `k1=v1&…&key=API_KEY` over the non-empty fields but `sign`, in ASCII key order."""
    pairs = [
        f"{name}={value}" for name, value in sorted(params.items()) if value and name != "sign"
    ]
    return "&".join([*pairs, f"key={api_key}"])


def sign(params: Mapping[str, str], api_key: str, sign_type: SignType = SignType.MD5) -> str:
    """Return the uppercase hex v2 signature of `params` (§2.1)."""
    message = encode_utf8(build_signing_string(params, api_key))
    if sign_type is SignType.HMAC_SHA256:
        return hmac_sha256_hex(api_key.encode(), message).upper()
    return md5_hex(message).upper()


def detect_sign_type(params: Mapping[str, str]) -> SignType:
    """Return how `params` was signed: `sign_type`, else HMAC for a 64-char `sign`, else MD5."""
    if params.get("sign_type") == SignType.HMAC_SHA256:
        return SignType.HMAC_SHA256
    if len(params.get("sign", "")) == _HMAC_SIGNATURE_CHARS:
        return SignType.HMAC_SHA256
    return SignType.MD5


def verify(params: Mapping[str, str], api_key: str) -> None:
    """Check the `sign` field of received v2 fields, in constant time.

    Raises:
        SignatureError: "missing_signature" or "bad_signature".
    """
    received = params.get("sign", "")
    if not received:
        raise SignatureError("missing_signature")
    expected = sign(params, api_key, detect_sign_type(params))
    if not hmac.compare_digest(expected.encode(), encode_utf8(received)):
        raise SignatureError("bad_signature")


# -- replies (§2.2) -----------------------------------------------------------------------------


def render_failure_reply(message: str) -> bytes:
    """Return the §2.2 failure reply (`return_code` FAIL) carrying `message`."""
    return render_xml({"return_code": "FAIL", "return_msg": message}).encode()


# -- notifications (§2.2, §2.3) ------------------------------------------------------------------


def read_notification(
    body: bytes, api_key: str, *, max_bytes: int = MAX_NOTIFICATION_BYTES
) -> dict[str, str]:
    """Parse a v2 payment notification and verify its `sign` over all received fields.

    Raises:
        BodyTooLargeError: the body exceeds `max_bytes`.
        PayloadError: "malformed_xml".
        SignatureError: "missing_signature" or "bad_signature".
    """
    fields = _read_xml(body, max_bytes)
    verify(fields, api_key)
    return fields


def _read_xml(body: bytes, max_bytes: int, root: str = "xml") -> dict[str, str]:
    check_size(body, max_bytes)
    return parse_flat_xml(body, root=root)


def _refund_key(api_key: str) -> bytes:
    # §2.3: the AES-256 key is the 32 ASCII characters of the lowercase hex MD5 of the API key.
    return md5_hex(api_key.encode()).encode()


def decrypt_refund_info(req_info: str, api_key: str) -> dict[str, str]:
    """Decrypt a refund `req_info` (base64 AES-256-ECB) into the fields of its `<root>`.

    Raises:
        DecryptionError: "bad_base64", "truncated_ciphertext" or "bad_padding".
        PayloadError: "malformed_xml" (the plaintext is not the expected XML).
    """
    plaintext = aes_ecb_decrypt(_refund_key(api_key), b64decode(req_info))
    # Parsed under the same cap as a notification body.
    return _read_xml(plaintext, MAX_NOTIFICATION_BYTES, root="root")


def encrypt_refund_info(refund: Mapping[str, str], api_key: str) -> str:
    """Encrypt refund fields into a `req_info` value (the simulator's side of §2.3)."""
    plaintext = render_xml(refund, root="root").encode()
    return b64encode(aes_ecb_encrypt(_refund_key(api_key), plaintext))


@dataclass(frozen=True, slots=True)
class RefundNotification:
    """A v2 refund notification: the outer fields and the decrypted `req_info` fields."""

    fields: Mapping[str, str]
    refund: Mapping[str, str]


def read_refund_notification(
    body: bytes, api_key: str, *, max_bytes: int = MAX_NOTIFICATION_BYTES
) -> RefundNotification:
    """Parse a v2 refund notification and decrypt its `req_info` (it carries no `sign`).

    Raises:
        BodyTooLargeError: the body exceeds `max_bytes`.
        PayloadError: "malformed_xml" or "missing_field" (no `req_info`).
        DecryptionError: as decrypt_refund_info.
    """
    fields = _read_xml(body, max_bytes)
    req_info = fields.get("req_info")
    if not req_info:
        raise PayloadError("missing_field", "missing field: req_info")
    return RefundNotification(fields=fields, refund=decrypt_refund_info(req_info, api_key))


def build_notification(
    fields: Mapping[str, str], api_key: str, sign_type: SignType = SignType.MD5
) -> bytes:
    """Return a signed v2 notification body (simulator); add `sign_type` to `fields` if wanted."""
    return render_xml({**fields, "sign": sign(fields, api_key, sign_type)}).encode()


def build_refund_notification(
    fields: Mapping[str, str], refund: Mapping[str, str], api_key: str
) -> bytes:
    """Return a v2 refund notification body with `refund` encrypted into `req_info` (simulator)."""
    return render_xml({**fields, "req_info": encrypt_refund_info(refund, api_key)}).encode()
