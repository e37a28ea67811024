"""Channels shop APIs (§5.1): order/get and aftersale/getaftersaleorder, read from state.

The server side of hub.wechat.channels_api; orders come from the control API (shop_events.py).
The errcode for an unknown order is not documented [?]: 40097 (invalid args) is used.
"""

from typing import Any

from aiohttp import web

from hub.simulator.context import simulator_key
from hub.simulator.replies import ERR_INVALID_ARGS, ApiError, api_ok, read_api_json
from hub.simulator.state import Aftersale, ShopOrder
from hub.simulator.token_api import authorized_shop

routes = web.RouteTableDef()


def _id(body: dict[str, Any], name: str) -> str:
    # 64-bit ids arrive as strings or numbers (§5.1).
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ApiError(ERR_INVALID_ARGS, f"invalid args hint: [{name}]")
    return str(value)


def order_json(order: ShopOrder) -> dict[str, Any]:
    pay_info: dict[str, Any] = {}
    if order.pay_time is not None:
        pay_info = {"pay_time": order.pay_time, "transaction_id": order.transaction_id}
    return {
        "order_id": order.order_id,
        "status": order.status,
        "create_time": order.create_time,
        "update_time": order.update_time,
        "openid": order.openid,
        "unionid": order.unionid,
        "order_detail": {
            "product_infos": [
                {
                    "product_id": f"1{order.order_id[-9:]}",
                    "sku_id": f"2{order.order_id[-9:]}",
                    "sku_cnt": 1,
                    "sale_price": order.price_fen,
                    "title": order.title,
                }
            ],
            "price_info": {
                "product_price": order.price_fen,
                "order_price": order.price_fen,
                "freight": 0,
            },
            "pay_info": pay_info,
        },
        "aftersale_detail": {
            "aftersale_order_list": [{"aftersale_order_id": aid} for aid in order.aftersale_ids],
        },
    }


def aftersale_json(aftersale: Aftersale) -> dict[str, Any]:
    return {
        "after_sale_order_id": aftersale.after_sale_order_id,
        "order_id": aftersale.order_id,
        "status": aftersale.status,
        "openid": aftersale.openid,
        "type": aftersale.type,
        "create_time": aftersale.create_time,
        "update_time": aftersale.update_time,
        "refund_info": {"amount": aftersale.refund_fen},
        "details": {"desc": aftersale.reason},
    }


@routes.post("/channels/ec/order/get")
async def get_order(request: web.Request) -> web.Response:
    shop = authorized_shop(request)
    sim = request.app[simulator_key]
    order = sim.state.shop_orders.get(_id(await read_api_json(request), "order_id"))
    if order is None or order.appid != shop.appid:
        raise ApiError(ERR_INVALID_ARGS, "invalid args hint: [order_id] order not exist")
    return api_ok(order=order_json(order))


@routes.post("/channels/ec/aftersale/getaftersaleorder")
async def get_aftersale_order(request: web.Request) -> web.Response:
    shop = authorized_shop(request)
    sim = request.app[simulator_key]
    body = await read_api_json(request)
    aftersale = sim.state.aftersales.get(_id(body, "after_sale_order_id"))
    if aftersale is None or aftersale.appid != shop.appid:
        raise ApiError(ERR_INVALID_ARGS, "invalid args hint: [after_sale_order_id] not exist")
    return api_ok(after_sale_order=aftersale_json(aftersale))
