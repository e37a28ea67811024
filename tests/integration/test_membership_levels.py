"""Levels move with what members do: joining, paying, inviting, buying a card, periods ending."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from hub.models.member import Member
from hub.models.membership import Level, LevelChange, LevelChangeReason
from hub.models.order import Order, OrderStatus
from hub.models.points import PointsEntry, PointsKind
from hub.services import levels, orders, settlement
from hub.services.members import create_member
from hub.services.settlement import PaymentResult
from hub.settings import Settings
from hub.vault import load_vault
from tests import builders
from tests.builders import APPID, MCHID, HubBrand


@pytest.fixture
async def hub(db: None, settings: Settings) -> HubBrand:
    hub = await builders.create_hub_brand(load_vault(settings))
    await builders.apply_programme(hub)
    return hub


async def new_member(hub: HubBrand, settings: Settings) -> Member:
    return await create_member(hub.brand, load_vault(settings))


async def pay(
    hub: HubBrand, member: Member, amount_fen: int, *, at: datetime | None = None
) -> Order:
    """A sale in s001 paid through the real settlement path."""
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
            paid_at=at or datetime.now(UTC),
            openid="o_payer",
        ),
    )
    assert outcome == "paid"
    return await Order.get(id=order.id)


async def level_of(member: Member) -> str:
    fresh = await Member.get(id=member.id)
    return (await Level.get(id=fresh.level_id)).code if fresh.level_id else "-"


async def test_a_new_member_joins_the_default_card_at_its_entry_level(
    hub: HubBrand, settings: Settings
) -> None:
    member = await new_member(hub, settings)

    assert await level_of(member) == "regular"
    change = await LevelChange.get(member_id=member.id)
    assert change.reason is LevelChangeReason.JOINED


async def test_payments_upgrade_in_the_same_transaction_with_gift_points_once(
    hub: HubBrand, settings: Settings
) -> None:
    member = await new_member(hub, settings)

    first = await pay(hub, member, 60_000)
    second = await pay(hub, member, 50_000)  # cumulative ¥1,100 ≥ ¥1,000: silver

    assert await level_of(member) == "silver"
    assert first.points_earned == 600  # regular: 1 point per yuan
    assert second.points_earned == 500  # earned at the level held when paying
    gifts = await PointsEntry.filter(member_id=member.id, kind=PointsKind.GIFT)
    assert [gift.delta for gift in gifts] == [100]
    upgrade = await LevelChange.get(member_id=member.id, reason=LevelChangeReason.CUMULATIVE_SPEND)
    assert upgrade.order_id == second.id
    third = await pay(hub, member, 10_000)
    assert third.points_earned == 150  # silver: 150 %
    assert (await Member.get(id=member.id)).points_balance == 600 + 500 + 100 + 150


async def test_rolling_spend_counts_only_the_window_and_jumps_levels_with_every_gift(
    hub: HubBrand, settings: Settings
) -> None:
    member = await new_member(hub, settings)
    await pay(hub, member, 200_000, at=datetime.now(UTC) - timedelta(days=400))  # outside 12 months
    assert await level_of(member) == "silver"  # cumulative ¥2,000

    await pay(hub, member, 300_000)

    assert await level_of(member) == "gold"
    gifts = await PointsEntry.filter(member_id=member.id, kind=PointsKind.GIFT).order_by("id")
    assert [gift.delta for gift in gifts] == [100, 300]


async def test_a_level_period_end_downgrades_to_what_is_still_reached(
    hub: HubBrand, settings: Settings
) -> None:
    member = await new_member(hub, settings)
    await pay(hub, member, 300_000)
    assert await level_of(member) == "gold"

    with time_machine.travel(datetime.now(UTC) + timedelta(days=370), tick=False):
        reviewed = await levels.review_due(datetime.now(UTC))

    assert reviewed == 1
    # The 12-month spend is gone, the lifetime spend still reaches silver.
    assert await level_of(member) == "silver"
    change = await LevelChange.filter(member_id=member.id).order_by("-id").first()
    assert change is not None
    assert change.reason is LevelChangeReason.PERIOD_END
    fresh = await Member.get(id=member.id)
    assert fresh.level_valid_until is not None
    assert fresh.level_valid_until > datetime.now(UTC) + timedelta(days=700)


async def test_refunds_do_not_lower_the_level_before_the_period_ends(
    hub: HubBrand, settings: Settings
) -> None:
    member = await new_member(hub, settings)
    order = await pay(hub, member, 120_000)
    await Order.filter(id=order.id).update(status=OrderStatus.REFUNDED, refunded_fen=120_000)
    await Member.filter(id=member.id).update(total_spend_fen=0)

    assert await levels.review_due(datetime.now(UTC)) == 0
    assert await level_of(member) == "silver"


async def test_every_period_that_ended_is_reviewed_however_many_batches_it_takes(
    hub: HubBrand, settings: Settings
) -> None:
    members = [await new_member(hub, settings) for _ in range(3)]
    for member in members:
        await pay(hub, member, 300_000)

    with time_machine.travel(datetime.now(UTC) + timedelta(days=370), tick=False):
        reviewed = await levels.review_due(datetime.now(UTC), batch=2)

    assert reviewed == 3
    assert [await level_of(member) for member in members] == ["silver"] * 3
