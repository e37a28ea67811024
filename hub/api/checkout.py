"""Paying an order in the mini-program: the merchant to pay, JSAPI prepay, wx.requestPayment."""

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from hub.dates import BEIJING
from hub.errors import DeliveryError, DomainError
from hub.keys import accounts_key, settings_key
from hub.models.account import PayMerchant
from hub.models.member import MemberSession
from hub.models.order import Order, OrderStatus
from hub.services import orders
from hub.services.orders import PayTarget
from hub.wechat.pay_api import JsapiOrder
from hub.wechat.pay_v3 import generate_nonce, request_payment_params


async def pay_target(request: web.Request, session: MemberSession) -> PayTarget | None:
    """The brand's merchant for the app the member logged in with, or None if it has none."""
    merchant = await PayMerchant.filter(brand_id=session.brand_id, appid=session.appid).first()
    if merchant is None:
        return None
    minutes = request.app[settings_key].membership.pay_within_minutes
    expires_at = datetime.now(UTC) + timedelta(minutes=minutes)
    return PayTarget(merchant.mchid, merchant.appid, session.openid, expires_at)


async def required_pay_target(request: web.Request, session: MemberSession) -> PayTarget:
    """Raises DomainError "pay_unavailable" when the brand takes no WeChat Pay in this app."""
    target = await pay_target(request, session)
    if target is None:
        raise DomainError("pay_unavailable", "WeChat Pay is not set up for this mini-program")
    return target


async def payment_params(request: web.Request, order: Order) -> dict[str, Any] | None:
    """The wx.requestPayment parameters for the order's WeChat part (None: nothing to pay).

    When WeChat Pay refuses the order, or the merchant account is gone, the order is closed at
    once, giving back any stored value it held. When WeChat Pay could not be reached (a timeout,
    a 5xx) the order stays open: the client repeats its request with the same Idempotency-Key
    and gets the order with a fresh prepay, or leaves it to close at its deadline.

    Raises:
        DomainError: "pay_unavailable" (the merchant account is gone).
        DeliveryError: WeChat Pay did not answer or refused (503 to the client).
    """
    if order.status is not OrderStatus.CREATED or order.wechat_fen == 0:
        return None
    accounts = request.app[accounts_key]
    account = await accounts.pay(order.mchid)
    if account is None or order.payer_openid is None or order.expires_at is None:
        await orders.abandon_order(order.id, datetime.now(UTC))
        raise DomainError("pay_unavailable", "WeChat Pay is not set up for this mini-program")
    base_url = request.app[settings_key].http.base_url
    try:
        prepay_id = await accounts.pay_api(account).jsapi_prepay(
            JsapiOrder(
                out_trade_no=order.out_trade_no,
                description=order.description or order.kind.value,
                amount_fen=order.wechat_fen,
                payer_openid=order.payer_openid,
                notify_url=f"{base_url}/callbacks/wechatpay/{order.mchid}",
                payer_client_ip=request.remote or "127.0.0.1",
                time_expire=order.expires_at.astimezone(BEIJING).isoformat(timespec="seconds"),
            )
        )
    except DeliveryError as exc:
        if not exc.retryable:
            await orders.abandon_order(order.id, datetime.now(UTC))
        raise
    params = request_payment_params(
        order.appid,
        prepay_id,
        account.merchant.private_key,
        timestamp=int(time.time()),
        nonce=generate_nonce(),
    )
    return params | {"appId": order.appid}
