"""Pay v3 merchant APIs (§1.7, §1.8): JSAPI orders, queries, close, refunds, certificates.

Requests reach these handlers authenticated (pay_gateway.py), which also signs the answers.
Duplicate out_trade_no: identical parameters get the same prepay_id; different ones are
refused with 400 INVALID_REQUEST "商户订单号重复" [C].
"""

import re
import secrets
from datetime import datetime
from typing import Any

from aiohttp import web

from hub.simulator.context import Simulator, simulator_key
from hub.simulator.pay_gateway import merchant_key
from hub.simulator.replies import JSON_CONTENT_TYPE, PayError, dump_json, read_pay_json
from hub.simulator.state import PayOrder, Refund, RefundStatus, TradeState, random_digits
from hub.simulator.world import Merchant
from hub.wechat.pay_v3_platform import BEIJING, build_certificates_body

routes = web.RouteTableDef()

# §1.7: out_trade_no is 6-32 of [0-9A-Za-z_-|*]; refunds allow 1-64 and "@" too.
_OUT_TRADE_NO = re.compile(r"[0-9A-Za-z_\-|*]{6,32}")
_OUT_REFUND_NO = re.compile(r"[0-9A-Za-z_\-|*@]{1,64}")
_MAX_DESCRIPTION = 127
_MAX_ATTACH = 128
_MAX_NOTIFY_URL = 255
_MAX_REASON = 80
TRADE_STATE_DESC = {
    TradeState.NOTPAY: "订单未支付",
    TradeState.SUCCESS: "支付成功",
    TradeState.REFUND: "转入退款",
    TradeState.CLOSED: "订单已关闭",
}


def rfc3339(unix_s: float) -> str:
    """WeChat's RFC 3339 time, in Beijing time (§1.5)."""
    return datetime.fromtimestamp(int(unix_s), BEIJING).isoformat(timespec="seconds")


def pay_json(value: object, status: int = 200) -> web.Response:
    return web.Response(body=dump_json(value), status=status, content_type=JSON_CONTENT_TYPE)


def _param_error(field: str, issue: str) -> PayError:
    detail = {"field": f"/{field}", "location": "body", "issue": issue}
    return PayError(400, "PARAM_ERROR", f"参数错误: {field} {issue}", detail)


def _context(request: web.Request) -> tuple[Simulator, Merchant]:
    return request.app[simulator_key], request[merchant_key]


def _string(body: dict[str, Any], name: str, max_chars: int, *, required: bool = True) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value or len(value) > max_chars:
        raise _param_error(name, f"is required, a string of at most {max_chars} characters")
    return value


def _notify_url(body: dict[str, Any], *, required: bool = True) -> str:
    url = _string(body, "notify_url", _MAX_NOTIFY_URL, required=required)
    # §1.5: http(s), no query string (WeChat demands HTTPS; the simulator allows local HTTP).
    if url and (not url.startswith(("https://", "http://")) or "?" in url):
        raise _param_error("notify_url", "must be an http(s) URL without a query string")
    return url


def _check_mchid(merchant: Merchant, mchid: object) -> None:
    if mchid != merchant.mchid:
        raise _param_error("mchid", "does not match the caller's mchid")


def _amount_total(body: dict[str, Any]) -> int:
    amount = body.get("amount")
    total = amount.get("total") if isinstance(amount, dict) else None
    if not isinstance(total, int) or isinstance(total, bool) or total <= 0:
        raise _param_error("amount/total", "must be a positive number of fen")
    if amount is not None and amount.get("currency", "CNY") != "CNY":
        raise _param_error("amount/currency", "must be CNY")
    return total


def _check_jsapi(sim: Simulator, merchant: Merchant, body: dict[str, Any]) -> PayOrder:
    _check_mchid(merchant, body.get("mchid"))
    appid = _string(body, "appid", 32)
    if appid != merchant.appid:
        raise PayError(400, "APPID_MCHID_NOT_MATCH", "appid和mchid不匹配")
    out_trade_no = _string(body, "out_trade_no", 32)
    if not _OUT_TRADE_NO.fullmatch(out_trade_no):
        raise _param_error("out_trade_no", "must be 6-32 of [0-9A-Za-z_-|*]")
    payer = body.get("payer")
    openid = payer.get("openid") if isinstance(payer, dict) else None
    if not isinstance(openid, str) or sim.world.user_by_openid(appid, openid) is None:
        raise _param_error("payer/openid", "is not a user of this appid")
    now = sim.clock()
    return PayOrder(
        mchid=merchant.mchid,
        appid=appid,
        out_trade_no=out_trade_no,
        description=_string(body, "description", _MAX_DESCRIPTION),
        total_fen=_amount_total(body),
        openid=openid,
        notify_url=_notify_url(body),
        attach=_string(body, "attach", _MAX_ATTACH, required=False),
        time_expire=_time_expire(body),
        created_at=now,
        prepay_id=_prepay_id(now),
        request=body,
    )


def _time_expire(body: dict[str, Any]) -> str | None:
    value = body.get("time_expire")
    if value is None:
        return None
    if not isinstance(value, str) or _parse_time(value) is None:
        raise _param_error("time_expire", "must be an RFC 3339 time with an offset")
    return value


def _parse_time(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _prepay_id(now: float) -> str:
    stamp = datetime.fromtimestamp(int(now), BEIJING).strftime("%d%H%M%S")
    return f"wx{stamp}{random_digits(6)}{secrets.token_hex(10)}"


@routes.post("/v3/pay/transactions/jsapi")
async def create_jsapi_order(request: web.Request) -> web.Response:
    """§1.7 prepay; idempotent for identical parameters."""
    sim, merchant = _context(request)
    body = await read_pay_json(request)
    order = _check_jsapi(sim, merchant, body)
    existing = sim.state.orders.get((merchant.mchid, order.out_trade_no))
    if existing is None:
        sim.state.orders[(merchant.mchid, order.out_trade_no)] = order
        return pay_json({"prepay_id": order.prepay_id})
    if existing.request != body:
        raise PayError(400, "INVALID_REQUEST", "201 商户订单号重复")
    if existing.trade_state in (TradeState.SUCCESS, TradeState.REFUND):
        raise PayError(403, "ORDERPAID", "该订单已支付")
    if existing.trade_state is TradeState.CLOSED:
        raise PayError(400, "ORDER_CLOSED", "该订单已关闭")
    return pay_json({"prepay_id": existing.prepay_id})


def transaction_json(order: PayOrder) -> dict[str, Any]:
    """The transaction object of a query (§1.8) and, once paid, of a notification (§1.5)."""
    fields: dict[str, Any] = {
        "appid": order.appid,
        "mchid": order.mchid,
        "out_trade_no": order.out_trade_no,
        "trade_type": "JSAPI",
        "trade_state": order.trade_state.value,
        "trade_state_desc": TRADE_STATE_DESC[order.trade_state],
        "attach": order.attach,
        "payer": {"openid": order.openid},
        "amount": {"total": order.total_fen, "currency": "CNY"},
    }
    if order.transaction_id is not None and order.success_time is not None:
        payer_total = (
            order.payer_total_fen if order.payer_total_fen is not None else order.total_fen
        )
        fields |= {
            "transaction_id": order.transaction_id,
            "bank_type": order.bank_type,
            "success_time": rfc3339(order.success_time),
            "amount": {
                "total": order.total_fen,
                "payer_total": payer_total,
                "currency": "CNY",
                "payer_currency": "CNY",
            },
        }
    return fields


def _queried_mchid(request: web.Request, merchant: Merchant) -> None:
    if request.query.get("mchid") != merchant.mchid:
        raise PayError(400, "PARAM_ERROR", "参数错误: mchid 缺失或与调用方不一致")


def _order_not_found() -> PayError:
    return PayError(404, "ORDER_NOT_EXIST", "订单不存在")


@routes.get("/v3/pay/transactions/out-trade-no/{out_trade_no}")
async def query_by_out_trade_no(request: web.Request) -> web.Response:
    sim, merchant = _context(request)
    _queried_mchid(request, merchant)
    order = sim.state.orders.get((merchant.mchid, request.match_info["out_trade_no"]))
    if order is None:
        raise _order_not_found()
    return pay_json(transaction_json(order))


@routes.get("/v3/pay/transactions/id/{transaction_id}")
async def query_by_transaction_id(request: web.Request) -> web.Response:
    sim, merchant = _context(request)
    _queried_mchid(request, merchant)
    order = sim.state.order_by_transaction_id(merchant.mchid, request.match_info["transaction_id"])
    if order is None:
        raise _order_not_found()
    return pay_json(transaction_json(order))


@routes.post("/v3/pay/transactions/out-trade-no/{out_trade_no}/close")
async def close_order(request: web.Request) -> web.Response:
    """204 for an unpaid (or already closed) order."""
    sim, merchant = _context(request)
    _check_mchid(merchant, (await read_pay_json(request)).get("mchid"))
    order = sim.state.orders.get((merchant.mchid, request.match_info["out_trade_no"]))
    if order is None:
        raise _order_not_found()
    if order.trade_state in (TradeState.SUCCESS, TradeState.REFUND):
        raise PayError(403, "ORDERPAID", "该订单已支付")
    order.trade_state = TradeState.CLOSED
    return web.Response(status=204)


# -- refunds -----------------------------------------------------------------------------------


def refund_json(refund: Refund) -> dict[str, Any]:
    """The refund object of the refund APIs (§1.8)."""
    fields: dict[str, Any] = {
        "refund_id": refund.refund_id,
        "out_refund_no": refund.out_refund_no,
        "transaction_id": refund.transaction_id,
        "out_trade_no": refund.out_trade_no,
        "channel": "ORIGINAL",
        "user_received_account": refund.user_received_account,
        "create_time": rfc3339(refund.created_at),
        "status": refund.status.value,
        "funds_account": "AVAILABLE",
        "amount": {
            "total": refund.total_fen,
            "refund": refund.refund_fen,
            "payer_total": refund.payer_total_fen,
            "payer_refund": refund.refund_fen,
            "settlement_total": refund.total_fen,
            "settlement_refund": refund.refund_fen,
            "discount_refund": 0,
            "from": [],
            "currency": "CNY",
        },
        "promotion_detail": [],
    }
    if refund.success_time is not None:
        fields["success_time"] = rfc3339(refund.success_time)
    return fields


def _refunded_order(sim: Simulator, merchant: Merchant, body: dict[str, Any]) -> PayOrder:
    transaction_id, out_trade_no = body.get("transaction_id"), body.get("out_trade_no")
    order = None
    if isinstance(transaction_id, str):
        order = sim.state.order_by_transaction_id(merchant.mchid, transaction_id)
    elif isinstance(out_trade_no, str):
        order = sim.state.orders.get((merchant.mchid, out_trade_no))
    else:
        raise _param_error("transaction_id", "transaction_id or out_trade_no is required")
    if order is None or order.transaction_id is None:
        raise PayError(404, "RESOURCE_NOT_EXISTS", "订单不存在或未支付")
    return order


@routes.post("/v3/refund/domestic/refunds")
async def create_refund(request: web.Request) -> web.Response:
    """§1.8 refund: PROCESSING until the control API settles it; same out_refund_no repeats."""
    sim, merchant = _context(request)
    body = await read_pay_json(request)
    out_refund_no = _string(body, "out_refund_no", 64)
    if not _OUT_REFUND_NO.fullmatch(out_refund_no):
        raise _param_error("out_refund_no", "must be 1-64 of [0-9A-Za-z_-|*@]")
    order = _refunded_order(sim, merchant, body)
    amount = body.get("amount")
    refund_fen = amount.get("refund") if isinstance(amount, dict) else None
    if not isinstance(refund_fen, int) or isinstance(refund_fen, bool) or refund_fen <= 0:
        raise _param_error("amount/refund", "must be a positive number of fen")
    if _amount_total(body) != order.total_fen:
        raise _param_error("amount/total", "does not match the order amount")
    existing = sim.state.refunds.get((merchant.mchid, out_refund_no))
    if existing is not None:
        if existing.refund_fen != refund_fen or existing.out_trade_no != order.out_trade_no:
            raise PayError(400, "INVALID_REQUEST", "退款单号重复且参数不一致")
        return pay_json(refund_json(existing))
    if order.refunded_fen + refund_fen > order.total_fen:
        raise PayError(403, "NOT_ENOUGH", "申请退款金额超过订单可退金额")
    refund = _new_refund(sim, merchant, order, body, refund_fen)
    return pay_json(refund_json(refund))


def _new_refund(
    sim: Simulator, merchant: Merchant, order: PayOrder, body: dict[str, Any], refund_fen: int
) -> Refund:
    refund = Refund(
        mchid=merchant.mchid,
        refund_id="50300" + random_digits(24),
        out_refund_no=str(body["out_refund_no"]),
        out_trade_no=order.out_trade_no,
        transaction_id=order.transaction_id or "",
        refund_fen=refund_fen,
        total_fen=order.total_fen,
        payer_total_fen=order.payer_total_fen or order.total_fen,
        notify_url=_notify_url(body, required=False) or None,
        reason=_string(body, "reason", _MAX_REASON, required=False),
        created_at=sim.clock(),
    )
    order.refunded_fen += refund_fen
    sim.state.refunds[(merchant.mchid, refund.out_refund_no)] = refund
    return refund


@routes.get("/v3/refund/domestic/refunds/{out_refund_no}")
async def query_refund(request: web.Request) -> web.Response:
    sim, merchant = _context(request)
    refund = sim.state.refunds.get((merchant.mchid, request.match_info["out_refund_no"]))
    if refund is None:
        raise PayError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
    return pay_json(refund_json(refund))


@routes.get("/v3/certificates")
async def download_certificates(request: web.Request) -> web.Response:
    """§1.8: the platform certificate, encrypted under the caller's APIv3 key."""
    sim, merchant = _context(request)
    body = build_certificates_body([sim.world.platform.certificate], merchant.api_v3_key)
    return web.Response(body=body, content_type=JSON_CONTENT_TYPE)


def settle_refund(sim: Simulator, refund: Refund, status: RefundStatus) -> None:
    """Move a refund to its outcome; a closed refund gives its amount back to the order."""
    refund.status = status
    order = sim.state.orders.get((refund.mchid, refund.out_trade_no))
    if status is RefundStatus.SUCCESS:
        refund.success_time = sim.clock()
        if order is not None:
            order.trade_state = TradeState.REFUND
    elif status is RefundStatus.CLOSED and order is not None:
        order.refunded_fen -= refund.refund_fen
