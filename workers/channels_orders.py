"""Fetching a Channels shop order's details, so it earns (or gives back) points."""

from typing import Any

from hub.models.channels_order import ChannelsOrder
from hub.models.outbox import OutboxMessage
from hub.services.channels_orders import ShopOrderDetails, apply_details
from workers.context import WorkerDeps
from workers.outbox_relay import carry_out


async def sync_channels_order(ctx: dict[str, Any], outbox_id: int) -> str:
    """Outbox task: read the order from the shop's API and settle its points."""
    return await carry_out(ctx, outbox_id, _sync)


async def _sync(worker: WorkerDeps, message: OutboxMessage) -> str:
    order = await ChannelsOrder.get(id=int(message.payload["channels_order_id"]))
    shop = await worker.accounts.channels_shop(order.shop_appid)
    if shop is None:
        return "shop_removed"
    details = await worker.accounts.channels_api(shop).order(order.order_id)
    return await apply_details(order.id, order_details(order.order_id, details))


def order_details(order_id: str, order: dict[str, Any]) -> ShopOrderDetails:
    """The parts of an order/get answer that points depend on (protocols §5.1)."""
    price = (order.get("order_detail") or {}).get("price_info") or {}
    refunded = (order.get("aftersale_detail") or {}).get("refunded_amount") or 0
    # Order statuses 20 and above are paid (20 to ship, 30 shipped, 100 completed); 250 is
    # cancelled before payment.
    status = int(order.get("status") or 0)
    return ShopOrderDetails(
        order_id=order_id,
        amount_fen=int(price.get("order_price") or 0),
        refunded_fen=int(refunded),
        openid=order.get("openid") or None,
        unionid=order.get("unionid") or None,
        paid=20 <= status < 250,  # noqa: PLR2004 - WeChat's status codes, explained above
    )
