"""Settling one paid order on PostgreSQL: SQL statements per settlement, settlements per second.

Run: python bench/settle.py [--settlements 1000] [--concurrency 8 32] [--sqlite 500] [--sql]
     [--profile]                                         (about a minute and a half on 2 cores)

It starts a throwaway PostgreSQL, migrates a database, seeds a brand with the test membership
programme (levels by lifetime and 12-month spend, upgrade gifts, a store bonus) and members on
its entry level, then calls `settle_payment` directly, in this process, with the asyncpg pool
of the default size. The programme cache is warm, as in a running process.

Statements: every call into asyncpg's Connection (execute, fetch, fetchrow …) is recorded,
so BEGIN and COMMIT are counted, and so is the reset asyncpg's pool sends when a connection
goes back to it (one round trip per transaction, shown apart). Four cases: (a) a member's sale
that earns points without a level change, the steady state, against the target of 12
statements; (b) a sale that upgrades the member, with gift points; (c) a walk-in order;
(d) a duplicate notification of a paid order.

Throughput: distinct orders of distinct members one after another and at each concurrency,
then one member's orders at once (serialised by the member's row lock). The baseline is the
same number of minimal transactions at the same concurrency through the same ORM pool —
BEGIN; SELECT 1 … FOR UPDATE of one row; UPDATE that row; COMMIT — so "x base" is the
settlement's rate as a share of what the pool, the driver and the database allow. "cpu ms" is
CPU per operation of this process and of PostgreSQL (its backends). SQLite (sequential only,
no row locks) is measured the same way for comparison. Every settlement is checked afterwards
against the database (one points entry each, balances, no stray level change).
"""

import argparse
import asyncio
import cProfile
import functools
import math
import os
import pstats
import re
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asyncpg.connection import Connection
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.transactions import in_transaction

from bench.load import busy_ticks, tree_ticks
from hub import db
from hub.models.member import Member
from hub.models.membership import LevelChange, LevelChangeReason
from hub.models.order import Order, OrderStatus, PaymentAnomaly
from hub.models.points import PointsEntry, PointsKind
from hub.services.members import create_member
from hub.services.orders import create_order
from hub.services.programme import forget_programmes
from hub.services.settlement import PaymentResult, settle_payment
from hub.settings import Settings
from hub.vault import Vault, load_vault
from tests.builders import APPID, MCHID, HubBrand, apply_programme, create_hub_brand
from tests.conftest import create_postgres_database, make_settings
from tests.servers import PostgresServer

REPO = Path(__file__).resolve().parent.parent
# The target for case (a), BEGIN and COMMIT included.
TARGET_STATEMENTS = 12
# Settlements before any figure: every pooled connection prepares its statements once.
WARMUP = 64
# asyncpg's Connection methods that send a statement; the pool proxies call them on the class.
RECORDED_METHODS = ("execute", "executemany", "fetch", "fetchmany", "fetchrow", "fetchval")
# A member's sales stay below the programme's first upgrade (1,000 yuan lifetime spend): 19.90
# to 68.90 yuan per phase; the one-member phase pays 1 yuan, so this many orders stay below it.
SALE_FEN, SALE_STEPS = 1_990, 50
CONTENDED_FEN, CONTENDED_PER_MEMBER = 100, 900
# Case (b): two sales bring the member to 990 yuan, the third crosses 1,000 (silver, 100 points).
UPGRADE_PRIOR_FEN, UPGRADE_FEN = 49_500, 2_000
# Concurrent inserts while seeding (below the pool's 10 connections).
SEED_CONCURRENCY = 8
# Busy cores outside this process and PostgreSQL above which the figures are called noisy.
NOISY = 0.25
CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
SEED_DB = "wxhub_bench_settle"
PROFILED = 300


@dataclass(frozen=True)
class Options:
    settlements: int
    concurrency: tuple[int, ...]
    contended: int
    sqlite: int
    show_sql: bool
    profile: bool


# -- statements -----------------------------------------------------------------------------------


@dataclass
class StatementLog:
    """Every statement sent through asyncpg while recording, in order."""

    statements: list[str] = field(default_factory=list)

    def since(self, mark: int) -> list[str]:
        return self.statements[mark:]


def _recorded(
    method: Callable[..., Awaitable[Any]], log: StatementLog
) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(method)
    async def call(self: Connection, query: str, *args: Any, **kwargs: Any) -> Any:
        log.statements.append(query)
        return await method(self, query, *args, **kwargs)

    return call


@contextmanager
def recording(log: StatementLog) -> Iterator[None]:
    """Record the statements asyncpg sends until the block ends (a Python call each)."""
    originals = {name: getattr(Connection, name) for name in RECORDED_METHODS}
    for name, method in originals.items():
        setattr(Connection, name, _recorded(method, log))
    try:
        yield
    finally:
        for name, method in originals.items():
            setattr(Connection, name, method)


def is_pool_reset(statement: str) -> bool:
    """asyncpg's pool sends this when a connection is released (Connection.get_reset_query)."""
    return statement.startswith("SELECT pg_advisory_unlock_all()")


def is_transaction_control(statement: str) -> bool:
    return statement.split(maxsplit=1)[0].rstrip(";").upper() in {"BEGIN", "COMMIT", "ROLLBACK"}


def abbreviate(statement: str, width: int = 150) -> str:
    text = re.sub(r"\s+", " ", statement).strip()
    return text if len(text) <= width else text[: width - 1] + "…"


# -- data -----------------------------------------------------------------------------------------


class Shop:
    """The seeded brand, its members, and new orders awaiting payment on demand."""

    def __init__(self, hub: HubBrand, vault: Vault) -> None:
        self.hub = hub
        self.vault = vault
        self.store = hub.store
        self.members: list[Member] = []
        self.contended: list[Member] = []
        self.seeded = 0

    @classmethod
    async def create(cls, settings: Settings, members: int, contended: int) -> "Shop":
        vault = load_vault(settings)
        hub = await create_hub_brand(vault)
        shop = cls(hub, vault)
        # The store with the programme's bonus: what a sale earns is worked out in full.
        shop.store = await apply_programme(hub)
        limit = asyncio.Semaphore(SEED_CONCURRENCY)

        async def one() -> Member:
            async with limit:
                return await shop.new_member()

        shop.members = list(await asyncio.gather(*(one() for _ in range(members))))
        shop.contended = [await shop.new_member() for _ in range(contended)]
        return shop

    async def new_member(self) -> Member:
        return await create_member(self.hub.brand, self.vault)

    @property
    def brand_id(self) -> int:
        return self.hub.brand.id

    async def payments(
        self, owners: Sequence[Member | None], amount_fen: int = 0
    ) -> list[PaymentResult]:
        """A new order for each owner (None: a walk-in), and the payment that settles it."""
        limit = asyncio.Semaphore(SEED_CONCURRENCY)

        async def one(number: int, owner: Member | None) -> PaymentResult:
            amount = amount_fen or SALE_FEN + number % SALE_STEPS * 100
            async with limit:
                order = await create_order(
                    self.store, amount, mchid=MCHID, appid=APPID, member=owner
                )
            return payment_for(order)

        first = self.seeded
        self.seeded += len(owners)
        return list(await asyncio.gather(*(one(first + n, m) for n, m in enumerate(owners))))

    async def distinct(self, count: int) -> list[PaymentResult]:
        return await self.payments(self.members[:count])

    async def one_member(self, count: int) -> list[PaymentResult]:
        owners = [self.contended[n // CONTENDED_PER_MEMBER] for n in range(count)]
        return await self.payments(owners, CONTENDED_FEN)


def payment_for(order: Order) -> PaymentResult:
    return PaymentResult(
        mchid=order.mchid,
        appid=order.appid,
        out_trade_no=order.out_trade_no,
        transaction_id=f"42{order.id:030d}",
        amount_fen=order.wechat_fen,
        payer_fen=order.wechat_fen,
        paid_at=datetime.now(UTC),
        openid="o_bench_payer",
    )


async def settle(brand_id: int, payment: PaymentResult, expected: str = "paid") -> None:
    outcome = await settle_payment(brand_id, payment)
    if outcome != expected:
        raise RuntimeError(f"{payment.out_trade_no}: {outcome}, expected {expected}")


# -- the baseline: minimal transactions through the same pool -------------------------------------


@dataclass(frozen=True)
class Dialect:
    name: str
    fill: str
    lock: str
    update: str


CREATE_ROWS = "CREATE TABLE bench_row (id INTEGER PRIMARY KEY, n BIGINT NOT NULL)"
POSTGRES = Dialect(
    "PostgreSQL",
    fill="INSERT INTO bench_row SELECT g, 0 FROM generate_series(1, $1::int) AS g",
    lock="SELECT 1 FROM bench_row WHERE id = $1 FOR UPDATE",
    update="UPDATE bench_row SET n = n + 1 WHERE id = $1",
)
SQLITE = Dialect(
    "SQLite",
    fill=(
        "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?) "
        "INSERT INTO bench_row SELECT i, 0 FROM seq"
    ),
    # SQLite has no row locks: a write transaction holds the whole database.
    lock="SELECT 1 FROM bench_row WHERE id = ?",
    update="UPDATE bench_row SET n = n + 1 WHERE id = ?",
)


async def create_rows(dialect: Dialect, rows: int) -> None:
    connection = db.connection()
    await connection.execute_script(CREATE_ROWS)
    await connection.execute_query(dialect.fill, [rows])


async def minimal_transaction(dialect: Dialect, row_id: int) -> None:
    async with in_transaction(db.CONNECTION) as connection:
        await connection.execute_query(dialect.lock, [row_id])
        await connection.execute_query(dialect.update, [row_id])


# -- timing ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    seconds: float
    latencies_ms: list[float]
    statements: int
    cpu_process_s: float
    cpu_database_s: float
    # Busy cores outside this process and PostgreSQL while it ran.
    cpu_other: float

    @property
    def count(self) -> int:
        return len(self.latencies_ms)

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def per_op(self, total: float) -> float:
        return total / self.count

    def latency_ms(self, quantile: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, math.ceil(quantile * len(ordered)) - 1)]


@dataclass(frozen=True)
class Meter:
    """Where the statement log, the CPU clocks and the wall clock stood when a phase began."""

    log: StatementLog
    database_pid: int
    mark: int = 0
    wall_s: float = 0.0
    process_s: float = 0.0
    database_ticks: int = 0
    machine_ticks: int = 0

    def start(self) -> "Meter":
        return Meter(
            self.log,
            self.database_pid,
            len(self.log.statements),
            time.perf_counter(),
            time.process_time(),
            tree_ticks(self.database_pid),
            busy_ticks(),
        )

    def stop(self, latencies_ms: list[float]) -> Figures:
        seconds = time.perf_counter() - self.wall_s
        process_s = time.process_time() - self.process_s
        database_s = (tree_ticks(self.database_pid) - self.database_ticks) / CLOCK_TICKS_PER_S
        machine_s = (busy_ticks() - self.machine_ticks) / CLOCK_TICKS_PER_S
        other = max(0.0, machine_s - process_s - database_s) / seconds
        statements = len(self.log.statements) - self.mark
        return Figures(seconds, latencies_ms, statements, process_s, database_s, other)


async def timed(
    meter: Meter, operations: Sequence[Callable[[], Awaitable[None]]], concurrency: int
) -> Figures:
    """Run the operations, at most `concurrency` at once, in order of start."""
    pending = iter(range(len(operations)))
    latencies = [0.0] * len(operations)

    async def worker() -> None:
        for index in pending:
            started = time.perf_counter()
            await operations[index]()
            latencies[index] = (time.perf_counter() - started) * 1000

    started = meter.start()
    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, len(operations))):
            group.create_task(worker())
    return started.stop(latencies)


@dataclass(frozen=True)
class Row:
    name: str
    concurrency: int
    settle: Figures
    baseline: Figures


class Bench:
    """The timed phases on whichever database is open."""

    def __init__(self, shop: Shop, dialect: Dialect, meter: Meter) -> None:
        self.shop = shop
        self.dialect = dialect
        self.meter = meter

    def settlements(self, payments: list[PaymentResult]) -> list[Callable[[], Awaitable[None]]]:
        return [functools.partial(settle, self.shop.brand_id, payment) for payment in payments]

    def transactions(self, rows: Sequence[int]) -> list[Callable[[], Awaitable[None]]]:
        return [functools.partial(minimal_transaction, self.dialect, row) for row in rows]

    async def warm_up(self, concurrency: int) -> None:
        """Fill every pooled connection's statement cache, for both kinds of work."""
        payments = await self.shop.distinct(min(WARMUP, len(self.shop.members)))
        await timed(self.meter, self.settlements(payments), concurrency)
        await timed(self.meter, self.transactions(range(1, WARMUP + 1)), concurrency)

    async def distinct(self, name: str, count: int, concurrency: int) -> Row:
        announce(f"{self.dialect.name}: {count} settlements, {concurrency} at once")
        payments = await self.shop.distinct(count)
        settled = await timed(self.meter, self.settlements(payments), concurrency)
        baseline = await timed(self.meter, self.transactions(range(1, count + 1)), concurrency)
        return Row(name, concurrency, settled, baseline)

    async def one_member(self, count: int, concurrency: int) -> Row:
        announce(f"{self.dialect.name}: {count} settlements of one member, {concurrency} at once")
        payments = await self.shop.one_member(count)
        settled = await timed(self.meter, self.settlements(payments), concurrency)
        baseline = await timed(self.meter, self.transactions([1] * count), concurrency)
        return Row(f"{self.dialect.name}, one member", concurrency, settled, baseline)


# -- statement counts per case --------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    outcome: str
    statements: list[str]

    @property
    def queries(self) -> int:
        return sum(not is_pool_reset(s) and not is_transaction_control(s) for s in self.statements)

    @property
    def with_transaction(self) -> int:
        return sum(not is_pool_reset(s) for s in self.statements)


async def counted(log: StatementLog, name: str, brand_id: int, payment: PaymentResult) -> Case:
    mark = len(log.statements)
    outcome = await settle_payment(brand_id, payment)
    return Case(name, outcome, log.since(mark))


async def count_cases(shop: Shop, log: StatementLog) -> list[Case]:
    """One settlement of each kind, after the warm-up, with nothing else running."""
    announce("PostgreSQL: statements per settlement")
    brand_id = shop.brand_id
    regular = (await shop.payments([shop.members[0]]))[0]
    upgrader = await shop.new_member()
    for prior in await shop.payments([upgrader] * 2, UPGRADE_PRIOR_FEN):
        await settle(brand_id, prior)
    upgrade = (await shop.payments([upgrader], UPGRADE_FEN))[0]
    walk_in = (await shop.payments([None]))[0]
    cases = [
        await counted(log, "(a) member's sale, points, no level change", brand_id, regular),
        await counted(log, "(b) sale that upgrades the member, gifts", brand_id, upgrade),
        await counted(log, "(c) walk-in order, no member", brand_id, walk_in),
        await counted(log, "(d) duplicate notification (paid before)", brand_id, regular),
    ]
    expected = ["paid", "paid", "paid", "already_paid"]
    if [case.outcome for case in cases] != expected:
        raise RuntimeError(f"unexpected outcomes: {[case.outcome for case in cases]}")
    return cases


# -- the check against the database ---------------------------------------------------------------


@dataclass
class Check:
    lines: list[str] = field(default_factory=list)
    failed: bool = False

    def expect(self, ok: bool, text: str) -> None:
        self.lines.append(f"  [{'ok' if ok else 'FAILED'}] {text}")
        self.failed |= not ok


async def check_database(check: Check, backend: str) -> None:
    """Every order paid once, with its points entry; balances add up; one upgrade in all."""
    orders = await Order.all().values_list("id", "status", "member_id", "points_earned")
    unpaid = sum(status is not OrderStatus.PAID for _, status, _, _ in orders)
    anomalies = await PaymentAnomaly.all().count()
    check.expect(
        not unpaid and not anomalies,
        f"{backend}: {len(orders)} orders paid, {unpaid} not, {anomalies} payment anomalies",
    )
    earned = await PointsEntry.filter(kind=PointsKind.EARN).values_list("order_id", "delta")
    entries = Counter(order_id for order_id, _ in earned)
    deltas = dict(earned)
    sales = [(order_id, points) for order_id, _, member_id, points in orders if member_id]
    right = sum(
        entries[order_id] == 1 and deltas[order_id] == points > 0 for order_id, points in sales
    )
    check.expect(
        right == len(sales) and len(earned) == len(sales),
        f"{backend}: {right} of {len(sales)} members' orders with one points entry of their points",
    )
    ledger: Counter[int] = Counter()
    for member_id, delta in await PointsEntry.all().values_list("member_id", "delta"):
        ledger[member_id] += delta
    balances = await Member.all().values_list("id", "points_balance")
    wrong = sum(balance != ledger[member_id] for member_id, balance in balances)
    check.expect(not wrong, f"{backend}: {len(balances)} balances equal their points entries")
    upgrades = await LevelChange.exclude(reason=LevelChangeReason.JOINED).count()
    expected = 1 if backend == POSTGRES.name else 0
    check.expect(
        upgrades == expected, f"{backend}: {upgrades} level changes besides joining ({expected})"
    )


# -- where this process's time goes ---------------------------------------------------------------


def package_of(filename: str) -> str:
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if filename.startswith(str(REPO)):
        return Path(filename).relative_to(REPO).parts[0]
    if filename.startswith(("~", "<")):
        return "C functions"
    return "asyncio" if "/asyncio/" in filename else "standard library"


def function_name(filename: str, line: int, name: str) -> str:
    if filename.startswith("~"):
        return name
    return f"{package_of(filename)} {Path(filename).name}:{line} {name}"


async def profile_settlements(shop: Shop) -> list[str]:
    """This process's CPU over sequential settlements, by package and by function (cProfile).

    cProfile's own cost per call inflates call-heavy code: read shares, not absolute times.
    """
    announce(f"PostgreSQL: profiling {PROFILED} sequential settlements")
    payments = await shop.distinct(PROFILED)
    # CPU time, not wall time: waiting in epoll for PostgreSQL is not this process's work.
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for payment in payments:
        await settle(shop.brand_id, payment)
    profiler.disable()
    stats: dict[tuple[str, int, str], tuple[Any, ...]]
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    by_package: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    for (filename, line, name), (_cc, _nc, self_s, _cum, _callers) in stats.items():
        by_package[package_of(filename)] += self_s
        by_function[function_name(filename, line, name)] += self_s
    total = sum(by_package.values())
    lines = [f"  total {total / PROFILED * 1000:.2f} ms CPU per settlement under cProfile"]
    for label, counter in (("package", by_package), ("function", by_function)):
        lines += [
            f"  {label:8} {share / total:5.1%}  {what}" for what, share in counter.most_common(10)
        ]
    return lines


# -- report ---------------------------------------------------------------------------------------


STARTED_S = time.monotonic()


def announce(text: str) -> None:
    print(f"  .. {time.monotonic() - STARTED_S:5.1f} s  {text}", flush=True)


def case_lines(cases: Sequence[Case], *, show_sql: bool) -> Iterator[str]:
    yield "Statements per settlement (PostgreSQL, warm programme cache, every call into asyncpg)"
    yield f"  {'case':44} {'outcome':13} {'queries':>7} {'+BEGIN/COMMIT':>13} {'+pool reset':>11}"
    for case in cases:
        yield (
            f"  {case.name:44} {case.outcome:13} {case.queries:7d} {case.with_transaction:13d} "
            f"{len(case.statements):11d}"
        )
    steady = cases[0].with_transaction
    verdict = "PASS" if steady <= TARGET_STATEMENTS else "MISS"
    yield (
        f"  target: case (a) <= {TARGET_STATEMENTS} statements, BEGIN and COMMIT included: "
        f"{steady} -> {verdict}"
    )
    for case in cases if show_sql else cases[:1]:
        yield ""
        yield f"  {case.name}, in order:"
        for number, statement in enumerate(case.statements, 1):
            note = "  (asyncpg's pool, on release)" if is_pool_reset(statement) else ""
            yield f"  {number:3d}  {abbreviate(statement)}{note}"


HEADER = (
    f"  {'':28} {'':>3} {'':>5}  {' settlements ':-^52}  {' baseline transactions ':-^36}\n"
    f"  {'phase':28} {'c':>3} {'n':>5}  {'per s':>7} {'p50 ms':>7} {'p99 ms':>7} {'stmt':>5} "
    f"{'cpu ms here/db':>14} {'x base':>7}  {'per s':>7} {'p50 ms':>7} {'stmt':>5} "
    f"{'cpu ms here/db':>14}"
)


def cpu(figures: Figures) -> str:
    here = figures.per_op(figures.cpu_process_s) * 1000
    database = figures.per_op(figures.cpu_database_s) * 1000
    return f"{here:.2f}/{database:.2f}" if figures.cpu_database_s else f"{here:.2f}/-"


def statements(figures: Figures) -> str:
    return f"{figures.per_op(figures.statements):5.1f}" if figures.statements else f"{'-':>5}"


def format_row(row: Row) -> str:
    settle, base = row.settle, row.baseline
    return (
        f"  {row.name:28} {row.concurrency:3d} {settle.count:5d}  {settle.rate:7.0f} "
        f"{settle.latency_ms(0.5):7.2f} {settle.latency_ms(0.99):7.2f} {statements(settle)} "
        f"{cpu(settle):>14} {settle.rate / base.rate:7.1%}  {base.rate:7.0f} "
        f"{base.latency_ms(0.5):7.2f} {statements(base)} {cpu(base):>14}"
    )


def cost_lines(row: Row) -> Iterator[str]:
    """Where a sequential settlement's time goes, per statement, beside the baseline's."""
    settle, base = row.settle, row.baseline
    for label, figures in (("settlement", settle), ("baseline", base)):
        if not figures.statements:
            continue
        wall = figures.seconds / figures.statements * 1e6
        here = figures.cpu_process_s / figures.statements * 1e6
        database = figures.cpu_database_s / figures.statements * 1e6
        yield (
            f"  {row.name}, {label}: {wall:4.0f} µs per statement = {here:4.0f} µs CPU here + "
            f"{database:4.0f} µs CPU in PostgreSQL + {max(0.0, wall - here - database):4.0f} µs "
            "waiting (round trips, scheduling)"
        )


def noise(rows: Sequence[Row]) -> Iterator[str]:
    figures = [(row.name, f) for row in rows for f in (row.settle, row.baseline)]
    name, busiest = max(figures, key=lambda pair: pair[1].cpu_other)
    if busiest.cpu_other > NOISY:
        yield (
            f"  note: other processes kept {busiest.cpu_other:.2f} cores busy during '{name}': "
            "the figures are noisier than on a quiet machine"
        )


@dataclass
class Results:
    cases: list[Case] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    profile: list[str] = field(default_factory=list)
    check: Check = field(default_factory=Check)


def report(results: Results, options: Options) -> None:
    print()
    for line in case_lines(results.cases, show_sql=options.show_sql):
        print(line)
    print()
    print("Throughput from one process (x base: settlements per second / baseline's per second)")
    print(HEADER)
    for row in results.rows:
        print(format_row(row))
    print(
        "  stmt: statements sent per operation, BEGIN, COMMIT and the pool's reset included; "
        "cpu ms: this process / PostgreSQL's backends, per operation.\n"
        "  baseline: BEGIN; SELECT 1 FROM bench_row WHERE id = $1 FOR UPDATE; UPDATE bench_row "
        "SET n = n + 1 WHERE id = $1; COMMIT\n"
        "  (a row of its own per transaction, one row for all in the one-member phase; "
        "SQLite has no FOR UPDATE)."
    )
    print()
    print("Per statement, in sequence (PostgreSQL)")
    for line in [*cost_lines(results.rows[0]), *noise(results.rows)]:
        print(line)
    if results.profile:
        print()
        print(f"This process's CPU in {PROFILED} settlements (cProfile, self time)")
        for line in results.profile:
            print(line)
    print()
    print("Correctness, from the database")
    for line in results.check.lines:
        print(line)


# -- the run --------------------------------------------------------------------------------------


def postmaster_pid(server: PostgresServer) -> int:
    return int((server.data / "postmaster.pid").read_text().split("\n", 1)[0])


async def measure_postgres(options: Options, server: PostgresServer, workdir: Path) -> Results:
    results = Results()
    n = options.settlements
    database_url = await create_postgres_database(server.url, SEED_DB)
    settings = make_settings(workdir / "postgres", database_url)
    log = StatementLog()
    async with db.open_database(settings):
        announce("PostgreSQL: migrating, seeding members")
        await db.migrate()
        shop = await Shop.create(
            settings, max(n, WARMUP, PROFILED), math.ceil(n / CONTENDED_PER_MEMBER)
        )
        await create_rows(POSTGRES, max(n, WARMUP))
        bench = Bench(shop, POSTGRES, Meter(log, postmaster_pid(server)))
        with recording(log):
            await bench.warm_up(max(options.concurrency))
            results.cases = await count_cases(shop, log)
            results.rows.append(await bench.distinct("PostgreSQL, in sequence", n, 1))
            for concurrency in options.concurrency:
                row = await bench.distinct("PostgreSQL, distinct members", n, concurrency)
                results.rows.append(row)
            results.rows.append(await bench.one_member(n, options.contended))
        if options.profile:
            results.profile = await profile_settlements(shop)
        await check_database(results.check, POSTGRES.name)
    return results


async def measure_sqlite(options: Options, workdir: Path, results: Results) -> None:
    n = options.sqlite
    # tortoise caches SQL by connection name, not dialect; programmes are cached by brand id.
    EXECUTOR_CACHE.clear()
    forget_programmes()
    settings = make_settings(workdir / "sqlite", f"sqlite://{workdir / 'settle.sqlite3'}")
    async with db.open_database(settings):
        announce("SQLite: migrating, seeding members")
        await db.migrate()
        shop = await Shop.create(settings, max(n, WARMUP), 0)
        await create_rows(SQLITE, max(n, WARMUP))
        bench = Bench(shop, SQLITE, Meter(StatementLog(), 0))
        await bench.warm_up(1)
        results.rows.append(await bench.distinct("SQLite, in sequence", n, 1))
        await check_database(results.check, SQLITE.name)


async def measure(options: Options, server: PostgresServer, workdir: Path) -> Results:
    results = await measure_postgres(options, server, workdir)
    if options.sqlite:
        await measure_sqlite(options, workdir, results)
    return results


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python bench/settle.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--settlements", type=int, default=1000, help="settlements per PostgreSQL phase"
    )
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[8, 32], help="settlements at once"
    )
    parser.add_argument(
        "--contended", type=int, default=32, help="one member's settlements at once"
    )
    parser.add_argument(
        "--sqlite", type=int, default=500, help="settlements in sequence on SQLite (0: skip)"
    )
    parser.add_argument("--sql", action="store_true", help="list every case's statements")
    parser.add_argument(
        "--profile", action="store_true", help="where this process's CPU goes, by package"
    )
    args = parser.parse_args(argv)
    if args.settlements < 1 or args.sqlite < 0 or min(args.concurrency, default=0) < 1:
        parser.error("--settlements and --concurrency must be at least 1, --sqlite at least 0")
    if args.contended < 1:
        parser.error("--contended must be at least 1")
    return Options(
        args.settlements,
        tuple(args.concurrency),
        args.contended,
        args.sqlite,
        show_sql=args.sql,
        profile=args.profile,
    )


def main(argv: Sequence[str] | None = None) -> None:
    options = parse_args(argv)
    # SIGTERM stops the run the way Ctrl-C does: PostgreSQL stopped, files removed.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    workdir = Path(tempfile.mkdtemp(prefix="wxhub-bench-settle-"))
    pool = make_settings(workdir).database.pool_max_size
    print(
        f"wxhub settlement: {options.settlements} settlements per phase, concurrency "
        f"{', '.join(map(str, options.concurrency))} and {options.contended} on one member, "
        f"pool of {pool} connections, {os.cpu_count()} CPUs",
        flush=True,
    )
    server = PostgresServer()
    try:
        announce("starting PostgreSQL")
        server.start()
        results = asyncio.run(measure(options, server, workdir))
    except KeyboardInterrupt:
        print("interrupted: stopping PostgreSQL, removing temporary files", file=sys.stderr)
        sys.exit(130)
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    report(results, options)
    sys.exit(1 if results.check.failed else 0)


if __name__ == "__main__":
    main()
