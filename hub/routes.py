"""The route table: HTTP routes, and the event handlers of every callback.

The handlers/ modules register their event handlers when imported; this is the only module
that imports handlers/.
"""

from aiohttp import web

from handlers import channels, mini_program, wechat_pay, wecom
from hub.api import health
from hub.callbacks.pipeline import EVENTS, EventTable

# appids, mchids and corpids are short and alphanumeric; anything else is not a route (404).
ACCOUNT = "{account:[0-9A-Za-z]{1,32}}"


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_get("/metrics", health.metrics)
    app.router.add_post(f"/callbacks/wechatpay/{ACCOUNT}", wechat_pay.notification_v3)
    app.router.add_post(f"/callbacks/wechatpay/{ACCOUNT}/v2", wechat_pay.notification_v2)
    for prefix, module in (
        (f"/callbacks/miniprogram/{ACCOUNT}", mini_program),
        (f"/callbacks/channels/{ACCOUNT}", channels),
        (f"/callbacks/wecom/{ACCOUNT}", wecom),
    ):
        app.router.add_get(prefix, module.verify_url)
        app.router.add_post(prefix, module.push)


def event_table() -> EventTable:
    """The event handlers, registered by the handlers/ modules imported above."""
    return EVENTS
