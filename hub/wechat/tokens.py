"""Access tokens shared by every process through Redis, refreshed by one process at a time.

WeChat limits token fetches (a forced stable_token refresh 20 times a day; WeCom gettoken is
frequency-limited), so tokens live in Redis — sealed, like every secret at rest — and a Redis
lock makes the others wait for one refresher and reuse its token. A token WeChat rejects
(40001/40014/42001) is replaced only if it is still the cached one: a process holding an older
token must not throw away a fresh one another process just fetched.
"""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import LockError

from hub.errors import DeliveryError
from hub.vault import Vault, VaultError

log = logging.getLogger(__name__)

_KEY_PREFIX = "wxhub:token:"
_COLUMN = "redis.access_token"
# Use a token until 5 minutes before WeChat says it expires (stable_token rotates then, §6.1).
_EXPIRY_MARGIN_S = 300
_MIN_TTL_S = 30
# A refresher holds the lock at most this long (then it expires: a crashed holder cannot block
# everyone); waiters give up after the same time.
_LOCK_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in_s: int


# fetch(force): get a token from WeChat; `force` asks for a new one even if the current one is
# still valid in WeChat's eyes (stable_token's force_refresh), used after a rejection.
TokenFetcher = Callable[[bool], Awaitable[IssuedToken]]


class TokenBroker:
    """Caches access tokens per key (e.g. "mp:wx…", "work:ww…:1000002") for every process."""

    def __init__(self, redis: Redis, vault: Vault) -> None:
        self._redis = redis
        self._vault = vault

    async def token(self, key: str, fetch: TokenFetcher) -> str:
        """The cached token for `key`, fetching one (once across processes) if there is none.

        Raises:
            DeliveryError: fetching failed, or another process's refresh took too long.
        """
        cached = await self._read(key)
        return cached if cached is not None else await self._refresh(key, fetch, rejected=None)

    async def replace(self, key: str, rejected: str, fetch: TokenFetcher) -> str:
        """A token to use instead of `rejected`, which WeChat just refused.

        If the cache already holds another token (someone refreshed meanwhile) that one is
        returned; otherwise a new one is fetched, forcing WeChat to issue a fresh one if it
        hands back the rejected token.

        Raises:
            DeliveryError: as for token().
        """
        return await self._refresh(key, fetch, rejected=rejected)

    async def forget(self, key: str) -> None:
        await self._redis.delete(_KEY_PREFIX + key)

    async def _refresh(self, key: str, fetch: TokenFetcher, rejected: str | None) -> str:
        lock = self._redis.lock(
            f"{_KEY_PREFIX}lock:{key}", timeout=_LOCK_TIMEOUT_S, blocking_timeout=_LOCK_TIMEOUT_S
        )
        if not await lock.acquire():
            raise DeliveryError(f"token {key}: another process is still refreshing", retryable=True)
        try:
            current = await self._read(key)
            if current is not None and current != rejected:
                return current
            issued = await fetch(False)  # noqa: FBT003 - positional by TokenFetcher's contract
            if rejected is not None and issued.token == rejected:
                log.info("token %s: WeChat returned the rejected token; forcing a new one", key)
                issued = await fetch(True)  # noqa: FBT003
            await self._write(key, issued)
            return issued.token
        finally:
            try:
                await lock.release()
            except LockError:
                # The lock expired while we fetched: harmless, the token is written already.
                log.warning("token %s: refresh outlived its lock", key)

    async def _read(self, key: str) -> str | None:
        sealed = await self._redis.get(_KEY_PREFIX + key)
        if sealed is None:
            return None
        try:
            return self._vault.open(sealed, column=_COLUMN)
        except VaultError:
            # Sealed under another data key (e.g. a key change): treat as absent and refetch.
            return None

    async def _write(self, key: str, issued: IssuedToken) -> None:
        ttl = max(_MIN_TTL_S, issued.expires_in_s - _EXPIRY_MARGIN_S)
        sealed = self._vault.seal(issued.token, column=_COLUMN)
        await self._redis.set(_KEY_PREFIX + key, sealed, ex=ttl)
