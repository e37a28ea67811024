"""Performance figures aggregated from sales and joins, without a database."""

from datetime import UTC, date, datetime, timedelta

import pytest

from hub.errors import InvalidValueError
from hub.services.performance import MAX_DAYS, Figures, Sale, check_range, tally

DAY_1 = date(2024, 3, 1)
DAY_2 = date(2024, 3, 2)
DAY_3 = date(2024, 3, 3)


def utc(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def sale(
    paid_at: datetime,
    member_id: int | None = None,
    order_no: int | None = None,
    amount_fen: int = 1000,
    refunded_fen: int = 0,
) -> Sale:
    return Sale(paid_at, member_id, order_no, amount_fen, refunded_fen)


def test_every_day_of_the_range_has_a_row_even_when_empty() -> None:
    report = tally(DAY_1, DAY_3, [], [])

    assert [day for day, _ in report.days] == [DAY_1, DAY_2, DAY_3]
    assert all(figures == Figures() for _, figures in report.days)
    assert report.total == Figures()
    assert report.total.repeat_rate is None


def test_sales_count_on_their_china_day() -> None:
    late_on_day_1 = utc(DAY_1, 15, 30)  # 23:30 in Beijing on day 1
    early_on_day_2 = utc(DAY_1, 16, 30)  # 00:30 in Beijing on day 2
    last_moment_of_day_1 = utc(DAY_1, 15, 59) + timedelta(seconds=59, microseconds=999_999)

    report = tally(
        DAY_1,
        DAY_2,
        [
            sale(late_on_day_1, amount_fen=100),
            sale(last_moment_of_day_1, amount_fen=20),
            sale(early_on_day_2, amount_fen=300),
        ],
        [],
    )

    (_, first), (_, second) = report.days
    assert (first.gmv_fen, first.orders) == (120, 2)
    assert (second.gmv_fen, second.orders) == (300, 1)


def test_sales_and_joins_outside_the_range_are_ignored() -> None:
    before = utc(DAY_1, 15, 59)  # 23:59 Beijing on day 1
    after = utc(DAY_2, 16, 0)  # 00:00 Beijing on day 3

    report = tally(DAY_2, DAY_2, [sale(before), sale(after)], [before, after])

    assert report.total == Figures()


def test_refunds_lower_the_net_of_the_day_the_sale_was_paid() -> None:
    report = tally(
        DAY_1,
        DAY_1,
        [sale(utc(DAY_1, 3), amount_fen=5000, refunded_fen=1200), sale(utc(DAY_1, 4))],
        [],
    )

    figures = report.days[0][1]
    assert (figures.gmv_fen, figures.refunded_fen, figures.net_fen) == (6000, 1200, 4800)
    assert figures.orders == 2


def test_walk_ins_are_orders_but_not_customers() -> None:
    report = tally(
        DAY_1, DAY_1, [sale(utc(DAY_1, 2)), sale(utc(DAY_1, 3), member_id=7, order_no=1)], []
    )

    figures = report.total
    assert (figures.orders, figures.customers, figures.repeat_customers) == (2, 1, 0)
    assert figures.repeat_rate == 0.0


def test_a_customer_buying_twice_in_a_day_counts_once() -> None:
    report = tally(
        DAY_1,
        DAY_1,
        [
            sale(utc(DAY_1, 2), member_id=7, order_no=1),
            sale(utc(DAY_1, 5), member_id=7, order_no=2),
        ],
        [],
    )

    figures = report.total
    assert (figures.orders, figures.customers, figures.repeat_customers) == (2, 1, 1)
    assert figures.repeat_rate == 1.0


def test_repeat_rate_is_rounded_to_four_places() -> None:
    sales = [
        sale(utc(DAY_1, 2), member_id=1, order_no=2),
        sale(utc(DAY_1, 2), member_id=2, order_no=1),
        sale(utc(DAY_1, 2), member_id=3, order_no=1),
    ]

    report = tally(DAY_1, DAY_1, sales, [])

    assert report.total.repeat_rate == 0.3333


def test_the_total_counts_customers_once_over_the_range() -> None:
    sales = [
        sale(utc(DAY_1, 2), member_id=1, order_no=1),
        sale(utc(DAY_2, 2), member_id=1, order_no=2),
        sale(utc(DAY_2, 3), member_id=2, order_no=3),
        sale(utc(DAY_3, 2), member_id=2, order_no=4),
        sale(utc(DAY_3, 4)),
    ]

    report = tally(DAY_1, DAY_3, sales, [])

    assert [f.customers for _, f in report.days] == [1, 2, 1]
    assert [f.repeat_customers for _, f in report.days] == [0, 2, 1]
    assert (report.total.customers, report.total.repeat_customers) == (2, 2)
    assert (report.total.orders, report.total.gmv_fen) == (5, 5000)
    assert report.total.repeat_rate == 1.0


def test_new_members_count_on_the_china_day_they_joined() -> None:
    joins = [utc(DAY_1, 15, 30), utc(DAY_1, 16, 30), utc(DAY_2, 1)]

    report = tally(DAY_1, DAY_2, [], joins)

    assert [f.new_members for _, f in report.days] == [1, 2]
    assert report.total.new_members == 3
    assert report.total.customers == 0


def test_a_range_of_one_day_is_accepted() -> None:
    check_range(DAY_1, DAY_1)
    check_range(DAY_1, DAY_1 + timedelta(days=MAX_DAYS - 1))


@pytest.mark.parametrize(
    ("first", "last", "reason"),
    [
        (DAY_2, DAY_1, "range_reversed"),
        (DAY_1, DAY_1 + timedelta(days=MAX_DAYS), "range_too_long"),
        (date(1999, 12, 31), DAY_1, "range_out_of_bounds"),
        (date.max, date.max, "range_out_of_bounds"),
        (date.min, date.min, "range_out_of_bounds"),
    ],
)
def test_bad_ranges_are_refused(first: date, last: date, reason: str) -> None:
    with pytest.raises(InvalidValueError) as refused:
        check_range(first, last)

    assert refused.value.reason == reason
    assert refused.value.message.startswith("range: ")
