"""The callback emitter: a simulator without a server, whose pushes go straight to a hub.

The World gives the keys, emissions.py builds each push with the simulator's own code, and the
simulator's DeliveryEngine sends it: copies in rounds one after another (WeChat resending) of
several at once (a storm), each retried on WeChat's schedule compressed by `time_scale` when
retries are followed, else tried once.
"""

import asyncio
import dataclasses
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from hub.simulator.context import SimClock, Simulator
from hub.simulator.delivery import DEADLINE_S, Attempt, Delivery, DeliveryEngine, DeliveryStatus
from hub.simulator.faults import Faults, PushFault
from hub.simulator.hub_urls import register_hub
from hub.simulator.state import State
from hub.simulator.tokens import TokenStore
from hub.simulator.world import World

# How often attempts are reported while pushes are under way.
_POLL_S = 0.05

# Told of each attempt as it is made: the copy's number (from 1), its push, the attempt.
OnAttempt = Callable[[int, Delivery, Attempt], None]


@dataclass(frozen=True)
class Copies:
    """`repeat` rounds, one after another, of `concurrency` copies sent at once."""

    repeat: int = 1
    concurrency: int = 1

    def __post_init__(self) -> None:
        if self.repeat < 1 or self.concurrency < 1:
            raise ValueError("repeat and concurrency must be at least 1")

    @property
    def total(self) -> int:
        return self.repeat * self.concurrency


class Emitter:
    """Builds pushes from a World and delivers them to the hub at `hub_url`.

    Use it as an async context manager: its HTTP session opens on entry and closes on exit.
    """

    def __init__(
        self,
        world: World,
        hub_url: str,
        *,
        time_scale: float,
        follow_retries: bool = False,
        deadline_s: float = DEADLINE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        sim_clock = SimClock(clock)
        rng = random.Random()  # noqa: S311 - fault rates, not secrets
        self.simulator = Simulator(
            world=world,
            state=State(),
            tokens=TokenStore(sim_clock),
            faults=Faults(rng),
            deliveries=DeliveryEngine(
                time_scale=time_scale, deadline_s=deadline_s, clock=sim_clock
            ),
            clock=sim_clock,
            rng=rng,
        )
        self.follow_retries = follow_retries
        register_hub(self.simulator, hub_url)

    async def __aenter__(self) -> Self:
        await self.simulator.deliveries.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.simulator.deliveries.close()

    def fault(self, given: PushFault | None = None) -> PushFault:
        """The fault an emission is built with: `given`, and no retries unless followed."""
        fault = given or PushFault()
        if self.follow_retries:
            return fault
        return fault.merged(PushFault(retry_schedule_s=()))

    async def send(
        self, first: list[Delivery], copies: Copies, on_attempt: OnAttempt | None = None
    ) -> list[Delivery]:
        """Deliver the submitted push `first` and its copies; returns every copy when done."""
        original = first[0]
        sent: list[Delivery] = []
        batch = list(first)
        for _ in range(copies.repeat):
            batch += [self._copy(original) for _ in range(copies.concurrency - len(batch))]
            await self._watch(batch, len(sent) + 1, on_attempt)
            sent += batch
            batch = []
        return sent

    def _copy(self, original: Delivery) -> Delivery:
        copy = dataclasses.replace(
            original,
            id=self.simulator.state.next_id(),
            copy_of=original.id,
            status=DeliveryStatus.PENDING,
            attempts=[],
            notes=list(original.notes),
            next_attempt_at=None,
            last_request=None,
            done=asyncio.Event(),
            wake=asyncio.Event(),
        )
        return self.simulator.deliveries.submit(copy)

    async def _watch(
        self, batch: list[Delivery], first_number: int, on_attempt: OnAttempt | None
    ) -> None:
        reported = [0] * len(batch)
        finished = False
        while not finished:
            finished = await self.simulator.deliveries.wait(batch, _POLL_S)
            for index, delivery in enumerate(batch):
                for attempt in delivery.attempts[reported[index] :]:
                    if on_attempt is not None:
                        on_attempt(first_number + index, delivery, attempt)
                reported[index] = len(delivery.attempts)


def delivered(deliveries: list[Delivery]) -> bool:
    """Whether the hub took every copy (answered success, at once or on a retry)."""
    return all(delivery.status is DeliveryStatus.DELIVERED for delivery in deliveries)
