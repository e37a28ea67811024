"""Mini-program server APIs (§6.2-§6.5): login, phone number, subscribe send, unlimited codes.

The server side of hub.wechat.miniprogram_api. Login and phone codes are minted by the control
API (control.py) and are single use for 5 minutes.
"""

import base64
import io
import re
import secrets
from typing import Any

import qrcode
from aiohttp import web

from hub.simulator.context import Simulator, simulator_key
from hub.simulator.keywords import value_is_valid
from hub.simulator.replies import (
    ERR_ARGUMENT_INVALID,
    ERR_CODE_USED,
    ERR_INVALID_APPID,
    ERR_INVALID_APPSECRET,
    ERR_INVALID_ARGS,
    ERR_INVALID_CODE,
    ERR_INVALID_GRANT_TYPE,
    ERR_INVALID_OPENID,
    ERR_INVALID_PAGE,
    ERR_INVALID_SCENE,
    ERR_INVALID_TEMPLATE,
    ERR_REFUSED,
    ApiError,
    api_ok,
    json_response,
    read_api_json,
    require_str,
)
from hub.simulator.state import IssuedCode, SentMessage, random_digits
from hub.simulator.token_api import authorized_mini_program
from hub.simulator.world import MiniProgram, Template, TemplateKind

routes = web.RouteTableDef()

# §6.2, §6.3: login and phone codes are single use and live about 5 minutes.
CODE_TTL_S = 300
# §6.5: a scene is 1-32 visible characters from this set.
_SCENE = re.compile(r"[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]{1,32}")
_ENV_VERSIONS = frozenset({"release", "trial", "develop"})
_MINIPROGRAM_STATES = frozenset({"developer", "trial", "formal"})
_LANGS = frozenset({"zh_CN", "en_US", "zh_HK", "zh_TW"})
# §6.5: width 280-1280 px, 430 by default.
_MIN_WIDTH, _MAX_WIDTH, _DEFAULT_WIDTH = 280, 1280, 430
_QR_BORDER = 2
_MSGID_DIGITS = 19


def take_code(
    codes: dict[str, IssuedCode],
    code: object,
    appid: str,
    now: float,
    used_errcode: int = ERR_CODE_USED,
) -> IssuedCode:
    """Use a single-use code minted for `appid`.

    Raises:
        ApiError: 40029 unknown, expired or another app's; `used_errcode` already used (login
            codes 40163; phone codes, whose documented errors lack it, 40029).
    """
    issued = codes.get(code) if isinstance(code, str) else None
    if issued is None or issued.appid != appid or now - issued.issued_at > CODE_TTL_S:
        raise ApiError(ERR_INVALID_CODE, "invalid code")
    if issued.used_at is not None:
        raise ApiError(used_errcode, "code been used")
    issued.used_at = now
    return issued


@routes.get("/sns/jscode2session")
async def code_to_session(request: web.Request) -> web.Response:
    """§6.2: a wx.login code → openid, session_key and (bound apps) unionid."""
    sim = request.app[simulator_key]
    query = request.query
    app = sim.world.mini_program(query.get("appid", ""))
    if app is None:
        raise ApiError(ERR_INVALID_APPID, "invalid appid")
    if query.get("secret") != app.secret:
        raise ApiError(ERR_INVALID_APPSECRET, "invalid appsecret")
    if query.get("grant_type") != "authorization_code":
        raise ApiError(ERR_INVALID_GRANT_TYPE, "invalid grant_type")
    code = take_code(sim.state.login_codes, query.get("js_code"), app.appid, sim.clock())
    session: dict[str, Any] = {
        "session_key": base64.b64encode(secrets.token_bytes(16)).decode(),
        "openid": code.openid,
    }
    user = sim.world.user_by_openid(app.appid, code.openid)
    if app.unionid_bound and user is not None:
        session["unionid"] = user.unionid
    # A successful code2Session carries no errcode at all.
    return json_response(session)


@routes.post("/wxa/business/getuserphonenumber")
async def get_phone_number(request: web.Request) -> web.Response:
    """§6.3: a getPhoneNumber code → the phone number, with the app's watermark."""
    app = authorized_mini_program(request)
    sim = request.app[simulator_key]
    body = await read_api_json(request)
    code = take_code(
        sim.state.phone_codes, body.get("code"), app.appid, sim.clock(), ERR_INVALID_CODE
    )
    phone = code.phone or ""
    user = sim.world.user_by_openid(app.appid, code.openid)
    country = user.country_code if user is not None else "86"
    return api_ok(
        phone_info={
            "phoneNumber": phone,
            "purePhoneNumber": phone,
            "countryCode": country,
            "watermark": {"timestamp": int(sim.clock()), "appid": app.appid},
        }
    )


@routes.post("/cgi-bin/message/subscribe/send")
async def send_subscribe_message(request: web.Request) -> web.Response:
    """§6.4: check the message, spend one grant, return its msgid."""
    app = authorized_mini_program(request)
    sim = request.app[simulator_key]
    body = await read_api_json(request)
    touser = body.get("touser")
    if not isinstance(touser, str) or sim.world.user_by_openid(app.appid, touser) is None:
        raise ApiError(ERR_INVALID_OPENID, "invalid openid")
    template = sim.world.template(app.appid, str(body.get("template_id", "")))
    if template is None:
        raise ApiError(ERR_INVALID_TEMPLATE, "invalid template_id")
    page = _check_page(app, body.get("page"))
    state = _choice(body, "miniprogram_state", _MINIPROGRAM_STATES, "formal")
    lang = _choice(body, "lang", _LANGS, "zh_CN")
    data = _check_data(template, body.get("data"))
    _spend_grant(sim, app.appid, touser, template)
    message = SentMessage(
        msgid=int(random_digits(_MSGID_DIGITS)),
        appid=app.appid,
        openid=touser,
        template_id=template.template_id,
        data=data,
        page=page,
        miniprogram_state=state,
        lang=lang,
        sent_at=sim.clock(),
    )
    sim.state.sent_messages.append(message)
    return api_ok(msgid=message.msgid)


def _check_page(app: MiniProgram, page: object) -> str | None:
    if page is None or page == "":
        return None
    if not isinstance(page, str):
        raise ApiError(ERR_INVALID_PAGE, "invalid page")
    path = page.lstrip("/").split("?", 1)[0]
    if app.pages and path not in app.pages:
        raise ApiError(ERR_INVALID_PAGE, f"invalid page hint: [{path}] is not a released page")
    return page


def _choice(body: dict[str, Any], name: str, allowed: frozenset[str], default: str) -> str:
    value = body.get(name, default)
    if value not in allowed:
        raise ApiError(ERR_ARGUMENT_INVALID, f"argument invalid! {name} invalid")
    return str(value)


def _check_data(template: Template, data: object) -> dict[str, str]:
    if not isinstance(data, dict):
        raise ApiError(ERR_ARGUMENT_INVALID, "argument invalid! data invalid")
    for name in data:
        if template.keyword(name) is None:
            raise ApiError(ERR_ARGUMENT_INVALID, f"argument invalid! data.{name} invalid")
    values: dict[str, str] = {}
    for keyword in template.keywords:
        entry = data.get(keyword.name)
        value = entry.get("value") if isinstance(entry, dict) else None
        if not isinstance(value, str) or not value:
            raise ApiError(
                ERR_ARGUMENT_INVALID, f"argument invalid! data.{keyword.name}.value is empty"
            )
        if not value_is_valid(keyword, value):
            raise ApiError(
                ERR_ARGUMENT_INVALID, f"argument invalid! data.{keyword.name}.value invalid"
            )
        values[keyword.name] = value
    return values


def _spend_grant(sim: Simulator, appid: str, openid: str, template: Template) -> None:
    subscription = sim.state.subscription(appid, openid, template.template_id)
    if template.kind is TemplateKind.LONG_TERM:
        allowed = subscription.accepted and not subscription.switched_off
    else:
        allowed = subscription.grants > 0 and not subscription.switched_off
    if not allowed:
        raise ApiError(ERR_REFUSED, "user refuse to accept the msg")
    if template.kind is TemplateKind.ONE_TIME:
        subscription.grants -= 1


@routes.post("/wxa/getwxacodeunlimit")
async def get_unlimited_code(request: web.Request) -> web.Response:
    """§6.5: a PNG mini-program code for `scene`, or a JSON errcode."""
    app = authorized_mini_program(request)
    body = await read_api_json(request)
    scene = require_str(body, "scene", errcode=ERR_INVALID_SCENE)
    if not _SCENE.fullmatch(scene):
        raise ApiError(ERR_INVALID_SCENE, "invalid scene")
    page = body.get("page") or ""
    if not isinstance(page, str) or page.startswith("/") or "?" in page:
        raise ApiError(ERR_INVALID_PAGE, "invalid page")
    if page and body.get("check_path", True) is not False and page not in app.pages:
        raise ApiError(ERR_INVALID_PAGE, f"invalid page hint: [{page}] is not a released page")
    if body.get("env_version", "release") not in _ENV_VERSIONS:
        raise ApiError(ERR_INVALID_ARGS, "invalid args hint: [env_version]")
    width = body.get("width", _DEFAULT_WIDTH)
    width = min(_MAX_WIDTH, max(_MIN_WIDTH, width if isinstance(width, int) else _DEFAULT_WIDTH))
    content = f"https://mp.weixin.qq.com/a/~{app.appid}?page={page}&scene={scene}"
    return web.Response(body=render_png(content, width), content_type="image/png")


def render_png(content: str, width: int) -> bytes:
    """A QR code of `content` as a PNG about `width` pixels wide."""
    code = qrcode.QRCode(border=_QR_BORDER)
    code.add_data(content)
    code.make(fit=True)
    modules = code.modules_count + 2 * _QR_BORDER
    code.box_size = max(1, width // modules)
    buffer = io.BytesIO()
    code.make_image().save(buffer)
    return buffer.getvalue()
