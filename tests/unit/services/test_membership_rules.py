"""The arithmetic of membership: points, discounts, stored-value splits, levels, the spec."""

import copy
import itertools
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.dates import add_months, beijing_day, day_start_utc
from hub.errors import DomainError, InvalidValueError
from hub.models.member import Member
from hub.models.membership import CardKind, LevelChangeReason
from hub.models.order import Order
from hub.services.levels import MemberFacts, qualifying_level, rule_met
from hub.services.orders import level_discount_fen
from hub.services.points import earned_points
from hub.services.programme import (
    CardInfo,
    LevelInfo,
    Programme,
    StoreBonus,
    parse_spec,
)
from hub.services.refunds import refund_parts
from hub.services.stored_value import Split, share, spending_split
from tests.builders import PROGRAMME


def level(rank: int, **rules: int) -> LevelInfo:
    return LevelInfo(
        id=rank + 1,
        card_type_id=1,
        code=f"l{rank}",
        name=f"L{rank}",
        rank=rank,
        discount_percent=0,
        points_multiplier_percent=100,
        upgrade_gift_points=0,
        upgrade_coupons=(),
        birthday_coupon=None,
        rolling_spend_fen=rules.get("rolling_spend_fen"),
        rolling_months=rules.get("rolling_months"),
        cumulative_spend_fen=rules.get("cumulative_spend_fen"),
        min_invites=rules.get("min_invites"),
    )


CARD = CardInfo(
    id=1,
    code="member",
    name="Member",
    kind=CardKind.FREE,
    price_fen=0,
    validity_days=None,
    is_default=True,
    active=True,
    level_period_months=12,
    downgrade_at_period_end=True,
    levels=(
        level(0),
        level(1, cumulative_spend_fen=100_000),
        level(2, rolling_spend_fen=300_000, rolling_months=12, min_invites=5),
    ),
)


# -- points ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "multiplier", "bonus", "expected"),
    [
        (8_899, 100, 0, 88),  # whole yuan only
        (300, 150, 0, 4),  # 3 points at 150 % = 4.5, rounded down once
        (10_000, 150, 100, 300),  # level multiplier and store bonus
        (99, 200, 100, 0),
        (0, 100, 0, 0),
    ],
)
def test_points_are_whole_base_points_times_multiplier_and_bonus(
    amount: int, multiplier: int, bonus: int, expected: int
) -> None:
    assert earned_points(amount, 100, multiplier, bonus) == expected


def test_a_level_discount_never_lets_the_customer_pay_less_than_due() -> None:
    assert level_discount_fen(999, 5) == 49  # 49.95 rounds down
    assert level_discount_fen(10_000, 0) == 0


# -- stored value ----------------------------------------------------------------------------


def test_spending_takes_principal_first_and_bonus_last() -> None:
    member = Member(sv_principal_fen=300, sv_bonus_fen=200)

    assert spending_split(member, 250) == Split(250, 0)
    assert spending_split(member, 450) == Split(300, 150)
    with pytest.raises(DomainError) as refused:
        spending_split(member, 501)
    assert refused.value.reason == "insufficient_balance"


@given(
    value=st.integers(0, 10**7),
    total=st.integers(1, 10**7),
    cuts=st.lists(st.integers(1, 10**7), max_size=8),
)
def test_shares_of_slices_are_never_negative_and_add_up(
    value: int, total: int, cuts: list[int]
) -> None:
    edges = sorted({0, total, *(min(cut, total) for cut in cuts)})
    parts = [share(value, a, b, total) for a, b in itertools.pairwise(edges)]
    assert min(parts) >= 0
    assert sum(parts) == value


@given(
    amount=st.integers(1, 10**7),
    sv_share=st.floats(0, 1),
    bonus_share=st.floats(0, 1),
    refunds=st.lists(st.integers(1, 10**6), max_size=6),
)
def test_refunds_split_stored_value_and_wechat_parts_that_add_up(
    amount: int, sv_share: float, bonus_share: float, refunds: list[int]
) -> None:
    stored = int(amount * sv_share)
    bonus = int(stored * bonus_share)
    order = Order(
        amount_fen=amount,
        stored_value_fen=stored,
        sv_principal_fen=stored - bonus,
        sv_bonus_fen=bonus,
        refunded_fen=0,
    )
    sv_total = wechat_total = principal_total = 0
    for wanted in [*refunds, amount]:
        refund = min(wanted, amount - order.refunded_fen)
        if refund == 0:
            break
        sv_part, wechat_part = refund_parts(order, refund)
        assert min(wechat_part, sv_part.principal_fen, sv_part.bonus_fen) >= 0
        principal_total += sv_part.principal_fen
        sv_total += sv_part.total_fen
        wechat_total += wechat_part
        order.refunded_fen += refund
    assert sv_total == stored
    assert principal_total == stored - bonus
    assert wechat_total == amount - stored


# -- levels ----------------------------------------------------------------------------------


def test_any_one_rule_reaches_a_level() -> None:
    gold = CARD.levels[2]

    assert rule_met(gold, MemberFacts(0, 5, {})) is LevelChangeReason.INVITES
    assert rule_met(gold, MemberFacts(0, 0, {12: 300_000})) is LevelChangeReason.ROLLING_SPEND
    assert rule_met(gold, MemberFacts(10**9, 4, {12: 299_999})) is None


def test_the_highest_level_reached_wins() -> None:
    assert qualifying_level(CARD, MemberFacts(0, 0, {}))[0].rank == 0
    assert qualifying_level(CARD, MemberFacts(100_000, 0, {}))[0].rank == 1
    reached, reason = qualifying_level(CARD, MemberFacts(100_000, 7, {}))
    assert (reached.rank, reason) == (2, LevelChangeReason.INVITES)


# -- the programme ---------------------------------------------------------------------------


def programme(**changes: Any) -> Programme:
    base = Programme(
        brand_id=1,
        fen_per_point=100,
        points_valid_months=None,
        bonus_refundable=False,
        cards={1: CARD},
        levels={lv.id: lv for lv in CARD.levels},
        store_bonuses=(
            StoreBonus(7, "opening", 100, datetime(2026, 12, 1, tzinfo=UTC), None),
            StoreBonus(7, "weekend", 50, None, None),
        ),
        tiers=((50_000, 5_000), (100_000, 20_000)),
    )
    return replace(base, **changes)


def test_recharge_bonus_is_the_highest_tier_reached() -> None:
    assert programme().recharge_bonus_fen(49_999) == 0
    assert programme().recharge_bonus_fen(50_000) == 5_000
    assert programme().recharge_bonus_fen(250_000) == 20_000


def test_store_bonuses_do_not_add_up_and_respect_their_window() -> None:
    before = datetime(2026, 11, 30, tzinfo=UTC)
    during = datetime(2026, 12, 2, tzinfo=UTC)

    assert programme().store_bonus_percent(7, before) == 50
    assert programme().store_bonus_percent(7, during) == 100
    assert programme().store_bonus_percent(8, during) == 0
    assert programme().store_bonus_percent(None, during) == 0


def test_the_test_programme_is_a_valid_spec() -> None:
    spec = parse_spec(PROGRAMME)
    assert [card.code for card in spec.cards] == ["member", "plus"]


def test_codes_are_kept_in_their_one_written_form() -> None:
    spec = copy.deepcopy(PROGRAMME)
    spec["cards"][1]["code"] = " Plus "

    assert [card.code for card in parse_spec(spec).cards] == ["member", "plus"]


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda p: p["cards"][0]["levels"][0].update(min_invites=3), "rank 0"),
        (lambda p: p["cards"][0]["levels"][1].pop("cumulative_spend_fen"), "needs an upgrade"),
        (lambda p: p["cards"][0]["levels"][2].pop("rolling_months"), "go together"),
        (lambda p: p["cards"][0].update(default=False), "exactly one card"),
        (lambda p: p["cards"][1].update(price_fen=0), "paid card"),
        (lambda p: p["cards"][1].update(code="member"), "distinct"),
        (lambda p: p["cards"][0]["levels"][1].update(discount_percent=95), "less than or equal"),
        (lambda p: p["policy"].update(fen_per_point=0), "greater than or equal"),
        (lambda p: p.update(surprise=1), "Extra inputs"),
        (lambda p: p["cards"][0]["levels"][1].update(code="Not A Code"), "lowercase"),
        (lambda p: p["cards"][0]["levels"][1].update(code="GOLD"), "level codes must be distinct"),
        (lambda p: p["recharge_tiers"].append({"pay_fen": 6_000_000, "bonus_fen": 0}), "less than"),
        (
            lambda p: p["cards"].append(
                p["cards"][0]
                | {"code": "staff", "default": False}
                | {"levels": [p["cards"][0]["levels"][0] | {"code": "staff-0"}]}
            ),
            "only the default card may be free",
        ),
    ],
)
def test_a_bad_spec_is_refused_naming_the_problem(change: object, complaint: str) -> None:
    spec = copy.deepcopy(PROGRAMME)
    change(spec)  # type: ignore[operator]

    with pytest.raises(InvalidValueError) as refused:
        parse_spec(spec)
    assert complaint in refused.value.message


# -- dates -----------------------------------------------------------------------------------


def test_months_ahead_keep_the_day_or_the_month_end() -> None:
    assert add_months(datetime(2026, 1, 31, 10, tzinfo=UTC), 1) == datetime(
        2026, 2, 28, 10, tzinfo=UTC
    )
    assert add_months(datetime(2026, 11, 23, tzinfo=UTC), 14) == datetime(2028, 1, 23, tzinfo=UTC)
    assert add_months(datetime(2026, 3, 31, tzinfo=UTC), -1) == datetime(2026, 2, 28, tzinfo=UTC)


def test_china_days_start_at_sixteen_hundred_utc() -> None:
    late = datetime(2026, 11, 23, 15, 59, tzinfo=UTC)
    assert beijing_day(late).isoformat() == "2026-11-23"
    assert beijing_day(late.replace(hour=16)).isoformat() == "2026-11-24"
    assert day_start_utc(beijing_day(late)) == datetime(2026, 11, 22, 16, tzinfo=UTC)
