"""Coupons given by rules — reaching a level, a birthday — and coupons expiring."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from hub.dates import BEIJING
from hub.errors import AlreadyExistsError, InvalidValueError
from hub.models.audit import AuditLog
from hub.models.coupon import Coupon, CouponStatus, CouponTemplate, IssueSource
from hub.models.member import Member
from hub.models.membership import CardType, Level
from hub.models.order import Order, OrderStatus
from hub.models.points import PointsEntry, PointsKind
from hub.services import birthdays, coupons, levels, merges, orders, settlement
from hub.services.audit import Actor
from hub.services.members import create_member
from hub.services.orders import PayTarget, SaleRequest
from hub.services.settlement import PaymentResult
from hub.settings import Settings
from hub.vault import load_vault
from tests import builders
from tests.builders import APPID, MCHID, HubBrand

ACTOR = Actor.cli()


@pytest.fixture
async def hub(db: None, settings: Settings) -> HubBrand:
    """A brand with templates `welcome`, `sold-out` (no stock) and `bday`, and no programme."""
    hub = await builders.create_hub_brand(load_vault(settings))
    await builders.create_coupon_template(hub.brand, "welcome")
    await builders.create_coupon_template(hub.brand, "sold-out", stock_total=0)
    await builders.create_coupon_template(hub.brand, "bday", valid_days=7)
    return hub


async def new_member(hub: HubBrand, settings: Settings) -> Member:
    return await create_member(hub.brand, load_vault(settings))


async def pay(hub: HubBrand, member: Member, amount_fen: int, at: datetime) -> Order:
    """A sale in s001 paid at `at` through the real settlement path."""
    order = await orders.create_order(
        hub.store, amount_fen, mchid=MCHID, appid=APPID, member=member
    )
    outcome = await settlement.settle_payment(
        hub.brand.id,
        PaymentResult(
            mchid=MCHID,
            appid=APPID,
            out_trade_no=order.out_trade_no,
            transaction_id="42" + order.out_trade_no[1:20],
            amount_fen=amount_fen,
            payer_fen=amount_fen,
            paid_at=at,
            openid="o_payer",
        ),
    )
    assert outcome == "paid"
    return order


async def level_of(member: Member) -> str:
    fresh = await Member.get(id=member.id)
    return (await Level.get(id=fresh.level_id)).code if fresh.level_id else "-"


async def template_of(coupon: Coupon) -> str:
    return (await CouponTemplate.get(id=coupon.template_id)).code


# -- upgrade coupons -------------------------------------------------------------------------


async def test_reaching_a_level_gives_its_coupons_once_in_the_payment_and_skips_sold_out_ones(
    hub: HubBrand, settings: Settings
) -> None:
    await builders.apply_programme(
        hub, levels={"silver": {"upgrade_coupons": ["sold-out", "welcome"]}}
    )
    member = await new_member(hub, settings)
    paid_at = datetime.now(UTC) - timedelta(minutes=5)

    await pay(hub, member, 100_000, paid_at)  # cumulative ¥1,000: silver

    assert await level_of(member) == "silver"
    given = await Coupon.filter(member_id=member.id)
    assert [await template_of(coupon) for coupon in given] == ["welcome"]
    silver = await Level.get(brand_id=hub.brand.id, code="silver")
    assert given[0].source is IssueSource.UPGRADE
    assert given[0].issue_key == f"member:{member.id}:level:{silver.id}:coupon:welcome"
    assert given[0].valid_from == paid_at  # issued by that payment, at its time
    assert (await CouponTemplate.get(code="sold-out")).issued_count == 0
    assert await PointsEntry.exists(member_id=member.id, kind=PointsKind.GIFT)

    # Down at the end of the period (the spend was refunded), then up again: nothing new.
    await Order.filter(member_id=member.id).update(
        status=OrderStatus.REFUNDED, refunded_fen=100_000
    )
    await Member.filter(id=member.id).update(total_spend_fen=0)
    with time_machine.travel(datetime.now(UTC) + timedelta(days=370), tick=False):
        assert await levels.review_due(datetime.now(UTC)) == 1
        assert await level_of(member) == "regular"
        await pay(hub, member, 100_000, datetime.now(UTC))

    assert await level_of(member) == "silver"
    assert await Coupon.filter(member_id=member.id).count() == 1


async def test_a_programme_naming_an_unknown_coupon_template_is_refused(
    hub: HubBrand,
) -> None:
    with pytest.raises(InvalidValueError) as upgrade:
        await builders.apply_programme(hub, levels={"silver": {"upgrade_coupons": ["nope"]}})
    with pytest.raises(InvalidValueError) as birthday:
        await builders.apply_programme(hub, levels={"gold": {"birthday_coupon": "nope"}})

    assert upgrade.value.reason == birthday.value.reason == "invalid_programme"
    assert "nope" in upgrade.value.message
    assert not await CardType.exists(brand_id=hub.brand.id)  # nothing was applied


async def test_the_programme_shows_the_coupons_its_levels_give(hub: HubBrand) -> None:
    await builders.apply_programme(
        hub, levels={"silver": {"upgrade_coupons": ["welcome"], "birthday_coupon": "bday"}}
    )

    silver = await Level.get(brand_id=hub.brand.id, code="silver")
    gold = await Level.get(brand_id=hub.brand.id, code="gold")
    assert (silver.upgrade_coupons, silver.birthday_coupon) == (["welcome"], "bday")
    assert (gold.upgrade_coupons, gold.birthday_coupon) == ([], "")


# -- birthdays -------------------------------------------------------------------------------


async def test_a_birthday_is_set_once_and_the_same_day_again_changes_nothing(
    hub: HubBrand, settings: Settings
) -> None:
    member = await new_member(hub, settings)
    actor = Actor.member(member.id)

    first = await birthdays.set_birthday(member.id, date(1990, 5, 20), actor)
    again = await birthdays.set_birthday(member.id, date(1990, 5, 20), actor)
    with pytest.raises(AlreadyExistsError) as other:
        await birthdays.set_birthday(member.id, date(1990, 5, 21), actor)
    with pytest.raises(InvalidValueError) as future:
        await birthdays.set_birthday(
            member.id, datetime.now(BEIJING).date() + timedelta(days=2), actor
        )

    assert (first.birthday, first.birthday_mmdd) == (date(1990, 5, 20), "0520")
    assert again.birthday == date(1990, 5, 20)
    assert other.value.reason == "birthday_already_set"
    assert future.value.reason == "invalid_value"
    assert (await Member.get(id=member.id)).birthday == date(1990, 5, 20)
    assert await AuditLog.filter(action="member.set_birthday").count() == 1


def china(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=BEIJING)


async def birthday_member(hub: HubBrand, settings: Settings, born: date, level: str) -> Member:
    member = await new_member(hub, settings)
    await birthdays.set_birthday(member.id, born, ACTOR)
    level_id = (await Level.get(brand_id=hub.brand.id, code=level)).id
    await Member.filter(id=member.id).update(level_id=level_id)
    return member


async def birthday_coupons(member: Member) -> list[str]:
    given = await Coupon.filter(member_id=member.id, source=IssueSource.BIRTHDAY).order_by("id")
    return [coupon.issue_key for coupon in given]


@pytest.fixture
async def birthday_programme(hub: HubBrand) -> HubBrand:
    """Silver and gold give `bday` on birthdays; regular gives nothing."""
    bday = {"birthday_coupon": "bday"}
    await builders.apply_programme(hub, levels={"silver": bday, "gold": bday})
    return hub


async def test_birthday_coupons_are_given_on_the_day_once_a_year_by_level(
    birthday_programme: HubBrand, settings: Settings
) -> None:
    hub = birthday_programme
    silver = await birthday_member(hub, settings, date(1990, 5, 20), "silver")
    regular = await birthday_member(hub, settings, date(1991, 5, 20), "regular")
    tomorrow = await birthday_member(hub, settings, date(1992, 5, 21), "gold")

    with time_machine.travel(china("2027-05-20"), tick=False):
        given = await birthdays.give_birthday_coupons(datetime.now(UTC))
    with time_machine.travel(china("2027-05-20", hour=23), tick=False):
        again = await birthdays.give_birthday_coupons(datetime.now(UTC), batch=1)
    with time_machine.travel(china("2028-05-20"), tick=False):
        next_year = await birthdays.give_birthday_coupons(datetime.now(UTC))

    assert (given, again, next_year) == (1, 0, 1)
    assert await birthday_coupons(silver) == [
        f"birthday:{silver.id}:2027",
        f"birthday:{silver.id}:2028",
    ]
    assert await birthday_coupons(regular) == []
    assert await birthday_coupons(tomorrow) == []


async def test_a_29_february_birthday_is_kept_on_28_february_in_other_years(
    birthday_programme: HubBrand, settings: Settings
) -> None:
    leapling = await birthday_member(birthday_programme, settings, date(2000, 2, 29), "silver")

    with time_machine.travel(china("2027-02-28"), tick=False):
        common_year = await birthdays.give_birthday_coupons(datetime.now(UTC))
    with time_machine.travel(china("2028-02-28"), tick=False):
        eve_of_leap_day = await birthdays.give_birthday_coupons(datetime.now(UTC))
    with time_machine.travel(china("2028-02-29"), tick=False):
        leap_day = await birthdays.give_birthday_coupons(datetime.now(UTC))

    assert (common_year, eve_of_leap_day, leap_day) == (1, 0, 1)
    assert await birthday_coupons(leapling) == [
        f"birthday:{leapling.id}:2027",
        f"birthday:{leapling.id}:2028",
    ]


async def test_a_merged_member_s_birthday_is_the_survivor_s_and_gives_one_coupon(
    birthday_programme: HubBrand, settings: Settings
) -> None:
    hub = birthday_programme
    survivor = await new_member(hub, settings)
    silver = await Level.get(brand_id=hub.brand.id, code="silver")
    await Member.filter(id=survivor.id).update(level_id=silver.id)
    merged = await birthday_member(hub, settings, date(1990, 5, 20), "silver")

    await merges.merge_members(survivor.id, merged.id, "phone", ACTOR)
    with time_machine.travel(china("2027-05-20"), tick=False):
        given = await birthdays.give_birthday_coupons(datetime.now(UTC))

    assert given == 1
    assert (await Member.get(id=survivor.id)).birthday == date(1990, 5, 20)
    assert await birthday_coupons(survivor) == [f"birthday:{survivor.id}:2027"]
    assert await Coupon.filter(member_id=merged.id).count() == 0


# -- expiry ----------------------------------------------------------------------------------


async def test_expiry_marks_available_coupons_past_validity_and_leaves_reserved_ones(
    hub: HubBrand, settings: Settings
) -> None:
    await builders.apply_programme(hub)
    member = await new_member(hub, settings)
    day = await builders.create_coupon_template(hub.brand, "day", valid_days=1)
    lapsing = await builders.give_coupon(day, member.id, "lapsing")
    held = await builders.give_coupon(day, member.id, "held")
    lasting = await builders.give_coupon(
        await CouponTemplate.get(code="welcome"), member.id, "lasting"
    )
    target = PayTarget(MCHID, APPID, "o_member", datetime.now(UTC) + timedelta(minutes=15))
    await orders.create_sale(
        member, SaleRequest(hub.store, 8_000, coupon_id=held.id), target, datetime.now(UTC)
    )

    later = datetime.now(UTC) + timedelta(days=2)
    assert await coupons.expire_coupons(later) == 1
    assert await coupons.expire_coupons(later) == 0

    statuses = {c.id: c.status for c in await Coupon.filter(member_id=member.id)}
    assert statuses == {
        lapsing.id: CouponStatus.EXPIRED,
        held.id: CouponStatus.RESERVED,
        lasting.id: CouponStatus.AVAILABLE,
    }
