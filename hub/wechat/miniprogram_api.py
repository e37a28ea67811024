"""Mini-program server APIs (protocols §6).

Token, login, phone number, subscribe messages, mini-program codes. The Channels shop uses the
same token endpoint with its own appid.
"""

from dataclasses import dataclass, field
from typing import Any

from hub.errors import DeliveryError, WeChatApiError
from hub.wechat.api import (
    TOKEN_ERRCODES,
    AuthorizedApi,
    Host,
    WeChatHttp,
    encode_json,
    errcode_result,
)
from hub.wechat.tokens import IssuedToken, TokenBroker

# getwxacodeunlimit answers an image on success and JSON on failure (protocols §6.5).
_JSON = "application/json"


def api_token_key(appid: str) -> str:
    """The broker key of an api.weixin.qq.com app (mini-program or Channels shop)."""
    return f"api:{appid}"


class StableTokenApi(AuthorizedApi):
    """An app on api.weixin.qq.com whose token comes from cgi-bin/stable_token (§6.1)."""

    def __init__(self, http: WeChatHttp, broker: TokenBroker, appid: str, secret: str) -> None:
        super().__init__(http, broker, Host.API, api_token_key(appid))
        self.appid = appid
        self._secret = secret

    async def fetch_token(self, force: bool) -> IssuedToken:
        result = await self.http.call_json(
            "POST",
            Host.API,
            "/cgi-bin/stable_token",
            payload={
                "grant_type": "client_credential",
                "appid": self.appid,
                "secret": self._secret,
                "force_refresh": force,
            },
            # Normal mode returns the same token while it is valid; a forced refresh does not.
            idempotent=not force,
        )
        return IssuedToken(str(result["access_token"]), int(result["expires_in"]))


@dataclass(frozen=True)
class LoginSession:
    openid: str
    unionid: str | None
    # Never sent to the client (§6.2); needed only to decrypt wx.getUserInfo-style data.
    session_key: str = field(repr=False)


@dataclass(frozen=True)
class PhoneInfo:
    phone_number: str
    pure_phone_number: str
    country_code: str


@dataclass(frozen=True)
class SubscribeMessage:
    touser: str
    template_id: str
    # {"thing1": "…", "time3": "…"}: keyword name → value, as the template defines them.
    data: dict[str, str]
    page: str | None = None
    miniprogram_state: str | None = None
    lang: str | None = None

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "touser": self.touser,
            "template_id": self.template_id,
            "data": {name: {"value": value} for name, value in self.data.items()},
        }
        optional = {
            "page": self.page,
            "miniprogram_state": self.miniprogram_state,
            "lang": self.lang,
        }
        body.update({name: value for name, value in optional.items() if value})
        return body


class MiniProgramApi(StableTokenApi):
    """The server APIs of one mini-program."""

    async def code_to_session(self, js_code: str) -> LoginSession:
        """Exchange a wx.login code (single use, about 5 minutes) for the user's identity.

        Raises:
            WeChatApiError: e.g. 40029 invalid code, 40163 code used, 45011 too frequent.
            DeliveryError: WeChat could not be reached.
        """
        result = await self.http.call_json(
            "GET",
            Host.API,
            "/sns/jscode2session",
            query={
                "appid": self.appid,
                "secret": self._secret,
                "js_code": js_code,
                "grant_type": "authorization_code",
            },
            # A code is single use: a repeated request after a lost answer would fail anyway.
            idempotent=False,
        )
        return LoginSession(
            openid=str(result["openid"]),
            unionid=str(result["unionid"]) if result.get("unionid") else None,
            session_key=str(result.get("session_key", "")),
        )

    async def phone_number(self, code: str, openid: str | None = None) -> PhoneInfo:
        """The phone number behind a getPhoneNumber code (single use, 5 minutes).

        Raises:
            WeChatApiError: e.g. 40029 invalid code.
            DeliveryError: WeChat could not be reached, or the answer is for another appid.
        """
        payload = {"code": code} | ({"openid": openid} if openid else {})
        result = await self.call(
            "POST", "/wxa/business/getuserphonenumber", payload=payload, idempotent=False
        )
        info = result.get("phone_info") or {}
        watermark = info.get("watermark") or {}
        if watermark.get("appid") != self.appid:
            raise DeliveryError("phone number answer carries another appid", retryable=False)
        return PhoneInfo(
            phone_number=str(info["phoneNumber"]),
            pure_phone_number=str(info["purePhoneNumber"]),
            # A number in the sample, a string in the table (§6.3): accept both.
            country_code=str(info["countryCode"]),
        )

    async def send_subscribe_message(self, message: SubscribeMessage) -> int:
        """Send a subscription message; returns its msgid (matched by the sent event later).

        Raises:
            WeChatApiError: 43101 no remaining grant (do not retry), 47003 a value breaks its
                keyword rule, 40037 bad template, 40003 bad openid, 41030 bad page.
            DeliveryError: WeChat could not be reached (retryable; the message may have gone).
        """
        result = await self.call(
            "POST", "/cgi-bin/message/subscribe/send", payload=message.payload(), idempotent=False
        )
        return int(result["msgid"])

    async def unlimited_code(
        self,
        scene: str,
        *,
        page: str | None = None,
        width: int = 430,
        check_path: bool = True,
        env_version: str = "release",
    ) -> bytes:
        """An unlimited mini-program code image for `scene` (≤ 32 visible characters).

        Raises:
            WeChatApiError: 41030 page missing, 40169 invalid scene, 45009 too many calls.
            DeliveryError: WeChat could not be reached.
        """
        payload: dict[str, Any] = {
            "scene": scene,
            "width": width,
            "check_path": check_path,
            "env_version": env_version,
        }
        if page:
            payload["page"] = page
        token = await self.access_token()
        try:
            return await self._fetch_code(token, payload)
        except WeChatApiError as exc:
            if exc.errcode not in TOKEN_ERRCODES:
                raise
        token = await self._broker.replace(self._token_key, token, self.fetch_token)
        return await self._fetch_code(token, payload)

    async def _fetch_code(self, token: str, payload: dict[str, Any]) -> bytes:
        path = f"/wxa/getwxacodeunlimit?access_token={token}"

        async def attempt() -> bytes:
            raw = await self.http.send_once(
                "POST",
                Host.API,
                path,
                encode_json(payload),
                {"Content-Type": "application/json"},
                idempotent=True,
            )
            if raw.content_type == _JSON or raw.body[:1] == b"{":
                errcode_result(raw, "getwxacodeunlimit")
                raise DeliveryError(
                    "getwxacodeunlimit answered JSON without an image", retryable=True
                )
            return raw.body

        return await self.http.with_retries(attempt, "POST /wxa/getwxacodeunlimit")
