"""The simulator's shared parts, reachable from every handler through `simulator_key`."""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from hub.simulator.delivery import DeliveryEngine
from hub.simulator.faults import Faults
from hub.simulator.state import Source, State
from hub.simulator.tokens import TokenStore
from hub.simulator.world import World

Clock = Callable[[], float]
# externalcontact/get pages follow_user beyond 500 followers (§4.3).
FOLLOW_USER_PAGE_SIZE = 500


class SimClock:
    """WeChat's time: a base clock (Unix seconds) plus an offset the control API can move."""

    def __init__(self, base: Clock = time.time) -> None:
        self._base = base
        self.offset_s = 0.0

    def __call__(self) -> float:
        return self._base() + self.offset_s

    def advance(self, seconds: float) -> None:
        self.offset_s += seconds


@dataclass
class Simulator:
    """World, state, tokens, faults and pushes of one simulator application."""

    world: World
    state: State
    tokens: TokenStore
    faults: Faults
    deliveries: DeliveryEngine
    clock: SimClock
    rng: random.Random
    follow_user_page_size: int = FOLLOW_USER_PAGE_SIZE

    def callback_url(self, source: Source, account: str) -> str | None:
        """The hub URL for `account`'s pushes: registered, else the World's, else None."""
        registered = self.state.callback_urls.get((source, account))
        return registered or self._world_callback_url(source, account)

    def _world_callback_url(self, source: Source, account: str) -> str | None:
        accounts = {
            Source.MINI_PROGRAM: self.world.mini_program,
            Source.WECHAT_PAY: self.world.merchant,
            Source.CHANNELS: self.world.shop,
            Source.WECOM: self.world.corp,
        }
        found = accounts[source](account)
        return found.callback_url if found is not None else None


simulator_key = web.AppKey("simulator", Simulator)
