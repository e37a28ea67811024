"""Channels (视频号) shop message push: GET|POST /callbacks/channels/{appid}."""

from dataclasses import replace

from aiohttp import web

from hub.callbacks.envelope import Envelope
from hub.callbacks.intake import receive, receive_verification
from hub.callbacks.pipeline import EVENTS
from hub.keys import intakes_key
from hub.models.inbox import CallbackSource
from hub.services import channels_orders


async def verify_url(request: web.Request) -> web.Response:
    return await receive_verification(request, request.app[intakes_key].channels)


async def push(request: web.Request) -> web.Response:
    return await receive(request, request.app[intakes_key].channels)


def _shop_event(envelope: Envelope, order_id: str) -> channels_orders.ShopOrderEvent:
    return channels_orders.ShopOrderEvent(
        brand_id=envelope.brand_id,
        shop_appid=envelope.account,
        order_id=order_id,
        event=envelope.event_type,
        occurred_at=envelope.occurred_at,
        openid=str(envelope.payload.get("FromUserName") or "") or None,
        event_key=envelope.event_key,
    )


@EVENTS.on(
    CallbackSource.CHANNELS,
    "channels_ec_order_new",
    "channels_ec_order_pay",
    "channels_ec_order_cancel",
)
async def on_order(envelope: Envelope) -> str:
    order = envelope.payload.get("order_info") or {}
    if not order.get("order_id"):
        return "missing_order_id"
    return await channels_orders.order_event(_shop_event(envelope, str(order["order_id"])))


@EVENTS.on(CallbackSource.CHANNELS, "channels_ec_aftersale_update")
async def on_aftersale(envelope: Envelope) -> str:
    update = envelope.payload.get("finder_shop_aftersale_status_update") or {}
    if not update.get("order_id"):
        return "missing_order_id"
    # Aftersale pushes come from a fixed openid, not the buyer's (§5.1).
    event = replace(_shop_event(envelope, str(update["order_id"])), openid=None)
    return await channels_orders.aftersale_event(event, str(update.get("status", "")))
