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
from pathlib import Path

from aiohttp import web
from arq.worker import Worker

from hub import db
from hub.app import create_app
from hub.embedded_redis import EmbeddedRedis
from hub.errors import StartupError
from hub.settings import Settings
from workers.settings import build_worker, stop_worker

log = logging.getLogger(__name__)


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
    runner = web.AppRunner(app, shutdown_timeout=settings.http.shutdown_timeout_s, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.http.host, settings.http.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        where = f"{settings.http.host}:{settings.http.port}"
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(
                f"port {where} is already in use (choose another with --port or WXHUB_HTTP__PORT)"
            ) from None
        raise StartupError(f"cannot listen on {where}: {exc.strerror}") from None
    log.info("serving HTTP on http://%s:%d", settings.http.host, settings.http.port)
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
    async with db.open_database(settings):
        worker = build_worker(settings)
        await _run_until_stopped(worker, stop)


async def run_all(settings: Settings) -> None:
    """`wxhub run`: migrations, embedded Redis if none is configured, web and worker together.

    Raises:
        StartupError: the data directory is in use, the port is taken, Redis does not start.
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
            runner = await start_web(create_app(settings), settings)
            stack.push_async_callback(runner.cleanup)
            log.info("wxhub is running at http://%s:%d", settings.http.host, settings.http.port)
            await _run_until_stopped(build_worker(settings), stop)


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
