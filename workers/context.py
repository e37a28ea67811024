"""What every task gets: the shared clients, opened once per worker process."""

from dataclasses import dataclass
from typing import Any

from arq.connections import ArqRedis

from hub.accounts import Accounts
from hub.settings import Settings
from hub.vault import Vault


@dataclass(frozen=True)
class WorkerDeps:
    settings: Settings
    vault: Vault
    redis: ArqRedis
    # The brands' WeChat accounts and their API clients (one HTTP session per worker).
    accounts: Accounts
    # hostname:pid:random, announced in the worker presence set.
    worker_id: str


def deps(ctx: dict[str, Any]) -> WorkerDeps:
    """The worker's dependencies from an arq job context."""
    value = ctx["deps"]
    if not isinstance(value, WorkerDeps):
        raise TypeError("worker context has no WorkerDeps; was on_startup run?")
    return value
