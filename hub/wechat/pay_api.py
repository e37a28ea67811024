"""WeChat Pay API v3 client (protocols §1.2, §1.7, §1.8).

Every request is signed over the exact bytes sent; every answer's signature is verified before
it is believed.
"""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from hub.errors import CallbackRejected, PayApiError
from hub.wechat.api import Host, RawResponse, WeChatHttp, encode_json
from hub.wechat.pay_keys import PlatformKeys
from hub.wechat.pay_v3 import (
    MerchantKey,
    authorization_header,
    generate_nonce,
    read_certificates_response,
    verify_message_refetching,
)
from hub.wechat.primitives import Certificate

_USER_AGENT = "wxhub/0.1 (+https://github.com/wxhub/wxhub)"
_NO_CONTENT = 204
_TOO_MANY = 429
# Statuses after which the same request may simply be tried again later (§1.8): rate limited,
# or WeChat's own failure. A 429 on a refund leaves the outcome unknown: query it first.
_RETRYABLE_STATUSES = frozenset({_TOO_MANY, 500, 502, 503, 504})


@dataclass(frozen=True)
class JsapiOrder:
    """What a JSAPI prepay needs (§1.7)."""

    out_trade_no: str
    description: str
    amount_fen: int
    payer_openid: str
    notify_url: str
    attach: str = ""
    payer_client_ip: str = "127.0.0.1"
    time_expire: str | None = None

    def body(self, appid: str, mchid: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "appid": appid,
            "mchid": mchid,
            "description": self.description[:127],
            "out_trade_no": self.out_trade_no,
            "notify_url": self.notify_url,
            "amount": {"total": self.amount_fen, "currency": "CNY"},
            "payer": {"openid": self.payer_openid},
            "scene_info": {"payer_client_ip": self.payer_client_ip},
        }
        if self.attach:
            body["attach"] = self.attach[:128]
        if self.time_expire:
            body["time_expire"] = self.time_expire
        return body


@dataclass(frozen=True)
class RefundRequest:
    out_trade_no: str
    out_refund_no: str
    refund_fen: int
    total_fen: int
    reason: str = ""
    notify_url: str | None = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "out_trade_no": self.out_trade_no,
            "out_refund_no": self.out_refund_no,
            "amount": {"refund": self.refund_fen, "total": self.total_fen, "currency": "CNY"},
        }
        if self.reason:
            body["reason"] = self.reason[:80]
        if self.notify_url:
            body["notify_url"] = self.notify_url
        return body


class PayApi:
    """The v3 APIs of one merchant."""

    def __init__(  # noqa: PLR0913 - a merchant's identity, keys and clock
        self,
        http: WeChatHttp,
        merchant: MerchantKey,
        appid: str,
        api_v3_key: str,
        keys: PlatformKeys,
        *,
        public_key_id: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.http = http
        self.merchant = merchant
        self.appid = appid
        self._api_v3_key = api_v3_key
        self.keys = keys
        # Sent as Wechatpay-Serial so answers come signed with the public key (§1.1).
        self._public_key_id = public_key_id
        self._clock = clock

    async def jsapi_prepay(self, order: JsapiOrder) -> str:
        """Create (or, with identical parameters, re-create) a JSAPI order; returns prepay_id.

        Raises:
            PayApiError: WeChat refused (e.g. 400 PARAM_ERROR) or answered something unverifiable.
            DeliveryError: WeChat could not be reached.
        """
        body = order.body(self.appid, self.merchant.mchid)
        result = await self._json("POST", "/v3/pay/transactions/jsapi", body)
        return str(result["prepay_id"])

    async def query_by_out_trade_no(self, out_trade_no: str) -> dict[str, Any]:
        """The transaction of our order number (404 ORDER_NOT_EXIST raises PayApiError)."""
        path = (
            f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no)}?mchid={self.merchant.mchid}"
        )
        return await self._json("GET", path, None)

    async def query_by_transaction_id(self, transaction_id: str) -> dict[str, Any]:
        """The transaction of WeChat's id (404 ORDER_NOT_EXIST raises PayApiError)."""
        path = f"/v3/pay/transactions/id/{quote(transaction_id)}?mchid={self.merchant.mchid}"
        return await self._json("GET", path, None)

    async def close(self, out_trade_no: str) -> None:
        """Close an unpaid order (WeChat answers 204)."""
        path = f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no)}/close"
        await self._request("POST", path, {"mchid": self.merchant.mchid}, idempotent=True)

    async def refund(self, request: RefundRequest) -> dict[str, Any]:
        """Ask for a refund; returns the refund object (status PROCESSING, SUCCESS, …)."""
        return await self._json("POST", "/v3/refund/domestic/refunds", request.body())

    async def query_refund(self, out_refund_no: str) -> dict[str, Any]:
        return await self._json("GET", f"/v3/refund/domestic/refunds/{quote(out_refund_no)}", None)

    async def download_certificates(self) -> list[Certificate]:
        """The current platform certificates (wire as PlatformKeys' refetch).

        Asked without Wechatpay-Serial, so the answer is signed with a certificate it carries
        (§1.1): during a migration to public-key mode the certificates are still needed for
        notifications signed the old way.
        """
        raw = await self._send(
            "GET", "/v3/certificates", b"", idempotent=True, public_key_mode=False
        )
        if raw.status != 200:  # noqa: PLR2004 - 200 is the one success here
            raise _error_of(raw)
        try:
            return read_certificates_response(
                raw.headers, raw.body, self._api_v3_key, clock=self._clock
            )
        except CallbackRejected as exc:
            raise PayApiError(
                raw.status, exc.reason, "unverifiable certificates answer", retryable=False
            ) from None

    async def _json(self, method: str, path: str, payload: object) -> dict[str, Any]:
        raw = await self._request(method, path, payload, idempotent=method == "GET")
        try:
            result = json.loads(raw.body)
        except ValueError:
            raise PayApiError(
                raw.status, "malformed_answer", "answer is not JSON", retryable=True
            ) from None
        if not isinstance(result, dict):
            raise PayApiError(
                raw.status, "malformed_answer", "answer is not an object", retryable=True
            )
        return result

    async def _request(
        self, method: str, path: str, payload: object, *, idempotent: bool
    ) -> RawResponse:
        body = b"" if payload is None else encode_json(payload)
        raw = await self._send(method, path, body, idempotent=idempotent)
        if not 200 <= raw.status < 300:  # noqa: PLR2004 - the 2xx range
            raise _error_of(raw)
        try:
            await verify_message_refetching(
                raw.headers,
                raw.body if raw.status != _NO_CONTENT else b"",
                self.keys,
                clock=self._clock,
            )
        except CallbackRejected as exc:
            # An answer we cannot verify is no answer: WeChat's state is unknown, query again.
            raise PayApiError(
                raw.status, exc.reason, "answer signature did not verify", retryable=True
            ) from None
        return raw

    async def _send(
        self, method: str, path: str, body: bytes, *, idempotent: bool, public_key_mode: bool = True
    ) -> RawResponse:
        async def attempt() -> RawResponse:
            # A fresh timestamp and nonce per attempt: each attempt is its own signed request.
            timestamp, nonce = int(self._clock()), generate_nonce()
            headers = {
                "Authorization": authorization_header(
                    self.merchant, method, path, body, timestamp, nonce
                ),
                "Accept": "application/json",
                "User-Agent": _USER_AGENT,
            }
            if body:
                headers["Content-Type"] = "application/json"
            if self._public_key_id and public_key_mode:
                headers["Wechatpay-Serial"] = self._public_key_id
            return await self.http.send_once(
                method, Host.PAY, path, body or None, headers, idempotent
            )

        return await self.http.with_retries(attempt, f"{method} {path.split('?', maxsplit=1)[0]}")


def _error_of(raw: RawResponse) -> PayApiError:
    try:
        detail = json.loads(raw.body) if raw.body else {}
    except ValueError:
        detail = {}
    if not isinstance(detail, dict):
        detail = {}
    return PayApiError(
        raw.status,
        str(detail.get("code", "HTTP_" + str(raw.status))),
        str(detail.get("message", ""))[:200],
        retryable=raw.status in _RETRYABLE_STATUSES,
    )
