"""Store and guide performance by China day: GMV, refunds, orders, customers, repeat rate.

How it is computed: one query fetches the range's paid sales (five columns each, through
`.values()`) and one the joining moments of its new members; `tally` aggregates them in Python.
Grouping by a China day in SQL is spelt differently on SQLite and PostgreSQL (and tortoise has no
portable expression for it), distinct customers over the whole range cannot be summed from
per-day aggregates, and a range is capped at 92 days of one store or one guide (indexed on
store_id/guide_id, paid_at): tens of thousands of small rows at most, cheaper to count here than
to keep two dialects of SQL in step.

What counts: SALE orders that were paid (paid, partially_refunded, refunded), on the China day of
`paid_at`; their refunds count on that same day (net is what the day's sales kept). A store's new
members joined that day with it as home store; a guide's new members are the members they look
after now whose `guide_since` falls that day (a member who later changed guide counts for the
new guide only). A member merged into another is not counted again: merges move its orders to
the survivor, and its own joining is left out.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from hub.dates import beijing_day, day_start_utc
from hub.errors import InvalidValueError
from hub.models.member import Member
from hub.models.order import Order, OrderKind, OrderStatus

# A report is read online: a quarter (92 days) keeps its query and answer small.
MAX_DAYS = 92
# Orders exist only within these years; the bounds also keep day arithmetic clear of
# datetime's limits (date.max + 1 day overflows).
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2099, 12, 31)
# Paid sales, fully refunded ones included: their refunds lower the net, not the count.
_COUNTED = (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED)
_SALE_COLUMNS = ("paid_at", "member_id", "member_order_no", "amount_fen", "refunded_fen")
# A member's second and later paid sales are repeat purchases.
_REPEAT_FROM = 2
_RATE_DIGITS = 4


@dataclass(frozen=True)
class Sale:
    """One paid sale, as much of it as the figures need."""

    paid_at: datetime
    member_id: int | None  # None: a walk-in customer who is no member
    member_order_no: int | None
    amount_fen: int
    refunded_fen: int = 0

    @property
    def is_repeat(self) -> bool:
        return self.member_order_no is not None and self.member_order_no >= _REPEAT_FROM


@dataclass(frozen=True)
class Figures:
    """The performance of one day, or of a whole range."""

    gmv_fen: int = 0
    refunded_fen: int = 0
    orders: int = 0
    customers: int = 0
    repeat_customers: int = 0
    new_members: int = 0

    @property
    def net_fen(self) -> int:
        return self.gmv_fen - self.refunded_fen

    @property
    def repeat_rate(self) -> float | None:
        """Repeat customers over customers (4 decimals); None without customers."""
        if not self.customers:
            return None
        return round(self.repeat_customers / self.customers, _RATE_DIGITS)


@dataclass(frozen=True)
class Performance:
    """Figures for each day of a range (empty days included, in order) and for the range."""

    first_day: date
    last_day: date
    days: list[tuple[date, Figures]]
    total: Figures


def check_range(first_day: date, last_day: date) -> None:
    """Raises InvalidValueError unless the range is forwards, at most MAX_DAYS and in bounds."""
    if not EARLIEST_DAY <= first_day <= LATEST_DAY or not EARLIEST_DAY <= last_day <= LATEST_DAY:
        raise InvalidValueError(
            "range", f"days must lie between {EARLIEST_DAY} and {LATEST_DAY}", "range_out_of_bounds"
        )
    if last_day < first_day:
        raise InvalidValueError(
            "range",
            f"the last day {last_day} is before the first day {first_day}",
            "range_reversed",
        )
    if (days := (last_day - first_day).days + 1) > MAX_DAYS:
        raise InvalidValueError(
            "range", f"{days} days asked for, at most {MAX_DAYS} at a time", "range_too_long"
        )


async def store_performance(
    brand_id: int, store_id: int, first_day: date, last_day: date
) -> Performance:
    """A store's figures per China day from `first_day` to `last_day`, both included.

    Raises:
        InvalidValueError: a reversed range, one over MAX_DAYS days, or days out of bounds.
    """
    check_range(first_day, last_day)
    start, end = day_start_utc(first_day), day_start_utc(last_day + timedelta(days=1))
    sales = await _sales(brand_id=brand_id, store_id=store_id, paid_at__gte=start, paid_at__lt=end)
    joined = await _joins(
        "created_at",
        brand_id=brand_id,
        home_store_id=store_id,
        created_at__gte=start,
        created_at__lt=end,
    )
    return tally(first_day, last_day, sales, joined)


async def guide_performance(
    brand_id: int, staff_id: int, first_day: date, last_day: date
) -> Performance:
    """A guide's figures per China day: sales attributed to them, members they took on.

    Raises:
        InvalidValueError: a reversed range, one over MAX_DAYS days, or days out of bounds.
    """
    check_range(first_day, last_day)
    start, end = day_start_utc(first_day), day_start_utc(last_day + timedelta(days=1))
    sales = await _sales(brand_id=brand_id, guide_id=staff_id, paid_at__gte=start, paid_at__lt=end)
    joined = await _joins(
        "guide_since",
        brand_id=brand_id,
        guide_id=staff_id,
        guide_since__gte=start,
        guide_since__lt=end,
    )
    return tally(first_day, last_day, sales, joined)


async def _sales(**where: Any) -> list[Sale]:
    rows = await Order.filter(kind=OrderKind.SALE, status__in=_COUNTED, **where).values(
        *_SALE_COLUMNS
    )
    return [
        Sale(
            paid_at=row["paid_at"],
            member_id=row["member_id"],
            member_order_no=row["member_order_no"],
            amount_fen=int(row["amount_fen"]),
            refunded_fen=int(row["refunded_fen"]),
        )
        for row in rows
    ]


async def _joins(column: str, **where: Any) -> list[datetime]:
    """When each member joined (`column`), leaving out members merged into another."""
    rows = await Member.filter(merged_into_id=None, **where).values(column)
    return [row[column] for row in rows]


def tally(
    first_day: date, last_day: date, sales: Iterable[Sale], joined: Iterable[datetime]
) -> Performance:
    """Aggregate sales and joining moments into per-day and whole-range figures.

    Sales and joins outside the range's China days are ignored. Customers and repeat customers
    of the total are distinct over the range, not sums of the days.
    """
    days = [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]
    tallies = {day: _Tally() for day in days}
    whole = _Tally()
    for sale in sales:
        if (tally_of_day := tallies.get(beijing_day(sale.paid_at))) is not None:
            tally_of_day.add(sale)
            whole.add(sale)
    for moment in joined:
        if (tally_of_day := tallies.get(beijing_day(moment))) is not None:
            tally_of_day.new_members += 1
            whole.new_members += 1
    return Performance(
        first_day, last_day, [(day, tallies[day].figures()) for day in days], whole.figures()
    )


class _Tally:
    """Running sums and the member sets behind the distinct counts."""

    def __init__(self) -> None:
        self.gmv_fen = 0
        self.refunded_fen = 0
        self.orders = 0
        self.new_members = 0
        self.customers: set[int] = set()
        self.repeat_customers: set[int] = set()

    def add(self, sale: Sale) -> None:
        self.gmv_fen += sale.amount_fen
        self.refunded_fen += sale.refunded_fen
        self.orders += 1
        if sale.member_id is not None:
            self.customers.add(sale.member_id)
            if sale.is_repeat:
                self.repeat_customers.add(sale.member_id)

    def figures(self) -> Figures:
        return Figures(
            gmv_fen=self.gmv_fen,
            refunded_fen=self.refunded_fen,
            orders=self.orders,
            customers=len(self.customers),
            repeat_customers=len(self.repeat_customers),
            new_members=self.new_members,
        )
