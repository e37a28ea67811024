"""Message-push crypto (WXBizMsgCrypt) for mini-programs, Channels shops and WeCom.

Signatures, URL checks and the AES-256-CBC envelope (protocols §3, §4.1, §5.1); no rules.
"""

import base64
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Self

from hub.errors import (
    DecryptionError,
    InvalidValueError,
    PayloadError,
    ReceiverMismatchError,
    SignatureError,
    TimestampError,
)
from hub.wechat.credentials import check_encoding_aes_key, check_push_token
from hub.wechat.primitives import (
    AES_BLOCK_BYTES,
    AesCbc,
    b64decode,
    b64encode,
    pkcs7_pad,
    pkcs7_unpad,
    sha1_hex,
)
from hub.wechat.wire import check_size, encode_utf8, parse_message, query_values, render_xml

# Plaintext layout (§3.4): random(16) ‖ msg_len(4, big-endian) ‖ msg ‖ receiveid, then PKCS#7
# padding to a multiple of 32 bytes (not AES's 16).
_RANDOM_LEN = 16
_LENGTH_LEN = 4
_PAD_BLOCK = 32
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class ReceiverCheck(StrEnum):
    """What to do when the receive id inside the plaintext is not the configured one."""

    STRICT = "strict"  # reject with ReceiverMismatchError
    REPORT = "report"  # accept, and report the receive id seen so the caller can log it


@dataclass(frozen=True, slots=True)
class PushQuery:
    """The query parameters of a push (POST) or URL verification (GET); None when absent."""

    signature: str | None = None
    msg_signature: str | None = None
    timestamp: str | None = None
    nonce: str | None = None
    echostr: str | None = None

    @classmethod
    def from_query_string(cls, query_string: str) -> Self:
        """The parameters read from a raw query string, keeping `+` as `+` (§3.9)."""
        values = query_values(query_string)
        return cls(
            signature=values.get("signature"),
            msg_signature=values.get("msg_signature"),
            timestamp=values.get("timestamp"),
            nonce=values.get("nonce"),
            echostr=values.get("echostr"),
        )


@dataclass(frozen=True, slots=True)
class Decrypted:
    """A verified, decrypted message and the receive id found after it."""

    message: str
    receive_id: str
    receiver_matches: bool


@dataclass(frozen=True, slots=True)
class Push:
    """The fields of a verified push; in encrypted modes only the decrypted ones (§3.3)."""

    fields: dict[str, Any]
    encrypted: bool
    receive_id: str | None  # None in plain mode, which has no receive id
    receiver_matches: bool


@dataclass(frozen=True, slots=True)
class EncryptedMessage:
    """An encrypted message with its signature, ready for a reply (§3.5) or a simulated push."""

    encrypt: str
    msg_signature: str
    timestamp: str
    nonce: str

    def reply_xml(self) -> str:
        """The XML reply body: Encrypt, MsgSignature, TimeStamp, Nonce."""
        return render_xml(self._reply_fields())

    def reply_json(self) -> str:
        """The JSON reply body with the same four fields."""
        return json.dumps(self._reply_fields(), separators=(",", ":"))

    def _reply_fields(self) -> dict[str, str | int]:
        return {
            "Encrypt": self.encrypt,
            "MsgSignature": self.msg_signature,
            "TimeStamp": int(self.timestamp),
            "Nonce": self.nonce,
        }


@dataclass(frozen=True, slots=True)
class PushCrypto:
    """Verification and AES envelope of one account's message push.

    `encoding_aes_key=None` is plain mode (§3.1); with a key every push must carry `Encrypt`.
    `clock` (Unix seconds) is injectable for the `max_age_s` window; None disables the window.

    Raises:
        InvalidValueError: a malformed token or EncodingAESKey, or a non-positive `max_age_s`.
    """

    token: str = field(repr=False)
    encoding_aes_key: str | None = field(repr=False)
    receive_id: str
    receiver_check: ReceiverCheck = ReceiverCheck.STRICT
    max_age_s: int | None = None
    clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)
    _aes: AesCbc | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "token", check_push_token(self.token))
        if self.max_age_s is not None and self.max_age_s <= 0:
            raise InvalidValueError("max_age_s", "must be a positive number of seconds")
        aes = None
        if self.encoding_aes_key is not None:
            # §3.4: 43 characters + "=" decode to the 32-byte key; the IV is its first 16 bytes.
            key = base64.b64decode(check_encoding_aes_key(self.encoding_aes_key) + "=")
            aes = AesCbc(key, key[:AES_BLOCK_BYTES])
        object.__setattr__(self, "_aes", aes)

    @classmethod
    def for_mini_program(
        cls, token: str, encoding_aes_key: str | None, appid: str, *, max_age_s: int | None = None
    ) -> Self:
        """A mini-program (or 公众号) push: the receive id is the appid, checked strictly (§3.4)."""
        return cls(token, encoding_aes_key, appid, max_age_s=max_age_s)

    @classmethod
    def for_wecom(
        cls, token: str, encoding_aes_key: str, receive_id: str, *, max_age_s: int | None = None
    ) -> Self:
        """A WeCom callback: the receive id is the corpid (or suite_id), checked strictly (§4.1)."""
        return cls(token, encoding_aes_key, receive_id, max_age_s=max_age_s)

    @classmethod
    def for_channels_shop(
        cls, token: str, encoding_aes_key: str, shop_appid: str, *, max_age_s: int | None = None
    ) -> Self:
        """A Channels shop push: the receive id is unconfirmed [?], so mismatches are reported."""
        # §5.1: presumably the shop appid; log rather than reject until that is confirmed.
        return cls(token, encoding_aes_key, shop_appid, ReceiverCheck.REPORT, max_age_s=max_age_s)

    # -- signatures -------------------------------------------------------------------------

    def check_signature(
        self, signature: str | None, timestamp: str | None, nonce: str | None
    ) -> None:
        """Check a plain-mode `signature` over token, timestamp and nonce (§3.2), then the window.

        Raises:
            SignatureError: the signature or nonce is missing, or the signature does not match.
            TimestampError: the timestamp is missing, malformed, stale or in the future.
        """
        given, ts, nonce_ = _require_signed(signature, timestamp, nonce)
        _compare(compute_signature(self.token, ts, nonce_), given)
        self._check_timestamp(ts)

    def check_msg_signature(
        self, msg_signature: str | None, timestamp: str | None, nonce: str | None, encrypt: str
    ) -> None:
        """Check `msg_signature` over token, timestamp, nonce and Encrypt (§3.3), then the window.

        Raises:
            SignatureError: the signature or nonce is missing, or the signature does not match.
            TimestampError: the timestamp is missing, malformed, stale or in the future.
        """
        given, ts, nonce_ = _require_signed(msg_signature, timestamp, nonce)
        _compare(compute_signature(self.token, ts, nonce_, encrypt), given)
        self._check_timestamp(ts)

    # -- URL verification (GET) -------------------------------------------------------------

    def verify_url(self, query: PushQuery) -> str:
        """The body answering a mini-program or shop URL check: `echostr` verbatim (§3.2).

        Raises:
            SignatureError, TimestampError: as check_signature.
            PayloadError: `echostr` is missing.
        """
        self.check_signature(query.signature, query.timestamp, query.nonce)
        return _require_param(query.echostr, "echostr")

    def verify_wecom_url(self, query: PushQuery) -> str:
        """The body answering a WeCom URL check: the decrypted `echostr` (§4.1).

        In REPORT mode a foreign receive id is not reported here; WeCom's is known, use STRICT.

        Raises:
            PayloadError: `echostr` is missing.
            SignatureError, TimestampError, DecryptionError, ReceiverMismatchError: as decrypt.
        """
        echostr = _require_param(query.echostr, "echostr")
        return self.decrypt(query.msg_signature, query.timestamp, query.nonce, echostr).message

    # -- encrypted messages -----------------------------------------------------------------

    def decrypt(
        self, msg_signature: str | None, timestamp: str | None, nonce: str | None, encrypt: str
    ) -> Decrypted:
        """Verify `msg_signature`, then decrypt Encrypt and check the receive id (§3.4).

        Raises:
            SignatureError, TimestampError: as check_msg_signature (checked before decrypting).
            DecryptionError: no AES key, bad base64, truncated ciphertext, bad padding or length.
            ReceiverMismatchError: the receive id differs and the check is strict.
        """
        self.check_msg_signature(msg_signature, timestamp, nonce, encrypt)
        # No padding oracle: only messages whose signature matched reach the padding check.
        plain = pkcs7_unpad(self._decrypt_raw(b64decode(encrypt)), _PAD_BLOCK)
        message, seen = _split_plaintext(plain)
        matches = seen == self.receive_id.encode()
        if not matches and self.receiver_check is ReceiverCheck.STRICT:
            raise ReceiverMismatchError("wrong_receiver", "the receive id is not the account's")
        return Decrypted(_utf8(message), seen.decode("utf-8", "replace"), matches)

    def encrypt(
        self,
        message: str | bytes,
        *,
        timestamp: str | None = None,
        nonce: str | None = None,
        random_prefix: bytes | None = None,
    ) -> EncryptedMessage:
        """Encrypt and sign a message as WeChat does (§3.4, §3.5); defaults are fresh values.

        Raises:
            InvalidValueError: no AES key, a malformed timestamp or a prefix not of 16 bytes.
        """
        if self._aes is None:
            raise InvalidValueError("encoding_aes_key", "is required to encrypt")
        prefix = (
            secrets.token_hex(_RANDOM_LEN // 2).encode() if random_prefix is None else random_prefix
        )
        if len(prefix) != _RANDOM_LEN:
            raise InvalidValueError("random_prefix", f"must be {_RANDOM_LEN} bytes")
        ts = str(int(self.clock())) if timestamp is None else timestamp
        if not _TIMESTAMP.fullmatch(ts):
            raise InvalidValueError("timestamp", "must be Unix seconds")
        nonce_ = str(secrets.randbelow(10**10)) if nonce is None else nonce
        body = message.encode() if isinstance(message, str) else message
        plain = prefix + len(body).to_bytes(_LENGTH_LEN, "big") + body + self.receive_id.encode()
        encrypt = b64encode(self._aes.encrypt(pkcs7_pad(plain, _PAD_BLOCK)))
        return EncryptedMessage(
            encrypt, compute_signature(self.token, ts, nonce_, encrypt), ts, nonce_
        )

    # -- whole pushes (POST) ----------------------------------------------------------------

    def open_push(self, body: bytes, query: PushQuery, *, max_bytes: int) -> Push:
        """Verify a push and return its fields, decrypted when the account has an AES key.

        Plain mode checks `signature` before parsing; it covers token, timestamp and nonce only,
        never the body (§3.3), so only secure mode authenticates content. Encrypted modes parse the
        envelope, check `msg_signature` and decrypt, ignoring plaintext fields beside Encrypt
        (compatible mode): `msg_signature` covers Encrypt only, so those are unauthenticated.

        Raises:
            BodyTooLargeError: the body is longer than `max_bytes`.
            PayloadError: the body or the decrypted message is malformed, or Encrypt is missing.
            SignatureError, TimestampError, DecryptionError, ReceiverMismatchError: as decrypt.
        """
        check_size(body, max_bytes)
        if self._aes is None:
            self.check_signature(query.signature, query.timestamp, query.nonce)
            return Push(
                parse_message(body), encrypted=False, receive_id=None, receiver_matches=True
            )
        encrypt = extract_encrypt(parse_message(body))
        opened = self.decrypt(query.msg_signature, query.timestamp, query.nonce, encrypt)
        return Push(
            parse_message(opened.message),
            encrypted=True,
            receive_id=opened.receive_id,
            receiver_matches=opened.receiver_matches,
        )

    # -- internals --------------------------------------------------------------------------

    def _decrypt_raw(self, raw: bytes) -> bytes:
        if self._aes is None:
            # A plain-mode account receiving ciphertext: its configuration does not match WeChat's.
            raise DecryptionError("no_aes_key", "the account has no EncodingAESKey")
        # Padded plaintext is at least one 32-byte block; AesCbc refuses partial 16-byte blocks.
        if len(raw) < _PAD_BLOCK:
            raise DecryptionError("truncated_ciphertext", f"ciphertext of {len(raw)} bytes")
        return self._aes.decrypt(raw)

    def _check_timestamp(self, timestamp: str) -> None:
        if self.max_age_s is None:
            return
        if not _TIMESTAMP.fullmatch(timestamp):
            raise TimestampError("bad_timestamp", "the timestamp is not Unix seconds")
        age = self.clock() - int(timestamp)
        if age > self.max_age_s:
            raise TimestampError("stale_timestamp", f"the timestamp is {int(age)} s old")
        if age < -self.max_age_s:
            raise TimestampError("future_timestamp", f"the timestamp is {int(-age)} s ahead")


# -- signatures -----------------------------------------------------------------------------


def compute_signature(*parts: str) -> str:
    """The WeChat push signature: sha1 of the parts sorted and joined, lowercase hex (§3.2)."""
    return sha1_hex(encode_utf8("".join(sorted(parts))))


def _require_signed(
    signature: str | None, timestamp: str | None, nonce: str | None
) -> tuple[str, str, str]:
    if not signature:
        raise SignatureError("missing_signature", "the signature is missing")
    if timestamp is None:
        raise TimestampError("missing_timestamp", "the timestamp is missing")
    if nonce is None:
        raise SignatureError("missing_nonce", "the nonce is missing")
    return signature, timestamp, nonce


def _compare(expected: str, given: str) -> None:
    # Bytes, so that a non-ASCII forgery cannot make compare_digest raise TypeError.
    if not hmac.compare_digest(expected.encode("ascii"), encode_utf8(given)):
        raise SignatureError("bad_signature", "the signature does not match")


def _require_param(value: str | None, name: str) -> str:
    if value is None:
        raise PayloadError("missing_field", f"{name} is missing")
    return value


# -- plaintext and envelope ----------------------------------------------------------------


def _split_plaintext(plain: bytes) -> tuple[bytes, bytes]:
    content = plain[_RANDOM_LEN:]
    if len(content) < _LENGTH_LEN:
        raise DecryptionError("bad_length", "the plaintext is too short")
    size = int.from_bytes(content[:_LENGTH_LEN], "big")
    if size > len(content) - _LENGTH_LEN:
        raise DecryptionError("bad_length", "msg_len exceeds the plaintext")
    end = _LENGTH_LEN + size
    return content[_LENGTH_LEN:end], content[end:]


def _utf8(message: bytes) -> str:
    try:
        return message.decode("utf-8")
    except UnicodeDecodeError:
        raise DecryptionError("bad_encoding", "the message is not UTF-8") from None


def extract_encrypt(fields: Mapping[str, Any]) -> str:
    """The `Encrypt` field of a push envelope.

    Raises:
        PayloadError: Encrypt is missing or empty (`missing_field`) or not a string.
    """
    value = fields.get("Encrypt")
    if value is None or value == "":
        raise PayloadError("missing_field", "Encrypt is missing")
    if not isinstance(value, str):
        raise PayloadError("malformed_field", "Encrypt is not a string")
    return value
