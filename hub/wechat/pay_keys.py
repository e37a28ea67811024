"""Pay v3 keys: platform certificates and public keys by serial (§1.1), refetched on a miss.

Also what the APIv3 key opens: AEAD resources (§1.4) and the /v3/certificates download (§1.8).
"""

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from hub.errors import PayloadError, SignatureError
from hub.wechat.primitives import Certificate, aes_gcm_decrypt, b64decode, load_certificate
from hub.wechat.wire import (
    encode_utf8,
    get_object_field,
    get_str_field,
    parse_utf8_json_object,
)

PUBLIC_KEY_ID_PREFIX = "PUB_KEY_ID_"
# A burst of notifications naming an unknown serial must not become a burst of downloads.
REFETCH_INTERVAL_S = 60
ALGORITHM = "AEAD_AES_256_GCM"
# Certificate serials are at most 20 bytes (RFC 5280), i.e. 40 hex digits; allow some slack.
_SERIAL = re.compile(r"[0-9A-Fa-f]{1,64}")

RefetchCertificates = Callable[[], Awaitable[Iterable[Certificate]]]


def normalise_serial(serial: str) -> str:
    """Return the lookup form of a Wechatpay-Serial: PUB_KEY_ID_… as is, hex without leading 0s."""
    if _SERIAL.fullmatch(serial):
        return format(int(serial, 16), "X")
    return serial


class PlatformKeys:
    """The keys WeChat Pay signs with for one merchant, chosen by `Wechatpay-Serial` (§1.1).

    Holds platform certificates (by serial) and WeChat Pay public keys (by PUB_KEY_ID_…) at
    once, as a migration between the modes requires. `refetch`, injected by the API client,
    downloads /v3/certificates; it runs on a certificate-serial miss, at most once per
    REFETCH_INTERVAL_S, and its certificates replace the held ones.
    """

    def __init__(
        self,
        *,
        certificates: Iterable[Certificate] = (),
        public_keys: Mapping[str, RSAPublicKey] | None = None,
        refetch: RefetchCertificates | None = None,
    ) -> None:
        self._certificates: dict[str, Certificate] = {}
        self._public_keys = dict(public_keys or {})
        self._refetch = refetch
        self._refetched_at: float | None = None
        self._refetch_lock = asyncio.Lock()
        self.replace_certificates(certificates)

    @property
    def certificates(self) -> tuple[Certificate, ...]:
        return tuple(self._certificates.values())

    def replace_certificates(self, certificates: Iterable[Certificate]) -> None:
        """Hold exactly these platform certificates (public keys are kept)."""
        self._certificates = {cert.serial_no: cert for cert in certificates}

    def public_key_for(self, serial: str, now: float) -> RSAPublicKey:
        """Return the key named by a `Wechatpay-Serial` header.

        Raises:
            SignatureError: "unknown_serial", or "expired_certificate" past its not-after time.
        """
        if public_key := self._public_keys.get(serial):
            return public_key
        certificate = self._certificates.get(normalise_serial(serial))
        if certificate is None:
            raise SignatureError("unknown_serial")
        if certificate.not_valid_after < datetime.fromtimestamp(now, UTC):
            raise SignatureError("expired_certificate")
        return certificate.public_key

    async def public_key_for_refetching(self, serial: str, now: float) -> RSAPublicKey:
        """Like public_key_for, but refetch the certificates once on an unknown serial.

        Raises:
            SignatureError: as public_key_for, after the refetch (if one was due).
        """
        try:
            return self.public_key_for(serial, now)
        except SignatureError as exc:
            # Public keys cannot be downloaded: only a certificate serial is worth a refetch.
            if exc.reason != "unknown_serial" or serial.startswith(PUBLIC_KEY_ID_PREFIX):
                raise
        await self._refetch_once(now)
        return self.public_key_for(serial, now)

    async def _refetch_once(self, now: float) -> None:
        if self._refetch is None:
            return
        # Concurrent misses wait for one download instead of each starting their own.
        async with self._refetch_lock:
            if self._refetched_at is not None and now - self._refetched_at < REFETCH_INTERVAL_S:
                return
            # Stamped before the download, so that a failing download is not retried by every
            # callback of the interval either.
            self._refetched_at = now
            self.replace_certificates(await self._refetch())


def decrypt_resource(resource: Mapping[str, Any], api_v3_key: str) -> bytes:
    """Decrypt an AEAD_AES_256_GCM `resource` or `encrypt_certificate` object (§1.4).

    Raises:
        PayloadError: "missing_field", "bad_field" or "unsupported_algorithm".
        DecryptionError: "bad_base64", "bad_nonce", "truncated_ciphertext" or
            "gcm_tag_mismatch" (wrong APIv3 key or tampering).
    """
    if get_str_field(resource, "algorithm") != ALGORITHM:
        raise PayloadError("unsupported_algorithm")
    nonce = get_str_field(resource, "nonce")
    ciphertext = b64decode(get_str_field(resource, "ciphertext"))
    associated_data = get_str_field(resource, "associated_data", "")
    return aes_gcm_decrypt(
        encode_utf8(api_v3_key), encode_utf8(nonce), ciphertext, encode_utf8(associated_data)
    )


def _decrypt_certificate(entry: object, api_v3_key: str) -> Certificate:
    if not isinstance(entry, dict):
        raise PayloadError("bad_field", "not an object: data[]")
    plaintext = decrypt_resource(get_object_field(entry, "encrypt_certificate"), api_v3_key)
    certificate = load_certificate(plaintext.decode("utf-8", "replace"))
    if normalise_serial(get_str_field(entry, "serial_no")) != certificate.serial_no:
        raise PayloadError("serial_mismatch")
    return certificate


def decrypt_certificates(body: bytes, api_v3_key: str) -> list[Certificate]:
    """Decrypt the `encrypt_certificate` entries of a /v3/certificates response body.

    The response's signature is not checked here: pay_v3.read_certificates_response does both.

    Raises:
        PayloadError: "malformed_json", "missing_field", "bad_field", "bad_certificate",
            "serial_mismatch".
        DecryptionError: as decrypt_resource.
    """
    data = parse_utf8_json_object(body).get("data")
    if not isinstance(data, list):
        raise PayloadError("missing_field", "missing field: data")
    return [_decrypt_certificate(entry, api_v3_key) for entry in data]
