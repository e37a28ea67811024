"""Pay v2 notifications (§2.2, §2.3): MD5/HMAC-signed payment XML and encrypted refund XML.

The same actions as pay_events.py with `"protocol": "v2"`; WeChat retries them on the v3
schedule (§2.2). Crypto is hub.wechat.pay_v2's.
"""

from datetime import datetime

from hub.errors import PayloadError
from hub.simulator.context import Simulator
from hub.simulator.delivery import PAY_SCHEDULE_S, Delivery, PreparedRequest
from hub.simulator.faults import FOREIGN_APPID, FOREIGN_MCHID, PushFault, random_key
from hub.simulator.pushes import PushSpec, submit_push, tamper
from hub.simulator.state import PayOrder, Refund, RefundStatus, Source
from hub.simulator.world import Merchant
from hub.wechat import pay_v2
from hub.wechat.pay_v3 import generate_nonce
from hub.wechat.pay_v3_platform import BEIJING
from hub.wechat.wire import parse_flat_xml

_HTTP_OK = 200
# §2.3: v2 refund_status values for the same outcomes [C].
_V2_REFUND_STATUS = {
    RefundStatus.SUCCESS: "SUCCESS",
    RefundStatus.CLOSED: "REFUNDCLOSE",
    RefundStatus.ABNORMAL: "CHANGE",
}


def _v2_time(unix_s: float, layout: str) -> str:
    return datetime.fromtimestamp(int(unix_s), BEIJING).strftime(layout)


def payment_body(
    merchant: Merchant, order: PayOrder, fault: PushFault, sign_type: pay_v2.SignType
) -> bytes:
    """The signed XML payment notification of a paid order (§2.2)."""
    total = order.total_fen + fault.amount_delta_fen
    fields = {
        "appid": FOREIGN_APPID if fault.wrong_appid else order.appid,
        "mch_id": FOREIGN_MCHID if fault.wrong_mchid else merchant.mchid,
        "nonce_str": generate_nonce(),
        "return_code": "SUCCESS",
        "result_code": "SUCCESS",
        "openid": order.openid,
        "is_subscribe": "N",
        "trade_type": "JSAPI",
        "bank_type": order.bank_type,
        "total_fee": str(total),
        "cash_fee": str(order.payer_total_fen if order.payer_total_fen is not None else total),
        "fee_type": "CNY",
        "transaction_id": order.transaction_id or "",
        "out_trade_no": order.out_trade_no,
        "attach": order.attach,
        "time_end": _v2_time(order.success_time or 0, "%Y%m%d%H%M%S"),
    }
    if sign_type is pay_v2.SignType.HMAC_SHA256:
        fields["sign_type"] = sign_type.value
    key = random_key() if fault.wrong_api_v3_key else merchant.api_v2_key
    return pay_v2.build_notification(fields, key, sign_type)


def refund_body(merchant: Merchant, order: PayOrder, refund: Refund, fault: PushFault) -> bytes:
    """The refund notification with its fields encrypted into req_info (§2.3)."""
    outer = {
        "return_code": "SUCCESS",
        "appid": FOREIGN_APPID if fault.wrong_appid else order.appid,
        "mch_id": FOREIGN_MCHID if fault.wrong_mchid else merchant.mchid,
        "nonce_str": generate_nonce(),
    }
    inner = {
        "transaction_id": refund.transaction_id,
        "out_trade_no": refund.out_trade_no,
        "refund_id": refund.refund_id,
        "out_refund_no": refund.out_refund_no,
        "total_fee": str(refund.total_fen),
        "settlement_total_fee": str(refund.total_fen),
        "refund_fee": str(refund.refund_fen + fault.amount_delta_fen),
        "settlement_refund_fee": str(refund.refund_fen + fault.amount_delta_fen),
        "refund_status": _V2_REFUND_STATUS[refund.status],
        "success_time": _v2_time(refund.success_time or refund.created_at, "%Y-%m-%d %H:%M:%S"),
        "refund_recv_accout": refund.user_received_account,
        "refund_account": "REFUND_SOURCE_RECHARGE_FUNDS",
        "refund_request_source": "API",
    }
    key = random_key() if fault.wrong_api_v3_key else merchant.api_v2_key
    return pay_v2.build_refund_notification(outer, inner, key)


def accept_v2(status: int, body: bytes) -> bool:
    """§2.2: HTTP 200 whose body says return_code SUCCESS."""
    if status != _HTTP_OK:
        return False
    try:
        return parse_flat_xml(body).get("return_code") == "SUCCESS"
    except PayloadError:
        return False


def submit(  # noqa: PLR0913 - a notification has this many parts
    sim: Simulator,
    merchant: Merchant,
    event: str,
    key: str,
    url: str,
    body: bytes,
    *,
    fault: PushFault,
) -> list[Delivery]:
    """Send a v2 notification on the Pay schedule."""
    sent = tamper(body) if fault.tamper_body else body
    request = PreparedRequest("POST", url, {"Content-Type": "text/xml"}, sent)
    spec = PushSpec(
        Source.WECHAT_PAY,
        merchant.mchid,
        event,
        key,
        PAY_SCHEDULE_S,
        lambda: request,
        accept_v2,
        plaintext=body.decode(),
    )
    return submit_push(sim, spec, fault)
