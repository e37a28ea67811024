"""The web application factory: typed state, middleware, routes, paired set-up and tear-down."""

from collections.abc import AsyncIterator

import aiohttp_jinja2
import jinja2
from aiohttp import web

from hub.accounts import Accounts
from hub.callbacks.sources import Intakes
from hub.db import open_database
from hub.keys import accounts_key, intakes_key, metrics_key, redis_key, settings_key, vault_key
from hub.metrics import Metrics
from hub.middleware import error_middleware, request_context_middleware
from hub.queue import create_queue_pool
from hub.resources import resource_dir
from hub.routes import setup_routes
from hub.settings import Settings
from hub.vault import load_vault
from hub.wechat.api import WeChatHttp, wechat_session
from hub.wechat.tokens import TokenBroker


def create_app(settings: Settings) -> web.Application:
    """Build the web application; resources open when it starts and close when it stops.

    Raises:
        ConfigError: the data key is missing or unusable.
    """
    app = web.Application(
        client_max_size=settings.http.client_max_size_bytes,
        middlewares=[request_context_middleware, error_middleware],
    )
    app[settings_key] = settings
    app[vault_key] = load_vault(settings)
    app[metrics_key] = Metrics()
    # HTML pages (templates/pages/): every value escaped unless a handler marks it Markup.
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(resource_dir("templates") / "pages"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_redis)
    app.cleanup_ctx.append(_wechat)
    setup_routes(app)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    async with open_database(app[settings_key]):
        yield


async def _redis(app: web.Application) -> AsyncIterator[None]:
    pool = await create_queue_pool(app[settings_key])
    app[redis_key] = pool
    try:
        yield
    finally:
        await pool.aclose()


async def _wechat(app: web.Application) -> AsyncIterator[None]:
    async with wechat_session() as session:
        http = WeChatHttp(session, app[settings_key].wechat)
        settings, vault = app[settings_key], app[vault_key]
        accounts = Accounts(
            vault, http, TokenBroker(app[redis_key], vault), push_windows=settings.callbacks
        )
        app[accounts_key] = accounts
        app[intakes_key] = Intakes.build(accounts, vault)
        yield
