"""Encryption at rest of secrets and phone numbers, and keyed blind indexes to look them up.

Sealed values are AES-256-GCM (pycryptodome) with the column's name as associated data, so a
ciphertext copied into another column does not open. Subkeys for sealing and for indexes are
derived from the one configured data key with HKDF-SHA256.
"""

import base64
import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from Crypto.Cipher import AES
from Crypto.Hash import SHA256
from Crypto.Protocol.KDF import HKDF

from hub.errors import ConfigError
from hub.settings import DATA_KEY_BYTES, Environment, Settings

# Format byte in front of every sealed value, so the scheme can change without guessing.
_FORMAT_V1 = b"\x01"
# 96-bit nonces are what GCM is specified for; random nonces are safe far beyond our volumes.
_NONCE_BYTES = 12
_TAG_BYTES = 16
# A truncated MAC shorter than this (128 bits) is refused: it would be guessable.
_MIN_SIGNATURE_BYTES = 16


class VaultError(Exception):
    """A sealed value does not open: wrong key, wrong column or tampered bytes."""


class Vault:
    """Seals and opens values with the data key; computes blind indexes for lookups."""

    def __init__(self, data_key: bytes) -> None:
        if len(data_key) != DATA_KEY_BYTES:
            raise ValueError(f"data key must be {DATA_KEY_BYTES} bytes")
        self._seal_key = HKDF(data_key, 32, b"", SHA256, context=b"wxhub/seal/v1")
        self._index_key = HKDF(data_key, 32, b"", SHA256, context=b"wxhub/index/v1")
        self._sign_key = HKDF(data_key, 32, b"", SHA256, context=b"wxhub/sign/v1")

    def seal(self, plaintext: str, *, column: str) -> bytes:
        """Encrypt `plaintext` for storage in `column` (e.g. "member.phone")."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        cipher = AES.new(self._seal_key, AES.MODE_GCM, nonce=nonce)
        cipher.update(column.encode())
        ciphertext, tag = cipher.encrypt_and_digest(plaintext.encode())
        return _FORMAT_V1 + nonce + ciphertext + tag

    def open(self, sealed: bytes, *, column: str) -> str:
        """Decrypt a value sealed for `column`.

        Raises:
            VaultError: the value was sealed with another key or column, or was altered.
        """
        if len(sealed) < 1 + _NONCE_BYTES + _TAG_BYTES or sealed[:1] != _FORMAT_V1:
            raise VaultError(f"{column}: not a sealed value")
        nonce = sealed[1 : 1 + _NONCE_BYTES]
        ciphertext, tag = sealed[1 + _NONCE_BYTES : -_TAG_BYTES], sealed[-_TAG_BYTES:]
        cipher = AES.new(self._seal_key, AES.MODE_GCM, nonce=nonce)
        cipher.update(column.encode())
        try:
            return cipher.decrypt_and_verify(ciphertext, tag).decode()
        except ValueError:
            raise VaultError(f"{column}: sealed value does not open with this key") from None

    def blind_index(self, value: str, *, column: str) -> str:
        """A keyed hash of `value` for equality lookups; reveals nothing without the key."""
        message = column.encode() + b"\x00" + value.encode()
        return hmac.new(self._index_key, message, hashlib.sha256).hexdigest()

    def sign(self, message: bytes, *, purpose: str) -> bytes:
        """A keyed MAC of `message` for `purpose` (e.g. "coupon_qr"): HMAC-SHA256, 32 bytes."""
        return hmac.new(
            self._sign_key, purpose.encode() + b"\x00" + message, hashlib.sha256
        ).digest()

    def verify(self, message: bytes, signature: bytes, *, purpose: str) -> bool:
        """Whether `signature` is sign(message) or its first 16+ bytes (constant time)."""
        if len(signature) < _MIN_SIGNATURE_BYTES:
            return False
        expected = self.sign(message, purpose=purpose)[: len(signature)]
        return hmac.compare_digest(expected, signature)


def load_vault(settings: Settings) -> Vault:
    """Build the vault from the configured key, or from <data_dir>/data.key outside production.

    Raises:
        ConfigError: no key is configured in production, or the key file is unusable.
    """
    key = settings.security.data_key_bytes()
    if key is None:
        if settings.env is Environment.PRODUCTION:
            raise ConfigError("security.data_key is required in production")
        key = _local_key(settings.data_dir / "data.key")
    return Vault(key)


def generate_data_key() -> str:
    """A new data key in the configuration's format (base64 of 32 random bytes)."""
    return base64.b64encode(secrets.token_bytes(DATA_KEY_BYTES)).decode()


def _local_key(path: Path) -> bytes:
    # Created once, readable only by its owner: the key of a laptop's embedded database.
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(generate_data_key() + "\n")
    try:
        key = base64.b64decode(path.read_text().strip(), validate=True)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"data key file {path} is unreadable: {exc}") from None
    if len(key) != DATA_KEY_BYTES:
        raise ConfigError(f"data key file {path} must hold base64 of {DATA_KEY_BYTES} bytes")
    return key
