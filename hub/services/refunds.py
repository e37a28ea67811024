"""Refunds: requested through the open API or learnt from WeChat Pay, applied exactly once.

A refund of an order paid partly from stored value is split in the same proportion (computed
on running totals, so partial refunds add up exactly to a full one). Its stored-value part is
given back together with its WeChat part, when WeChat Pay reports the refund successful; an
order paid only from stored value is refunded at once. One refund per order is in progress at
a time, so the running totals are never ambiguous.

What a refund takes back: for a sale, spend and points in proportion (never below zero: the
shortfall stays on the ledger row), and the member's level only at the end of its period; for
a recharge, its principal (held from the moment the refund is asked for) and, unless the brand
lets members keep it, its bonus in proportion; for a card, the card (full refunds only).

Lock order: member, then order, then refund.
"""

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from hub import db, outbox
from hub.errors import AlreadyExistsError, DomainError, RetryLaterError
from hub.models.member import Member
from hub.models.membership import LevelChangeReason
from hub.models.order import Order, OrderKind, OrderStatus, Refund, RefundStatus
from hub.models.points import PointsKind
from hub.models.stored_value import StoredValueEntry, StoredValueKind
from hub.queue import TaskName
from hub.services import audit, levels, order_coupons, stored_value
from hub.services.audit import Actor
from hub.services.fields import check_text
from hub.services.member_locks import lock_member_or_none
from hub.services.orders import check_amount
from hub.services.points import PointsChange, record_change
from hub.services.programme import Programme, load_programme
from hub.services.stored_value import Split

_REFUNDABLE = (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED)


@dataclass(frozen=True)
class RefundResult:
    """What a REFUND.* notification says about a refund."""

    mchid: str
    out_trade_no: str
    out_refund_no: str
    refund_status: str
    refund_fen: int
    total_fen: int


def new_out_refund_no() -> str:
    """A refund number for WeChat Pay: 'R' + 24 hex digits."""
    return "R" + secrets.token_hex(12)


def refund_namespace(order: Order) -> str:
    """Where refund numbers are unique: the merchant, or the brand for orders without one."""
    return order.mchid or f"brand:{order.brand_id}"


def refund_parts(order: Order, refund_fen: int) -> tuple[Split, int]:
    """The stored-value part (principal, bonus) and the WeChat part of the next refund.

    Each is a slice of a running total that never decreases — the WeChat share of the refunded
    amount, the rest as stored value, that split again into principal and bonus — so partial
    refunds never give a negative part and together give back exactly what was paid each way.
    """
    amount, stored = order.amount_fen, order.stored_value_fen

    def wechat(refunded: int) -> int:
        return (amount - stored) * refunded // amount if amount else 0

    def principal(refunded: int) -> int:
        in_stored_value = refunded - wechat(refunded)
        return order.sv_principal_fen * in_stored_value // stored if stored else 0

    before, after = order.refunded_fen, order.refunded_fen + refund_fen
    wechat_part = wechat(after) - wechat(before)
    principal_part = principal(after) - principal(before)
    return Split(principal_part, refund_fen - wechat_part - principal_part), wechat_part


# -- asked for through the API ---------------------------------------------------------------


async def request_refund(
    order: Order, refund_fen: int, reason: str, actor: Actor, out_refund_no: str | None = None
) -> tuple[Refund, bool]:
    """Refund part or all of a paid order: the refund, and whether this call made it.

    The same out_refund_no again returns that refund (and False).

    Raises:
        InvalidValueError: a bad amount or reason.
        DomainError: "order_not_refundable", "refund_exceeds_paid", "refund_in_progress",
            "card_refund_must_be_full", "balance_spent" (a recharge already spent).
        AlreadyExistsError: "refund_no_reused" for a known number with other contents.
    """
    check_amount(refund_fen, "refund_fen")
    reason = check_text(reason, "reason", 80)
    number = check_text(out_refund_no or new_out_refund_no(), "out_refund_no", 64)
    mchid = refund_namespace(order)
    earlier = await Refund.get_or_none(mchid=mchid, out_refund_no=number)
    if earlier is not None:
        return _same_refund(earlier, order, refund_fen), False
    try:
        async with in_transaction():
            refund = await _request(order.id, refund_fen, reason, number, actor)
    except IntegrityError:
        earlier = await Refund.get(mchid=mchid, out_refund_no=number)
        return _same_refund(earlier, order, refund_fen), False
    await refund.refresh_from_db()  # applied at once when nothing goes through WeChat Pay
    return refund, True


def _same_refund(refund: Refund, order: Order, refund_fen: int) -> Refund:
    if (refund.order_id, refund.refund_fen) != (order.id, refund_fen):
        raise AlreadyExistsError("refund_no_reused", "this out_refund_no names another refund")
    return refund


async def _request(
    order_id: int, refund_fen: int, reason: str, number: str, actor: Actor
) -> Refund:
    peek = await Order.get(id=order_id)
    member = await lock_member_or_none(peek.member_id)
    order = await Order.select_for_update().get(id=order_id)
    await _check_refundable(order, refund_fen, member)
    sv_part, wechat_fen = refund_parts(order, refund_fen)
    if not order.mchid:
        wechat_fen = 0  # a POS sale: the till paid the money back itself
    refund = await Refund.create(
        brand_id=order.brand_id,
        order=order,
        mchid=refund_namespace(order),
        out_refund_no=number,
        refund_fen=refund_fen,
        stored_value_fen=sv_part.total_fen,
        wechat_fen=wechat_fen,
        status=RefundStatus.REQUESTED,
        reason=reason,
    )
    programme = await load_programme(order.brand_id)
    if order.kind is OrderKind.RECHARGE and member is not None:
        # Held now, so the member cannot spend what is being paid back.
        slice_end = order.refunded_fen + refund_fen
        await _revoke_recharge(order, member, programme, refund, order.refunded_fen, slice_end)
    if wechat_fen == 0:
        await _apply(refund, order, member, programme)
    else:
        await outbox.add(
            TaskName.REQUEST_PAY_REFUND, f"refund:{refund.id}", {"refund_id": refund.id}
        )
    if member is not None:
        await member.save()
    await audit.record(
        actor,
        "order.refund",
        "order",
        order.id,
        brand_id=order.brand_id,
        after={"out_refund_no": number, "refund_fen": refund_fen, "reason": reason},
    )
    return refund


async def _check_refundable(order: Order, refund_fen: int, member: Member | None) -> None:
    if order.status not in _REFUNDABLE:
        raise DomainError("order_not_refundable", f"the order is {order.status.value}")
    if refund_fen > order.amount_fen - order.refunded_fen:
        raise DomainError(
            "refund_exceeds_paid",
            f"at most {order.amount_fen - order.refunded_fen} fen are left to refund",
        )
    if await Refund.exists(order_id=order.id, status=RefundStatus.REQUESTED):
        raise DomainError("refund_in_progress", "wait until the order's last refund settles")
    if order.kind is OrderKind.CARD and refund_fen != order.amount_fen:
        raise DomainError("card_refund_must_be_full", "a card is refunded in full or not at all")
    if order.kind is OrderKind.RECHARGE and member and member.sv_principal_fen < refund_fen:
        raise DomainError(
            "balance_spent", f"only {member.sv_principal_fen} fen of paid-in stored value is left"
        )


# -- learnt from WeChat Pay ------------------------------------------------------------------


async def apply_refund_notification(brand_id: int, result: RefundResult) -> str:
    """Apply a REFUND.* notification; returns the outcome code.

    Outcomes: "refunded", "already_refunded", "refund_closed" (a requested refund failed: any
    recharge principal it held is given back), "refund_abnormal" (not final), "unknown_order".

    Raises:
        RetryLaterError: the order is not paid yet (its payment notice has not been processed).
    """
    async with db.atomic():
        peek = await Order.get_or_none(out_trade_no=result.out_trade_no, brand_id=brand_id)
        if peek is None:
            return "unknown_order"
        member = await lock_member_or_none(peek.member_id)
        order = await Order.select_for_update().get(id=peek.id)
        if order.status is OrderStatus.CREATED:
            # WeChat delivers notices in any order: the payment's is still to come.
            raise RetryLaterError(f"refund {result.out_refund_no} before its payment")
        refund = await _refund_of(order, result)
        if refund is None and result.refund_status != "SUCCESS":
            return f"refund_{result.refund_status.lower()}"  # not ours, not final: recorded
        if refund is None or refund.status in {RefundStatus.SUCCEEDED, RefundStatus.CLOSED}:
            return "already_refunded"
        programme = await load_programme(brand_id)
        outcome = await _settle(refund, order, member, programme, result.refund_status)
        if member is not None:
            await member.save()
    return outcome


async def _settle(
    refund: Refund, order: Order, member: Member | None, programme: Programme, status: str
) -> str:
    if status == "SUCCESS":
        await _apply(refund, order, member, programme)
        return "refunded"
    if status == "CLOSED":
        await _close(refund, order, member, "closed by WeChat Pay")
        return "refund_closed"
    await Refund.filter(id=refund.id).update(status=RefundStatus.ABNORMAL)
    return f"refund_{status.lower()}"


async def _refund_of(order: Order, result: RefundResult) -> Refund | None:
    """Our refund row, or one made now for a refund made in the merchant platform."""
    refund = await Refund.get_or_none(mchid=result.mchid, out_refund_no=result.out_refund_no)
    if refund is not None:
        return refund
    left = order.amount_fen - order.refunded_fen
    if result.refund_status != "SUCCESS" or left <= 0:
        return None
    # Made outside wxhub: all of it went back through WeChat Pay.
    return await Refund.create(
        brand_id=order.brand_id,
        order=order,
        mchid=result.mchid,
        out_refund_no=result.out_refund_no,
        refund_fen=min(result.refund_fen, left),
        wechat_fen=min(result.refund_fen, left),
        status=RefundStatus.REQUESTED,
        reason="made in the merchant platform",
    )


async def close_refund(refund_id: int, reason: str) -> None:
    """WeChat Pay refused the refund for good: nothing is refunded, held principal returns."""
    async with db.atomic():
        peek = await Refund.get(id=refund_id)
        order_peek = await Order.get(id=peek.order_id)
        member = await lock_member_or_none(order_peek.member_id)
        order = await Order.select_for_update().get(id=peek.order_id)
        refund = await Refund.get(id=refund_id)
        if refund.status is not RefundStatus.REQUESTED:
            return
        await _close(refund, order, member, reason)
        if member is not None:
            await member.save()


async def _close(refund: Refund, order: Order, member: Member | None, reason: str) -> None:
    await Refund.filter(id=refund.id).update(status=RefundStatus.CLOSED, settled_at=_now())
    if order.kind is OrderKind.RECHARGE and member is not None:
        held = await _held_by(refund)
        if held.total_fen:
            await stored_value.record(
                member,
                StoredValueKind.RESTORE,
                held,
                key=f"refund:{refund.id}:release",
                order=order,
                reason=f"refund {refund.out_refund_no}: {reason}"[:128],
            )


async def _held_by(refund: Refund) -> Split:
    entry = await StoredValueEntry.get_or_none(idempotency_key=f"refund:{refund.id}:revoke")
    if entry is None:
        return Split(0, 0)
    return Split(-entry.principal_delta, -entry.bonus_delta)


# -- applying a successful refund ------------------------------------------------------------


async def _apply(refund: Refund, order: Order, member: Member | None, programme: Programme) -> None:
    before = order.refunded_fen
    applied = min(order.amount_fen - before, refund.refund_fen)
    sv_part = refund_parts(order, applied)[0] if refund.stored_value_fen else Split(0, 0)
    order.refunded_fen = before + applied
    order.status = (
        OrderStatus.REFUNDED
        if order.refunded_fen >= order.amount_fen
        else OrderStatus.PARTIALLY_REFUNDED
    )
    await order.save(update_fields=["refunded_fen", "status", "updated_at"])
    await Refund.filter(id=refund.id).update(status=RefundStatus.SUCCEEDED, settled_at=_now())
    if member is None:
        return
    if order.kind is OrderKind.SALE:
        await _reverse_sale(order, member, refund, before, sv_part)
        if order.status is OrderStatus.REFUNDED:
            await order_coupons.refund_for(order, _now())
    elif order.kind is OrderKind.RECHARGE:
        # Already held when it was asked for through wxhub: then this changes nothing.
        await _revoke_recharge(order, member, programme, refund, before, order.refunded_fen)
    elif order.kind is OrderKind.CARD and order.refunded_fen >= order.amount_fen:
        await _revoke_card(order, member, programme, refund)


async def _reverse_sale(
    order: Order, member: Member, refund: Refund, before: int, sv_part: Split
) -> None:
    refunded = order.refunded_fen - before
    member.total_spend_fen = max(0, member.total_spend_fen - refunded)
    earned, amount = order.points_earned, order.amount_fen
    taken = earned * order.refunded_fen // amount - earned * before // amount
    key = f"refund:{refund.mchid}:{refund.out_refund_no}"
    if taken:
        await record_change(
            member,
            PointsChange(
                member_id=member.id,
                kind=PointsKind.REVERSE,
                delta=-taken,
                idempotency_key=f"{key}:reverse",
                reason=f"refund {refund.out_refund_no}",
                store_id=order.store_id,
                guide_id=order.guide_id,
                order_id=order.id,
            ),
        )
    if sv_part.total_fen:
        await stored_value.record(
            member,
            StoredValueKind.RESTORE,
            sv_part,
            key=f"{key}:restore",
            order=order,
            reason=f"refund {refund.out_refund_no}",
        )


async def _revoke_recharge(
    order: Order, member: Member, programme: Programme, refund: Refund, before: int, after: int
) -> None:
    """Take back a refunded recharge's principal and, unless kept, its bonus in proportion."""
    bonus = 0
    if not programme.bonus_refundable:
        bonus = stored_value.share(order.recharge_bonus_fen, before, after, order.amount_fen)
    await stored_value.record(
        member,
        StoredValueKind.REVOKE,
        Split(-(after - before), -bonus),
        key=f"refund:{refund.id}:revoke",
        order=order,
        reason=f"recharge {order.out_trade_no} refunded",
    )


async def _revoke_card(order: Order, member: Member, programme: Programme, refund: Refund) -> None:
    if member.card_type_id != order.card_type_id:
        return
    cause = levels.Cause(f"refund:{refund.id}:card", order.id)
    await levels.return_to_default(
        member, programme, _now(), LevelChangeReason.CARD_REFUNDED, cause
    )


def _now() -> datetime:
    return datetime.now(UTC)
