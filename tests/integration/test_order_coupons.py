"""A money coupon on a mini-program sale: reserved with the order, used when it is paid,
released when it closes unpaid, given back or voided when it is refunded in full."""

from datetime import UTC, datetime, timedelta

import pytest

from hub.errors import AlreadyExistsError, DomainError, NotFoundError
from hub.models.brand import Store
from hub.models.coupon import Coupon, CouponStatus, Redemption
from hub.models.member import Member
from hub.models.membership import Level
from hub.models.order import Order, OrderStatus
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


async def sale(member: Member, request: SaleRequest) -> Order:
    return await orders.create_sale(member, request, target(), datetime.now(UTC))


pay = builders.pay_order


async def at_level(member: Member, code: str) -> Member:
    level = await Level.get(brand_id=member.brand_id, code=code)
    await Member.filter(id=member.id).update(level_id=level.id)
    return await Member.get(id=member.id)


async def recharge(hub: HubBrand, member: Member, amount_fen: int) -> None:
    order = await orders.create_recharge(member, amount_fen, target())
    assert await pay(hub, order) == "paid"


async def refund(order: Order, fen: int, number: str) -> None:
    await refunds.request_refund(await Order.get(id=order.id), fen, "returned", ACTOR, number)


async def test_a_cash_off_coupon_comes_off_after_the_level_discount_and_is_used_when_paid(
    hub: HubBrand, member: Member
) -> None:
    template = await builders.create_coupon_template(hub.brand, "cash10", threshold_fen=9_600)
    coupon = await builders.give_coupon(template, member.id)
    member = await at_level(member, "silver")  # 5 % off

    # 10,000 less 5 % is 9,500: below the threshold, which counts after the level's discount.
    with pytest.raises(DomainError) as below:
        await sale(member, SaleRequest(hub.store, 10_000, coupon_id=coupon.id))
    order = await sale(member, SaleRequest(hub.store, 11_000, coupon_id=coupon.id))
    with pytest.raises(DomainError) as held:
        await sale(member, SaleRequest(hub.store, 20_000, coupon_id=coupon.id))

    assert below.value.reason == "below_threshold"
    assert held.value.reason == "coupon_reserved"
    assert await Order.filter(member_id=member.id).count() == 1
    assert (order.discount_fen, order.coupon_discount_fen) == (550, 1_000)
    assert (order.amount_fen, order.wechat_fen, order.coupon_id) == (9_450, 9_450, coupon.id)
    reserved = await Coupon.get(id=coupon.id)
    assert (reserved.status, reserved.reserved_order_id) == (CouponStatus.RESERVED, order.id)

    assert await pay(hub, order) == "paid"

    used = await Coupon.get(id=coupon.id)
    assert (used.status, used.uses_left, used.reserved_order_id) == (CouponStatus.USED, 0, None)
    redemption = await Redemption.get(coupon_id=coupon.id)
    assert redemption.store_id == hub.store.id
    assert (redemption.order_id, redemption.order_ref) == (order.id, order.out_trade_no)
    assert redemption.redemption_key == f"order:{order.out_trade_no}"
    assert (redemption.order_amount_fen, redemption.discount_fen) == (10_450, 1_000)
    assert (redemption.staff_id, redemption.undone_at) == (None, None)
    paid = await Order.get(id=order.id)
    assert paid.points_earned == 141  # 94 whole yuan after the coupon, at 150 % (silver)
    assert (await Member.get(id=member.id)).total_spend_fen == 9_450


async def test_a_percent_off_coupon_is_capped_at_its_face_value(
    hub: HubBrand, member: Member
) -> None:
    template = await builders.create_coupon_template(
        hub.brand, "pct20", kind="percent_off", percent_off=20, face_value_fen=1_500
    )
    small = await builders.give_coupon(template, member.id, "small")
    large = await builders.give_coupon(template, member.id, "large")

    first = await sale(member, SaleRequest(hub.store, 6_000, coupon_id=small.id))
    second = await sale(member, SaleRequest(hub.store, 50_000, coupon_id=large.id))

    assert (first.coupon_discount_fen, first.amount_fen) == (1_200, 4_800)
    assert (second.coupon_discount_fen, second.amount_fen) == (1_500, 48_500)


async def test_an_order_closed_unpaid_releases_its_coupon_or_expires_it_if_past_validity(
    hub: HubBrand, member: Member
) -> None:
    month = await builders.create_coupon_template(hub.brand, "month")
    day = await builders.create_coupon_template(hub.brand, "day", valid_days=1)
    lasting = await builders.give_coupon(month, member.id)
    short = await builders.give_coupon(day, member.id)
    await sale(member, SaleRequest(hub.store, 8_000, coupon_id=lasting.id))
    await sale(member, SaleRequest(hub.store, 8_000, coupon_id=short.id))

    later = datetime.now(UTC) + timedelta(days=2)
    assert await orders.close_expired_orders(later, timedelta(minutes=2)) == 2

    released = await Coupon.get(id=lasting.id)
    expired = await Coupon.get(id=short.id)
    assert (released.status, released.reserved_order_id) == (CouponStatus.AVAILABLE, None)
    assert (expired.status, expired.reserved_order_id) == (CouponStatus.EXPIRED, None)
    assert not await Redemption.exists(coupon_id__in=[lasting.id, short.id])
    again = await sale(member, SaleRequest(hub.store, 8_000, coupon_id=lasting.id))
    assert again.coupon_discount_fen == 1_000


async def test_a_full_refund_gives_the_use_back_when_the_template_restores(
    hub: HubBrand, member: Member
) -> None:
    template = await builders.create_coupon_template(hub.brand, "cash10")
    coupon = await builders.give_coupon(template, member.id)
    order = await sale(member, SaleRequest(hub.store, 8_000, coupon_id=coupon.id))
    assert await pay(hub, order) == "paid"

    await refund(order, 7_000, "RF-1")  # through WeChat Pay: applied when it reports success
    assert (await Coupon.get(id=coupon.id)).status is CouponStatus.USED
    outcome = await refunds.apply_refund_notification(
        hub.brand.id,
        RefundResult(MCHID, order.out_trade_no, "RF-1", "SUCCESS", 7_000, 7_000),
    )

    assert outcome == "refunded"
    assert (await Order.get(id=order.id)).status is OrderStatus.REFUNDED
    restored = await Coupon.get(id=coupon.id)
    assert (restored.status, restored.uses_left) == (CouponStatus.AVAILABLE, 1)
    redemption = await Redemption.get(coupon_id=coupon.id)
    assert redemption.undone_at is not None
    again = await sale(member, SaleRequest(hub.store, 8_000, coupon_id=coupon.id))
    assert again.coupon_discount_fen == 1_000


async def test_an_order_covered_by_coupon_and_stored_value_is_paid_at_once_using_the_coupon(
    hub: HubBrand, member: Member
) -> None:
    await recharge(hub, member, 50_000)
    template = await builders.create_coupon_template(hub.brand, "cash10")
    coupon = await builders.give_coupon(template, member.id)

    order = await sale(member, SaleRequest(hub.store, 6_000, 5_000, coupon_id=coupon.id))

    paid = await Order.get(id=order.id)
    assert (paid.status, paid.amount_fen, paid.wechat_fen) == (OrderStatus.PAID, 5_000, 0)
    assert (await Coupon.get(id=coupon.id)).status is CouponStatus.USED
    assert await Redemption.exists(coupon_id=coupon.id, order_id=order.id)


async def test_a_full_refund_voids_the_coupon_when_the_template_says_void(
    hub: HubBrand, member: Member
) -> None:
    await recharge(hub, member, 50_000)
    template = await builders.create_coupon_template(hub.brand, "once", refund_rule="void")
    coupon = await builders.give_coupon(template, member.id)
    order = await sale(member, SaleRequest(hub.store, 6_000, 5_000, coupon_id=coupon.id))

    await refund(order, 5_000, "RF-1")  # stored value only: applied at once

    assert (await Order.get(id=order.id)).status is OrderStatus.REFUNDED
    voided = await Coupon.get(id=coupon.id)
    assert (voided.status, voided.uses_left) == (CouponStatus.VOIDED, 0)
    assert (await Redemption.get(coupon_id=coupon.id)).undone_at is None


async def test_a_partial_refund_leaves_the_coupon_used_until_the_order_is_refunded_in_full(
    hub: HubBrand, member: Member
) -> None:
    await recharge(hub, member, 50_000)
    template = await builders.create_coupon_template(hub.brand, "cash10")
    coupon = await builders.give_coupon(template, member.id)
    order = await sale(member, SaleRequest(hub.store, 6_000, 5_000, coupon_id=coupon.id))

    await refund(order, 2_000, "RF-1")

    assert (await Order.get(id=order.id)).status is OrderStatus.PARTIALLY_REFUNDED
    assert (await Coupon.get(id=coupon.id)).status is CouponStatus.USED

    await refund(order, 3_000, "RF-2")

    assert (await Coupon.get(id=coupon.id)).status is CouponStatus.AVAILABLE


async def test_a_coupon_voided_after_its_use_stays_voided_when_the_order_is_refunded(
    hub: HubBrand, member: Member
) -> None:
    await recharge(hub, member, 50_000)
    template = await builders.create_coupon_template(hub.brand, "cash10")
    coupon = await builders.give_coupon(template, member.id)
    order = await sale(member, SaleRequest(hub.store, 6_000, 5_000, coupon_id=coupon.id))
    await Coupon.filter(id=coupon.id).update(status=CouponStatus.VOIDED)

    await refund(order, 5_000, "RF-1")

    assert (await Coupon.get(id=coupon.id)).status is CouponStatus.VOIDED
    assert (await Redemption.get(coupon_id=coupon.id)).undone_at is None


async def test_coupons_that_cannot_pay_are_refused_and_nothing_is_made(
    hub: HubBrand, member: Member, settings: Settings
) -> None:
    bund = await Store.get(brand=hub.brand, code="s002")
    gift = await builders.create_coupon_template(
        hub.brand, "tea", kind="gift", gift_name="奶茶", face_value_fen=0, threshold_fen=0
    )
    bund_only = await builders.create_coupon_template(
        hub.brand, "bund", store_scope="stores", stores=[bund.code]
    )
    cash = await builders.create_coupon_template(hub.brand, "cash10")
    someone = await create_member(hub.brand, load_vault(settings))
    gift_coupon = await builders.give_coupon(gift, member.id)
    bund_coupon = await builders.give_coupon(bund_only, member.id)
    theirs = await builders.give_coupon(cash, someone.id)

    with pytest.raises(DomainError) as not_payable:
        await sale(member, SaleRequest(hub.store, 8_000, coupon_id=gift_coupon.id))
    with pytest.raises(DomainError) as wrong_store:
        await sale(member, SaleRequest(hub.store, 8_000, coupon_id=bund_coupon.id))
    with pytest.raises(NotFoundError) as not_mine:
        await sale(member, SaleRequest(hub.store, 8_000, coupon_id=theirs.id))
    with pytest.raises(NotFoundError) as unknown:
        await sale(member, SaleRequest(hub.store, 8_000, coupon_id=999_999))

    assert not_payable.value.reason == "coupon_not_payable"
    assert wrong_store.value.reason == "wrong_store"
    assert not_mine.value.reason == unknown.value.reason == "coupon_not_found"
    assert not await Order.exists(member_id=member.id)
    assert {coupon.status for coupon in await Coupon.all()} == {CouponStatus.AVAILABLE}
    accepted = await sale(member, SaleRequest(bund, 8_000, coupon_id=bund_coupon.id))
    assert accepted.coupon_discount_fen == 1_000


async def test_the_same_idempotency_key_with_another_coupon_is_refused(
    hub: HubBrand, member: Member
) -> None:
    template = await builders.create_coupon_template(hub.brand, "cash10")
    first_coupon = await builders.give_coupon(template, member.id, "first")
    other_coupon = await builders.give_coupon(template, member.id, "other")
    asked = SaleRequest(hub.store, 8_000, client_key="tap-1", coupon_id=first_coupon.id)

    first = await sale(member, asked)
    again = await sale(member, asked)
    with pytest.raises(AlreadyExistsError) as other:
        await sale(
            member, SaleRequest(hub.store, 8_000, client_key="tap-1", coupon_id=other_coupon.id)
        )
    with pytest.raises(AlreadyExistsError) as without:
        await sale(member, SaleRequest(hub.store, 8_000, client_key="tap-1"))

    assert again.id == first.id
    assert other.value.reason == without.value.reason == "idempotency_key_reused"
    assert (await Coupon.get(id=other_coupon.id)).status is CouponStatus.AVAILABLE
