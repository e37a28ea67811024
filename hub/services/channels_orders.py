"""Channels (视频号) shop orders: status from the shop's pushes, amounts and buyer from its API.

A push only names the order; the amount and the buyer's unionid come from the order API,
which a worker calls (TaskName.SYNC_CHANNELS_ORDER). Points follow the order's paid amount
minus refunds, with idempotent ledger keys, so syncing an order again never credits twice.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from hub import db, outbox
from hub.models.channels_order import ChannelsOrder, ChannelsOrderStatus
from hub.models.member import Member, MemberOpenid
from hub.models.points import PointsEntry, PointsKind
from hub.queue import TaskName
from hub.services.member_locks import lock_member
from hub.services.points import PointsChange, lot_expiry, points_for_sale, record_change
from hub.services.programme import load_programme

_EVENT_STATUS = {
    "channels_ec_order_new": ChannelsOrderStatus.NEW,
    "channels_ec_order_pay": ChannelsOrderStatus.PAID,
    "channels_ec_order_cancel": ChannelsOrderStatus.CANCELLED,
}
# After-sale statuses that mean money went back to the buyer (protocols §5.1).
REFUNDED_AFTERSALE = frozenset({"MERCHANT_REFUND_SUCCESS", "MERCHANT_RETURN_SUCCESS"})


@dataclass(frozen=True)
class ShopOrderEvent:
    brand_id: int
    shop_appid: str
    order_id: str
    event: str
    occurred_at: datetime
    openid: str | None
    event_key: str


@dataclass(frozen=True)
class ShopOrderDetails:
    """What the order API says (hub.wechat.channels_api), reduced to what points need."""

    order_id: str
    amount_fen: int
    refunded_fen: int
    openid: str | None
    unionid: str | None
    paid: bool


def status_for_event(event: str) -> ChannelsOrderStatus | None:
    return _EVENT_STATUS.get(event)


async def order_event(event: ShopOrderEvent) -> str:
    """Apply an order push: new, paid or cancelled. Paid orders are synced for points."""
    status = status_for_event(event.event)
    if status is None:
        return "ignored"
    async with db.atomic():
        order = await _order_for_update(event)
        # Pushes can arrive out of order: a cancel or pay is never undone by a late "new".
        if status is ChannelsOrderStatus.NEW and order.status is not ChannelsOrderStatus.NEW:
            return "stale"
        order.status = status
        order.openid = order.openid or event.openid
        if status is ChannelsOrderStatus.PAID:
            order.paid_at = order.paid_at or event.occurred_at
        await order.save()
        if status is ChannelsOrderStatus.PAID:
            await _sync_later(order, event.event_key)
    return status.value


async def aftersale_event(event: ShopOrderEvent, aftersale_status: str) -> str:
    """An after-sale update: a completed refund or return re-syncs the order (points back)."""
    if aftersale_status not in REFUNDED_AFTERSALE:
        return f"aftersale_{aftersale_status.lower()}"
    async with db.atomic():
        order = await _order_for_update(event)
        await _sync_later(order, event.event_key)
    return "refund_pending_sync"


async def apply_details(order_pk: int, details: ShopOrderDetails) -> str:
    """Bring the order in line with the API's details: buyer, amounts and points."""
    async with db.atomic():
        peek = await ChannelsOrder.get(id=order_pk)
        # Once credited, an order's points belong to that member, whatever a later lookup says.
        member = (
            await Member.get(id=peek.member_id)
            if peek.member_id
            else await _member_for(peek.brand_id, peek.shop_appid, details)
        )
        if member is not None:
            member = await lock_member(member.id)
        order = await ChannelsOrder.select_for_update().get(id=order_pk)
        order.amount_fen = details.amount_fen
        order.refunded_fen = details.refunded_fen
        order.unionid = details.unionid or order.unionid
        order.member_id = member.id if member else order.member_id
        if details.refunded_fen >= details.amount_fen > 0:
            order.status = ChannelsOrderStatus.REFUNDED
        await order.save()
        if member is None or not details.paid:
            return "synced_without_member" if member is None else "synced_unpaid"
        await _settle_points(order, member, details)
    return "synced"


async def _settle_points(order: ChannelsOrder, member: Member, details: ShopOrderDetails) -> None:
    """Points of a paid shop order for its (locked) member, refunds taken back in proportion.

    Earned once, at the member's level (no store bonus: the shop is no store).
    """
    key = f"channels:{order.shop_appid}:{order.order_id}"
    first = await PointsEntry.get_or_none(idempotency_key=f"{key}:earn")
    if first is not None:
        # Synced before: what it earned then stands, whatever the member's level is now, and
        # points_earned is what the last sync left of it.
        earned, held = first.delta, order.points_earned
    else:
        programme = await load_programme(member.brand_id)
        now = datetime.now(UTC)
        level = programme.level(member.level_id)
        earned = points_for_sale(programme, level, details.amount_fen, None, now)
        earn = PointsChange(
            member.id,
            PointsKind.EARN,
            earned,
            f"{key}:earn",
            reason=f"Channels order {order.order_id}",
            expires_at=lot_expiry(programme, now),
        )
        held = earned if earned and await record_change(member, earn) else 0
    # Refunds take back points in proportion; keyed by the refunded total, so a repeated
    # sync takes nothing twice and each further refund takes only its own share.
    kept = earned * max(0, details.amount_fen - details.refunded_fen) // max(1, details.amount_fen)
    if held > kept:
        await record_change(
            member,
            PointsChange(
                member.id,
                PointsKind.REVERSE,
                kept - held,
                f"{key}:refunded:{details.refunded_fen}",
                reason=f"Channels refund {order.order_id}",
            ),
        )
    await member.save(update_fields=["points_balance", "updated_at"])
    order.points_earned = kept
    await order.save(update_fields=["points_earned", "updated_at"])


async def _member_for(brand_id: int, shop_appid: str, details: ShopOrderDetails) -> Member | None:
    if details.unionid:
        member = await Member.get_or_none(brand_id=brand_id, unionid=details.unionid)
        if member is not None:
            return member
    if details.openid:
        identity = await MemberOpenid.get_or_none(appid=shop_appid, openid=details.openid)
        if identity is not None:
            return await Member.get_or_none(id=identity.member_id, brand_id=brand_id)
    return None


async def _sync_later(order: ChannelsOrder, event_key: str) -> None:
    await outbox.add(
        TaskName.SYNC_CHANNELS_ORDER, f"{event_key}:sync", {"channels_order_id": order.id}
    )


async def _order_for_update(event: ShopOrderEvent) -> ChannelsOrder:
    key: dict[str, Any] = {"shop_appid": event.shop_appid, "order_id": event.order_id}
    order = await ChannelsOrder.select_for_update().get_or_none(**key)
    if order is not None:
        return order
    try:
        async with in_transaction():
            return await ChannelsOrder.create(
                brand_id=event.brand_id,
                status=ChannelsOrderStatus.NEW,
                openid=event.openid,
                **key,
            )
    except IntegrityError:
        return await ChannelsOrder.select_for_update().get(**key)
