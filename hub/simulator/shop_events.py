"""Channels shop pushes (§5.1): orders, after-sales and any other channels_ec_* event.

Order new / paid / cancelled and after-sale updates, secure-mode JSON on the shop's schedule.

order_id is a 64-bit number (beyond 2^53): a JSON number by default, a string with the
order_id_as_string fault (both are seen, §5.1).
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hub.simulator.context import Simulator
from hub.simulator.delivery import SHOP_SCHEDULE_S, Delivery
from hub.simulator.faults import PushFault
from hub.simulator.miniprogram_events import resolve_openid
from hub.simulator.pushes import PushSpec, PushTarget, build_message_push, require_url, submit_push
from hub.simulator.replies import ControlError
from hub.simulator.state import Aftersale, ShopOrder, Source, random_digits
from hub.simulator.world import PushFormat, PushMode, Shop

ORDER_NEW = "channels_ec_order_new"
ORDER_PAY = "channels_ec_order_pay"
ORDER_CANCEL = "channels_ec_order_cancel"
AFTERSALE_UPDATE = "channels_ec_aftersale_update"
# Shop order status codes (order/get): unpaid, paid awaiting shipment, cancelled.
STATUS_UNPAID, STATUS_PAID, STATUS_CANCELLED = 10, 20, 250
_ORDER_ID_DIGITS = 19


class ShopAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    fault: PushFault | None = None
    wait: bool = False


class NewOrderAction(ShopAction):
    """A buyer (World user key or openid under the shop) places an order."""

    appid: str | None = None
    user: str | None = None
    openid: str | None = None
    title: str = "Demo 商品"
    price_fen: int = Field(default=100, gt=0)
    order_id: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")


class CancelAction(ShopAction):
    # 1 by the user, 2 unpaid timeout, 3 every item after-sold (§5.1).
    cancel_type: int = Field(default=1, ge=1, le=3)


class AftersaleAction(ShopAction):
    order_id: str
    status: str = "MERCHANT_PROCESSING"
    after_sale_order_id: str | None = None
    refund_fen: int | None = Field(default=None, gt=0)
    type: str = "REFUND"
    reason: str = ""


class ShopEventAction(ShopAction):
    """Any other channels_ec_* event about an order (wait_shipping, deliver, confirm …)."""

    order_id: str
    event: str = Field(pattern=r"^channels_ec_\w+$")
    order_info: dict[str, Any] = Field(default_factory=dict)


def find_shop(sim: Simulator, appid: str | None) -> Shop:
    """The shop named, or the only one.

    Raises:
        ControlError: 404 unknown appid; 400 when several exist and none is named.
    """
    if appid is None:
        if len(sim.world.shops) != 1:
            raise ControlError(400, "several shops: name one with appid")
        return sim.world.shops[0]
    shop = sim.world.shop(appid)
    if shop is None:
        raise ControlError(404, f"unknown shop {appid}")
    return shop


def find_order(sim: Simulator, order_id: str) -> ShopOrder:
    """Raises: ControlError 404 for an unknown order."""
    order = sim.state.shop_orders.get(order_id)
    if order is None:
        raise ControlError(404, f"no shop order {order_id}")
    return order


def place_order(sim: Simulator, action: NewOrderAction) -> tuple[ShopOrder, list[Delivery]]:
    """Create an unpaid order and push channels_ec_order_new.

    Raises:
        ControlError: unknown shop or buyer; 409 an order with that id exists.
    """
    shop = find_shop(sim, action.appid)
    openid = resolve_openid(sim, shop.appid, action.user, action.openid)
    buyer = sim.world.user_by_openid(shop.appid, openid)
    order_id = action.order_id or random_digits(_ORDER_ID_DIGITS)
    if order_id in sim.state.shop_orders:
        raise ControlError(409, f"shop order {order_id} exists")
    now = int(sim.clock())
    order = ShopOrder(
        appid=shop.appid,
        order_id=order_id,
        openid=openid,
        unionid=buyer.unionid if buyer is not None else "",
        title=action.title,
        price_fen=action.price_fen,
        create_time=now,
        update_time=now,
    )
    sim.state.shop_orders[order_id] = order
    return order, _order_event(sim, order, ORDER_NEW, {}, action)


def pay_order(sim: Simulator, order_id: str, action: ShopAction) -> list[Delivery]:
    """The buyer pays: push channels_ec_order_pay.

    Raises:
        ControlError: 404 unknown order; 409 not unpaid.
    """
    order = find_order(sim, order_id)
    if order.status != STATUS_UNPAID:
        raise ControlError(409, f"shop order {order_id} is not unpaid (status {order.status})")
    now = int(sim.clock())
    order.status, order.pay_time, order.update_time = STATUS_PAID, now, now
    order.transaction_id = "42000" + random_digits(23)
    return _order_event(sim, order, ORDER_PAY, {"pay_time": now}, action)


def cancel_order(sim: Simulator, order_id: str, action: CancelAction) -> list[Delivery]:
    """The order is cancelled: push channels_ec_order_cancel.

    Raises:
        ControlError: 404 unknown order; 409 already cancelled.
    """
    order = find_order(sim, order_id)
    if order.status == STATUS_CANCELLED:
        raise ControlError(409, f"shop order {order_id} is already cancelled")
    order.status, order.update_time = STATUS_CANCELLED, int(sim.clock())
    return _order_event(sim, order, ORDER_CANCEL, {"cancel_type": action.cancel_type}, action)


def push_order_event(sim: Simulator, action: ShopEventAction) -> list[Delivery]:
    """Push another order event as asked, without changing the order.

    Raises:
        ControlError: 404 unknown order.
    """
    order = find_order(sim, action.order_id)
    return _order_event(sim, order, action.event, action.order_info, action)


def update_aftersale(sim: Simulator, action: AftersaleAction) -> tuple[Aftersale, list[Delivery]]:
    """Create or move an after-sale order and push channels_ec_aftersale_update.

    Raises:
        ControlError: 404 unknown order or after-sale order of another order.
    """
    order = find_order(sim, action.order_id)
    now = int(sim.clock())
    aftersale_id = action.after_sale_order_id or random_digits(_ORDER_ID_DIGITS)
    aftersale = sim.state.aftersales.get(aftersale_id)
    if aftersale is None:
        aftersale = Aftersale(
            appid=order.appid,
            after_sale_order_id=aftersale_id,
            order_id=order.order_id,
            openid=order.openid,
            status=action.status,
            refund_fen=action.refund_fen or order.price_fen,
            create_time=now,
            update_time=now,
            type=action.type,
            reason=action.reason,
        )
        sim.state.aftersales[aftersale_id] = aftersale
        order.aftersale_ids.append(aftersale_id)
    elif aftersale.order_id != order.order_id:
        raise ControlError(404, f"after-sale order {aftersale_id} is not of order {order.order_id}")
    aftersale.status, aftersale.update_time = action.status, now
    shop = find_shop(sim, order.appid)
    fault = sim.faults.take_push(Source.CHANNELS, AFTERSALE_UPDATE).merged(action.fault)
    update = {
        "status": aftersale.status,
        "after_sale_order_id": _order_id(aftersale_id, fault),
        "order_id": _order_id(order.order_id, fault),
    }
    fields = _envelope(sim, shop, shop.aftersale_openid, AFTERSALE_UPDATE)
    fields["finder_shop_aftersale_status_update"] = update
    return aftersale, _submit(sim, shop, fields, fault, action.url)


def _order_id(order_id: str, fault: PushFault) -> str | int:
    return order_id if fault.order_id_as_string else int(order_id)


def _envelope(sim: Simulator, shop: Shop, openid: str, event: str) -> dict[str, Any]:
    return {
        "ToUserName": shop.original_id,
        "FromUserName": openid,
        "CreateTime": int(sim.clock()),
        "MsgType": "event",
        "Event": event,
    }


def _order_event(
    sim: Simulator, order: ShopOrder, event: str, info: dict[str, Any], action: ShopAction
) -> list[Delivery]:
    shop = find_shop(sim, order.appid)
    fault = sim.faults.take_push(Source.CHANNELS, event).merged(action.fault)
    fields = _envelope(sim, shop, order.openid, event)
    fields["order_info"] = {"order_id": _order_id(order.order_id, fault), **info}
    return _submit(sim, shop, fields, fault, action.url)


def shop_target(shop: Shop, url: str) -> PushTarget:
    return PushTarget(
        url=url,
        token=shop.push_token,
        aes_key=shop.push_aes_key,
        receive_id=shop.receive_id or shop.appid,
        to_user=shop.original_id,
        mode=PushMode.SECURE,
        format=PushFormat.JSON,
    )


def _submit(
    sim: Simulator, shop: Shop, fields: dict[str, Any], fault: PushFault, url: str | None
) -> list[Delivery]:
    target = shop_target(shop, require_url(sim, Source.CHANNELS, shop.appid, url))
    request = build_message_push(target, fields, fault, sim.clock())
    info = fields.get("order_info") or fields.get("finder_shop_aftersale_status_update") or {}
    key = f"{fields['Event']}:{info.get('order_id')}:{fields['CreateTime']}"
    spec = PushSpec(
        Source.CHANNELS,
        shop.appid,
        str(fields["Event"]),
        key,
        SHOP_SCHEDULE_S,
        lambda: request,
        plaintext=fields,
    )
    return submit_push(sim, spec, fault)
