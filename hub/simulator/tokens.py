"""Access tokens as WeChat issues and checks them (§6.1, §4.3), and the three token endpoints.

cgi-bin/token replaces the previous token (which stays valid for a grace period); stable_token
returns the same token until 5 minutes before expiry, and its forced refresh invalidates the
current one at once (20 a day, 30 s apart); WeCom's gettoken returns the same token while valid.
"""

import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum

from hub.simulator.replies import (
    ERR_INVALID_CREDENTIAL,
    ERR_INVALID_TOKEN,
    ERR_MISSING_TOKEN,
    ERR_QUOTA,
    ERR_TOKEN_EXPIRED,
    ApiError,
)

TOKEN_TTL_S = 7200
# §6.1: stable_token rotates 5 minutes before expiry; the replaced cgi-bin/token lives ≈5 min.
ROTATE_BEFORE_S = 300
LEGACY_GRACE_S = 300
# §6.1: forced stable_token refreshes: at most 20 a day, at least 30 s apart.
FORCE_PER_DAY = 20
FORCE_INTERVAL_S = 30
_BEIJING = timezone(timedelta(hours=8))
# WeChat asks for 512 bytes of storage; its tokens are well over 100 URL-safe characters.
_TOKEN_BYTES = 108


class Host(StrEnum):
    """Tokens of one host are unknown to the other."""

    API = "api"
    WORK = "work"


class TokenKind(StrEnum):
    LEGACY = "token"
    STABLE = "stable_token"
    WECOM = "gettoken"


class Revocation(StrEnum):
    """Why a token stopped working before its time: the errcode a caller sees."""

    REVOKED = "revoked"  # 40001: invalid or not the latest
    EXPIRED = "expired"  # 42001


@dataclass
class AccessToken:
    token: str
    owner: str
    kind: TokenKind
    issued_at: float
    expires_at: float
    # A replaced cgi-bin/token keeps working until then.
    replaced_until: float | None = None
    revoked: Revocation | None = None

    @property
    def host(self) -> Host:
        return Host.WORK if self.kind is TokenKind.WECOM else Host.API


class TokenStore:
    """Every token issued, the current one per (kind, owner), and forced-refresh history."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._tokens: dict[str, AccessToken] = {}
        self._current: dict[tuple[TokenKind, str], AccessToken] = {}
        self._forced: dict[str, list[float]] = {}

    def all(self) -> list[AccessToken]:
        return list(self._tokens.values())

    def expires_in(self, token: AccessToken) -> int:
        return max(0, math.ceil(token.expires_at - self._clock()))

    def issue_legacy(self, owner: str) -> AccessToken:
        """cgi-bin/token: a new token every call; the previous one lives LEGACY_GRACE_S more."""
        previous = self._current.get((TokenKind.LEGACY, owner))
        if previous is not None and previous.replaced_until is None:
            previous.replaced_until = self._clock() + LEGACY_GRACE_S
        return self._issue(owner, TokenKind.LEGACY)

    def issue_stable(self, owner: str, *, force: bool) -> AccessToken:
        """stable_token in normal or forced mode.

        Raises:
            ApiError: 45009 when a forced refresh exceeds 20 a day or comes within 30 s.
        """
        current = self._current.get((TokenKind.STABLE, owner))
        if force:
            self._count_forced(owner)
            if current is not None and current.revoked is None:
                current.revoked = Revocation.REVOKED
            return self._issue(owner, TokenKind.STABLE)
        if (
            current is not None
            and self._usable(current)
            and self.expires_in(current) > ROTATE_BEFORE_S
        ):
            return current
        # Within the last 5 minutes the old token stays valid to its expiry beside the new one.
        return self._issue(owner, TokenKind.STABLE)

    def issue_wecom(self, owner: str) -> AccessToken:
        """gettoken: the same token while it is valid, a new one after."""
        current = self._current.get((TokenKind.WECOM, owner))
        if current is not None and self._usable(current):
            return current
        return self._issue(owner, TokenKind.WECOM)

    def check(self, token: str | None, host: Host) -> AccessToken:
        """The token a request carries, if WeChat would accept it on `host`.

        Raises:
            ApiError: 41001 missing, 40014 unknown, 40001 revoked or replaced, 42001 expired.
        """
        if not token:
            raise ApiError(ERR_MISSING_TOKEN, "access_token missing")
        found = self._tokens.get(token)
        if found is None or found.host is not host:
            raise ApiError(ERR_INVALID_TOKEN, "invalid access_token")
        now = self._clock()
        if found.revoked is Revocation.EXPIRED or now >= found.expires_at:
            raise ApiError(ERR_TOKEN_EXPIRED, "access_token expired")
        if found.revoked is Revocation.REVOKED or (
            found.replaced_until is not None and now >= found.replaced_until
        ):
            raise ApiError(
                ERR_INVALID_CREDENTIAL, "invalid credential, access_token is invalid or not latest"
            )
        return found

    def revoke(self, *, how: Revocation, token: str | None = None, owner: str | None = None) -> int:
        """Revoke or expire one token, or every token of `owner`; returns how many."""
        matched = [
            issued
            for issued in self._tokens.values()
            if (token is not None and issued.token == token)
            or (owner is not None and issued.owner == owner)
        ]
        for issued in matched:
            issued.revoked = how
        return len(matched)

    def clear(self) -> None:
        self._tokens.clear()
        self._current.clear()
        self._forced.clear()

    def _usable(self, token: AccessToken) -> bool:
        return (
            token.revoked is None
            and token.replaced_until is None
            and self._clock() < token.expires_at
        )

    def _count_forced(self, owner: str) -> None:
        now = self._clock()
        today = datetime.fromtimestamp(now, _BEIJING).date()
        history = [
            moment
            for moment in self._forced.get(owner, [])
            if datetime.fromtimestamp(moment, _BEIJING).date() == today
        ]
        if len(history) >= FORCE_PER_DAY:
            raise ApiError(ERR_QUOTA, "reach max api daily quota limit (force_refresh)")
        if history and now - history[-1] < FORCE_INTERVAL_S:
            raise ApiError(ERR_QUOTA, "force_refresh too frequently, at least 30 s apart")
        self._forced[owner] = [*history, now]

    def _issue(self, owner: str, kind: TokenKind) -> AccessToken:
        now = self._clock()
        issued = AccessToken(
            token=secrets.token_urlsafe(_TOKEN_BYTES),
            owner=owner,
            kind=kind,
            issued_at=now,
            expires_at=now + TOKEN_TTL_S,
        )
        self._tokens[issued.token] = issued
        self._current[(kind, owner)] = issued
        return issued
