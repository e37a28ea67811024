"""`wxhub run` in development as a real process: simulator inside, demo seeded, payments land."""

import asyncio
import re
import socket
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.embedded_redis import free_tcp_port
from tests.integration.test_runtime import (
    STOP_TIMEOUT_S,
    exit_status,
    hub_environment,
    start_hub,
    stop,
    wait_ready,
)

pytestmark = pytest.mark.slow

_PAY_HINT = re.compile(r"wxhub simulate pay --order (\S+) --amount ([0-9.]+) --user (\w+)")


def order_statuses(database: Path) -> dict[str, str]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT out_trade_no, status FROM sale_order").fetchall()
    return {str(number): str(status) for number, status in rows}


async def get_json(url: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.json()


async def test_run_serves_the_simulator_seeds_the_demo_and_takes_payments(tmp_path: Path) -> None:
    data_dir, port, simulator_port = tmp_path / "var", free_tcp_port(), free_tcp_port()
    wechat = f"http://127.0.0.1:{simulator_port}"
    env = hub_environment(
        data_dir,
        port,
        WXHUB_SIMULATOR__ENABLED="true",
        WXHUB_SIMULATOR__PORT=str(simulator_port),
        WXHUB_WECHAT__API_BASE_URL=wechat,
        WXHUB_WECHAT__WORK_BASE_URL=wechat,
        WXHUB_WECHAT__PAY_BASE_URL=wechat,
    )
    hub = await start_hub("run", env=env, log=tmp_path / "run.log")
    try:
        await wait_ready(port, hub)
        status, world = await get_json(f"{wechat}/_sim/world")
        assert status == 200
        assert [merchant["mchid"] for merchant in world["merchants"]] == ["1900012345"]
        hints = _PAY_HINT.findall((tmp_path / "run.log").read_text())
        assert [(amount, user) for _order, amount, user in hints] == [
            ("88.00", "alice"),
            ("36.50", "bob"),
            ("128.00", "carol"),
        ]

        # The emitter, as a newcomer runs it from another terminal.
        (alice, amount, user), (bob, _, _) = hints[0], hints[1]
        argv = ("simulate", "pay", "--order", alice, "--amount", amount, "--user", user)
        emitter = await start_hub(*argv, env=env, log=tmp_path / "simulate.log")
        emitted = await asyncio.wait_for(emitter.wait(), STOP_TIMEOUT_S)
        assert emitted == 0, (tmp_path / "simulate.log").read_text()
        assert "copy 1, attempt 1: 204" in (tmp_path / "simulate.log").read_text()

        # The simulator's own "user pays order X" reaches the hub too: it knows the demo orders.
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{wechat}/_sim/pay/orders/{bob}/pay", json={"wait": True}) as answer,
        ):
            pushed = await answer.json()
        assert [push["status"] for push in pushed["deliveries"]] == ["delivered"]

        assert (await get_json(f"http://127.0.0.1:{port}/readyz"))[0] == 200
        statuses = await asyncio.to_thread(order_statuses, data_dir / "wxhub.sqlite3")
        assert (statuses[alice], statuses[bob]) == ("paid", "paid")
    finally:
        await stop(hub)  # SIGTERM, as an operator stops it
    assert hub.returncode == 0
    log = (tmp_path / "run.log").read_text()
    assert "Traceback" not in log


async def test_a_busy_simulator_port_stops_run_with_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        env = hub_environment(
            tmp_path / "var",
            free_tcp_port(),
            WXHUB_SIMULATOR__ENABLED="true",
            WXHUB_SIMULATOR__PORT=str(taken),
        )
        hub = await start_hub("run", env=env, log=tmp_path / "run.log")
        status = await exit_status(hub)

    log = (tmp_path / "run.log").read_text()
    assert status == 1, log
    assert f"port 127.0.0.1:{taken} is already in use" in log
    assert "WXHUB_SIMULATOR__PORT" in log
    assert "Traceback" not in log


async def test_with_the_simulator_disabled_run_starts_no_simulator_and_seeds_nothing(
    tmp_path: Path,
) -> None:
    data_dir, port = tmp_path / "var", free_tcp_port()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        env = hub_environment(
            data_dir,
            port,
            WXHUB_SIMULATOR__ENABLED="false",
            WXHUB_SIMULATOR__PORT=str(busy.getsockname()[1]),
        )
        hub = await start_hub("run", env=env, log=tmp_path / "run.log")
        try:
            await wait_ready(port, hub)
        finally:
            await stop(hub)

    assert hub.returncode == 0
    assert order_statuses(data_dir / "wxhub.sqlite3") == {}
    assert not (data_dir / "simulator").exists()
    assert "wxhub simulate" not in (tmp_path / "run.log").read_text()
