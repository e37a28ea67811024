"""Every typed key of the web application's state."""

from aiohttp import web
from arq.connections import ArqRedis

from hub.metrics import Metrics
from hub.settings import Settings
from hub.vault import Vault

settings_key = web.AppKey("settings", Settings)
vault_key = web.AppKey("vault", Vault)
metrics_key = web.AppKey("metrics", Metrics)
# One Redis pool for everything: arq's ArqRedis is a redis.asyncio.Redis that can also enqueue.
redis_key = web.AppKey("redis", ArqRedis)
