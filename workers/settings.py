"""The arq worker: its tasks, schedule and lifecycle. `build_worker` is the entry point.

The caller opens the database (hub.db.open_database) around the worker's run, in its own
task; on_startup only builds the shared dependencies and starts announcing the worker.
"""

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from typing import Any

from arq import cron, func
from arq.cron import CronJob
from arq.worker import Worker
from redis.exceptions import RedisError

from hub import worker_presence
from hub.accounts import Accounts
from hub.queue import QUEUE_NAME, TaskName, deserialize_job, redis_settings, serialize_job
from hub.settings import Settings
from hub.vault import load_vault
from hub.wechat.api import WeChatHttp, wechat_session
from hub.wechat.tokens import TokenBroker
from workers.callbacks import process_callback, retry_callbacks
from workers.channels_orders import sync_channels_order
from workers.contact_welcome import WELCOME_MAX_TRIES, link_contact_member, welcome_contact
from workers.context import WorkerDeps, deps
from workers.coupons import expire_coupons, give_birthday_coupons, notify_coupon
from workers.maintenance import prune_worker_presence
from workers.membership import close_unpaid_orders, expire_points, forget_sessions, review_levels
from workers.outbox_relay import MAX_TRIES, relay_outbox
from workers.pay_refunds import request_pay_refund

log = logging.getLogger(__name__)

# How long a stopping worker lets running jobs finish before cancelling them: a cancelled job
# gives its row back (callbacks and outbox rows are taken up again by their crons).
STOP_GRACE_S = 10.0
# Job results are kept this long for inspection; effects are guarded by rows, not by results.
_KEEP_RESULT_S = 3600


# Every task by its wire name. process_callback schedules its own retries (a new job per
# attempt); arq's tries only matter when a job is cut short by a shutdown. Outbox tasks retry
# through arq with the budget they also pass to carry_out.
FUNCTIONS = [
    func(process_callback, name=TaskName.PROCESS_CALLBACK.value, max_tries=3),
    func(sync_channels_order, name=TaskName.SYNC_CHANNELS_ORDER.value, max_tries=MAX_TRIES),
    func(link_contact_member, name=TaskName.LINK_CONTACT_MEMBER.value, max_tries=MAX_TRIES),
    func(request_pay_refund, name=TaskName.REQUEST_PAY_REFUND.value, max_tries=MAX_TRIES),
    func(notify_coupon, name=TaskName.NOTIFY_COUPON.value, max_tries=MAX_TRIES),
    # The welcome is only accepted within 20 s.
    func(
        welcome_contact,
        name=TaskName.WELCOME_CONTACT.value,
        max_tries=WELCOME_MAX_TRIES,
        timeout=15,
    ),
]


def cron_jobs() -> list[CronJob]:
    """The schedule, built per worker: arq keeps each job's next run on the CronJob itself.

    arq runs each cron tick on one worker of the fleet.
    """
    return [
        cron(prune_worker_presence, second=0, run_at_startup=True, timeout=30),
        cron(retry_callbacks, second=30, run_at_startup=True, timeout=60),
        # Often: a welcome message that missed its flush has a 20 s window.
        cron(relay_outbox, second=set(range(0, 60, 5)), run_at_startup=True, timeout=60),
        cron(close_unpaid_orders, second=45, run_at_startup=True, timeout=60),
        # Hourly: expiry and level periods are dated to the moment, checked within the hour.
        cron(expire_points, minute=10, second=15, run_at_startup=True, timeout=600),
        cron(review_levels, minute=20, second=15, run_at_startup=True, timeout=600),
        cron(forget_sessions, minute=30, second=15, timeout=300),
        cron(give_birthday_coupons, minute=40, second=15, run_at_startup=True, timeout=600),
        # Expiry, then the "expiring soon" reminders it queues.
        cron(expire_coupons, minute=50, second=15, run_at_startup=True, timeout=300),
    ]


def build_worker(settings: Settings, *, burst: bool = False) -> Worker:
    """An arq worker for these settings; signals are handled by the caller (see stop_worker).

    Raises:
        ConfigError: no usable Redis URL.
    """
    return Worker(
        functions=FUNCTIONS,
        cron_jobs=cron_jobs(),
        queue_name=QUEUE_NAME,
        redis_settings=redis_settings(settings),
        burst=burst,
        handle_signals=False,
        on_startup=_on_startup,
        on_shutdown=_on_shutdown,
        max_jobs=settings.worker.max_jobs,
        job_timeout=settings.worker.job_timeout_s,
        keep_result=_KEEP_RESULT_S,
        job_serializer=serialize_job,
        job_deserializer=deserialize_job,
        ctx={"settings": settings},
    )


async def stop_worker(worker: Worker, grace_s: float = STOP_GRACE_S) -> None:
    """Stop taking jobs, give running ones `grace_s` to finish, then close the worker."""
    worker.allow_pick_jobs = False
    running = [task for task in worker.tasks.values() if not task.done()]
    if running:
        await asyncio.wait(running, timeout=grace_s)
    await worker.close()


async def _on_startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
    vault = load_vault(settings)
    session = ctx["http_session"] = wechat_session()
    accounts = Accounts(
        vault,
        WeChatHttp(session, settings.wechat),
        TokenBroker(ctx["redis"], vault),
        push_windows=settings.callbacks,
    )
    worker = WorkerDeps(settings, vault, ctx["redis"], accounts, worker_id)
    ctx["deps"] = worker
    await worker_presence.announce(worker.redis, worker_id, time.time())
    ctx["heartbeat"] = asyncio.create_task(_announce_forever(worker), name="worker-heartbeat")
    log.info("worker %s started", worker_id)


async def _on_shutdown(ctx: dict[str, Any]) -> None:
    # Start-up may have failed part-way: close only what it opened.
    heartbeat: asyncio.Task[None] | None = ctx.get("heartbeat")
    if heartbeat is not None:
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
    if (session := ctx.get("http_session")) is not None:
        await session.close()
    if "deps" in ctx:
        worker = deps(ctx)
        await worker_presence.withdraw(worker.redis, worker.worker_id)
        log.info("worker %s stopped", worker.worker_id)


async def _announce_forever(worker: WorkerDeps) -> None:
    interval = worker.settings.worker.heartbeat_interval_s
    while True:
        await asyncio.sleep(interval)
        try:
            await worker_presence.announce(worker.redis, worker.worker_id, time.time())
        except (RedisError, OSError) as exc:
            # Redis is away for a moment; the worker itself notices and logs, keep trying.
            log.warning("worker heartbeat failed: %s", exc)
