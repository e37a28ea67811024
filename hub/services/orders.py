"""Orders: creation, settlement by WeChat Pay, refunds.

Lock order: member, then order (then anything else). A payment is checked against its order
(merchant, app, amount) before anything is credited; a mismatch becomes a PaymentAnomaly row
and nothing else. Points and spend move in the same transaction as the order's status.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub import db
from hub.errors import InvalidValueError, RetryLaterError
from hub.models.brand import Store, StoreStatus
from hub.models.member import Member
from hub.models.order import Order, OrderStatus, PaymentAnomaly
from hub.models.points import PointsKind
from hub.services.points import PointsChange, points_for_amount, record_change

# WeChat Pay's own ceiling per order is far higher; a store sale above ¥1,000,000 is a typo.
MAX_ORDER_FEN = 100_000_000


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


@dataclass(frozen=True)
class RefundResult:
    """What a REFUND.* notification says about a refund."""

    mchid: str
    out_trade_no: str
    out_refund_no: str
    refund_status: str
    refund_fen: int
    total_fen: int


def new_out_trade_no() -> str:
    """An order number for WeChat Pay: 'W' + 24 hex digits (unique, 6-32 allowed chars)."""
    return "W" + secrets.token_hex(12)


async def create_order(
    store: Store,
    amount_fen: int,
    *,
    mchid: str,
    appid: str,
    member: Member | None = None,
    description: str = "",
) -> Order:
    """A new order awaiting payment in `store`.

    Raises:
        InvalidValueError: a zero, negative or too large amount, or a paused store.
    """
    if not 0 < amount_fen <= MAX_ORDER_FEN:
        raise InvalidValueError("amount_fen", f"must be between 1 and {MAX_ORDER_FEN}")
    if store.status is StoreStatus.PAUSED:
        raise InvalidValueError("store", "the store is paused", reason="store_paused")
    return await Order.create(
        brand_id=store.brand_id,
        store=store,
        member=member,
        out_trade_no=new_out_trade_no(),
        mchid=mchid,
        appid=appid,
        amount_fen=amount_fen,
        description=description[:127],
    )


async def settle_payment(brand_id: int, payment: PaymentResult) -> str:
    """Mark the order paid and credit spend and points; returns the outcome code.

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
        member = await _lock_member(order.member_id)
        points = points_for_amount(order.amount_fen) if member is not None else 0
        paid = await Order.filter(id=order.id, status=OrderStatus.CREATED).update(
            status=OrderStatus.PAID,
            transaction_id=payment.transaction_id,
            payer_fen=payment.payer_fen,
            paid_at=payment.paid_at,
            points_earned=points,
            guide_id=member.guide_id if member else None,
        )
        if not paid:
            return await _settled_before(brand_id, order.id, payment)
        if member is not None:
            await _credit(order, member, points)
    return "paid"


async def _settled_before(brand_id: int, order_id: int, payment: PaymentResult) -> str:
    order = await Order.get(id=order_id)
    if order.transaction_id == payment.transaction_id:
        return "already_paid"
    kind = "paid_after_close" if order.status is OrderStatus.CLOSED else "paid_twice"
    return await _anomaly(brand_id, order, payment, kind)


async def _lock_member(member_id: int | None) -> Member | None:
    if member_id is None:
        return None
    return await Member.select_for_update().get(id=member_id)


def _mismatch(order: Order, payment: PaymentResult) -> str | None:
    if payment.mchid != order.mchid:
        return "mchid_mismatch"
    if payment.appid != order.appid:
        return "appid_mismatch"
    if payment.amount_fen != order.amount_fen:
        return "amount_mismatch"
    return None


async def _credit(order: Order, member: Member, points: int) -> None:
    """Spend and points of a just-paid order, attributed to the member's guide."""
    member.total_spend_fen += order.amount_fen
    if points:
        await record_change(
            member,
            PointsChange(
                member_id=member.id,
                kind=PointsKind.EARN,
                delta=points,
                idempotency_key=f"order:{order.out_trade_no}:earn",
                reason=f"order {order.out_trade_no}",
                store_id=order.store_id,
                guide_id=member.guide_id,
            ),
        )
    await member.save(update_fields=["total_spend_fen", "points_balance", "updated_at"])


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
            "order_amount_fen": order.amount_fen,
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


async def apply_refund(brand_id: int, refund: RefundResult) -> str:
    """Reverse a successful refund on its order; returns the outcome code.

    Only REFUND.SUCCESS changes anything: spend is reduced and points are taken back in
    proportion (never below zero). CLOSED and ABNORMAL are recorded by the caller only.
    Outcomes: "refunded", "refund_<status>" (not final or failed), "unknown_order",
    "already_refunded".

    Raises:
        RetryLaterError: the order is not paid yet (its payment notice has not been processed).
    """
    if refund.refund_status != "SUCCESS":
        return f"refund_{refund.refund_status.lower()}"
    async with db.atomic():
        peek = await Order.get_or_none(out_trade_no=refund.out_trade_no, brand_id=brand_id)
        if peek is None:
            return "unknown_order"
        member = await _lock_member(peek.member_id)
        order = await Order.select_for_update().get(id=peek.id)
        if order.status is OrderStatus.CREATED:
            # WeChat delivers notices in any order: the payment's is still to come.
            raise RetryLaterError(f"refund {refund.out_refund_no} before its payment")
        if order.status not in {OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED}:
            return "already_refunded"
        refund_fen = min(refund.refund_fen, order.amount_fen - order.refunded_fen)
        if refund_fen <= 0:
            return "already_refunded"
        await _reverse(order, member, refund, refund_fen)
    return "refunded"


async def _reverse(
    order: Order, member: Member | None, refund: RefundResult, refund_fen: int
) -> None:
    before = order.refunded_fen
    order.refunded_fen += refund_fen
    order.status = (
        OrderStatus.REFUNDED
        if order.refunded_fen >= order.amount_fen
        else OrderStatus.PARTIALLY_REFUNDED
    )
    await order.save(update_fields=["refunded_fen", "status", "updated_at"])
    if member is None:
        return
    member.total_spend_fen = max(0, member.total_spend_fen - refund_fen)
    # Points taken back in proportion to the amount refunded, computed on the running totals so
    # several partial refunds together take back exactly what one full refund would.
    earned, amount = order.points_earned, order.amount_fen
    taken = earned * order.refunded_fen // amount - earned * before // amount
    if taken:
        await record_change(
            member,
            PointsChange(
                member_id=member.id,
                kind=PointsKind.REVERSE,
                delta=-taken,
                # out_refund_no is the merchant's own number: unique per merchant, not globally.
                idempotency_key=f"refund:{refund.mchid}:{refund.out_refund_no}:reverse",
                reason=f"refund {refund.out_refund_no}",
                store_id=order.store_id,
                guide_id=order.guide_id,
            ),
        )
    await member.save(update_fields=["total_spend_fen", "points_balance", "updated_at"])
