"""Asking WeChat Pay to refund: the WeChat part of a refund asked for through the open API."""

from typing import Any

from hub.errors import PayApiError
from hub.models.order import Order, Refund, RefundStatus
from hub.models.outbox import OutboxMessage
from hub.services import refunds
from hub.wechat.pay_api import RefundRequest
from workers.context import WorkerDeps
from workers.outbox_relay import carry_out


async def request_pay_refund(ctx: dict[str, Any], outbox_id: int) -> str:
    """Outbox task: ask WeChat Pay for the refund; its notification settles it."""
    return await carry_out(ctx, outbox_id, _request)


async def _request(worker: WorkerDeps, message: OutboxMessage) -> str:
    refund = await Refund.get(id=int(message.payload["refund_id"]))
    if refund.status is not RefundStatus.REQUESTED:
        return f"refund_{refund.status.value}"
    order = await Order.get(id=refund.order_id)
    account = await worker.accounts.pay(order.mchid)
    if account is None:
        await refunds.close_refund(refund.id, "the merchant account was removed")
        return "merchant_removed"
    base_url = worker.settings.http.base_url
    request = RefundRequest(
        out_trade_no=order.out_trade_no,
        out_refund_no=refund.out_refund_no,
        refund_fen=refund.wechat_fen,
        total_fen=order.wechat_fen,
        reason=refund.reason,
        notify_url=f"{base_url}/callbacks/wechatpay/{order.mchid}",
    )
    try:
        answer = await worker.accounts.pay_api(account).refund(request)
    except PayApiError as exc:
        if exc.retryable:
            raise
        # Refused for good (e.g. NOT_ENOUGH funds): nothing is refunded; held principal returns.
        await refunds.close_refund(refund.id, f"WeChat Pay refused: {exc.code}")
        return f"refused:{exc.code}"
    return f"requested:{answer.get('status', '')}"
