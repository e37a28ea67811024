"""`wxhub run` and `wxhub serve` as real processes: ready, clean shutdown, clear start-up errors."""

import asyncio
import os
import signal
import socket
import stat
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from hub.embedded_redis import free_tcp_port, is_running

pytestmark = pytest.mark.slow

READY_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30


def hub_environment(data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("WXHUB_")
    }
    environment |= {
        "WXHUB_ENV": "development",
        "WXHUB_DATA_DIR": str(data_dir),
        "WXHUB_HTTP__PORT": str(port),
        # The simulator has its own tests (tests/e2e/local/test_run.py); off here, so these
        # processes never contend for its fixed port.
        "WXHUB_SIMULATOR__ENABLED": "false",
    }
    return environment | extra


async def start_hub(*args: str, env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("wb") as output:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "hub",
            *args,
            env=env,
            stdout=output,
            stderr=output,
            stdin=asyncio.subprocess.DEVNULL,
        )


async def wait_ready(port: int, process: asyncio.subprocess.Process) -> dict[str, object]:
    deadline = asyncio.get_running_loop().time() + READY_TIMEOUT_S
    async with aiohttp.ClientSession() as session:
        while asyncio.get_running_loop().time() < deadline:
            assert process.returncode is None, "wxhub exited before becoming ready"
            try:
                async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                    body: dict[str, object] = await response.json()
                    live = body.get("live_workers")
                    if response.status == 200 and isinstance(live, int) and live >= 1:
                        return body
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError("wxhub did not become ready")


@pytest.fixture
async def running_hub(
    tmp_path: Path,
) -> AsyncIterator[tuple[asyncio.subprocess.Process, int, Path]]:
    data_dir, port = tmp_path / "var", free_tcp_port()
    process = await start_hub("run", env=hub_environment(data_dir, port), log=tmp_path / "run.log")
    try:
        await wait_ready(port, process)
        yield process, port, data_dir
    finally:
        await stop(process)


async def exit_status(
    process: asyncio.subprocess.Process, timeout_s: float = STOP_TIMEOUT_S
) -> int:
    """The process's exit status; if it does not exit in time it is stopped and the test fails."""
    try:
        return await asyncio.wait_for(process.wait(), timeout_s)
    except TimeoutError:
        await stop(process)
        raise AssertionError(f"wxhub did not exit within {timeout_s} s") from None


async def stop(process: asyncio.subprocess.Process) -> None:
    """Stop a hub as an operator would (SIGTERM), so it stops its embedded Redis too."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            process.kill()
            await process.wait()


async def test_run_becomes_ready_and_stops_cleanly_on_sigterm(
    running_hub: tuple[asyncio.subprocess.Process, int, Path], tmp_path: Path
) -> None:
    process, _port, data_dir = running_hub
    assert (data_dir / "wxhub.sqlite3").exists()
    assert stat.S_IMODE((data_dir / "data.key").stat().st_mode) == 0o600
    redis_socket = data_dir / "redis" / "redis.sock"
    assert redis_socket.exists()

    process.send_signal(signal.SIGTERM)
    status = await exit_status(process)

    log = (tmp_path / "run.log").read_text()
    assert status == 0, log
    assert "Traceback" not in log
    with (
        pytest.raises((ConnectionRefusedError, FileNotFoundError)),
        socket.socket(socket.AF_UNIX) as probe,
    ):
        probe.connect(str(redis_socket))


async def test_second_run_on_the_same_data_dir_is_refused(
    running_hub: tuple[asyncio.subprocess.Process, int, Path], tmp_path: Path
) -> None:
    _process, _port, data_dir = running_hub
    second = await start_hub(
        "run", env=hub_environment(data_dir, free_tcp_port()), log=tmp_path / "second.log"
    )

    assert await exit_status(second) == 1
    assert "is in use by another wxhub process" in (tmp_path / "second.log").read_text()


async def test_run_after_a_killed_run_reclaims_the_orphaned_redis(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "var", free_tcp_port()
    first = await start_hub("run", env=hub_environment(data_dir, port), log=tmp_path / "1.log")
    await wait_ready(port, first)
    orphan_pid = int((data_dir / "redis" / "redis.pid").read_text())
    first.kill()  # SIGKILL: no chance to stop its redis-server
    await first.wait()
    assert is_running(orphan_pid)

    second = await start_hub("run", env=hub_environment(data_dir, port), log=tmp_path / "2.log")
    try:
        await wait_ready(port, second)
        assert not is_running(orphan_pid)
        assert "left running by an earlier wxhub run" in (tmp_path / "2.log").read_text()
    finally:
        await stop(second)


async def test_run_on_a_busy_port_is_refused_clearly(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        process = await start_hub(
            "run", env=hub_environment(tmp_path / "var", port), log=tmp_path / "run.log"
        )
        status = await exit_status(process, READY_TIMEOUT_S)

    log = (tmp_path / "run.log").read_text()
    assert status == 1, log
    assert f"port 127.0.0.1:{port} is already in use" in log
    assert "Traceback" not in log


async def test_invalid_configuration_stops_start_up_with_status_2(tmp_path: Path) -> None:
    env = hub_environment(tmp_path / "var", free_tcp_port(), WXHUB_HTTP__PORT="eighty")
    process = await start_hub("serve", env=env, log=tmp_path / "serve.log")

    assert await exit_status(process) == 2
    assert "WXHUB_HTTP__PORT" in (tmp_path / "serve.log").read_text()


async def test_serve_without_a_redis_url_says_what_to_do(tmp_path: Path) -> None:
    process = await start_hub(
        "serve", env=hub_environment(tmp_path / "var", free_tcp_port()), log=tmp_path / "serve.log"
    )

    assert await exit_status(process) == 2
    assert "`wxhub run` starts an embedded Redis" in (tmp_path / "serve.log").read_text()


async def test_a_worker_with_an_unusable_data_key_stops_with_status_2(
    tmp_path: Path, redis_url: str
) -> None:
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    (data_dir / "data.key").write_text("not a key")
    env = hub_environment(data_dir, free_tcp_port(), WXHUB_REDIS__URL=redis_url)
    process = await start_hub("worker", env=env, log=tmp_path / "worker.log")

    assert await exit_status(process) == 2
    log = (tmp_path / "worker.log").read_text()
    assert "data key file" in log
    assert "Traceback" not in log


async def test_production_refuses_to_start_without_its_settings(tmp_path: Path) -> None:
    env = hub_environment(tmp_path / "var", free_tcp_port(), WXHUB_ENV="production")
    process = await start_hub("serve", env=env, log=tmp_path / "serve.log")

    assert await exit_status(process) == 2
    log = (tmp_path / "serve.log").read_text()
    assert "security.data_key" in log
    assert "redis.url" in log
