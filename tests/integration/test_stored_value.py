"""Stored value: recharges with bonus tiers, paying with the balance, refunds giving it back."""

from datetime import UTC, datetime, timedelta

import pytest

from hub.errors import DomainError
from hub.models.member import Member
from hub.models.order import Order, OrderStatus, RefundStatus
from hub.models.outbox import OutboxMessage
from hub.models.points import PointsEntry
from hub.models.stored_value import StoredValueEntry, StoredValueKind
from hub.services import orders, refunds
from hub.services.audit import Actor
from hub.services.members import create_member
from hub.services.orders import SaleRequest
from hub.services.refunds import RefundResult
from hub.settings import Settings
from hub.vault import load_vault
from tests import builders
from tests.builders import MCHID, HubBrand

ACTOR = Actor.cli()


@pytest.fixture
async def hub(db: None, settings: Settings) -> HubBrand:
    hub = await builders.create_hub_brand(load_vault(settings))
    await builders.apply_programme(hub)
    return hub


@pytest.fixture
async def member(hub: HubBrand, settings: Settings) -> Member:
    return await create_member(hub.brand, load_vault(settings))


target = builders.pay_target


pay = builders.pay_order


async def refund_notice(hub: HubBrand, order: Order, out_refund_no: str, fen: int) -> str:
    return await refunds.apply_refund_notification(
        hub.brand.id,
        RefundResult(MCHID, order.out_trade_no, out_refund_no, "SUCCESS", fen, order.wechat_fen),
    )


async def recharge(hub: HubBrand, member: Member, amount_fen: int) -> Order:
    order = await orders.create_recharge(member, amount_fen, target())
    assert await pay(hub, order) == "paid"
    return order


async def balances(member: Member) -> tuple[int, int]:
    fresh = await Member.get(id=member.id)
    return fresh.sv_principal_fen, fresh.sv_bonus_fen


async def assert_ledger_matches(member: Member) -> None:
    fresh = await Member.get(id=member.id)
    entries = await StoredValueEntry.filter(member_id=member.id)
    assert sum(e.principal_delta for e in entries) == fresh.sv_principal_fen
    assert sum(e.bonus_delta for e in entries) == fresh.sv_bonus_fen
    assert min(fresh.sv_principal_fen, fresh.sv_bonus_fen) >= 0


async def test_a_recharge_credits_principal_and_its_tier_bonus_once(
    hub: HubBrand, member: Member
) -> None:
    order = await recharge(hub, member, 100_000)

    assert await pay(hub, order) == "already_paid"
    assert await balances(member) == (100_000, 20_000)
    assert order.recharge_bonus_fen == 20_000
    assert not await PointsEntry.exists(member_id=member.id, kind="earn")  # recharges earn none
    await assert_ledger_matches(member)


async def test_a_sale_paid_with_the_balance_takes_principal_then_bonus_and_settles_at_once(
    hub: HubBrand, member: Member
) -> None:
    await recharge(hub, member, 50_000)  # 50,000 + 5,000 bonus
    sale = SaleRequest(hub.store, 52_000, stored_value_fen=52_000)

    order = await orders.create_sale(member, sale, None, datetime.now(UTC))

    assert (order.sv_principal_fen, order.sv_bonus_fen) == (50_000, 2_000)
    paid = await Order.get(id=order.id)
    assert paid.status is OrderStatus.PAID
    assert paid.points_earned == 520  # stored value spent earns points like any payment
    assert await balances(member) == (0, 3_000)
    await assert_ledger_matches(member)


async def test_a_mixed_payment_holds_the_balance_until_paid_or_gives_it_back_when_closed(
    hub: HubBrand, member: Member
) -> None:
    await recharge(hub, member, 50_000)
    sale = SaleRequest(hub.store, 20_000, stored_value_fen=8_000)
    order = await orders.create_sale(member, sale, target(), datetime.now(UTC))
    assert order.wechat_fen == 12_000
    assert await balances(member) == (42_000, 5_000)

    later = datetime.now(UTC) + timedelta(minutes=30)
    assert await orders.close_expired_orders(later, timedelta(minutes=2)) == 1
    assert await orders.close_expired_orders(later, timedelta(minutes=2)) == 0

    assert (await Order.get(id=order.id)).status is OrderStatus.CLOSED
    assert await balances(member) == (50_000, 5_000)
    assert await pay(hub, order) == "paid_after_close"
    await assert_ledger_matches(member)


async def test_more_stored_value_than_the_balance_is_refused_and_changes_nothing(
    hub: HubBrand, member: Member
) -> None:
    sale = SaleRequest(hub.store, 10_000, stored_value_fen=1)

    with pytest.raises(DomainError) as refused:
        await orders.create_sale(member, sale, target(), datetime.now(UTC))

    assert refused.value.reason == "insufficient_balance"
    assert not await Order.exists()


async def test_refunding_a_mixed_sale_gives_back_both_parts_in_proportion(
    hub: HubBrand, member: Member
) -> None:
    await recharge(hub, member, 50_000)
    sale = SaleRequest(hub.store, 20_000, stored_value_fen=8_000)
    order = await orders.create_sale(member, sale, target(), datetime.now(UTC))
    assert await pay(hub, order) == "paid"

    first, _ = await refunds.request_refund(order, 5_000, "one cup spilt", ACTOR, "R1")
    assert (first.stored_value_fen, first.wechat_fen) == (2_000, 3_000)
    with pytest.raises(DomainError) as busy:
        await refunds.request_refund(order, 1_000, "again", ACTOR, "R2")
    assert busy.value.reason == "refund_in_progress"
    assert await balances(member) == (42_000, 5_000)  # given back with the WeChat part
    outbox = await OutboxMessage.get(key=f"refund:{first.id}")
    assert outbox.payload == {"refund_id": first.id}

    assert await refund_notice(hub, order, "R1", 3_000) == "refunded"
    assert await refund_notice(hub, order, "R1", 3_000) == "already_refunded"
    assert await balances(member) == (44_000, 5_000)
    rest, _ = await refunds.request_refund(order, 15_000, "all of it", ACTOR, "R2")
    assert await refund_notice(hub, order, "R2", rest.wechat_fen) == "refunded"

    final = await Order.get(id=order.id)
    assert final.status is OrderStatus.REFUNDED
    assert await balances(member) == (50_000, 5_000)
    fresh = await Member.get(id=member.id)
    assert (fresh.points_balance, fresh.total_spend_fen) == (0, 0)
    await assert_ledger_matches(member)


async def test_a_sale_paid_only_with_stored_value_is_refunded_at_once(
    hub: HubBrand, member: Member
) -> None:
    await recharge(hub, member, 50_000)
    order = await orders.create_sale(
        member, SaleRequest(hub.store, 9_000, stored_value_fen=9_000), None, datetime.now(UTC)
    )

    refund, created = await refunds.request_refund(order, 9_000, "wrong drink", ACTOR, "R9")

    assert refund.wechat_fen == 0
    assert created
    assert await refunds.request_refund(order, 9_000, "retry", ACTOR, "R9") == (refund, False)
    assert (await type(refund).get(id=refund.id)).status is RefundStatus.SUCCEEDED
    assert await balances(member) == (50_000, 5_000)
    assert not await OutboxMessage.exists()


async def test_a_refunded_recharge_holds_its_principal_and_takes_its_bonus(
    hub: HubBrand, member: Member
) -> None:
    order = await recharge(hub, member, 100_000)

    refund, _ = await refunds.request_refund(order, 50_000, "changed my mind", ACTOR, "RR1")

    # Held at once: the member cannot spend what is being paid back.
    assert await balances(member) == (50_000, 10_000)
    assert refund.wechat_fen == 50_000
    assert await refund_notice(hub, order, "RR1", 50_000) == "refunded"
    assert await balances(member) == (50_000, 10_000)
    revoke = await StoredValueEntry.get(kind=StoredValueKind.REVOKE)
    assert (revoke.principal_delta, revoke.bonus_delta) == (-50_000, -10_000)
    await assert_ledger_matches(member)


async def test_a_recharge_already_spent_cannot_be_refunded(hub: HubBrand, member: Member) -> None:
    order = await recharge(hub, member, 50_000)
    await orders.create_sale(
        member, SaleRequest(hub.store, 30_000, stored_value_fen=30_000), None, datetime.now(UTC)
    )

    with pytest.raises(DomainError) as refused:
        await refunds.request_refund(order, 50_000, "cash out", ACTOR, "RR2")

    assert refused.value.reason == "balance_spent"


async def test_a_refund_wechat_closes_gives_back_the_held_principal(
    hub: HubBrand, member: Member
) -> None:
    order = await recharge(hub, member, 50_000)
    await refunds.request_refund(order, 50_000, "cash out", ACTOR, "RR3")
    assert await balances(member) == (0, 0)

    closed = await refunds.apply_refund_notification(
        hub.brand.id, RefundResult(MCHID, order.out_trade_no, "RR3", "CLOSED", 50_000, 50_000)
    )

    assert closed == "refund_closed"
    assert await balances(member) == (50_000, 5_000)
    assert (await Order.get(id=order.id)).status is OrderStatus.PAID
    await assert_ledger_matches(member)


async def test_brands_may_let_members_keep_the_bonus_of_a_refunded_recharge(
    hub: HubBrand, member: Member
) -> None:
    await builders.apply_programme(hub, bonus_refundable=True)
    order = await recharge(hub, member, 100_000)

    await refunds.request_refund(order, 100_000, "cash out", ACTOR, "RR4")

    assert await balances(member) == (0, 20_000)


async def test_unpaid_orders_beyond_one_batch_are_all_closed_in_one_run(
    hub: HubBrand, member: Member
) -> None:
    for _ in range(5):
        await orders.create_sale(member, SaleRequest(hub.store, 1_000), target(), datetime.now(UTC))

    later = datetime.now(UTC) + timedelta(minutes=30)
    assert await orders.close_expired_orders(later, timedelta(minutes=2), batch=2) == 5
    assert await Order.filter(member_id=member.id, status=OrderStatus.CREATED).count() == 0
