"""The short-lived signed token a member's coupon QR code carries, instead of the coupon itself.

`wxq1.<coupon id>.<expiry, unix seconds>.<MAC>`: the MAC (the first 16 bytes of an HMAC-SHA256
under a key derived from the data key, base64url) binds the coupon to the expiry, so a token
cannot be forged, altered or used after it expires; a screenshot is worthless a minute later.
The mini-program asks for a fresh one before the old one runs out.
"""

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hub.errors import DomainError
from hub.vault import Vault

PREFIX = "wxq1"
_PURPOSE = "coupon_qr"
_MAC_BYTES = 16
_SHAPE = re.compile(r"wxq1\.([1-9][0-9]{0,18})\.([1-9][0-9]{0,11})\.([A-Za-z0-9_-]{22})")


def make_token(vault: Vault, coupon_id: int, expires_at: datetime) -> str:
    """A token for the coupon, valid until `expires_at` (whole seconds)."""
    payload = f"{PREFIX}.{coupon_id}.{int(expires_at.timestamp())}"
    mac = vault.sign(payload.encode(), purpose=_PURPOSE)[:_MAC_BYTES]
    return f"{payload}.{_encode(mac)}"


def token_expiry(now: datetime, ttl: timedelta) -> datetime:
    """When a token made now lapses: `ttl` later, in whole seconds (what the token carries)."""
    return (now + ttl).replace(microsecond=0)


def read_token(vault: Vault, token: str, at: datetime) -> int:
    """The coupon id a token names, if it is genuine and unexpired at `at`.

    Raises:
        DomainError: "invalid_coupon_token" (malformed, forged or altered),
            "coupon_token_expired".
    """
    claims = verify_token(vault, token)
    check_unexpired(claims, at)
    return claims.coupon_id


@dataclass(frozen=True)
class TokenClaims:
    coupon_id: int
    expires_at: datetime


def verify_token(vault: Vault, token: str) -> TokenClaims:
    """What a genuine token says, expired or not (a retried scan is answered after expiry).

    Raises:
        DomainError: "invalid_coupon_token" (malformed, forged or altered).
    """
    match = _SHAPE.fullmatch(token.strip()) if token.isascii() else None
    if match is None:
        raise DomainError("invalid_coupon_token", "not a coupon QR token")
    coupon_id, expires, mac_text = match.groups()
    try:
        mac = base64.urlsafe_b64decode(mac_text + "==")
    except (binascii.Error, ValueError):
        raise DomainError("invalid_coupon_token", "not a coupon QR token") from None
    payload = f"{PREFIX}.{coupon_id}.{expires}".encode()
    # 22 characters carry 132 bits for a 128-bit MAC: only the canonical spelling is ours, so
    # a token with its last character changed is refused, not quietly accepted.
    canonical = _encode(mac) == mac_text
    if not canonical or len(mac) != _MAC_BYTES or not vault.verify(payload, mac, purpose=_PURPOSE):
        raise DomainError("invalid_coupon_token", "the coupon QR token is not genuine")
    return TokenClaims(int(coupon_id), datetime.fromtimestamp(int(expires), UTC))


def check_unexpired(claims: TokenClaims, at: datetime) -> None:
    """Raises DomainError "coupon_token_expired" unless the token is still valid at `at`."""
    if claims.expires_at <= at:
        raise DomainError(
            "coupon_token_expired", "the coupon QR code has expired: refresh it in the mini-program"
        )


def _encode(mac: bytes) -> str:
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
