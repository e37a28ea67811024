"""Every typed key of the web application's state."""

from typing import TYPE_CHECKING

from aiohttp import web
from arq.connections import ArqRedis

from hub.accounts import Accounts
from hub.metrics import Metrics
from hub.settings import Settings
from hub.vault import Vault

if TYPE_CHECKING:
    # The intakes import the callback flow, which reads the keys above.
    from hub.callbacks.sources import Intakes

settings_key = web.AppKey("settings", Settings)
vault_key = web.AppKey("vault", Vault)
metrics_key = web.AppKey("metrics", Metrics)
# One Redis pool for everything: arq's ArqRedis is a redis.asyncio.Redis that can also enqueue.
redis_key = web.AppKey("redis", ArqRedis)
accounts_key = web.AppKey("accounts", Accounts)
intakes_key: "web.AppKey[Intakes]" = web.AppKey("intakes")
