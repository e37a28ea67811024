"""The route table: HTTP routes, and the event handlers of every callback.

The handlers/ modules register their event handlers when imported; this is the only module
that imports handlers/.
"""

from aiohttp import web

from handlers import channels, mini_program, wechat_pay, wecom
from hub.api import health
from hub.callbacks.pipeline import EVENTS, EventTable


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_get("/metrics", health.metrics)
    app.router.add_post("/callbacks/wechatpay/{account}", wechat_pay.notification_v3)
    app.router.add_post("/callbacks/wechatpay/{account}/v2", wechat_pay.notification_v2)
    for prefix, module in (
        ("/callbacks/miniprogram/{account}", mini_program),
        ("/callbacks/channels/{account}", channels),
        ("/callbacks/wecom/{account}", wecom),
    ):
        app.router.add_get(prefix, module.verify_url)
        app.router.add_post(prefix, module.push)


def event_table() -> EventTable:
    """The event handlers, registered by the handlers/ modules imported above."""
    return EVENTS
