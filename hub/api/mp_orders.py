"""Mini-program API, paying: a store's page, orders, recharges, paid cards (/api/mp/v1)."""

from datetime import UTC, datetime

from aiohttp import web
from pydantic import Field

from hub.api.auth import MemberCaller, member_caller
from hub.api.bodies import Body, json_response, read_body
from hub.api.checkout import pay_target, payment_params, required_pay_target
from hub.api.views import card_json, order_json
from hub.errors import InvalidValueError, NotFoundError
from hub.models.brand import Store
from hub.models.membership import CardKind
from hub.models.order import Order
from hub.services import orders
from hub.services.fields import parse_id
from hub.services.orders import MAX_ORDER_FEN
from hub.services.programme import MAX_RECHARGE_FEN, load_programme

_ID_MAX = 2**31 - 1
# Coupon ids are 64-bit.
_COUPON_ID_MAX = 2**63 - 1
_KEY_HEADER = "Idempotency-Key"
_KEY_MAX = 64


class OrderBody(Body):
    store_id: int = Field(ge=1, le=_ID_MAX)
    # What the customer typed at the till, before the level's discount.
    amount_fen: int = Field(ge=1, le=MAX_ORDER_FEN)
    # How much of the (discounted) amount to pay from stored value.
    stored_value_fen: int = Field(default=0, ge=0, le=MAX_ORDER_FEN)
    description: str = Field(default="", max_length=127)
    # One of my money coupons, taken off after the level's discount.
    coupon_id: int | None = Field(default=None, ge=1, le=_COUPON_ID_MAX)


class RechargeBody(Body):
    amount_fen: int = Field(ge=1, le=MAX_RECHARGE_FEN)
    store_id: int | None = Field(default=None, ge=1, le=_ID_MAX)


def _client_key(request: web.Request) -> str | None:
    """The optional Idempotency-Key header: a retried request returns the first order."""
    key = request.headers.get(_KEY_HEADER)
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > _KEY_MAX or not key.isascii() or not key.isprintable():
        raise InvalidValueError(_KEY_HEADER, f"must be 1-{_KEY_MAX} printable ASCII characters")
    return key


async def _store(caller: MemberCaller, store_id: int) -> Store:
    store = await Store.get_or_none(id=store_id, brand_id=caller.member.brand_id)
    if store is None:
        raise NotFoundError("store_not_found", f"no store {store_id}")
    return store


async def show_store(request: web.Request) -> web.Response:
    """GET /api/mp/v1/stores/{store_id}: the store a payment code opened, and my discount."""
    caller = await member_caller(request)
    store = await _store(caller, _path_id(request, "store_id"))
    programme = await load_programme(caller.member.brand_id)
    level = programme.level(caller.member.level_id)
    return json_response(
        {
            "store": {
                "id": store.id,
                "name": store.name,
                "address": store.address,
                "opening_hours": store.opening_hours,
                "status": store.status.value,
            },
            "discount_percent": level.discount_percent if level else 0,
        }
    )


async def create_order(request: web.Request) -> web.Response:
    """POST /api/mp/v1/orders: pay in a store (level discount, a coupon, stored value)."""
    caller = await member_caller(request)
    body = await read_body(request, OrderBody)
    store = await _store(caller, body.store_id)
    sale = orders.SaleRequest(
        store=store,
        original_fen=body.amount_fen,
        stored_value_fen=body.stored_value_fen,
        description=body.description,
        client_key=_client_key(request),
        coupon_id=body.coupon_id,
    )
    target = await pay_target(request, caller.session)
    order = await orders.create_sale(caller.member, sale, target, datetime.now(UTC))
    return await _with_payment(request, order)


async def create_recharge(request: web.Request) -> web.Response:
    """POST /api/mp/v1/recharges: buy stored value (the tier's bonus is credited with it)."""
    caller = await member_caller(request)
    body = await read_body(request, RechargeBody)
    store = await _store(caller, body.store_id) if body.store_id else None
    target = await required_pay_target(request, caller.session)
    order = await orders.create_recharge(
        caller.member, body.amount_fen, target, store, _client_key(request)
    )
    return await _with_payment(request, order)


async def list_recharge_tiers(request: web.Request) -> web.Response:
    """GET /api/mp/v1/recharge-tiers: "pay 1000, get 200" offers, smallest first."""
    caller = await member_caller(request)
    programme = await load_programme(caller.member.brand_id)
    tiers = [{"pay_fen": pay, "bonus_fen": bonus} for pay, bonus in programme.tiers]
    return json_response({"tiers": tiers})


async def list_cards(request: web.Request) -> web.Response:
    """GET /api/mp/v1/cards: the paid cards on sale."""
    caller = await member_caller(request)
    programme = await load_programme(caller.member.brand_id)
    cards = [
        card_json(card)
        for card in programme.cards.values()
        if card.active and card.kind is CardKind.PAID
    ]
    return json_response({"cards": cards})


async def buy_card(request: web.Request) -> web.Response:
    """POST /api/mp/v1/cards/{code}/purchase: buy a paid card (granted when paid)."""
    caller = await member_caller(request)
    target = await required_pay_target(request, caller.session)
    order = await orders.create_card_purchase(
        caller.member, request.match_info["code"], target, _client_key(request)
    )
    return await _with_payment(request, order)


async def show_order(request: web.Request) -> web.Response:
    """GET /api/mp/v1/orders/{out_trade_no}: one of my orders (to poll after paying)."""
    caller = await member_caller(request)
    order = await Order.get_or_none(
        out_trade_no=request.match_info["out_trade_no"], member_id=caller.member.id
    )
    if order is None:
        raise NotFoundError("order_not_found", "no such order of yours")
    return json_response({"order": order_json(order)})


async def _with_payment(request: web.Request, order: Order) -> web.Response:
    payment = await payment_params(request, order)
    return json_response({"order": order_json(order), "payment": payment}, status=201)


def _path_id(request: web.Request, name: str) -> int:
    value = request.match_info[name]
    found = parse_id(value, _ID_MAX)
    if found is None:
        thing = name.removesuffix("_id")
        raise NotFoundError(f"{thing}_not_found", f"no {thing} {value[:20]}")
    return found
