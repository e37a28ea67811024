"""WeChat's answer shapes: errcode JSON for api/qyapi, status + code JSON for Pay.

Endpoints raise ApiError or PayError; gateway.py and pay_gateway.py turn them into answers.
"""

import json
import secrets
from typing import Any

from aiohttp import web

from hub.errors import PayloadError
from hub.wechat.wire import parse_json_object

# errcodes shared by api.weixin.qq.com and qyapi.weixin.qq.com (§6.1, §4.3).
ERR_BUSY = -1
ERR_INVALID_CREDENTIAL = 40001
ERR_INVALID_GRANT_TYPE = 40002
ERR_INVALID_OPENID = 40003
ERR_INVALID_APPID = 40013
ERR_INVALID_TOKEN = 40014
ERR_INVALID_CODE = 40029
ERR_INVALID_TEMPLATE = 40037
ERR_INVALID_PARAMETER = 40058
ERR_INVALID_TAG = 40068
ERR_INVALID_EXTERNAL_USERID = 40096
ERR_INVALID_ARGS = 40097
ERR_INVALID_APPSECRET = 40125
ERR_CODE_USED = 40163
ERR_INVALID_SCENE = 40169
ERR_MISSING_TOKEN = 41001
ERR_INVALID_PAGE = 41030
ERR_WELCOME_CODE = 41051
ERR_TOKEN_EXPIRED = 42001
ERR_REFUSED = 43101
ERR_QUOTA = 45009
ERR_DATA_FORMAT = 47001
ERR_ARGUMENT_INVALID = 47003
ERR_API_UNAUTHORIZED = 48001
ERR_USER_NOT_FOUND = 60111
ERR_NO_RELATIONSHIP = 84061

JSON_CONTENT_TYPE = "application/json"


class ApiError(Exception):
    """An api/qyapi refusal: answered with HTTP 200 and a non-zero errcode."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"{errcode} {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class PayError(Exception):
    """A Pay v3 refusal: answered with its HTTP status and `{"code", "message"}` (§1.8)."""

    def __init__(
        self, status: int, code: str, message: str, detail: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail


def dump_json(value: object) -> bytes:
    """Compact UTF-8 JSON, Chinese kept readable, as WeChat writes it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def request_id() -> str:
    """A WeChat-like request id (the `rid` in errmsg, the Request-ID header of Pay)."""
    return "-".join(secrets.token_hex(4) for _ in range(3))


def api_ok(**fields: Any) -> web.Response:
    """A success answer: errcode 0 with the given fields."""
    return json_response({"errcode": 0, "errmsg": "ok", **fields})


def api_error(errcode: int, errmsg: str) -> web.Response:
    """An errcode answer; errmsg ends with a request id as WeChat's do."""
    return json_response({"errcode": errcode, "errmsg": f"{errmsg} rid: {request_id()}"})


def json_response(value: object, status: int = 200) -> web.Response:
    return web.Response(body=dump_json(value), status=status, content_type=JSON_CONTENT_TYPE)


def pay_error_body(error: PayError) -> bytes:
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.detail is not None:
        body["detail"] = error.detail
    return dump_json(body)


async def read_api_json(request: web.Request) -> dict[str, Any]:
    """The JSON object body of an api/qyapi request.

    Raises:
        ApiError: 47001 (data format error) when it is not a JSON object.
    """
    try:
        return parse_json_object(await request.read())
    except PayloadError:
        raise ApiError(
            ERR_DATA_FORMAT, "data format error hint: body is not a JSON object"
        ) from None


async def read_pay_json(request: web.Request) -> dict[str, Any]:
    """The JSON object body of a Pay request.

    Raises:
        PayError: 400 PARAM_ERROR when it is not a JSON object.
    """
    try:
        return parse_json_object(await request.read())
    except PayloadError:
        raise PayError(400, "PARAM_ERROR", "请求体不是合法的JSON") from None


def require_str(body: dict[str, Any], name: str, *, errcode: int = ERR_INVALID_ARGS) -> str:
    """A required non-empty string field of an api/qyapi body.

    Raises:
        ApiError: `errcode` naming the field.
    """
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise ApiError(errcode, f"invalid args hint: [{name}] is required and must be a string")
    return value


class ControlError(Exception):
    """A control-API request that cannot be carried out: answered `{"error": message}`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
