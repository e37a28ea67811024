"""The hub app and the simulator over loopback, the demo seeded from the session's World.

The World is written where the CLI looks for it (`<data_dir>/simulator/world.json`), so
`wxhub simulate` and `wxhub demo` run here exactly as a developer runs them.
"""

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hub.cli.main import build_parser, execute
from hub.models.order import Order
from hub.services.audit import Actor
from hub.settings import Settings
from hub.simulator import seed
from hub.simulator.app import create_simulator_app
from hub.simulator.context import simulator_key
from hub.simulator.demo import WORLD_FILE, generate_world
from hub.simulator.hub_urls import register_hub
from hub.simulator.seed import SeedReport
from hub.simulator.world import World, save_world
from hub.vault import load_vault

# WeChat's 24 h Pay schedule takes about 87 ms at this scale.
TIME_SCALE = 1_000_000.0

HubClient = TestClient[web.Request, web.Application]
ServerFactory = Callable[[web.Application], Awaitable[TestServer]]


@pytest.fixture(scope="session")
def world() -> World:
    """The demo world, generated once (its RSA keys are the slow part)."""
    return generate_world()


@pytest.fixture
async def simulator(aiohttp_server: ServerFactory, world: World) -> TestServer:
    return await aiohttp_server(create_simulator_app(world, time_scale=TIME_SCALE))


@pytest.fixture
def settings(settings: Settings, simulator: TestServer) -> Settings:
    """The test settings with WeChat's three hosts at the simulator."""
    base = str(simulator.make_url("")).rstrip("/")
    wechat = settings.wechat.model_copy(
        update={"api_base_url": base, "work_base_url": base, "pay_base_url": base}
    )
    config = settings.simulator.model_copy(update={"time_scale": TIME_SCALE})
    return settings.model_copy(update={"wechat": wechat, "simulator": config})


def world_path(settings: Settings) -> Path:
    return settings.data_dir / "simulator" / WORLD_FILE


@pytest.fixture
def world_file(settings: Settings, world: World) -> Path:
    """The session's World as the demo World of the data directory."""
    path = world_path(settings)
    save_world(world, path)
    return path


@pytest.fixture
async def demo(db: None, settings: Settings, world: World, world_file: Path) -> SeedReport:
    return await seed.seed_demo(world, load_vault(settings), Actor.cli())


def hub_url(client: HubClient) -> str:
    return str(client.make_url("")).rstrip("/")


@pytest.fixture
def hub_pushes(client: HubClient, simulator: TestServer) -> None:
    """The simulator's pushes go to the hub under test (as `wxhub run` arranges)."""
    register_hub(simulator.app[simulator_key], hub_url(client))


async def wxhub(settings: Settings, *argv: str) -> int:
    """Run a `wxhub` command in this process, as the command line would."""
    return await execute(build_parser().parse_args(list(argv)), settings)


async def demo_order(user: str) -> Order:
    return next(demo.order for demo in await seed.demo_orders() if demo.user == user)


async def control(server: TestServer, method: str, path: str, payload: Any = None) -> Any:
    """Call the simulator's control API; returns its JSON answer (asserting success)."""
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, server.make_url(path), json=payload) as response,
    ):
        body = await response.json()
        assert response.status == 200, body
    return body
