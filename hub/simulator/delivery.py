"""The push delivery engine: POST to the hub, retry on WeChat's schedules, log every attempt.

Schedules are WeChat's (in seconds) divided by `time_scale`; the answer deadline is not scaled,
because the hub answers at real speed. Each delivery runs as one task; `wake` skips the wait
before its next attempt ("deliver event N now").
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import aiohttp
from yarl import URL

from hub.simulator.state import Source

log = logging.getLogger(__name__)

# §1.5: Pay v3 (and v2, §2.2) retry 15 times over about 24 h 4 min.
PAY_SCHEDULE_S = (
    15,
    15,
    30,
    180,
    600,
    1200,
    1800,
    1800,
    1800,
    3600,
    10800,
    10800,
    10800,
    21600,
    21600,
)
# §3.6/§4.1: "retry three times in total" (simulated as 1 + 3); the spacing is not documented
# [?], WeChat re-sends after dropping the connection, so the retries follow at once.
MESSAGE_SCHEDULE_S = (0, 0, 0)
# §5.1: shop pushes: 0s/0s/10s/1min/5min/30min/60min/60min/60min, at most 10 pushes.
SHOP_SCHEDULE_S = (0, 0, 10, 60, 300, 1800, 3600, 3600, 3600)
# §1.5, §3.6, §5.1: WeChat waits at most 5 s for an answer.
DEADLINE_S = 5.0
_HTTP_OK = 200
# Attempt logs keep the start of the hub's answer only.
_LOGGED_BODY_CHARS = 512


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class PreparedRequest:
    """One HTTP request of a push, exactly as sent (the URL already carries its query)."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Attempt:
    number: int
    started_at: float
    duration_ms: float
    status: int | None
    body: str
    error: str | None
    accepted: bool


# Whether the hub's answer (status, body) counts as received.
AcceptRule = Callable[[int, bytes], bool]


def accept_pay(status: int, _body: bytes) -> bool:
    """§1.5: HTTP 200 or 204, whatever the body."""
    return status in (200, 204)


def accept_http_200(status: int, _body: bytes) -> bool:
    """§3.6, §4.1, §5.1: HTTP 200 means received."""
    return status == _HTTP_OK


@dataclass
class Delivery:
    """A push and its attempts; `prepare` builds each attempt's request (Pay re-signs)."""

    id: int
    source: Source
    account: str
    event: str
    key: str
    schedule_s: tuple[float, ...]
    prepare: Callable[[], PreparedRequest]
    accepts: AcceptRule
    created_at: float
    plaintext: Any = None
    first_delay_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    copy_of: int | None = None
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: list[Attempt] = field(default_factory=list)
    next_attempt_at: float | None = None
    last_request: PreparedRequest | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class DeliveryEngine:
    """Runs deliveries against the hub with a shared client session."""

    def __init__(self, *, time_scale: float, deadline_s: float, clock: Callable[[], float]) -> None:
        self.time_scale = time_scale
        self.deadline_s = deadline_s
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._deliveries: dict[int, Delivery] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()

    async def close(self) -> None:
        """Cancel what is still running and close the session."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def submit(self, delivery: Delivery, *, after: Delivery | None = None) -> Delivery:
        """Start `delivery` now, or once `after` is finished (a duplicate sent later)."""
        self._deliveries[delivery.id] = delivery
        task = asyncio.create_task(self._run(delivery, after), name=f"push-{delivery.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return delivery

    def get(self, delivery_id: int) -> Delivery | None:
        return self._deliveries.get(delivery_id)

    def all(self) -> list[Delivery]:
        return list(self._deliveries.values())

    def clear(self) -> None:
        """Forget finished deliveries (running ones stay)."""
        self._deliveries = {
            key: value for key, value in self._deliveries.items() if not value.done.is_set()
        }

    async def wait(self, deliveries: Iterable[Delivery], timeout_s: float) -> bool:
        """Wait until every delivery is finished; False if `timeout_s` passed first."""
        waits = [delivery.done.wait() for delivery in deliveries]
        try:
            await asyncio.wait_for(asyncio.gather(*waits), timeout_s)
        except TimeoutError:
            return False
        return True

    async def _run(self, delivery: Delivery, after: Delivery | None) -> None:
        try:
            if after is not None:
                await after.done.wait()
            if delivery.first_delay_s:
                await self._pause(delivery, delivery.first_delay_s)
            for number, delay_s in enumerate((0.0, *delivery.schedule_s), start=1):
                if number > 1:
                    await self._pause(delivery, delay_s)
                if await self._attempt(delivery, number):
                    delivery.status = DeliveryStatus.DELIVERED
                    return
            delivery.status = DeliveryStatus.FAILED
        except asyncio.CancelledError:
            delivery.status = DeliveryStatus.CANCELLED
            raise
        finally:
            delivery.next_attempt_at = None
            delivery.done.set()

    async def _pause(self, delivery: Delivery, delay_s: float) -> None:
        scaled = delay_s / self.time_scale
        delivery.next_attempt_at = self._clock() + scaled
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(delivery.wake.wait(), scaled)
        # Cleared after the pause, so that a wake during an attempt skips the next wait.
        delivery.wake.clear()

    async def _attempt(self, delivery: Delivery, number: int) -> bool:
        if self._session is None:
            raise RuntimeError("the delivery engine is not started")
        request = delivery.prepare()
        delivery.last_request = request
        started_at, started = self._clock(), time.perf_counter()
        status, body, error = await self._send(self._session, request)
        accepted = error is None and status is not None and delivery.accepts(status, body)
        delivery.attempts.append(
            Attempt(
                number=number,
                started_at=started_at,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                status=status,
                body=body.decode("utf-8", "replace")[:_LOGGED_BODY_CHARS],
                error=error,
                accepted=accepted,
            )
        )
        log.debug("push %d attempt %d: status %s error %s", delivery.id, number, status, error)
        return accepted

    async def _send(
        self, session: aiohttp.ClientSession, request: PreparedRequest
    ) -> tuple[int | None, bytes, str | None]:
        timeout = aiohttp.ClientTimeout(total=self.deadline_s)
        try:
            async with session.request(
                request.method,
                URL(request.url, encoded=True),
                data=request.body or None,
                headers=request.headers,
                timeout=timeout,
            ) as response:
                return response.status, await response.read(), None
        except TimeoutError:
            return None, b"", "timeout"
        except aiohttp.ClientError as exc:
            return None, b"", type(exc).__name__
