"""`wxhub simulator` as a real process: serves, keeps its demo world, inspects, stops cleanly."""

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.embedded_redis import free_tcp_port
from hub.simulator.demo import WORLD_FILE
from hub.simulator.world import World, load_world, save_world

pytestmark = pytest.mark.slow

READY_TIMEOUT_S = 30
STOP_TIMEOUT_S = 15


def environment(data_dir: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("WXHUB_")}
    return env | {"WXHUB_ENV": "test", "WXHUB_DATA_DIR": str(data_dir)}


async def wxhub(
    *args: str, env: dict[str, str], log: Path, errors: Path | None = None
) -> asyncio.subprocess.Process:
    """Run `wxhub` with stdout to `log` and stderr to `errors` (default: `log` too)."""
    with log.open("wb") as output, (errors or log).open("ab") as error_output:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "hub",
            *args,
            env=env,
            stdout=output,
            stderr=error_output,
            stdin=asyncio.subprocess.DEVNULL,
        )


async def wait_ready(url: str, process: asyncio.subprocess.Process) -> Any:
    deadline = asyncio.get_running_loop().time() + READY_TIMEOUT_S
    async with aiohttp.ClientSession() as session:
        while asyncio.get_running_loop().time() < deadline:
            assert process.returncode is None, "the simulator exited before becoming ready"
            try:
                async with session.get(f"{url}/_sim/world") as response:
                    if response.status == 200:
                        return await response.json()
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("the simulator did not become ready")


async def stopped(process: asyncio.subprocess.Process, signum: int) -> int:
    process.send_signal(signum)
    try:
        return await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise


async def inspect(url: str, what: str, env: dict[str, str], log: Path) -> tuple[int, str]:
    errors = log.with_suffix(".err")
    process = await wxhub(
        "simulator", "inspect", what, "--url", url, env=env, log=log, errors=errors
    )
    status = await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
    assert "Traceback" not in await asyncio.to_thread(errors.read_text)
    return status, await asyncio.to_thread(log.read_text)


async def test_simulator_serves_the_demo_world_inspects_and_stops_on_sigterm(tmp_path):
    data_dir, port = tmp_path / "var", free_tcp_port()
    url, env = f"http://127.0.0.1:{port}", environment(tmp_path / "var")
    process = await wxhub("simulator", "--port", str(port), env=env, log=tmp_path / "sim.log")
    try:
        summary = await wait_ready(url, process)
        world = load_world(data_dir / "simulator" / WORLD_FILE)
        assert summary["merchants"][0]["mchid"] == world.merchants[0].mchid
        app = world.mini_programs[0]
        async with aiohttp.ClientSession() as session:
            payload = {"grant_type": "client_credential", "appid": app.appid, "secret": app.secret}
            async with session.post(f"{url}/cgi-bin/stable_token", json=payload) as response:
                assert "access_token" in await response.json()
        (requests, pushes, state) = await asyncio.gather(
            *(
                inspect(url, what, env, tmp_path / f"{what}.log")
                for what in ("requests", "pushes", "state")
            )
        )
        assert requests[0] == 0, requests[1]
        assert "/cgi-bin/stable_token" in requests[1]
        assert app.secret not in requests[1]
        assert (pushes[0], pushes[1].strip()) == (0, "(no pushes)")
        assert state[0] == 0
        assert '"tokens"' in state[1]
    finally:
        status = await stopped(process, signal.SIGTERM)
    log = (tmp_path / "sim.log").read_text()
    assert status == 0, log
    assert f"WeChat simulator at {url}" in log
    assert "Traceback" not in log


async def test_simulator_serves_a_world_file_and_stops_on_sigint(tmp_path, world: World):
    save_world(world, tmp_path / "world.json")
    port = free_tcp_port()
    process = await wxhub(
        "simulator",
        "--port",
        str(port),
        "--world",
        str(tmp_path / "world.json"),
        env=environment(tmp_path / "var"),
        log=tmp_path / "sim.log",
    )
    try:
        summary = await wait_ready(f"http://127.0.0.1:{port}", process)
        assert summary["platform"]["serial_no"] == world.platform.serial_no
    finally:
        status = await stopped(process, signal.SIGINT)
    assert status == 0, (tmp_path / "sim.log").read_text()
    assert not (tmp_path / "var" / "simulator").exists()


async def test_inspect_without_a_simulator_says_so(tmp_path):
    url = f"http://127.0.0.1:{free_tcp_port()}"
    status, output = await inspect(url, "requests", environment(tmp_path), tmp_path / "i.log")
    assert status == 1
    assert f"cannot read {url}/_sim/requests" in output


async def test_an_unreadable_world_file_stops_start_up_clearly(tmp_path):
    (tmp_path / "world.json").write_text("{}")
    process = await wxhub(
        "simulator",
        "--port",
        str(free_tcp_port()),
        "--world",
        str(tmp_path / "world.json"),
        env=environment(tmp_path / "var"),
        log=tmp_path / "sim.log",
    )
    assert await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S) == 1
    log = (tmp_path / "sim.log").read_text()
    assert "cannot load the simulator world" in log
    assert "Traceback" not in log
