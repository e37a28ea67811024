"""The test-control API under /_sim (not WeChat's): codes, URLs, actions, faults, tokens, clock.

Read-only views are in inspection.py.

Bodies are JSON objects validated by the action models; errors answer `{"error": …}` with
400 (invalid body), 404 (unknown thing) or 409 (wrong state). Actions that push return the
deliveries; with `"wait": true` only once each is delivered or has given up.
"""

import dataclasses
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.simulator import miniprogram_events, pay_events, shop_events, url_checks, wecom_events
from hub.simulator.context import Simulator, simulator_key
from hub.simulator.delivery import Delivery
from hub.simulator.faults import EndpointFault, PushFault
from hub.simulator.inspection import callbacks_json, deliveries_json, delivery_json, sim_json
from hub.simulator.miniprogram_api import CODE_TTL_S
from hub.simulator.miniprogram_events import find_mini_program, resolve_openid
from hub.simulator.pay_api import refund_json, transaction_json
from hub.simulator.replies import ControlError
from hub.simulator.state import IssuedCode, Source, State
from hub.simulator.tokens import Revocation

routes = web.RouteTableDef()
M = TypeVar("M", bound=BaseModel)

# How long `"wait": true` waits for deliveries (a full compressed Pay schedule fits).
WAIT_TIMEOUT_S = 60.0


@web.middleware
async def control_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer the control API's refusals as JSON."""
    try:
        return await handler(request)
    except ControlError as error:
        return sim_json({"error": error.message}, status=error.status)
    except ValidationError as error:
        details = error.errors(include_url=False, include_context=False)
        return sim_json({"error": "invalid request body", "details": details}, status=400)


async def _read(request: web.Request, model: type[M]) -> M:
    body = await request.read()
    return model.model_validate_json(body or b"{}")


async def _answer(
    request: web.Request, deliveries: list[Delivery], wait: bool, **fields: Any
) -> web.Response:
    sim = request.app[simulator_key]
    if wait and not await sim.deliveries.wait(deliveries, WAIT_TIMEOUT_S):
        fields["wait_timed_out"] = True
    return sim_json(fields | {"deliveries": deliveries_json(deliveries)})


# -- codes ---------------------------------------------------------------------------------


class CodeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    appid: str | None = None
    user: str | None = None
    openid: str | None = None
    # Phone codes: the number returned; default the user's.
    phone: str | None = None


def _mint(sim: Simulator, codes: dict[str, IssuedCode], body: CodeRequest) -> IssuedCode:
    app = find_mini_program(sim, body.appid)
    openid = resolve_openid(sim, app.appid, body.user, body.openid)
    code = IssuedCode(secrets.token_urlsafe(24), app.appid, openid, sim.clock(), phone=body.phone)
    codes[code.code] = code
    return code


@routes.post("/_sim/codes/login")
async def mint_login_code(request: web.Request) -> web.Response:
    """A wx.login code for the user (single use, 5 minutes)."""
    sim = request.app[simulator_key]
    code = _mint(sim, sim.state.login_codes, await _read(request, CodeRequest))
    return sim_json({"code": code.code, "openid": code.openid, "expires_in": CODE_TTL_S})


@routes.post("/_sim/codes/phone")
async def mint_phone_code(request: web.Request) -> web.Response:
    """A getPhoneNumber code for the user (single use, 5 minutes)."""
    sim = request.app[simulator_key]
    body = await _read(request, CodeRequest)
    code = _mint(sim, sim.state.phone_codes, body)
    if code.phone is None:
        user = sim.world.user_by_openid(code.appid, code.openid)
        if user is None:
            raise ControlError(400, "give phone: the openid is not a World user")
        code.phone = user.phone
    return sim_json({"code": code.code, "phone": code.phone, "expires_in": CODE_TTL_S})


# -- callback URLs -------------------------------------------------------------------------


class CallbackRegistration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: Source
    account: str
    url: str = Field(pattern=r"^https?://")


@routes.get("/_sim/callbacks")
async def list_callbacks(request: web.Request) -> web.Response:
    return sim_json({"callbacks": callbacks_json(request.app[simulator_key])})


@routes.put("/_sim/callbacks")
async def register_callback(request: web.Request) -> web.Response:
    """Where one account's pushes go: the hub's /callbacks/<source>/<account id>."""
    sim = request.app[simulator_key]
    body = await _read(request, CallbackRegistration)
    sim.state.callback_urls[(body.source, body.account)] = body.url
    return sim_json(body.model_dump(mode="json"))


@routes.delete("/_sim/callbacks")
async def clear_callbacks(request: web.Request) -> web.Response:
    request.app[simulator_key].state.callback_urls.clear()
    return sim_json({"callbacks": callbacks_json(request.app[simulator_key])})


@routes.post("/_sim/callbacks/verify")
async def verify_callback(request: web.Request) -> web.Response:
    """The GET handshake WeChat makes when a URL is saved."""
    action = await _read(request, url_checks.UrlCheckAction)
    deliveries = url_checks.check_url(request.app[simulator_key], action)
    return await _answer(request, deliveries, action.wait)


# -- WeChat Pay ----------------------------------------------------------------------------


@routes.post("/_sim/pay/orders/{out_trade_no}/pay")
async def pay_order(request: web.Request) -> web.Response:
    """The user pays the order: TRANSACTION.SUCCESS to its notify_url."""
    sim = request.app[simulator_key]
    action = await _read(request, pay_events.PayAction)
    out_trade_no = request.match_info["out_trade_no"]
    deliveries = pay_events.pay_order(sim, out_trade_no, action)
    order = sim.state.orders[(deliveries[0].account, out_trade_no)]
    return await _answer(request, deliveries, action.wait, order=transaction_json(order))


@routes.post("/_sim/pay/refunds/{out_refund_no}/result")
async def settle_refund(request: web.Request) -> web.Response:
    """A refund succeeds, closes or turns abnormal: REFUND.* to its notify_url."""
    sim = request.app[simulator_key]
    action = await _read(request, pay_events.RefundAction)
    out_refund_no = request.match_info["out_refund_no"]
    deliveries = pay_events.settle_refund_action(sim, out_refund_no, action)
    refund = sim.state.refunds[(deliveries[0].account, out_refund_no)]
    return await _answer(request, deliveries, action.wait, refund=refund_json(refund))


@routes.post("/_sim/pay/probes")
async def send_probe(request: web.Request) -> web.Response:
    """A SIGNTEST probe, which the hub must refuse."""
    action = await _read(request, pay_events.ProbeAction)
    deliveries = pay_events.probe(request.app[simulator_key], action)
    return await _answer(request, deliveries, action.wait)


# -- mini-program, WeCom, shop actions ------------------------------------------------------

_Action = TypeVar("_Action", bound=BaseModel)


def _pushing_route(
    path: str, model: type[_Action], act: Callable[[Simulator, _Action], list[Delivery]]
) -> None:
    async def handle(request: web.Request) -> web.Response:
        action = await _read(request, model)
        deliveries = act(request.app[simulator_key], action)
        return await _answer(request, deliveries, bool(getattr(action, "wait", False)))

    handle.__doc__ = act.__doc__
    routes.post(path)(handle)


_pushing_route(
    "/_sim/mp/subscriptions", miniprogram_events.PopupAction, miniprogram_events.answer_popup
)
_pushing_route(
    "/_sim/mp/subscriptions/off", miniprogram_events.ChangeAction, miniprogram_events.turn_off
)
_pushing_route(
    "/_sim/mp/sent-events", miniprogram_events.SentAction, miniprogram_events.report_sent
)
_pushing_route("/_sim/mp/events", miniprogram_events.EventAction, miniprogram_events.push_event)
_pushing_route("/_sim/wecom/changes", wecom_events.ChangeAction, wecom_events.change_contact)
_pushing_route("/_sim/shop/events", shop_events.ShopEventAction, shop_events.push_order_event)


@routes.post("/_sim/wecom/scans")
async def scan_contact_way(request: web.Request) -> web.Response:
    """A customer scans contact way C: add_external_contact with State and WelcomeCode."""
    action = await _read(request, wecom_events.ScanAction)
    result = wecom_events.scan_contact_way(request.app[simulator_key], action)
    code = result.welcome_code
    return await _answer(
        request,
        result.deliveries,
        action.wait,
        relationship=dataclasses.asdict(result.relationship),
        welcome_code=code.code if code is not None else None,
    )


@routes.post("/_sim/shop/orders")
async def place_shop_order(request: web.Request) -> web.Response:
    action = await _read(request, shop_events.NewOrderAction)
    order, deliveries = shop_events.place_order(request.app[simulator_key], action)
    return await _answer(request, deliveries, action.wait, order=dataclasses.asdict(order))


@routes.post("/_sim/shop/orders/{order_id}/pay")
async def pay_shop_order(request: web.Request) -> web.Response:
    sim = request.app[simulator_key]
    action = await _read(request, shop_events.ShopAction)
    order_id = request.match_info["order_id"]
    deliveries = shop_events.pay_order(sim, order_id, action)
    order = dataclasses.asdict(sim.state.shop_orders[order_id])
    return await _answer(request, deliveries, action.wait, order=order)


@routes.post("/_sim/shop/orders/{order_id}/cancel")
async def cancel_shop_order(request: web.Request) -> web.Response:
    sim = request.app[simulator_key]
    action = await _read(request, shop_events.CancelAction)
    order_id = request.match_info["order_id"]
    deliveries = shop_events.cancel_order(sim, order_id, action)
    order = dataclasses.asdict(sim.state.shop_orders[order_id])
    return await _answer(request, deliveries, action.wait, order=order)


@routes.post("/_sim/shop/aftersales")
async def update_aftersale(request: web.Request) -> web.Response:
    action = await _read(request, shop_events.AftersaleAction)
    aftersale, deliveries = shop_events.update_aftersale(request.app[simulator_key], action)
    return await _answer(request, deliveries, action.wait, aftersale=dataclasses.asdict(aftersale))


# -- pushes ----------------------------------------------------------------------------------


def _delivery(request: web.Request) -> Delivery:
    delivery = request.app[simulator_key].deliveries.get(int(request.match_info["delivery_id"]))
    if delivery is None:
        raise ControlError(404, "no such push")
    return delivery


@routes.post("/_sim/pushes/{delivery_id:\\d+}/deliver-now")
async def deliver_now(request: web.Request) -> web.Response:
    """Skip the wait before the push's next attempt ("deliver event N now")."""
    delivery = _delivery(request)
    delivery.wake.set()
    return sim_json({"id": delivery.id, "status": delivery.status.value})


@routes.post("/_sim/pushes/{delivery_id:\\d+}/wait")
async def wait_for_push(request: web.Request) -> web.Response:
    """Wait until the push is delivered or has given up (at most `?timeout=` seconds)."""
    delivery = _delivery(request)
    try:
        timeout_s = float(request.query.get("timeout", WAIT_TIMEOUT_S))
    except ValueError:
        raise ControlError(400, "timeout must be a number of seconds") from None
    finished = await request.app[simulator_key].deliveries.wait([delivery], timeout_s)
    return sim_json(delivery_json(delivery) | {"finished": finished})


# -- faults, tokens, clock, reset ------------------------------------------------------------


@routes.get("/_sim/faults")
async def list_faults(request: web.Request) -> web.Response:
    return sim_json(request.app[simulator_key].faults.describe())


@routes.post("/_sim/faults/endpoints")
async def add_endpoint_fault(request: web.Request) -> web.Response:
    """Arm a fault on a WeChat endpoint (or every endpoint under a `prefix*`)."""
    sim = request.app[simulator_key]
    sim.faults.add_endpoint(await _read(request, EndpointFault))
    return sim_json(sim.faults.describe())


@routes.post("/_sim/faults/pushes")
async def add_push_fault(request: web.Request) -> web.Response:
    """Arm a fault on the next pushes of a source (or of one event)."""
    sim = request.app[simulator_key]
    sim.faults.add_push(await _read(request, PushFault))
    return sim_json(sim.faults.describe())


@routes.delete("/_sim/faults")
async def clear_faults(request: web.Request) -> web.Response:
    sim = request.app[simulator_key]
    sim.faults.clear()
    return sim_json(sim.faults.describe())


class RevokeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str | None = None
    # An appid or corpid: every token it holds.
    owner: str | None = None
    how: Revocation = Revocation.REVOKED


@routes.post("/_sim/tokens/revoke")
async def revoke_tokens(request: web.Request) -> web.Response:
    """Revoke (40001 from now on) or expire (42001) tokens early."""
    body = await _read(request, RevokeRequest)
    if body.token is None and body.owner is None:
        raise ControlError(400, "name a token or an owner")
    tokens = request.app[simulator_key].tokens
    count = tokens.revoke(how=body.how, token=body.token, owner=body.owner)
    return sim_json({"count": count})


class ClockRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: float


@routes.post("/_sim/clock/advance")
async def advance_clock(request: web.Request) -> web.Response:
    """Move WeChat's clock forward (token expiry, code lifetimes, the welcome window)."""
    sim = request.app[simulator_key]
    sim.clock.advance((await _read(request, ClockRequest)).seconds)
    return sim_json({"now": sim.clock(), "offset_s": sim.clock.offset_s})


@routes.post("/_sim/reset")
async def reset(request: web.Request) -> web.Response:
    """Forget state, tokens, faults and finished pushes (the World and callback URLs stay)."""
    sim = request.app[simulator_key]
    sim.state = State(callback_urls=sim.state.callback_urls)
    sim.tokens.clear()
    sim.faults.clear()
    sim.deliveries.clear()
    return sim_json({"reset": True})
