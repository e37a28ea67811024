"""The HTTP core of every call wxhub makes to WeChat: one aiohttp session, timeouts, retries.

api.weixin.qq.com and qyapi.weixin.qq.com answer HTTP 200 even on errors, so failure is read
from `errcode` (protocols, general conventions); Pay's own status codes are handled in
hub.wechat.pay_api. Base URLs come from settings, so the same code talks to WeChat or to the
local simulator.
"""

import asyncio
import json
import logging
import random
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import urlencode

import aiohttp

from hub.errors import DeliveryError, WeChatApiError
from hub.settings import WeChatSettings
from hub.wechat.tokens import IssuedToken, TokenBroker

log = logging.getLogger(__name__)

T = TypeVar("T")

# errcode -1 is "system busy, try again" on every WeChat API.
ERRCODE_BUSY = -1
# Token errors: invalid (40001, 40014) or expired (42001) access token (protocols §6.1, §4.3).
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
# Back-off between attempts: 0.2 s, 0.4 s, 0.8 s … (with jitter), never more than 2 s, because
# callers run inside WeChat's 5 s deadline or inside a job that has its own retry schedule.
_BASE_DELAY_S = 0.2
_MAX_DELAY_S = 2.0
_SERVER_ERROR = 500


class Host(StrEnum):
    """Which of WeChat's servers a call goes to."""

    API = "api"  # api.weixin.qq.com: mini-program, Channels shop
    WORK = "work"  # qyapi.weixin.qq.com: WeCom
    PAY = "pay"  # api.mch.weixin.qq.com: WeChat Pay


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()


class TransientError(Exception):
    """A failure worth another attempt: no answer, HTTP 5xx, or errcode -1."""


class WeChatHttp:
    """Sends requests to WeChat's hosts with a per-call timeout and bounded retries."""

    def __init__(self, session: aiohttp.ClientSession, settings: WeChatSettings) -> None:
        self._session = session
        self._settings = settings
        self._bases = {
            Host.API: settings.api_base_url.rstrip("/"),
            Host.WORK: settings.work_base_url.rstrip("/"),
            Host.PAY: settings.pay_base_url.rstrip("/"),
        }

    def url(self, host: Host, path_and_query: str) -> str:
        return self._bases[host] + path_and_query

    async def call_json(
        self,
        method: str,
        host: Host,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        payload: object = None,
        idempotent: bool,
    ) -> dict[str, Any]:
        """Call an api/qyapi endpoint and return its JSON object, retrying transient failures.

        Raises:
            WeChatApiError: WeChat answered a non-zero errcode other than -1.
            DeliveryError: retryable; no usable answer after the configured attempts.
        """
        path_and_query = path + ("?" + urlencode(query) if query else "")
        body = None if payload is None else encode_json(payload)
        headers = {"Content-Type": "application/json"} if body is not None else None

        async def attempt() -> dict[str, Any]:
            raw = await self.send_once(method, host, path_and_query, body, headers, idempotent)
            return errcode_result(raw, f"{method} {path}")

        return await self.with_retries(attempt, f"{method} {path}")

    async def with_retries(self, attempt: Callable[[], Awaitable[T]], what: str) -> T:
        """Run `attempt` until it does not raise TransientError, at most max_attempts times.

        Raises:
            DeliveryError: retryable; every attempt failed transiently.
        """
        attempts = self._settings.max_attempts
        for number in range(1, attempts + 1):
            try:
                return await attempt()
            except TransientError as exc:
                if number == attempts:
                    raise DeliveryError(f"{what}: {exc}", retryable=True) from None
                delay = min(_MAX_DELAY_S, _BASE_DELAY_S * 2 ** (number - 1))
                log.info("%s failed (%s); attempt %d of %d", what, exc, number + 1, attempts)
                await asyncio.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter only
        raise AssertionError("unreachable: max_attempts is at least 1")

    async def send_once(
        self,
        method: str,
        host: Host,
        path_and_query: str,
        body: bytes | None,
        headers: Mapping[str, str] | None,
        idempotent: bool,
    ) -> RawResponse:
        """One request; failures worth repeating raise TransientError (see with_retries).

        Raises:
            TransientError: no connection, HTTP 5xx, or (idempotent calls) no answer in time.
            DeliveryError: retryable; a non-idempotent call got no answer in time.
        """
        timeout = aiohttp.ClientTimeout(total=self._settings.request_timeout_s)
        try:
            async with self._session.request(
                method, self.url(host, path_and_query), data=body, headers=headers, timeout=timeout
            ) as response:
                raw = RawResponse(response.status, dict(response.headers), await response.read())
        except aiohttp.ClientConnectorError as exc:
            # Nothing reached WeChat: always safe to try again.
            raise TransientError(f"cannot connect: {exc.os_error}") from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            # The request may have been carried out: only idempotent calls are repeated.
            if idempotent:
                raise TransientError(type(exc).__name__) from None
            # The path only: the query carries access tokens and AppSecrets.
            path = path_and_query.split("?", maxsplit=1)[0]
            raise DeliveryError(
                f"{method} {path}: no answer ({type(exc).__name__})", retryable=True
            ) from None
        if raw.status >= _SERVER_ERROR:
            raise TransientError(f"HTTP {raw.status}")
        return raw


def wechat_session() -> aiohttp.ClientSession:
    """The one client session of a process for calls to WeChat (pooled connections)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=100, limit_per_host=50),
        headers={"User-Agent": "wxhub/0.1"},
    )


def errcode_result(raw: RawResponse, what: str) -> dict[str, Any]:
    """The JSON object of an api/qyapi answer, or the error it reports.

    Raises:
        TransientError: errcode -1 (busy).
        WeChatApiError: any other non-zero errcode (retryable only for rate limits).
        DeliveryError: the answer is not a JSON object (retryable).
    """
    try:
        result = json.loads(raw.body)
    except ValueError:
        raise DeliveryError(f"{what}: answer is not JSON", retryable=True) from None
    if not isinstance(result, dict):
        raise DeliveryError(f"{what}: answer is not a JSON object", retryable=True)
    errcode = result.get("errcode", 0)
    if errcode in (0, None):
        return result
    if errcode == ERRCODE_BUSY:
        raise TransientError("errcode -1 (busy)")
    message = str(result.get("errmsg", ""))
    raise WeChatApiError(int(errcode), message, retryable=int(errcode) in RATE_LIMIT_ERRCODES)


# Over quota or frequency limits (45009 quota, 45011 per-user frequency): fine to try later.
RATE_LIMIT_ERRCODES = frozenset({45009, 45011})


def encode_json(value: object) -> bytes:
    # WeChat reads UTF-8 JSON; keep Chinese readable rather than \u escapes (smaller, and what
    # WeChat's own samples send).
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


class AuthorizedApi(ABC):
    """A client whose calls carry an access token from the shared broker.

    A call refused for its token (40001/40014/42001) gets a replacement token from the broker
    and is made once more (protocols §6.1, §4.3).
    """

    def __init__(self, http: WeChatHttp, broker: TokenBroker, host: Host, token_key: str) -> None:
        self.http = http
        self._broker = broker
        self._host = host
        self._token_key = token_key

    @abstractmethod
    async def fetch_token(self, force: bool) -> IssuedToken:
        """Ask WeChat for a token (each product has its own token endpoint)."""

    async def access_token(self) -> str:
        return await self._broker.token(self._token_key, self.fetch_token)

    async def call(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        payload: object = None,
        idempotent: bool,
    ) -> dict[str, Any]:
        """Call `path` with the access token; see WeChatHttp.call_json for errors."""
        token = await self.access_token()
        try:
            return await self._call_with(token, method, path, query, payload, idempotent)
        except WeChatApiError as exc:
            if exc.errcode not in TOKEN_ERRCODES:
                raise
            log.info("%s %s: token refused (%d); replacing it", method, path, exc.errcode)
        token = await self._broker.replace(self._token_key, token, self.fetch_token)
        return await self._call_with(token, method, path, query, payload, idempotent)

    async def _call_with(
        self,
        token: str,
        method: str,
        path: str,
        query: Mapping[str, str] | None,
        payload: object,
        idempotent: bool,
    ) -> dict[str, Any]:
        return await self.http.call_json(
            method,
            self._host,
            path,
            query={**(query or {}), "access_token": token},
            payload=payload,
            idempotent=idempotent,
        )
