"""Settling a paid order: the WeChat Pay notification, or at once for stored value and POS.

Lock order: member, then order. A payment is checked against its order (merchant, app, the
WeChat part of the amount) before anything is credited; a mismatch becomes a PaymentAnomaly
row and nothing else. What the order brings — points at the member's level, spend, a level
upgrade, stored value, a card — moves in the same transaction as the order's status.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub import db
from hub.models.member import Member
from hub.models.order import Order, OrderKind, OrderStatus, PaymentAnomaly
from hub.models.points import PointsKind
from hub.models.stored_value import StoredValueKind
from hub.services import levels, order_coupons, stored_value
from hub.services.member_locks import lock_member_or_none
from hub.services.points import PointsChange, lot_expiry, points_for_sale, record_change
from hub.services.programme import Programme, load_programme


@dataclass(frozen=True)
class PaymentResult:
    """What a TRANSACTION.SUCCESS notification says about a payment."""

    mchid: str
    appid: str
    out_trade_no: str
    transaction_id: str
    amount_fen: int
    payer_fen: int
    paid_at: datetime
    openid: str


async def settle_payment(brand_id: int, payment: PaymentResult) -> str:
    """Mark the order paid and credit what it brings; returns the outcome code.

    Outcomes: "paid", "already_paid" (the same transaction again), or an anomaly kind
    ("unknown_order", "mchid_mismatch", "appid_mismatch", "amount_mismatch", "paid_twice",
    "paid_after_close").
    The order's created → paid step is one conditional update, so of two concurrent copies of
    a payment exactly one credits anything.
    """
    async with db.atomic():
        order = await Order.get_or_none(out_trade_no=payment.out_trade_no, brand_id=brand_id)
        if order is None:
            return await _anomaly(brand_id, None, payment, "unknown_order")
        mismatch = _mismatch(order, payment)
        if mismatch is not None:
            return await _anomaly(brand_id, order, payment, mismatch)
        member = await lock_member_or_none(order.member_id)
        if order.status is not OrderStatus.CREATED:
            return await _settled_before(brand_id, order.id, payment)
        programme = await load_programme(brand_id)
        if not await complete_order(
            order,
            member,
            programme,
            payment.paid_at,
            transaction_id=payment.transaction_id,
            payer_fen=payment.payer_fen,
        ):
            return await _settled_before(brand_id, order.id, payment)
        if member is not None:
            await member.save()
    return "paid"


async def complete_order(
    order: Order,
    member: Member | None,
    programme: Programme,
    paid_at: datetime,
    *,
    transaction_id: str | None,
    payer_fen: int | None = None,
) -> bool:
    """Mark a created order paid and credit the (locked) member; False if it was not created.

    The caller saves the member.
    """
    level = programme.level(member.level_id) if member else None
    sale = order.kind is OrderKind.SALE and member is not None
    points = (
        points_for_sale(programme, level, order.amount_fen, order.store_id, paid_at) if sale else 0
    )
    order_no = member.paid_orders_count + 1 if sale and member else None
    paid = await Order.filter(id=order.id, status=OrderStatus.CREATED).update(
        status=OrderStatus.PAID,
        transaction_id=transaction_id,
        payer_fen=payer_fen,
        paid_at=paid_at,
        points_earned=points,
        guide_id=member.guide_id if member else None,
        member_order_no=order_no,
    )
    if not paid:
        return False
    order.status, order.paid_at, order.points_earned = OrderStatus.PAID, paid_at, points
    order.guide_id = member.guide_id if member else None
    if order.coupon_id is not None:
        await order_coupons.use_for(order, paid_at)
    if member is not None:
        await _credit(order, member, programme, paid_at)
    return True


async def _credit(order: Order, member: Member, programme: Programme, paid_at: datetime) -> None:
    cause = levels.Cause(f"order:{order.out_trade_no}:level", order.id)
    if order.kind is OrderKind.SALE:
        member.total_spend_fen += order.amount_fen
        member.paid_orders_count += 1
        if order.points_earned:
            await record_change(
                member,
                PointsChange(
                    member_id=member.id,
                    kind=PointsKind.EARN,
                    delta=order.points_earned,
                    idempotency_key=f"order:{order.out_trade_no}:earn",
                    reason=f"order {order.out_trade_no}",
                    store_id=order.store_id,
                    guide_id=member.guide_id,
                    order_id=order.id,
                    expires_at=lot_expiry(programme, paid_at),
                ),
            )
        await levels.upgrade(member, programme, paid_at, cause)
    elif order.kind is OrderKind.RECHARGE:
        await stored_value.record(
            member,
            StoredValueKind.RECHARGE,
            stored_value.Split(order.amount_fen, order.recharge_bonus_fen),
            key=f"order:{order.out_trade_no}:recharge",
            order=order,
            reason=f"recharge {order.out_trade_no}",
        )
    elif order.kind is OrderKind.CARD:
        card = programme.cards.get(order.card_type_id or 0)
        if card is not None:
            await levels.grant_card(member, programme, card, paid_at, cause)


async def _settled_before(brand_id: int, order_id: int, payment: PaymentResult) -> str:
    order = await Order.get(id=order_id)
    if order.transaction_id == payment.transaction_id:
        return "already_paid"
    kind = "paid_after_close" if order.status is OrderStatus.CLOSED else "paid_twice"
    return await _anomaly(brand_id, order, payment, kind)


def _mismatch(order: Order, payment: PaymentResult) -> str | None:
    if payment.mchid != order.mchid:
        return "mchid_mismatch"
    if payment.appid != order.appid:
        return "appid_mismatch"
    if payment.amount_fen != order.wechat_fen:
        return "amount_mismatch"
    return None


async def _anomaly(brand_id: int, order: Order | None, payment: PaymentResult, kind: str) -> str:
    details: dict[str, Any] = {
        "mchid": payment.mchid,
        "appid": payment.appid,
        "amount_fen": payment.amount_fen,
        "payer_fen": payment.payer_fen,
    }
    if order is not None:
        details |= {
            "order_mchid": order.mchid,
            "order_appid": order.appid,
            "order_amount_fen": order.wechat_fen,
            "order_status": order.status.value,
        }
    await PaymentAnomaly.create(
        brand_id=brand_id,
        order=order,
        out_trade_no=payment.out_trade_no,
        transaction_id=payment.transaction_id,
        kind=kind,
        details=details,
    )
    return kind
