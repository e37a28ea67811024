"""WeChat Pay API v3 as WeChat's servers do it (§1), for the local simulator and the tests.

It checks merchant requests, signs responses and notifications, and encrypts their resources.
"""

import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from hub.errors import SignatureError
from hub.wechat.pay_keys import ALGORITHM
from hub.wechat.pay_v3 import (
    HEADER_NONCE,
    HEADER_SERIAL,
    HEADER_SIGNATURE,
    HEADER_SIGNATURE_TYPE,
    HEADER_TIMESTAMP,
    RESOURCE_TYPE,
    SIGNATURE_TYPE,
    SIGNTEST_PREFIX,
    Clock,
    check_timestamp,
    generate_nonce,
    request_signing_message,
    response_signing_message,
)
from hub.wechat.primitives import (
    GCM_NONCE_BYTES,
    Certificate,
    aes_gcm_encrypt,
    b64encode,
    rsa_sign,
    rsa_verify,
)
from hub.wechat.wire import encode_utf8

# §1.5/§1.8: WeChat writes RFC 3339 times in Beijing time.
BEIJING = timezone(timedelta(hours=8))
_AUTH_PARAM = re.compile(r'\s*(\w+)="([^"]*)"\s*')
_AUTH_FIELDS = ("mchid", "nonce_str", "signature", "timestamp", "serial_no")


# -- merchant requests (§1.2) ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Authorization:
    """The fields of a merchant `Authorization` header."""

    mchid: str
    nonce_str: str
    signature: str
    timestamp: str
    serial_no: str


def parse_authorization(header: str) -> Authorization:
    """Split an `Authorization: WECHATPAY2-SHA256-RSA2048 k="v",…` header into its fields.

    Raises:
        SignatureError: "missing_signature", "unsupported_signature_type" or
            "malformed_authorization".
    """
    scheme, _, params = header.strip().partition(" ")
    if not scheme:
        raise SignatureError("missing_signature")
    if scheme != SIGNATURE_TYPE:
        raise SignatureError("unsupported_signature_type")
    fields: dict[str, str] = {}
    for part in params.split(","):
        match = _AUTH_PARAM.fullmatch(part)
        if match is None or match[1] in fields:
            raise SignatureError("malformed_authorization")
        fields[match[1]] = match[2]
    if not all(fields.get(name) for name in _AUTH_FIELDS):
        raise SignatureError("malformed_authorization")
    return Authorization(**{name: fields[name] for name in _AUTH_FIELDS})


def verify_authorization(
    header: str,
    public_key: RSAPublicKey,
    method: str,
    canonical_url: str,
    body: bytes,
    *,
    clock: Clock = time.time,
) -> Authorization:
    """Check a merchant request's `Authorization` against the merchant public key.

    `mchid` and `serial_no` are not covered by the signature (§1.2): the caller must check that
    the returned ones name the owner of `public_key`.

    Raises:
        SignatureError: malformed header or signature mismatch.
        TimestampError: malformed timestamp, or more than 300 s from now.
    """
    auth = parse_authorization(header)
    check_timestamp(auth.timestamp, clock())
    message = request_signing_message(method, canonical_url, auth.timestamp, auth.nonce_str, body)
    rsa_verify(public_key, message, auth.signature)
    return auth


# -- responses and notifications (§1.3-§1.5, §1.8) ------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlatformSigner:
    """A platform private key and the id announced with it: certificate serial or PUB_KEY_ID_…."""

    key_id: str
    private_key: RSAPrivateKey


def sign_message(
    signer: PlatformSigner, body: bytes, *, timestamp: int, nonce: str, signtest: bool = False
) -> dict[str, str]:
    """Return the Wechatpay-* headers of a response or notification (`signtest`: a probe)."""
    signature = rsa_sign(signer.private_key, response_signing_message(timestamp, nonce, body))
    if signtest:
        signature = SIGNTEST_PREFIX + signature
    return {
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: signature,
        HEADER_SERIAL: signer.key_id,
        HEADER_SIGNATURE_TYPE: SIGNATURE_TYPE,
    }


def encrypt_resource(
    api_v3_key: str,
    plaintext: bytes,
    *,
    associated_data: str,
    original_type: str | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """Encrypt `plaintext` into a §1.4 object (`original_type` omitted for certificates).

    Raises:
        DecryptionError: "bad_key_length" or "bad_nonce" (the key or nonce do not fit §1.4).
    """
    nonce = nonce or generate_nonce(GCM_NONCE_BYTES)
    data = aes_gcm_encrypt(
        encode_utf8(api_v3_key), encode_utf8(nonce), plaintext, encode_utf8(associated_data)
    )
    resource = {"original_type": original_type} if original_type is not None else {}
    return resource | {
        "algorithm": ALGORITHM,
        "ciphertext": b64encode(data),
        "associated_data": associated_data,
        "nonce": nonce,
    }


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(BEIJING).isoformat(timespec="seconds")


def _dump_json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def build_notification(
    event_id: str,
    created_at: datetime,
    event_type: str,
    summary: str,
    resource: Mapping[str, str],
) -> bytes:
    """Return a notification envelope body (§1.5) around an encrypted `resource`."""
    return _dump_json(
        {
            "id": event_id,
            "create_time": _rfc3339(created_at),
            "resource_type": RESOURCE_TYPE,
            "event_type": event_type,
            "summary": summary,
            "resource": dict(resource),
        }
    )


def build_certificates_body(certificates: Iterable[Certificate], api_v3_key: str) -> bytes:
    """Return a /v3/certificates response body with each certificate encrypted (§1.8)."""
    entries = [
        {
            "serial_no": cert.serial_no,
            "effective_time": _rfc3339(cert.not_valid_before),
            "expire_time": _rfc3339(cert.not_valid_after),
            "encrypt_certificate": encrypt_resource(
                api_v3_key, cert.pem.encode(), associated_data="certificate"
            ),
        }
        for cert in certificates
    ]
    return _dump_json({"data": entries})
