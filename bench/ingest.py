"""Callback ingestion: one wxhub web process on PostgreSQL beside a bare aiohttp handler.

Run: python -m bench.ingest [--duration 10] [--concurrency 32]   (about two minutes)

It starts a throwaway PostgreSQL and Redis, migrates a database, seeds a brand, members and
orders, and signs WeChat Pay v3 TRANSACTION.SUCCESS notifications (one per order) before each
timed phase. The server under test is one process pinned to CPU 0; the load generator
(bench/load.py, aiohttp's client) is another, pinned to CPU 1. Phases, one row each:

- bare aiohttp at peak: the same AppRunner set-up as `wxhub serve`, a handler that reads the
  body and answers 204: what the web stack alone costs;
- wxhub at peak: distinct payments (verify, decrypt, store, settle the order, credit points)
  at a fixed concurrency, and at half that rate on a fixed schedule (the p99 target);
- a duplicate storm (one notification again and again: answered 204 as a duplicate) and
  rejected forgeries (a wrong signing key: 401 and a rejection row each);
- the same peaks under uvloop, when uvloop is importable (it is not a dependency).

Afterwards the database is checked — every answered payment settled exactly once with one
points entry, the storm stored once, each forgery recorded and nothing changed by it — so the
figures are for correct work. "cpu srv/gen/db/rest" is busy cores over the timed part: the
server, the generator, PostgreSQL, and the rest of the machine (kernel, Redis, anything else
running). A generator near 1.0 means the client, not the server, set the pace; "req/cpu-s"
divides by the server's own CPU time, which compares costs whoever set the pace.
"""

import argparse
import asyncio
import contextlib
import importlib.util
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from bench.load import Figures, Plan, Request, save_requests
from hub import runtime
from hub.cli.main import run_cli
from hub.db import migrate, open_database
from hub.embedded_redis import free_tcp_port
from hub.models.inbox import InboxCallback, InboxStatus, RejectedCallback
from hub.models.member import Member
from hub.models.order import Order, OrderStatus, PaymentAnomaly
from hub.models.points import PointsEntry
from hub.services.members import create_member
from hub.services.orders import create_order
from hub.services.points import points_for_amount
from hub.settings import Settings, load_settings
from hub.vault import load_vault
from tests.builders import APPID, MCHID, HubBrand, PayNotice, create_hub_brand, transaction
from tests.conftest import create_postgres_database, make_settings
from tests.servers import PostgresServer, RedisServer

REPO = Path(__file__).resolve().parent.parent
CALLBACK_PATH = f"/callbacks/wechatpay/{MCHID}"
# The targets: wxhub at >= 30 % of a bare handler's throughput, p99 < 50 ms at half peak.
TARGET_RATIO = 0.30
TARGET_P99_MS = 50.0
# The server gets one core and the load generator the other (the machine has two).
SERVER_CPU, GENERATOR_CPU = 0, 1
# Points land on a pool of members, so concurrent payments sometimes wait on one member's lock.
MEMBERS = 500
# The probe that sizes a peak phase (a fresh server is slow for its first second or two):
# at most this many notifications in PROBE_S after a warm-up.
PROBE_REQUESTS, PROBE_S = 600, 2.0
# Notifications signed for a peak phase: twice what the probed rate needs, at most this.
MAX_SIGNED = 30_000
HEADROOM = 2.0
# Requests of one phase that reuses its requests (bare, storm, forgeries), whatever the rate.
MAX_REUSED = 400_000
FORGERIES = 100
# A process busy this share of a core or more is taken as saturated.
SATURATED = 0.9
# Busy cores outside the benchmark's processes above which the figures are called noisy.
NOISY = 0.25
WARMUP_S = 1.0
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
# Concurrent inserts while seeding orders (the parent's pool holds 10 connections).
SEED_CONCURRENCY = 8
SEED_DB = "wxhub_bench"


@dataclass(frozen=True)
class Options:
    duration_s: float
    concurrency: int


@dataclass(frozen=True)
class Payment:
    """A seeded order and the transaction its notification announces."""

    order_id: int
    out_trade_no: str
    transaction_id: str
    amount_fen: int
    member_id: int

    def request(self) -> Request:
        resource = transaction(
            self.out_trade_no, self.amount_fen, transaction_id=self.transaction_id
        )
        return PayNotice("TRANSACTION.SUCCESS", resource).request()


@dataclass
class Row:
    name: str
    figures: Figures
    # The bare req/s this row is compared with; None: no ratio (a scheduled rate).
    bare_rate: float | None = None

    @property
    def rate(self) -> float:
        return self.figures.requests / self.figures.seconds if self.figures.seconds else 0.0

    @property
    def rate_per_core(self) -> float:
        """Requests per second of the server's own CPU time: its cost, whoever set the pace."""
        busy_s = self.figures.seconds * self.figures.cpu_server
        return self.figures.requests / busy_s if busy_s else 0.0

    def latency_ms(self, quantile: float) -> float:
        ordered = sorted(self.figures.latencies_ms)
        if not ordered:
            return math.nan
        return ordered[min(len(ordered) - 1, math.ceil(quantile * len(ordered)) - 1)]


@dataclass
class Ledger:
    """What was sent, for the check against the database."""

    answered: list[Payment] = field(default_factory=list)
    unanswered: list[Payment] = field(default_factory=list)
    storm: Payment | None = None
    storm_sent: int = 0
    forged: list[Payment] = field(default_factory=list)
    forgeries_sent: int = 0


@dataclass(frozen=True)
class Server:
    name: str
    process: asyncio.subprocess.Process
    url: str
    log: Path


# -- processes ------------------------------------------------------------------------------------


def server_env(settings: Settings, port: int) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("WXHUB_")}
    return env | {
        "WXHUB_ENV": "test",
        "WXHUB_DATA_DIR": str(settings.data_dir),
        "WXHUB_DATABASE__URL": settings.database_url,
        "WXHUB_REDIS__URL": settings.redis.url,
        "WXHUB_HTTP__HOST": "127.0.0.1",
        "WXHUB_HTTP__PORT": str(port),
        # Warnings only: an INFO access line per request would measure the log handler.
        "WXHUB_LOGGING__LEVEL": "WARNING",
    }


def pin(pid: int, cpu: int) -> None:
    if (os.cpu_count() or 1) > cpu:
        os.sched_setaffinity(pid, {cpu})


@asynccontextmanager
async def serving(
    name: str, command: Sequence[str], settings: Settings, workdir: Path
) -> AsyncIterator[Server]:
    """A server subprocess, ready, pinned to the server CPU; stopped on exit whatever happens."""
    port = free_tcp_port()
    log = workdir / f"{name.replace(' ', '-')}.log"
    with log.open("wb") as output:
        # A session of its own: Ctrl-C reaches this process only, which stops the server.
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=REPO,
            env=server_env(settings, port),
            stdout=output,
            stderr=output,
            start_new_session=True,
        )
    try:
        pin(process.pid, SERVER_CPU)
        server = Server(name, process, f"http://127.0.0.1:{port}", log)
        await wait_ready(server)
        yield server
    finally:
        await stop_process(process)


async def wait_ready(server: Server) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if server.process.returncode is not None:
                break
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(server.url + "/readyz") as answer:
                    if answer.status == web.HTTPOk.status_code:
                        return
            await asyncio.sleep(0.1)
    tail = server.log.read_text(errors="replace")[-3000:]
    raise RuntimeError(f"{server.name} did not become ready; its log ends:\n{tail}")


async def stop_process(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()


def hub_command(*, uvloop: bool) -> list[str]:
    if uvloop:
        return [sys.executable, "-m", "bench.ingest", "--serve", "hub", "--uvloop"]
    return [sys.executable, "-m", "hub", "serve"]


def bare_command(*, uvloop: bool) -> list[str]:
    return [sys.executable, "-m", "bench.ingest", "--serve", "bare"] + ["--uvloop"] * uvloop


async def run_load(plan: Plan, workdir: Path) -> Figures:
    """Run one phase in the load generator's own process and return its figures."""
    plan_path = workdir / "plan.json"
    plan_path.write_text(json.dumps(asdict(plan)))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.load",
        str(plan_path),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        output, errors = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    if process.returncode != 0:
        raise RuntimeError(f"the load generator failed:\n{errors.decode(errors='replace')}")
    return Figures(**json.loads(output))


# -- the servers under test, as subprocesses of this module ---------------------------------------


async def accept(request: web.Request) -> web.Response:
    """The bare handler: read the body, answer "received"."""
    await request.read()
    return web.Response(status=204)


async def ready(_request: web.Request) -> web.Response:
    return web.Response(text="ready")


async def serve_bare(settings: Settings) -> None:
    stop = runtime.stop_event()
    app = web.Application()
    app.router.add_post("/callbacks/wechatpay/{account}", accept)
    app.router.add_get("/readyz", ready)
    runner = await runtime.start_web(app, settings)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def serve(kind: str, *, uvloop: bool) -> None:
    if uvloop:
        # Imported by name: uvloop is optional, not a dependency.
        asyncio.set_event_loop_policy(importlib.import_module("uvloop").EventLoopPolicy())
    if kind == "hub":
        sys.exit(run_cli(["serve"]))
    asyncio.run(serve_bare(load_settings()))


# -- data -----------------------------------------------------------------------------------------


class Shop:
    """The seeded brand, its members, and new orders on demand."""

    def __init__(self, hub: HubBrand, members: list[Member]) -> None:
        self.hub = hub
        self.members = members
        self.seeded = 0

    @classmethod
    async def create(cls, settings: Settings) -> "Shop":
        vault = load_vault(settings)
        hub = await create_hub_brand(vault)
        members = [await create_member(hub.brand, vault) for _ in range(MEMBERS)]
        return cls(hub, members)

    async def payments(self, count: int) -> list[Payment]:
        """`count` new orders of members awaiting payment."""
        limit = asyncio.Semaphore(SEED_CONCURRENCY)

        async def one(number: int) -> Payment:
            member = self.members[number % len(self.members)]
            # Amounts vary so that points vary: 19.90 to 68.90 yuan.
            amount_fen = 1990 + number % 50 * 100
            async with limit:
                order = await create_order(
                    self.hub.store, amount_fen, mchid=MCHID, appid=APPID, member=member
                )
            return Payment(
                order.id, order.out_trade_no, f"42{order.id:030d}", amount_fen, member.id
            )

        first = self.seeded
        self.seeded += count
        return list(await asyncio.gather(*(one(first + n) for n in range(count))))


def forged(payment: Payment, key: rsa.RSAPrivateKey) -> Request:
    resource = transaction(
        payment.out_trade_no, payment.amount_fen, transaction_id=payment.transaction_id
    )
    return PayNotice("TRANSACTION.SUCCESS", resource, signer_key=key).request()


# -- phases ---------------------------------------------------------------------------------------


class Bench:
    """The phases of one run, against whichever server is up."""

    def __init__(self, options: Options, workdir: Path, shop: Shop, database_pid: int) -> None:
        self.options = options
        self.workdir = workdir
        self.shop = shop
        self.database_pid = database_pid
        self.ledger = Ledger()

    def plan(self, server: Server, requests: list[Request], **changes: Any) -> Plan:
        path = self.workdir / "requests.json"
        save_requests(path, requests)
        settings: dict[str, Any] = {
            "url": server.url + CALLBACK_PATH,
            "requests_path": str(path),
            "concurrency": self.options.concurrency,
            "duration_s": self.options.duration_s,
            "warmup_s": WARMUP_S,
            "expected_status": 204,
            "server_pid": server.process.pid,
            "database_pid": self.database_pid,
            "cpu": GENERATOR_CPU if (os.cpu_count() or 1) > GENERATOR_CPU else -1,
        }
        return Plan(**(settings | changes))

    async def bare(self, server: Server) -> Figures:
        request = (await self.shop.payments(1))[0].request()
        plan = self.plan(server, [request], reuse=True, warmup_s=2.0, max_requests=MAX_REUSED)
        return await run_load(plan, self.workdir)

    async def distinct(self, server: Server, count: int, **changes: Any) -> Figures:
        """Send up to `count` new payments, each once; note which were answered."""
        payments = await self.shop.payments(count)
        requests = await asyncio.to_thread(lambda: [payment.request() for payment in payments])
        figures = await run_load(self.plan(server, requests, **changes), self.workdir)
        unexpected = set(figures.unexpected)
        for index, payment in enumerate(payments[: figures.sent]):
            target = self.ledger.unanswered if index in unexpected else self.ledger.answered
            target.append(payment)
        return figures

    async def peak(self, server: Server) -> Figures:
        """Distinct payments at the fixed concurrency; a short probe sizes the signed batch."""
        probe = await self.distinct(server, PROBE_REQUESTS, duration_s=PROBE_S)
        seconds = self.options.duration_s + WARMUP_S
        # A probe that ran out of notifications only says the server is fast: sign the most.
        rate = MAX_SIGNED / seconds if probe.exhausted else probe.requests / probe.seconds
        count = math.ceil(rate * HEADROOM * seconds) + 4 * self.options.concurrency
        return await self.distinct(server, min(MAX_SIGNED, count))

    async def scheduled(self, server: Server, rate_per_s: float) -> Figures:
        """Distinct payments started on a fixed schedule of `rate_per_s`."""
        count = math.ceil(rate_per_s * (self.options.duration_s + WARMUP_S) * 1.05) + 10
        return await self.distinct(server, count, rate_per_s=rate_per_s)

    async def storm(self, server: Server) -> Figures:
        """One notification delivered once, then again and again: every copy a duplicate."""
        payment = (await self.shop.payments(1))[0]
        request = payment.request()
        headers, body = request
        async with (
            aiohttp.ClientSession() as session,
            session.post(server.url + CALLBACK_PATH, data=body, headers=headers) as answer,
        ):
            if answer.status != web.HTTPNoContent.status_code:
                raise RuntimeError(f"the storm's first delivery was answered {answer.status}")
        plan = self.plan(server, [request], reuse=True, max_requests=MAX_REUSED)
        figures = await run_load(plan, self.workdir)
        self.ledger.storm, self.ledger.storm_sent = payment, figures.sent + 1
        return figures

    async def forgeries(self, server: Server) -> Figures:
        """Notifications signed with a key that is not WeChat Pay's: refused with 401."""
        payments = await self.shop.payments(FORGERIES)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        requests = [forged(payment, key) for payment in payments]
        plan = self.plan(server, requests, reuse=True, expected_status=401, max_requests=MAX_REUSED)
        figures = await run_load(plan, self.workdir)
        self.ledger.forged, self.ledger.forgeries_sent = payments, figures.sent
        return figures


async def measure_bare(bench: Bench, settings: Settings, *, uvloop: bool) -> Row:
    label = "bare aiohttp" + " + uvloop" * uvloop
    announce(f"{label}: peak")
    async with serving(label, bare_command(uvloop=uvloop), settings, bench.workdir) as server:
        return Row(f"{label}, peak (c={bench.options.concurrency})", await bench.bare(server))


async def measure_hub(bench: Bench, settings: Settings, bare: Row) -> list[Row]:
    """wxhub under asyncio: peak, half-peak schedule, duplicate storm, forgeries."""
    concurrency = bench.options.concurrency
    async with serving("wxhub", hub_command(uvloop=False), settings, bench.workdir) as server:
        announce("wxhub: distinct payments at peak")
        peak = Row(f"wxhub payments, peak (c={concurrency})", await bench.peak(server), bare.rate)
        half_rate = peak.rate / 2
        announce(f"wxhub: distinct payments at {half_rate:.0f} req/s")
        half = Row(
            f"wxhub payments, {half_rate:.0f}/s (half peak)",
            await bench.scheduled(server, half_rate),
        )
        announce("wxhub: duplicate storm")
        storm = Row(
            f"wxhub duplicate storm (c={concurrency})", await bench.storm(server), bare.rate
        )
        announce("wxhub: forged signatures")
        forgeries = Row(
            f"wxhub forgeries, 401 (c={concurrency})", await bench.forgeries(server), bare.rate
        )
    return [peak, half, storm, forgeries]


async def measure_hub_uvloop(bench: Bench, settings: Settings, bare: Row) -> Row:
    announce("wxhub + uvloop: distinct payments at peak")
    command = hub_command(uvloop=True)
    async with serving("wxhub uvloop", command, settings, bench.workdir) as server:
        figures = await bench.peak(server)
    return Row(f"wxhub + uvloop payments, peak (c={bench.options.concurrency})", figures, bare.rate)


# -- the check against the database ---------------------------------------------------------------


@dataclass
class Check:
    lines: list[str] = field(default_factory=list)
    failed: bool = False

    def expect(self, ok: bool, text: str) -> None:
        self.lines.append(f"  [{'ok' if ok else 'FAILED'}] {text}")
        self.failed |= not ok


async def check_payments(check: Check, ledger: Ledger) -> None:
    orders = {row["id"]: row for row in await Order.all().values()}
    keys = await PointsEntry.all().values_list("idempotency_key", flat=True)
    entries = Counter(str(key) for key in keys)
    answered = ledger.answered
    settled = [
        p
        for p in answered
        if orders[p.order_id]["status"] is OrderStatus.PAID
        and orders[p.order_id]["transaction_id"] == p.transaction_id
        and orders[p.order_id]["points_earned"] == points_for_amount(p.amount_fen)
    ]
    once = [p for p in answered if entries[f"order:{p.out_trade_no}:earn"] == 1]
    check.expect(
        len(settled) == len(answered),
        f"{len(settled)} of {len(answered)} answered payments settled (paid, their transaction, "
        "their points)",
    )
    check.expect(len(once) == len(answered), f"{len(once)} of them with exactly one points entry")
    paid = sum(row["status"] is OrderStatus.PAID for row in orders.values())
    expected_paid = len(answered) + (ledger.storm is not None)
    check.expect(
        expected_paid <= paid <= expected_paid + len(ledger.unanswered),
        f"{paid} orders paid in all: answered payments and the storm's "
        f"({len(ledger.unanswered)} sent but not answered 204)",
    )
    check.expect(
        all(n == 1 for n in entries.values()), f"{sum(entries.values())} points entries, no twins"
    )
    await check_balances(check, orders)


async def check_balances(check: Check, orders: dict[int, dict[str, Any]]) -> None:
    earned: Counter[int] = Counter()
    for row in orders.values():
        if row["status"] is OrderStatus.PAID:
            earned[row["member_id"]] += row["points_earned"]
    balances = dict(await Member.all().values_list("id", "points_balance"))
    wrong = [member for member, balance in balances.items() if balance != earned[member]]
    check.expect(not wrong, f"{len(balances)} member balances equal their paid orders' points")


async def check_inbox(check: Check, ledger: Ledger) -> None:
    rows = await InboxCallback.all().values_list("status", flat=True)
    statuses = Counter(str(status) for status in rows)
    done = statuses.pop(InboxStatus.DONE.value, 0)
    expected = len(ledger.answered) + (ledger.storm is not None)
    check.expect(
        expected <= done <= expected + len(ledger.unanswered) and not statuses,
        f"{done} inbox rows done, none pending or failed {dict(statuses) or ''}".rstrip(),
    )
    check.expect(await PaymentAnomaly.all().count() == 0, "no payment anomalies (none paid twice)")
    if ledger.storm is not None:
        copies = await InboxCallback.filter(event_key=ledger.storm.transaction_id).count()
        entries = await PointsEntry.filter(
            idempotency_key=f"order:{ledger.storm.out_trade_no}:earn"
        ).count()
        check.expect(
            copies == 1 and entries == 1,
            f"duplicate storm: {ledger.storm_sent} deliveries of one notification -> "
            f"{copies} inbox row, {entries} points entry",
        )


async def check_forgeries(check: Check, ledger: Ledger) -> None:
    rejections = Counter(await RejectedCallback.all().values_list("reason", "status_code"))
    recorded = rejections.get(("bad_signature", 401), 0)
    check.expect(
        recorded == ledger.forgeries_sent and len(rejections) <= 1,
        f"forgeries: {ledger.forgeries_sent} sent -> {recorded} rejection rows "
        f"(401 bad_signature){' ' + str(dict(rejections)) if len(rejections) > 1 else ''}",
    )
    ids = [payment.order_id for payment in ledger.forged]
    untouched = await Order.filter(id__in=ids, status=OrderStatus.CREATED).count()
    check.expect(untouched == len(ids), f"{untouched} of {len(ids)} forged orders left unpaid")


async def check_database(ledger: Ledger) -> Check:
    check = Check()
    await check_payments(check, ledger)
    await check_inbox(check, ledger)
    await check_forgeries(check, ledger)
    return check


# -- report ---------------------------------------------------------------------------------------


def announce(text: str) -> None:
    print(f"  .. {text}", flush=True)


HEADER = (
    f"{'phase':42} {'requests':>8} {'s':>5} {'req/s':>6} {'p50 ms':>7} {'p99 ms':>7} "
    f"{'errors':>6} {'x bare':>6}  {'cpu srv/gen/db/rest':19} {'req/cpu-s':>9}"
)


def format_row(row: Row) -> str:
    ratio = f"{row.rate / row.bare_rate:6.1%}" if row.bare_rate else f"{'-':>6}"
    figures = row.figures
    cores = (figures.cpu_server, figures.cpu_generator, figures.cpu_database, figures.cpu_other)
    cpu = "/".join(f"{busy:.2f}" for busy in cores)
    text = (
        f"{row.name:42} {figures.requests:8d} {figures.seconds:5.1f} {row.rate:6.0f} "
        f"{row.latency_ms(0.50):7.1f} {row.latency_ms(0.99):7.1f} {figures.errors:6d} {ratio}  "
        f"{cpu:19} {row.rate_per_core:9.0f}"
    )
    if figures.exhausted:
        text += "  (ran out of signed notifications)"
    if figures.errors:
        text += f"\n{'':44}answers: {figures.statuses}"
    return text


def verdicts(bare: Row, peak: Row, half: Row) -> Iterator[str]:
    ratio = peak.rate / bare.rate
    yield (
        f"  throughput: wxhub {peak.rate:.0f} req/s = {ratio:.1%} of bare {bare.rate:.0f} req/s "
        f"(target >= {TARGET_RATIO:.0%}): {'met' if ratio >= TARGET_RATIO else 'MISSED'}"
    )
    p99 = half.latency_ms(0.99)
    yield (
        f"  latency: p99 {p99:.1f} ms at {half.rate:.0f} req/s, half the peak "
        f"(target < {TARGET_P99_MS:.0f} ms): {'met' if p99 < TARGET_P99_MS else 'MISSED'}"
    )
    if bare.figures.cpu_generator > SATURATED or bare.figures.cpu_server < SATURATED:
        yield (
            f"  note: in the bare phase the generator was busy {bare.figures.cpu_generator:.0%} of"
            f" its core and the server {bare.figures.cpu_server:.0%} of its own: the client set "
            "the pace, so bare req/s is a floor and the ratio above a ceiling"
        )
    per_core = peak.rate_per_core / bare.rate_per_core
    yield (
        f"  per server CPU-second (req/cpu-s): wxhub {peak.rate_per_core:.0f}, bare "
        f"{bare.rate_per_core:.0f}: wxhub does {per_core:.1%} of the bare handler's work rate"
    )


def noise(rows: Sequence[Row]) -> Iterator[str]:
    """A warning when something outside the benchmark took CPU during the timed parts."""
    busiest = max(rows, key=lambda row: row.figures.cpu_other)
    if busiest.figures.cpu_other > NOISY:
        yield (
            f"  note: other processes kept up to {busiest.figures.cpu_other:.2f} cores busy "
            f"({busiest.name}): latencies and rates are noisier than on a quiet machine"
        )


def report(rows: list[Row], lines: Sequence[str], check: Check) -> None:
    print()
    print(HEADER)
    for row in rows:
        print(format_row(row))
    print()
    print("Targets")
    for line in lines:
        print(line)
    print()
    print("Correctness, from the database")
    for line in check.lines:
        print(line)


# -- the run --------------------------------------------------------------------------------------


async def prepare(stack: AsyncExitStack, workdir: Path) -> tuple[Settings, int]:
    """Servers up, database migrated and open; returns the settings and the postmaster's pid."""
    announce("starting PostgreSQL and Redis, migrating")
    postgres, redis = PostgresServer(), RedisServer()
    stack.callback(postgres.stop)
    stack.callback(redis.stop)
    postgres_url = await asyncio.to_thread(postgres.start)
    redis_url = await asyncio.to_thread(redis.start)
    database_url = await create_postgres_database(postgres_url, SEED_DB)
    settings = make_settings(workdir / "var", database_url, redis_url)
    await stack.enter_async_context(open_database(settings))
    await migrate()
    postmaster = (postgres.data / "postmaster.pid").read_text().split("\n", 1)[0]
    return settings, int(postmaster)


async def run(options: Options) -> bool:
    uvloop = importlib.util.find_spec("uvloop") is not None
    async with AsyncExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="wxhub-bench-"))
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        settings, database_pid = await prepare(stack, workdir)
        bench = Bench(options, workdir, await Shop.create(settings), database_pid)
        bare = await measure_bare(bench, settings, uvloop=False)
        rows = [bare, *await measure_hub(bench, settings, bare)]
        lines = list(verdicts(bare, rows[1], rows[2]))
        if uvloop:
            bare_uvloop = await measure_bare(bench, settings, uvloop=True)
            hub_uvloop = await measure_hub_uvloop(bench, settings, bare_uvloop)
            rows += [bare_uvloop, hub_uvloop]
            lines.append(
                f"  uvloop: bare x{bare_uvloop.rate / bare.rate:.2f}, "
                f"wxhub x{hub_uvloop.rate / rows[1].rate:.2f} against asyncio"
            )
        else:
            lines.append("  uvloop: not installed, not measured (pip install uvloop to compare)")
        lines += noise(rows)
        announce("checking the database")
        check = await check_database(bench.ledger)
    report(rows, lines, check)
    return not check.failed


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per timed phase")
    parser.add_argument("--concurrency", type=int, default=32, help="connections at peak")
    # Used by the benchmark itself to start the servers under test.
    parser.add_argument("--serve", choices=["bare", "hub"], help=argparse.SUPPRESS)
    parser.add_argument("--uvloop", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.duration < 1 or args.concurrency < 1:
        parser.error("--duration and --concurrency must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.serve:
        serve(args.serve, uvloop=args.uvloop)
        return
    options = Options(duration_s=args.duration, concurrency=args.concurrency)
    print(
        f"wxhub callback ingestion: {options.duration_s:.0f} s per phase, "
        f"{options.concurrency} connections at peak, server on CPU {SERVER_CPU}, "
        f"generator on CPU {GENERATOR_CPU} ({os.cpu_count()} CPUs)",
        flush=True,
    )
    try:
        correct = asyncio.run(run(options))
    except KeyboardInterrupt:
        print("interrupted; servers stopped, temporary files removed", file=sys.stderr)
        sys.exit(130)
    sys.exit(0 if correct else 1)


if __name__ == "__main__":
    main()
