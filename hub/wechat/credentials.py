"""Shapes of WeChat identifiers and credentials, checked before they are stored.

Each check returns the normalised value or raises InvalidValueError naming the field.
"""

import base64
import re

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

from hub.errors import InvalidValueError

_APPID = re.compile(r"wx[0-9a-f]{16}")
_CORPID = re.compile(r"w[wx][0-9a-f]{16}")
_MCHID = re.compile(r"[0-9]{8,12}")
_ORIGINAL_ID = re.compile(r"gh_[0-9a-f]{12}")
_APP_SECRET = re.compile(r"[A-Za-z0-9]{16,64}")
# Mini-program Token: 3-32 letters or digits; WeCom: up to 32 letters or digits.
_PUSH_TOKEN = re.compile(r"[A-Za-z0-9]{3,32}")
_ENCODING_AES_KEY = re.compile(r"[A-Za-z0-9]{43}")
_SERIAL = re.compile(r"[0-9A-Fa-f]{8,64}")
_PUBLIC_KEY_ID = re.compile(r"PUB_KEY_ID_[0-9]{10,64}")
# Pay API keys (v3 and v2) are exactly 32 printable ASCII characters.
_PAY_API_KEY = re.compile(r"[!-~]{32}")
# RSA-2048 is what WeChat Pay issues; shorter keys are refused.
_MIN_RSA_BITS = 2048


def _match(pattern: re.Pattern[str], value: str, field: str, shape: str) -> str:
    value = value.strip()
    if not pattern.fullmatch(value):
        raise InvalidValueError(field, f"must be {shape}")
    return value


def check_appid(value: str, field: str = "appid") -> str:
    return _match(_APPID, value.lower(), field, "'wx' followed by 16 hex digits")


def check_corpid(value: str, field: str = "corpid") -> str:
    return _match(_CORPID, value.lower(), field, "'ww' or 'wx' followed by 16 hex digits")


def check_mchid(value: str, field: str = "mchid") -> str:
    return _match(_MCHID, value, field, "8 to 12 digits")


def check_original_id(value: str, field: str = "original_id") -> str:
    return _match(_ORIGINAL_ID, value.lower(), field, "'gh_' followed by 12 hex digits")


def check_app_secret(value: str, field: str = "secret") -> str:
    return _match(_APP_SECRET, value, field, "16 to 64 letters or digits")


def check_push_token(value: str, field: str = "token") -> str:
    return _match(_PUSH_TOKEN, value, field, "3 to 32 letters or digits")


def check_encoding_aes_key(value: str, field: str = "encoding_aes_key") -> str:
    value = _match(_ENCODING_AES_KEY, value, field, "43 letters or digits")
    # 43 base64 characters plus "=" always decode to the 32-byte AES key.
    base64.b64decode(value + "=")
    return value


def check_serial(value: str, field: str = "serial_no") -> str:
    return _match(_SERIAL, value, field, "a hexadecimal certificate serial").upper()


def check_public_key_id(value: str, field: str = "public_key_id") -> str:
    return _match(_PUBLIC_KEY_ID, value, field, "'PUB_KEY_ID_' followed by digits")


def check_pay_api_key(value: str, field: str = "api_v3_key") -> str:
    return _match(_PAY_API_KEY, value, field, "exactly 32 printable ASCII characters")


def check_rsa_private_key(pem: str, field: str = "private_key") -> str:
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise InvalidValueError(field, "must be an unencrypted PEM private key") from None
    if not isinstance(key, RSAPrivateKey) or key.key_size < _MIN_RSA_BITS:
        raise InvalidValueError(field, f"must be an RSA key of at least {_MIN_RSA_BITS} bits")
    return pem.strip() + "\n"


def check_rsa_public_key(pem: str, field: str = "public_key") -> str:
    try:
        key = load_pem_public_key(pem.encode())
    except (ValueError, TypeError):
        raise InvalidValueError(field, "must be a PEM public key") from None
    if not isinstance(key, RSAPublicKey) or key.key_size < _MIN_RSA_BITS:
        raise InvalidValueError(field, f"must be an RSA key of at least {_MIN_RSA_BITS} bits")
    return pem.strip() + "\n"
