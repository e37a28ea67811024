"""Read-only views of the simulator for people and tests: GET /_sim/… (not WeChat's).

Tokens and codes are shown shortened (gateway.redact); pushes with every attempt.
"""

import dataclasses
import json
from typing import Any

from aiohttp import web

from hub.simulator.context import Simulator, simulator_key
from hub.simulator.delivery import Delivery
from hub.simulator.gateway import redact
from hub.simulator.pay_api import refund_json, transaction_json
from hub.simulator.state import Source

routes = web.RouteTableDef()

_DEFAULT_LIMIT = 100


def dump(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def sim_json(value: object, status: int = 200) -> web.Response:
    return web.json_response(value, status=status, dumps=dump)


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    """A push and its attempts, as the control API reports them."""
    request = delivery.last_request
    return {
        "id": delivery.id,
        "source": delivery.source.value,
        "account": delivery.account,
        "event": delivery.event,
        "key": delivery.key,
        "status": delivery.status.value,
        "copy_of": delivery.copy_of,
        "notes": delivery.notes,
        "created_at": delivery.created_at,
        "next_attempt_at": delivery.next_attempt_at,
        "attempts": [dataclasses.asdict(attempt) for attempt in delivery.attempts],
        "request": None
        if request is None
        else {
            "method": request.method,
            "url": request.url,
            "headers": request.headers,
            "body": request.body.decode("utf-8", "replace"),
        },
        "plaintext": delivery.plaintext,
    }


def deliveries_json(deliveries: list[Delivery]) -> list[dict[str, Any]]:
    return [delivery_json(delivery) for delivery in deliveries]


def world_summary(sim: Simulator) -> dict[str, Any]:
    """The World's identifiers (no secrets): what a person needs to drive the simulator."""
    world = sim.world
    return {
        "platform": {
            "serial_no": world.platform.serial_no,
            "public_key_id": world.platform.public_key_id,
        },
        "mini_programs": [
            {
                "appid": app.appid,
                "original_id": app.original_id,
                "name": app.name,
                "push_mode": app.push_mode,
                "push_format": app.push_format,
                "pages": app.pages,
            }
            for app in world.mini_programs
        ],
        "merchants": [
            {"mchid": m.mchid, "appid": m.appid, "merchant_serial_no": m.merchant_serial_no}
            for m in world.merchants
        ],
        "shops": [{"appid": shop.appid, "original_id": shop.original_id} for shop in world.shops],
        "corps": [
            {
                "corpid": corp.corpid,
                "agent_id": corp.agent_id,
                "staff": [member.userid for member in corp.staff],
                "tags": [tag.model_dump() for group in corp.tag_groups for tag in group.tags],
            }
            for corp in world.corps
        ],
        "users": [
            user.model_dump(include={"key", "name", "unionid", "openids"}) for user in world.users
        ],
        "templates": [template.model_dump(mode="json") for template in world.templates],
    }


def state_json(sim: Simulator) -> dict[str, Any]:
    """Everything the simulator remembers, tokens and codes shortened."""
    state = sim.state
    return {
        "now": sim.clock(),
        "tokens": [
            dataclasses.asdict(token) | {"token": redact(token.token)} for token in sim.tokens.all()
        ],
        "login_codes": _codes(state.login_codes.values()),
        "phone_codes": _codes(state.phone_codes.values()),
        "orders": [
            transaction_json(order)
            | {
                "notify_url": order.notify_url,
                "prepay_id": order.prepay_id,
                "refunded_fen": order.refunded_fen,
            }
            for order in state.orders.values()
        ],
        "refunds": [refund_json(refund) for refund in state.refunds.values()],
        "subscriptions": [
            {
                "appid": appid,
                "openid": openid,
                "template_id": template_id,
                **dataclasses.asdict(subscription),
            }
            for (appid, openid, template_id), subscription in state.subscriptions.items()
        ],
        "relationships": [dataclasses.asdict(rel) for rel in state.relationships.values()],
        "contact_ways": [dataclasses.asdict(way) for way in state.contact_ways.values()],
        "welcome_codes": _codes(state.welcome_codes.values()),
        "shop_orders": [dataclasses.asdict(order) for order in state.shop_orders.values()],
        "aftersales": [dataclasses.asdict(item) for item in state.aftersales.values()],
        "callbacks": callbacks_json(sim),
        "faults": sim.faults.describe(),
    }


def _codes(codes: Any) -> list[dict[str, Any]]:
    return [dataclasses.asdict(code) | {"code": redact(code.code)} for code in codes]


def callbacks_json(sim: Simulator) -> list[dict[str, Any]]:
    """The URL each account's pushes go to, and whether it was registered or configured."""
    accounts = [
        *((Source.MINI_PROGRAM, app.appid) for app in sim.world.mini_programs),
        *((Source.WECHAT_PAY, merchant.mchid) for merchant in sim.world.merchants),
        *((Source.CHANNELS, shop.appid) for shop in sim.world.shops),
        *((Source.WECOM, corp.corpid) for corp in sim.world.corps),
    ]
    return [
        {
            "source": source.value,
            "account": account,
            "url": sim.callback_url(source, account),
            "registered": (source, account) in sim.state.callback_urls,
        }
        for source, account in accounts
    ]


@routes.get("/_sim/world")
async def get_world(request: web.Request) -> web.Response:
    return sim_json(world_summary(request.app[simulator_key]))


@routes.get("/_sim/state")
async def get_state(request: web.Request) -> web.Response:
    return sim_json(state_json(request.app[simulator_key]))


@routes.get("/_sim/requests")
async def get_requests(request: web.Request) -> web.Response:
    """The latest requests to WeChat endpoints (`?limit=`, `?path=` prefix)."""
    sim = request.app[simulator_key]
    prefix = request.query.get("path", "")
    records = [record for record in sim.state.requests if record.path.startswith(prefix)]
    limit = _limit(request)
    return sim_json({"requests": [dataclasses.asdict(record) for record in records[-limit:]]})


@routes.get("/_sim/messages")
async def get_messages(request: web.Request) -> web.Response:
    """What reached users: subscription messages and WeCom welcome messages."""
    state = request.app[simulator_key].state
    return sim_json(
        {
            "subscribe": [dataclasses.asdict(message) for message in state.sent_messages],
            "welcome": [dataclasses.asdict(message) for message in state.welcome_messages],
        }
    )


@routes.get("/_sim/pushes")
async def get_pushes(request: web.Request) -> web.Response:
    """Pushes and their attempts (`?source=`, `?event=`, `?limit=`)."""
    sim = request.app[simulator_key]
    source, event = request.query.get("source"), request.query.get("event")
    deliveries = [
        delivery
        for delivery in sim.deliveries.all()
        if source in (None, delivery.source.value) and event in (None, delivery.event)
    ]
    return sim_json({"pushes": deliveries_json(deliveries[-_limit(request) :])})


@routes.get("/_sim/pushes/{delivery_id:\\d+}")
async def get_push(request: web.Request) -> web.Response:
    delivery = request.app[simulator_key].deliveries.get(int(request.match_info["delivery_id"]))
    if delivery is None:
        return sim_json({"error": "no such push"}, status=404)
    return sim_json(delivery_json(delivery))


def _limit(request: web.Request) -> int:
    value = request.query.get("limit", "")
    return int(value) if value.isdigit() and int(value) > 0 else _DEFAULT_LIMIT
