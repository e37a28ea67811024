"""WeChat Pay notifications: POST /callbacks/wechatpay/{mchid} (v3) and …/{mchid}/v2."""

from datetime import UTC, datetime

from aiohttp import web

from hub.callbacks.envelope import Envelope
from hub.callbacks.intake import receive
from hub.callbacks.pipeline import EVENTS
from hub.callbacks.sources.wechat_pay import (
    REFUND_EVENTS,
    TRANSACTION_SUCCESS,
    RefundResource,
    TransactionResource,
)
from hub.keys import intakes_key
from hub.models.inbox import CallbackSource
from hub.services import refunds, settlement


async def notification_v3(request: web.Request) -> web.Response:
    return await receive(request, request.app[intakes_key].pay_v3)


async def notification_v2(request: web.Request) -> web.Response:
    return await receive(request, request.app[intakes_key].pay_v2)


@EVENTS.on(CallbackSource.WECHAT_PAY, TRANSACTION_SUCCESS)
async def on_transaction_success(envelope: Envelope) -> str:
    paid = TransactionResource.model_validate(envelope.payload["resource"])
    return await settlement.settle_payment(
        envelope.brand_id,
        settlement.PaymentResult(
            mchid=paid.mchid,
            appid=paid.appid,
            out_trade_no=paid.out_trade_no,
            transaction_id=paid.transaction_id,
            amount_fen=paid.amount.total,
            payer_fen=(
                paid.amount.total if paid.amount.payer_total is None else paid.amount.payer_total
            ),
            paid_at=paid.success_time or datetime.now(UTC),
            openid=paid.payer.openid,
        ),
    )


@EVENTS.on(CallbackSource.WECHAT_PAY, *REFUND_EVENTS)
async def on_refund(envelope: Envelope) -> str:
    refund = RefundResource.model_validate(envelope.payload["resource"])
    return await refunds.apply_refund_notification(
        envelope.brand_id,
        refunds.RefundResult(
            mchid=refund.mchid,
            out_trade_no=refund.out_trade_no,
            out_refund_no=refund.out_refund_no,
            refund_status=refund.refund_status,
            refund_fen=refund.amount.refund,
            total_fen=refund.amount.total,
        ),
    )
