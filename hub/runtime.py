"""Running processes: the web server, the worker, and `wxhub run` (everything in one process).

This is the process composition root: with hub.routes, the only hub module that imports from
above hub (here workers.settings, to build the worker).

Each stops cleanly on SIGINT or SIGTERM: the web server drains in-flight requests, the worker
lets running jobs finish (or be retried), the embedded Redis flushes and exits.
"""

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import signal
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from arq.worker import Worker
from pydantic import ValidationError

from hub import db
from hub.app import create_app
from hub.embedded_redis import EmbeddedRedis
from hub.errors import DeliveryError, DomainError, StartupError
from hub.keys import accounts_key, vault_key
from hub.models.brand import Brand
from hub.services.audit import Actor
from hub.settings import Settings
from hub.simulator import seed
from hub.simulator.app import create_simulator_app
from hub.simulator.context import simulator_key
from hub.simulator.demo import demo_world
from hub.simulator.hub_urls import register_hub
from hub.simulator.world import World
from hub.vault import load_vault
from workers.settings import build_worker, stop_worker

log = logging.getLogger(__name__)

# The hub's WeChat hosts, which the simulator stands in for when it runs here.
_WECHAT_BASE_URLS = ("api_base_url", "work_base_url", "pay_base_url")


def stop_event() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM (installed on the running loop)."""
    event = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, event.set)
    return event


async def start_web(app: web.Application, settings: Settings) -> web.AppRunner:
    """Start serving `app` on the configured host and port.

    Raises:
        StartupError: the port is in use or cannot be bound.
    """
    http = settings.http
    return await _start_site(
        app, http.host, http.port, http.shutdown_timeout_s, hint="--port or WXHUB_HTTP__PORT"
    )


async def _start_site(
    app: web.Application, host: str, port: int, shutdown_timeout_s: float, *, hint: str
) -> web.AppRunner:
    runner = web.AppRunner(app, shutdown_timeout=shutdown_timeout_s, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        where = f"{host}:{port}"
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(
                f"port {where} is already in use (choose another with {hint})"
            ) from None
        raise StartupError(f"cannot listen on {where}: {exc.strerror}") from None
    log.info("serving HTTP on http://%s:%d", host, port)
    return runner


async def serve(settings: Settings) -> None:
    """A web process (production: N of these behind a load balancer)."""
    stop = stop_event()
    runner = await start_web(create_app(settings), settings)
    try:
        await stop.wait()
        log.info("stopping: draining in-flight requests")
    finally:
        await runner.cleanup()


async def work(settings: Settings) -> None:
    """A worker process (production: M of these)."""
    stop = stop_event()
    load_vault(settings)  # a missing or bad data key stops start-up here, naming the key
    async with db.open_database(settings):
        worker = build_worker(settings)
        await _run_until_stopped(worker, stop)


async def run_all(settings: Settings) -> None:
    """`wxhub run`: migrations, embedded Redis if none is configured, web and worker together.

    With `simulator.enabled` (development) the local WeChat simulator runs in the same process,
    sends its pushes to this hub, and a demo brand is seeded into an empty database.

    Raises:
        StartupError: the data directory is in use, a port is taken, Redis does not start.
    """
    stop = stop_event()
    with lock_data_dir(settings.data_dir):
        async with AsyncExitStack() as stack:
            if settings.uses_embedded_redis:
                redis = EmbeddedRedis(settings.data_dir / "redis", settings.redis.server_binary)
                stack.push_async_callback(redis.stop)
                url = await redis.start()
                settings = settings.model_copy(
                    update={"redis": settings.redis.model_copy(update={"url": url})}
                )
            await stack.enter_async_context(db.open_database(settings))
            await db.migrate()
            wechat = None
            if settings.simulator.enabled:
                wechat = await start_simulator(settings)
                stack.push_async_callback(wechat.runner.cleanup)
            app = create_app(settings)
            runner = await start_web(app, settings)
            stack.push_async_callback(runner.cleanup)
            log.info("wxhub is running at http://%s:%d", settings.http.host, settings.http.port)
            if wechat is not None:
                await open_demo(wechat, app, settings)
            await _run_until_stopped(build_worker(settings), stop)


@dataclass(frozen=True)
class LocalWeChat:
    """The simulator serving in this process, and the World it simulates."""

    world: World
    runner: web.AppRunner
    url: str


async def start_simulator(settings: Settings) -> LocalWeChat:
    """Serve the simulator of the demo World, its pushes going to this hub.

    Raises:
        StartupError: the World cannot be loaded, or the simulator's port is taken.
    """
    directory = settings.data_dir / "simulator"
    try:
        world = demo_world(directory)
    except (OSError, ValidationError) as exc:
        raise StartupError(f"cannot load the simulator world from {directory}: {exc}") from None
    config = settings.simulator
    app = create_simulator_app(world, time_scale=config.time_scale)
    runner = await _start_site(
        app,
        config.host,
        config.port,
        settings.http.shutdown_timeout_s,
        hint="WXHUB_SIMULATOR__PORT, or turn the simulator off: WXHUB_SIMULATOR__ENABLED=false",
    )
    register_hub(app[simulator_key], settings.http.base_url)
    url = f"http://{config.host}:{config.port}"
    for name, base in settings.wechat.model_dump(include=set(_WECHAT_BASE_URLS)).items():
        if base.rstrip("/") != url:
            log.warning("wechat.%s is %s, not the simulator at %s", name, base, url)
    return LocalWeChat(world, runner, url)


async def open_demo(wechat: LocalWeChat, app: web.Application, settings: Settings) -> None:
    """Seed the demo into an empty database, tell the simulator its orders, print what to try."""
    if not await Brand.exists():
        try:
            report = await seed.seed_demo(wechat.world, app[vault_key], Actor.cli())
        except DomainError as exc:
            log.error("could not seed the demo brand: %s", exc.message)
        else:
            log.info("seeded the demo brand %r (%d parts)", seed.DEMO_BRAND, len(report.created))
    try:
        await seed.announce_demo_orders(app[accounts_key], settings.http.base_url)
    except DeliveryError as exc:
        log.warning("the simulator does not know the demo orders: %s", exc)
    lines = [f"WeChat simulator at {wechat.url} (control API under {wechat.url}/_sim)"]
    lines += await seed.try_next(wechat.world, wechat.url)
    # For the person at the terminal, not a log line.
    print("\n".join(lines), flush=True)  # noqa: T201


async def _run_until_stopped(worker: Worker, stop: asyncio.Event) -> None:
    running = asyncio.create_task(worker.async_run(), name="arq-worker")
    stopping = asyncio.create_task(stop.wait(), name="stop-signal")
    done, _ = await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if running in done:
        await worker.close()
        running.result()  # the worker ended by itself: re-raise its failure
        return
    log.info("stopping: letting running jobs finish")
    await stop_worker(worker)
    with contextlib.suppress(asyncio.CancelledError):
        await running


@contextlib.contextmanager
def lock_data_dir(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the data directory for the life of the process.

    Raises:
        StartupError: another process holds it, or the directory cannot be created.
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path / "wxhub.lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StartupError(f"cannot use data directory {path}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 32, 0).decode(errors="replace").strip() or "?"
            raise StartupError(
                f"data directory {path} is in use by another wxhub process (pid {holder})"
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(descriptor)
