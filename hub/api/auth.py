"""Who is calling: a mini-program session or a brand's API key, from the Bearer token."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiohttp import web

from hub.errors import AuthenticationError
from hub.models.api_key import ApiKey
from hub.models.member import Member, MemberSession
from hub.services import sessions
from hub.services.api_keys import KEY_PREFIX, hash_key
from hub.services.audit import Actor

# The scheme is case-insensitive (RFC 9110), the token is not.
_BEARER = re.compile(r"(?i:Bearer) +([A-Za-z0-9_\-]{8,200})")
# last_used_at is written at most this often per key: not one write per request.
_USE_RECORD_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class MemberCaller:
    session: MemberSession
    member: Member


@dataclass(frozen=True)
class ApiCaller:
    brand_id: int
    key_id: int

    @property
    def actor(self) -> Actor:
        return Actor.api_key(self.key_id)


def bearer_token(request: web.Request) -> str:
    """The token of `Authorization: Bearer …`.

    Raises:
        AuthenticationError: "missing_token" or "malformed_token".
    """
    header = request.headers.get("Authorization")
    if not header:
        raise AuthenticationError("missing_token", "send Authorization: Bearer <token>")
    match = _BEARER.fullmatch(header.strip())
    if match is None:
        raise AuthenticationError(
            "malformed_token", "the Authorization header is not a Bearer token"
        )
    return match.group(1)


async def member_caller(request: web.Request) -> MemberCaller:
    """The logged-in member of a mini-program request.

    Raises:
        AuthenticationError: no, unknown or expired session token.
    """
    token = bearer_token(request)
    if not token.startswith(sessions.TOKEN_PREFIX):
        raise AuthenticationError("invalid_session", "not a session token: log in again")
    session, member = await sessions.authenticate(token, datetime.now(UTC))
    return MemberCaller(session, member)


async def api_caller(request: web.Request) -> ApiCaller:
    """The brand whose API key signs an open-API request.

    Raises:
        AuthenticationError: no, unknown or revoked key.
    """
    token = bearer_token(request)
    key = (
        await ApiKey.get_or_none(key_hash=hash_key(token), revoked_at=None)
        if token.startswith(KEY_PREFIX)
        else None
    )
    if key is None:
        raise AuthenticationError("invalid_api_key", "unknown or revoked API key")
    now = datetime.now(UTC)
    if key.last_used_at is None or now - key.last_used_at > _USE_RECORD_EVERY:
        await ApiKey.filter(id=key.id).update(last_used_at=now)
    return ApiCaller(key.brand_id, key.id)
