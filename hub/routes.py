"""The route table: the only module that imports handlers/."""

from aiohttp import web

from hub.api import health


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_get("/metrics", health.metrics)
