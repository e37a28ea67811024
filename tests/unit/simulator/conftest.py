"""The simulator over loopback: a World per session, a simulator and push receiver per test."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from multidict import CIMultiDictProxy

from hub.simulator.app import create_simulator_app
from hub.simulator.context import Simulator, simulator_key
from hub.simulator.demo import generate_world
from hub.simulator.world import World

# Pay's 24 h schedule takes about 87 ms at this scale: retries are asserted, never slept through.
TIME_SCALE = 1_000_000.0

SimClient = TestClient[web.Request, web.Application]
StartSimulator = Callable[..., Awaitable[SimClient]]


@pytest.fixture(scope="session")
def world() -> World:
    """The demo world, generated once (RSA key generation is the slow part)."""
    return generate_world()


@pytest.fixture
def start_simulator(
    aiohttp_client: Callable[[web.Application], Awaitable[SimClient]], world: World
) -> StartSimulator:
    """Start a simulator app on loopback; options are create_simulator_app's."""

    async def start(custom_world: World | None = None, **options: Any) -> SimClient:
        options.setdefault("time_scale", TIME_SCALE)
        return await aiohttp_client(create_simulator_app(custom_world or world, **options))

    return start


@pytest.fixture
async def wechat(start_simulator: StartSimulator) -> SimClient:
    """The simulator with the session's world, as the hub would reach it."""
    return await start_simulator()


def simulator_of(client: SimClient) -> Simulator:
    return client.app[simulator_key]


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    query_string: str
    headers: CIMultiDictProxy[str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """A stand-in for the hub's callback endpoints: records pushes, answers as told."""

    base_url: str = ""
    requests: list[Received] = field(default_factory=list)
    # Statuses for the next answers, in order; then `status`.
    statuses: list[int] = field(default_factory=list)
    status: int = 200
    body: bytes = b"success"
    # Delays before the next answers, in order; then `delay_s`.
    delays: list[float] = field(default_factory=list)
    delay_s: float = 0.0
    answer: Callable[[Received], web.StreamResponse] | None = None

    def url(self, path: str = "/callbacks/test/1") -> str:
        return self.base_url + path

    async def handle(self, request: web.Request) -> web.StreamResponse:
        received = Received(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            query_string=request.rel_url.raw_query_string,
            headers=request.headers,
            body=await request.read(),
            at=time.monotonic(),
        )
        self.requests.append(received)
        delay_s = self.delays.pop(0) if self.delays else self.delay_s
        if delay_s:
            await asyncio.sleep(delay_s)
        if self.answer is not None:
            return self.answer(received)
        status = self.statuses.pop(0) if self.statuses else self.status
        return web.Response(status=status, body=self.body)


@pytest.fixture
async def receiver(aiohttp_server: Callable[[web.Application], Awaitable[TestServer]]) -> Receiver:
    receiver = Receiver()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", receiver.handle)
    server = await aiohttp_server(app)
    receiver.base_url = str(server.make_url("")).rstrip("/")
    return receiver
