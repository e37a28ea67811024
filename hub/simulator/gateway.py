"""The middleware in front of every WeChat endpoint: faults, answers, Pay gate, request log.

Secrets are redacted before anything is kept in the request log.
"""

import asyncio
import json
import time
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from hub.errors import SignatureError
from hub.simulator.context import Simulator, simulator_key
from hub.simulator.faults import EndpointFault
from hub.simulator.pay_gateway import PAY_PREFIX, answer_pay
from hub.simulator.replies import ApiError, api_error
from hub.simulator.state import RequestRecord
from hub.wechat.pay_v3_platform import parse_authorization

CONTROL_PREFIX = "/_sim"
# Query parameters and JSON fields that carry secrets (hidden) or tokens and codes (shortened
# to a few characters, enough to tell them apart in the log).
_HIDDEN_NAMES = frozenset({"secret", "corpsecret"})
_SHORTENED_NAMES = frozenset({"access_token", "js_code", "code", "welcome_code"})
_KEPT_CHARS = 6
_HIDDEN = "***"
_LOGGED_BODY_CHARS = 2000
_LOGGED_HEADERS = ("Content-Type", "Wechatpay-Serial", "Accept", "User-Agent")


def redact(value: str) -> str:
    """A secret shortened to its first characters."""
    return value[:_KEPT_CHARS] + "…" if value else value


def _redact_field(name: str, value: Any) -> Any:
    if name in _HIDDEN_NAMES:
        return _HIDDEN
    if name in _SHORTENED_NAMES:
        return redact(str(value))
    return _redact_tree(value)


def _redact_tree(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _redact_field(key, item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact_tree(item) for item in value]
    return value


def _route_pattern(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else request.path


@web.middleware
async def gateway_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Apply an armed fault, answer errors in the host's shape, and log the request."""
    if request.path.startswith(CONTROL_PREFIX):
        return await handler(request)
    sim = request.app[simulator_key]
    started = time.perf_counter()
    fault = sim.faults.take_endpoint(_route_pattern(request))
    try:
        if fault is not None and fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if request.path.startswith(PAY_PREFIX):
            response = await answer_pay(sim, request, handler, fault)
        else:
            response = await _answer_api(request, handler, fault)
    except web.HTTPException as exc:
        await _log(sim, request, exc.status, b"", started)
        raise
    body = response.body if isinstance(response, web.Response) else b""
    await _log(sim, request, response.status, body if isinstance(body, bytes) else b"", started)
    return response


async def _answer_api(
    request: web.Request, handler: Handler, fault: EndpointFault | None
) -> web.StreamResponse:
    if fault is not None and fault.status is not None:
        # An infrastructure failure in front of WeChat: not the usual errcode JSON.
        return web.Response(status=fault.status, text=f"{fault.status} {fault.errmsg}")
    if fault is not None and fault.errcode is not None:
        return api_error(fault.errcode, fault.errmsg)
    try:
        return await handler(request)
    except ApiError as error:
        return api_error(error.errcode, error.errmsg)


async def _log(
    sim: Simulator, request: web.Request, status: int, response_body: bytes, started: float
) -> None:
    answer = _json_or_none(response_body)
    errcode = answer.get("errcode") if answer else None
    sim.state.requests.append(
        RequestRecord(
            id=sim.state.next_id(),
            at=sim.clock(),
            method=request.method,
            path=request.path,
            query={name: _redact_field(name, value) for name, value in request.query.items()},
            headers=_logged_headers(request),
            body=_logged_body(await request.read()),
            status=status,
            errcode=errcode if isinstance(errcode, int) else None,
            code=str(answer["code"]) if answer and "code" in answer else None,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
        )
    )


def _json_or_none(body: bytes) -> dict[str, Any] | None:
    if not body.startswith(b"{"):
        return None
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _logged_headers(request: web.Request) -> dict[str, str]:
    headers = {name: request.headers[name] for name in _LOGGED_HEADERS if name in request.headers}
    if authorization := request.headers.get("Authorization"):
        try:
            auth = parse_authorization(authorization)
            headers["Authorization"] = f'mchid="{auth.mchid}",serial_no="{auth.serial_no}",…'
        except SignatureError:
            headers["Authorization"] = "(malformed)"
    return headers


def _logged_body(body: bytes) -> str:
    parsed = _json_or_none(body)
    if parsed is not None:
        text = json.dumps(_redact_tree(parsed), ensure_ascii=False)
    else:
        text = body.decode("utf-8", "replace")
    return text[:_LOGGED_BODY_CHARS]
