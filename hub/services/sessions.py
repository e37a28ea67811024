"""Mini-program sessions: a bearer token per login, stored only as its hash, with an expiry."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.errors import AuthenticationError
from hub.models.member import Member, MemberSession
from hub.services.member_locks import resolve_member

TOKEN_PREFIX = "wxs_"  # noqa: S105 - a public prefix, not a secret
_TOKEN_BYTES = 32


@dataclass(frozen=True)
class IssuedSession:
    session: MemberSession
    # The bearer token: handed to the mini-program once, never stored.
    token: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def open_session(
    member: Member, appid: str, openid: str, now: datetime, ttl: timedelta
) -> IssuedSession:
    """A new session for the member logged in through `appid`."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)
    session = await MemberSession.create(
        token_hash=hash_token(token),
        member_id=member.id,
        brand_id=member.brand_id,
        appid=appid,
        openid=openid,
        expires_at=now + ttl,
    )
    return IssuedSession(session, token)


async def authenticate(token: str, now: datetime) -> tuple[MemberSession, Member]:
    """The session and its member (the survivor, if the member was merged).

    Raises:
        AuthenticationError: "invalid_session" (unknown token) or "session_expired".
    """
    session = await MemberSession.get_or_none(token_hash=hash_token(token))
    if session is None:
        raise AuthenticationError("invalid_session", "unknown session token: log in again")
    if session.expires_at <= now:
        raise AuthenticationError("session_expired", "the session has expired: log in again")
    return session, await resolve_member(await Member.get(id=session.member_id))


async def close_expired_sessions(now: datetime) -> int:
    """Delete sessions past their expiry; returns how many."""
    return await MemberSession.filter(expires_at__lte=now).delete()
