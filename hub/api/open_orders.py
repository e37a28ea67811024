"""Open API, orders: POS sales posted afterwards, order lookup, refunds (/api/v1)."""

from aiohttp import web
from pydantic import AwareDatetime, Field, model_validator

from hub import outbox
from hub.api.auth import api_caller
from hub.api.bodies import Body, json_response, read_body
from hub.api.views import order_json, refund_json
from hub.errors import NotFoundError
from hub.keys import redis_key, vault_key
from hub.models.brand import Store
from hub.models.order import Refund
from hub.services import orders, refunds
from hub.services.members import find_member
from hub.services.orders import MAX_ORDER_FEN

_ID_MAX = 2**31 - 1


class OfflineOrderBody(Body):
    store_id: int = Field(ge=1, le=_ID_MAX)
    amount_fen: int = Field(ge=1, le=MAX_ORDER_FEN)
    # The POS's own id for the sale: posting it again returns the first order.
    external_id: str = Field(min_length=1, max_length=64)
    # RFC 3339 with an offset, e.g. 2026-11-23T14:05:00+08:00 (strict mode takes it as text).
    paid_at: AwareDatetime = Field(strict=False)
    description: str = Field(default="", max_length=127)
    # Whose sale it is (at most one; none: a walk-in customer, no points).
    member_id: int | None = Field(default=None, ge=1, le=_ID_MAX)
    member_code: str | None = Field(default=None, max_length=16)
    member_phone: str | None = Field(default=None, max_length=32)

    @model_validator(mode="after")
    def _one_member(self) -> "OfflineOrderBody":
        named = [self.member_id, self.member_code, self.member_phone]
        if sum(value is not None for value in named) > 1:
            msg = "name the member by at most one of member_id, member_code, member_phone"
            raise ValueError(msg)
        return self


class RefundBody(Body):
    refund_fen: int = Field(ge=1, le=MAX_ORDER_FEN)
    # Required: your refund number. The same number again returns that refund.
    out_refund_no: str = Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_\-|*@]+$")
    reason: str = Field(default="", max_length=80)


async def post_offline_order(request: web.Request) -> web.Response:
    """POST /api/v1/orders: a sale the POS made, so that it earns points and counts as spend."""
    caller = await api_caller(request)
    body = await read_body(request, OfflineOrderBody)
    store = await Store.get_or_none(id=body.store_id, brand_id=caller.brand_id)
    if store is None:
        raise NotFoundError("store_not_found", f"no store {body.store_id}")
    member = None
    for by, value in (
        ("id", body.member_id),
        ("code", body.member_code),
        ("phone", body.member_phone),
    ):
        if value is not None:
            member = await find_member(
                caller.brand_id, request.app[vault_key], by=by, value=str(value)
            )
    sale = orders.OfflineSale(
        store=store,
        amount_fen=body.amount_fen,
        external_id=body.external_id,
        paid_at=body.paid_at,
        member=member,
        description=body.description,
    )
    order, created = await orders.post_offline_sale(caller.brand_id, sale, caller.actor)
    await order.refresh_from_db()
    return json_response({"order": order_json(order)}, status=201 if created else 200)


async def show_order(request: web.Request) -> web.Response:
    """GET /api/v1/orders/{out_trade_no}: an order of the brand, with its refunds."""
    caller = await api_caller(request)
    order = await orders.find_order(caller.brand_id, request.match_info["out_trade_no"])
    found = await Refund.filter(order_id=order.id).order_by("id")
    return json_response({"order": order_json(order), "refunds": [refund_json(r) for r in found]})


async def refund_order(request: web.Request) -> web.Response:
    """POST /api/v1/orders/{out_trade_no}/refunds: refund part or all of a paid order."""
    caller = await api_caller(request)
    body = await read_body(request, RefundBody)
    order = await orders.find_order(caller.brand_id, request.match_info["out_trade_no"])
    async with outbox.collecting() as follow_ups:
        refund, created = await refunds.request_refund(
            order, body.refund_fen, body.reason, caller.actor, body.out_refund_no
        )
    # Committed: hand WeChat Pay's part to the workers now (the relay would, within seconds).
    await outbox.flush(follow_ups, request.app[redis_key])
    await order.refresh_from_db()
    return json_response(
        {"refund": refund_json(refund), "order": order_json(order)},
        status=201 if created else 200,
    )
