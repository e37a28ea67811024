"""A coupon on a mini-program sale: reserved, used when paid, released or given back after.

Reserved with the order, used when it is paid, released when it closes unpaid, given back or
voided when it is refunded in full. Every function runs inside the caller's transaction, with
the member already locked (lock order member → coupon). Only money coupons apply to a payment:
a gift or a count card is redeemed by a clerk at the till.
"""

import logging
from datetime import datetime

from hub.errors import DomainError, NotFoundError
from hub.models.brand import Store
from hub.models.coupon import (
    Coupon,
    CouponKind,
    CouponStatus,
    CouponTemplate,
    Redemption,
    RefundRule,
)
from hub.models.member import Member
from hub.models.order import Order
from hub.services.coupons import benefit, check_usable

log = logging.getLogger(__name__)

_PAYABLE = frozenset({CouponKind.CASH_OFF, CouponKind.PERCENT_OFF})


async def coupon_discount(
    member: Member, coupon_id: int, store: Store, amount_fen: int, now: datetime
) -> tuple[Coupon, int]:
    """The member's coupon, locked, and what it takes off `amount_fen` in the store now.

    Raises:
        NotFoundError: "coupon_not_found" (also another member's).
        DomainError: "coupon_not_payable" (a gift or count card), the reasons of
            coupons.check_usable, "below_threshold".
    """
    coupon = await Coupon.select_for_update().get_or_none(id=coupon_id, member_id=member.id)
    if coupon is None:
        raise NotFoundError("coupon_not_found", f"no coupon {coupon_id} of yours")
    template = await CouponTemplate.get(id=coupon.template_id)
    if template.kind not in _PAYABLE:
        raise DomainError("coupon_not_payable", "show this coupon to the clerk instead")
    check_usable(coupon, template, store, now)
    return coupon, benefit(template, amount_fen).discount_fen


async def reserve(coupon: Coupon, order: Order) -> None:
    """Hold the (locked) coupon for the unpaid order."""
    coupon.status, coupon.reserved_order_id = CouponStatus.RESERVED, order.id
    await coupon.save(update_fields=["status", "reserved_order_id", "updated_at"])


async def use_for(order: Order, now: datetime) -> None:
    """The order is paid: its coupon's use is spent, recorded as a redemption in its store."""
    if order.coupon_id is None or order.store_id is None:
        return
    coupon = await Coupon.select_for_update().get(id=order.coupon_id)
    if coupon.reserved_order_id != order.id:
        log.warning("coupon %s is not held by order %s", coupon.id, order.out_trade_no)
        return
    coupon.uses_left -= 1
    coupon.status = CouponStatus.USED if coupon.uses_left < 1 else CouponStatus.AVAILABLE
    coupon.reserved_order_id = None
    await coupon.save(update_fields=["uses_left", "status", "reserved_order_id", "updated_at"])
    await Redemption.create(
        brand_id=order.brand_id,
        coupon_id=coupon.id,
        template_id=coupon.template_id,
        member_id=coupon.member_id,
        store_id=order.store_id,
        order_id=order.id,
        order_ref=order.out_trade_no,
        # What the coupon was applied to, as a till reports it: the amount before it.
        order_amount_fen=order.amount_fen + order.coupon_discount_fen,
        discount_fen=order.coupon_discount_fen,
        redemption_key=f"order:{order.out_trade_no}",
        redeemed_at=now,
    )


async def release_for(order: Order, now: datetime) -> None:
    """The order closed unpaid: its coupon may be used again (or has expired meanwhile)."""
    if order.coupon_id is None:
        return
    coupon = await Coupon.select_for_update().get(id=order.coupon_id)
    if coupon.reserved_order_id != order.id:
        return
    coupon.status = _unused_status(coupon, now)
    coupon.reserved_order_id = None
    await coupon.save(update_fields=["status", "reserved_order_id", "updated_at"])


async def refund_for(order: Order, now: datetime) -> None:
    """The order is refunded in full: the use comes back, or the coupon is voided (template)."""
    if order.coupon_id is None:
        return
    coupon = await Coupon.select_for_update().get(id=order.coupon_id)
    template = await CouponTemplate.get(id=coupon.template_id)
    redemption = await Redemption.get_or_none(
        brand_id=order.brand_id, redemption_key=f"order:{order.out_trade_no}", undone_at=None
    )
    if redemption is None or coupon.status is CouponStatus.VOIDED:
        return  # never used by this order, or voided since: nothing to give back
    if template.refund_rule is RefundRule.VOID:
        coupon.status = CouponStatus.VOIDED
        await coupon.save(update_fields=["status", "updated_at"])
        return
    await Redemption.filter(id=redemption.id).update(undone_at=now)
    coupon.uses_left += 1
    if coupon.status is not CouponStatus.RESERVED:  # held by another order: it stays held
        coupon.status = _unused_status(coupon, now)
    await coupon.save(update_fields=["uses_left", "status", "updated_at"])


def _unused_status(coupon: Coupon, now: datetime) -> CouponStatus:
    return CouponStatus.EXPIRED if coupon.valid_until <= now else CouponStatus.AVAILABLE
