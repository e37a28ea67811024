"""The load generator of bench.ingest: replays prepared requests at one URL and times each one.

bench.ingest runs it in a process of its own, pinned to its own core, so that it does not share
the server's: `python -m bench.load PLAN.json` prints one JSON line of figures on stdout.

Two modes. Closed loop: `concurrency` senders each send the next request as soon as their last
one is answered (the peak rate). Open loop (`rate_per_s` > 0): requests start on a fixed
schedule whatever the server does, and each latency is counted from the moment the request was
due, so a server that falls behind shows it in the tail (no coordinated omission).
"""

import asyncio
import json
import os
import signal
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import aiohttp

# A request the server has not answered in this time counts as an error.
REQUEST_TIMEOUT_S = 30.0
_CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")

Request = tuple[dict[str, str], bytes]


@dataclass(frozen=True)
class Plan:
    """One phase: where to send what, how hard and for how long."""

    url: str
    # JSON file: a list of [headers, body-as-text] pairs.
    requests_path: str
    concurrency: int
    duration_s: float
    warmup_s: float
    expected_status: int
    # 0: closed loop at `concurrency`; above 0: open loop at this many requests per second.
    rate_per_s: float = 0.0
    # True: cycle through the requests; False: send each once, the phase ends when all are sent.
    reuse: bool = False
    # Upper bound on the requests of the timed part, whatever the duration.
    max_requests: int = 1_000_000
    # The server process, whose CPU time is reported; 0: none.
    server_pid: int = 0
    # The database's postmaster: its CPU time and its backends' are reported; 0: none.
    database_pid: int = 0
    # The CPU this process is pinned to; -1: not pinned.
    cpu: int = -1


@dataclass
class Figures:
    """What one phase measured; `sent` counts warm-up and timed requests alike."""

    requests: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    # Timed requests answered otherwise than `expected_status`, or not at all.
    errors: int = 0
    # Indices of requests answered otherwise than `expected_status` (warm-up included).
    unexpected: list[int] = field(default_factory=list)
    sent: int = 0
    exhausted: bool = False
    # Busy CPU over the timed part, in cores: the server, this generator, the database, and
    # everything else on the machine (kernel, Redis, other people's processes).
    cpu_server: float = 0.0
    cpu_generator: float = 0.0
    cpu_database: float = 0.0
    cpu_other: float = 0.0


class Feed:
    """Hands out request indices: in order once, or round and round."""

    def __init__(self, size: int, *, reuse: bool) -> None:
        self.size = size
        self.reuse = reuse
        self.taken = 0

    def next(self) -> int | None:
        if not self.reuse and self.taken >= self.size:
            return None
        index = self.taken
        self.taken += 1
        return index


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)


class Sender:
    """Sends request `index` and notes its latency and answer in the current tally."""

    def __init__(self, session: aiohttp.ClientSession, plan: Plan, requests: list[Request]) -> None:
        self.session = session
        self.plan = plan
        self.requests = requests
        self.tally = Tally()
        self.unexpected: list[int] = []

    async def send(self, index: int, due: float | None = None) -> None:
        headers, body = self.requests[index % len(self.requests)]
        started = time.perf_counter() if due is None else due
        try:
            async with self.session.post(self.plan.url, data=body, headers=headers) as answer:
                await answer.read()
                outcome = str(answer.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            outcome = f"error:{type(exc).__name__}"
        self.tally.latencies_ms.append((time.perf_counter() - started) * 1000)
        self.tally.statuses[outcome] += 1
        if outcome != str(self.plan.expected_status):
            self.unexpected.append(index)


async def run_closed(sender: Sender, feed: Feed, seconds: float, limit: int) -> None:
    deadline = time.perf_counter() + seconds
    first = feed.taken

    async def keep_sending() -> None:
        while time.perf_counter() < deadline and feed.taken - first < limit:
            index = feed.next()
            if index is None:
                return
            await sender.send(index)

    await asyncio.gather(*(keep_sending() for _ in range(sender.plan.concurrency)))


async def run_open(sender: Sender, feed: Feed, seconds: float, limit: int) -> None:
    rate = sender.plan.rate_per_s
    start = time.perf_counter()
    in_flight: set[asyncio.Task[None]] = set()
    for number in range(limit):
        due = start + number / rate
        if due - start >= seconds:
            break
        index = feed.next()
        if index is None:
            break
        # Sleep only when ahead of the schedule; behind it, requests go out back to back.
        if (delay := due - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(sender.send(index, due))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    await asyncio.gather(*in_flight)


def busy_ticks() -> int:
    """Busy clock ticks of the whole machine, all CPUs (user, nice, system, irq, steal)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return user + nice + system + irq + softirq + steal


def process_stat(pid: int | str) -> tuple[int, int]:
    """The parent and the user and system clock ticks of one process ((0, 0) once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0, 0
    fields = stat.rpartition(")")[2].split()
    return int(fields[1]), int(fields[11]) + int(fields[12])


def tree_ticks(root: int) -> int:
    """Clock ticks of a process and its children (a postmaster and its backends)."""
    if not root:
        return 0
    total = process_stat(root)[1]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            parent, ticks = process_stat(entry.name)
            total += ticks if parent == root else 0
    return total


@dataclass(frozen=True)
class CpuSample:
    at_s: float
    machine: int
    server: int
    generator: int
    database: int

    @classmethod
    def take(cls, plan: Plan) -> "CpuSample":
        return cls(
            time.perf_counter(),
            busy_ticks(),
            process_stat(plan.server_pid)[1] if plan.server_pid else 0,
            process_stat(os.getpid())[1],
            tree_ticks(plan.database_pid),
        )


def cpu_cores(before: CpuSample, after: CpuSample) -> tuple[float, float, float, float]:
    """Busy cores between two samples: server, generator, database, the rest."""
    ticks = (after.at_s - before.at_s) * _CLOCK_TICKS_PER_S
    server, generator, database, machine = (
        (getattr(after, name) - getattr(before, name)) / ticks
        for name in ("server", "generator", "database", "machine")
    )
    return server, generator, database, machine - server - generator - database


async def run(plan: Plan, requests: list[Request]) -> Figures:
    feed = Feed(len(requests), reuse=plan.reuse)
    # Open loop: the pool grows as the server falls behind, up to a generous bound.
    connections = plan.concurrency if not plan.rate_per_s else max(plan.concurrency, 256)
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    phase = run_open if plan.rate_per_s else run_closed
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        sender = Sender(session, plan, requests)
        if plan.warmup_s:
            await phase(sender, feed, plan.warmup_s, plan.max_requests)
        sender.tally = Tally()
        before = CpuSample.take(plan)
        await phase(sender, feed, plan.duration_s, plan.max_requests)
        after = CpuSample.take(plan)
    server, generator, database, other = cpu_cores(before, after)
    return Figures(
        requests=len(sender.tally.latencies_ms),
        seconds=after.at_s - before.at_s,
        latencies_ms=sender.tally.latencies_ms,
        statuses=dict(sender.tally.statuses),
        errors=sum(
            count
            for outcome, count in sender.tally.statuses.items()
            if outcome != str(plan.expected_status)
        ),
        unexpected=sender.unexpected,
        sent=feed.taken,
        exhausted=not plan.reuse and feed.taken >= len(requests),
        cpu_server=server,
        cpu_generator=generator,
        cpu_database=database,
        cpu_other=other,
    )


def load_requests(path: str) -> list[Request]:
    pairs = json.loads(Path(path).read_text())
    return [(headers, body.encode()) for headers, body in pairs]


def save_requests(path: Path, requests: list[Request]) -> None:
    path.write_text(json.dumps([[headers, body.decode()] for headers, body in requests]))


def main() -> None:
    # bench.ingest stops this process itself; a Ctrl-C at the terminal is its to handle.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    plan = Plan(**json.loads(Path(sys.argv[1]).read_text()))
    if plan.cpu >= 0:
        os.sched_setaffinity(0, {plan.cpu})
    figures = asyncio.run(run(plan, load_requests(plan.requests_path)))
    print(json.dumps(asdict(figures)))


if __name__ == "__main__":
    main()
