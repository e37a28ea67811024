"""WeChat Pay v3 notifications (§1.4-§1.6) for payments, refunds and probes.

What "user pays order X" and a refund's outcome send to the hub, signed by the platform key
and encrypted under the APIv3 key (or, with `"protocol": "v2"`, pay_v2_events.py).

Each attempt is signed afresh (new Wechatpay-Timestamp and nonce) over the same body; copies
carry the same notification id.
"""

import dataclasses
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hub.simulator import pay_v2_events
from hub.simulator.context import Simulator
from hub.simulator.delivery import PAY_SCHEDULE_S, Delivery, PreparedRequest, accept_pay
from hub.simulator.faults import FOREIGN_APPID, FOREIGN_MCHID, PushFault, random_key
from hub.simulator.pay_api import rfc3339, settle_refund, transaction_json
from hub.simulator.pay_gateway import platform_signer
from hub.simulator.pushes import STALE_BY_S, PushSpec, submit_push, tamper
from hub.simulator.replies import ControlError, dump_json
from hub.simulator.state import PayOrder, Refund, RefundStatus, Source, TradeState, random_digits
from hub.simulator.world import Merchant
from hub.wechat import pay_v2
from hub.wechat.pay_v3 import generate_nonce
from hub.wechat.pay_v3_platform import build_notification, encrypt_resource, sign_message

_REFUND_EVENTS = {
    RefundStatus.SUCCESS: ("REFUND.SUCCESS", "退款成功"),
    RefundStatus.CLOSED: ("REFUND.CLOSED", "退款关闭"),
    RefundStatus.ABNORMAL: ("REFUND.ABNORMAL", "退款异常"),
}


class PayProtocol(StrEnum):
    V3 = "v3"
    V2 = "v2"


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid")

    protocol: PayProtocol = PayProtocol.V3
    v2_sign_type: pay_v2.SignType = pay_v2.SignType.MD5
    url: str | None = None
    fault: PushFault | None = None
    wait: bool = False


class PayAction(_Action):
    """The user pays order X."""

    mchid: str | None = None
    payer_total_fen: int | None = Field(default=None, ge=0)
    bank_type: str = "OTHERS"


class RefundAction(_Action):
    """A refund's outcome."""

    mchid: str | None = None
    status: RefundStatus = RefundStatus.SUCCESS
    user_received_account: str = "支付用户零钱"


class ProbeAction(BaseModel):
    """A SIGNTEST probe (§1.3)."""

    model_config = ConfigDict(extra="forbid")

    mchid: str
    url: str | None = None
    wait: bool = False


def find_merchant(sim: Simulator, mchid: str | None) -> Merchant:
    """The merchant named, or the only one.

    Raises:
        ControlError: 404 unknown mchid; 400 when several exist and none is named.
    """
    if mchid is None:
        if len(sim.world.merchants) != 1:
            raise ControlError(400, "several merchants: name one with mchid")
        return sim.world.merchants[0]
    merchant = sim.world.merchant(mchid)
    if merchant is None:
        raise ControlError(404, f"unknown mchid {mchid}")
    return merchant


def pay_order(sim: Simulator, out_trade_no: str, action: PayAction) -> list[Delivery]:
    """The user pays an unpaid order: it becomes SUCCESS and its notification goes out.

    Raises:
        ControlError: 404 unknown order; 409 not payable (paid, closed or expired).
    """
    merchant = find_merchant(sim, action.mchid)
    order = sim.state.orders.get((merchant.mchid, out_trade_no))
    if order is None:
        raise ControlError(404, f"no order {out_trade_no} for merchant {merchant.mchid}")
    now = sim.clock()
    if order.trade_state is not TradeState.NOTPAY or _expired(order, now):
        raise ControlError(409, f"order {out_trade_no} is {order.trade_state} (not payable)")
    order.trade_state = TradeState.SUCCESS
    order.transaction_id = "42000" + random_digits(23)
    order.success_time = now
    order.payer_total_fen = action.payer_total_fen
    order.bank_type = action.bank_type
    fault = sim.faults.take_push(Source.WECHAT_PAY, "TRANSACTION.SUCCESS").merged(action.fault)
    url = action.url or order.notify_url
    if action.protocol is PayProtocol.V2:
        body = pay_v2_events.payment_body(merchant, order, fault, action.v2_sign_type)
        return pay_v2_events.submit(
            sim, merchant, "TRANSACTION.SUCCESS", out_trade_no, url, body, fault=fault
        )
    resource = _faulted(transaction_json(order), fault)
    spec = _v3_spec(
        sim,
        merchant,
        url,
        ("TRANSACTION.SUCCESS", "支付成功", "transaction"),
        resource,
        fault=fault,
        key=out_trade_no,
    )
    return submit_push(sim, spec, fault)


def _expired(order: PayOrder, now: float) -> bool:
    if order.time_expire is None:
        return False
    return datetime.fromisoformat(order.time_expire).timestamp() < now


def _faulted(resource: dict[str, Any], fault: PushFault) -> dict[str, Any]:
    if fault.wrong_appid:
        resource["appid"] = FOREIGN_APPID
    if fault.wrong_mchid:
        resource["mchid"] = FOREIGN_MCHID
    if fault.amount_delta_fen:
        amount = resource["amount"]
        amount["total"] += fault.amount_delta_fen
        if "payer_total" in amount:
            amount["payer_total"] += fault.amount_delta_fen
        if "refund" in amount:
            amount["refund"] += fault.amount_delta_fen
    return resource


def settle_refund_action(
    sim: Simulator, out_refund_no: str, action: RefundAction
) -> list[Delivery]:
    """A refund succeeds, closes or turns abnormal; its notification goes out.

    Raises:
        ControlError: 404 unknown refund; 409 already final (SUCCESS or CLOSED).
    """
    merchant = find_merchant(sim, action.mchid)
    refund = sim.state.refunds.get((merchant.mchid, out_refund_no))
    if refund is None:
        raise ControlError(404, f"no refund {out_refund_no} for merchant {merchant.mchid}")
    if refund.status in (RefundStatus.SUCCESS, RefundStatus.CLOSED):
        raise ControlError(409, f"refund {out_refund_no} is already {refund.status}")
    refund.user_received_account = action.user_received_account
    settle_refund(sim, refund, action.status)
    event_type, summary = _REFUND_EVENTS[action.status]
    fault = sim.faults.take_push(Source.WECHAT_PAY, event_type).merged(action.fault)
    order = sim.state.orders[(refund.mchid, refund.out_trade_no)]
    url = action.url or refund.notify_url or order.notify_url
    if action.protocol is PayProtocol.V2:
        body = pay_v2_events.refund_body(merchant, order, refund, fault)
        return pay_v2_events.submit(
            sim, merchant, event_type, out_refund_no, url, body, fault=fault
        )
    resource = _faulted(_refund_resource(refund), fault)
    spec = _v3_spec(
        sim,
        merchant,
        url,
        (event_type, summary, "refund"),
        resource,
        fault=fault,
        key=out_refund_no,
    )
    return submit_push(sim, spec, fault)


def _refund_resource(refund: Refund) -> dict[str, Any]:
    """§1.6: the decrypted refund notification fields."""
    fields: dict[str, Any] = {
        "mchid": refund.mchid,
        "transaction_id": refund.transaction_id,
        "out_trade_no": refund.out_trade_no,
        "refund_id": refund.refund_id,
        "out_refund_no": refund.out_refund_no,
        "refund_status": refund.status.value,
        "user_received_account": refund.user_received_account,
        "amount": {
            "total": refund.total_fen,
            "refund": refund.refund_fen,
            "payer_total": refund.payer_total_fen,
            "payer_refund": refund.refund_fen,
        },
    }
    if refund.success_time is not None:
        fields["success_time"] = rfc3339(refund.success_time)
    return fields


def _v3_spec(  # noqa: PLR0913 - a notification has this many parts
    sim: Simulator,
    merchant: Merchant,
    url: str,
    kind: tuple[str, str, str],
    resource: dict[str, Any],
    *,
    fault: PushFault,
    key: str,
) -> PushSpec:
    event_type, summary, original_type = kind
    api_v3_key = random_key() if fault.wrong_api_v3_key else merchant.api_v3_key
    encrypted = encrypt_resource(
        api_v3_key, dump_json(resource), associated_data=original_type, original_type=original_type
    )
    created_at = datetime.fromtimestamp(sim.clock(), UTC)
    body = build_notification(str(uuid.uuid4()), created_at, event_type, summary, encrypted)
    prepare = _v3_prepare(sim, merchant, url, body, fault)
    return PushSpec(
        Source.WECHAT_PAY,
        merchant.mchid,
        event_type,
        key,
        PAY_SCHEDULE_S,
        prepare,
        accept_pay,
        plaintext=resource,
    )


def _v3_prepare(
    sim: Simulator, merchant: Merchant, url: str, body: bytes, fault: PushFault
) -> Callable[[], PreparedRequest]:
    signer = platform_signer(sim.world.platform, fault.sign_mode or merchant.notification_key_mode)
    sent = tamper(body) if fault.tamper_body else body

    def prepare() -> PreparedRequest:
        timestamp = int(sim.clock()) - (STALE_BY_S if fault.stale_timestamp else 0)
        headers = sign_message(
            signer, body, timestamp=timestamp, nonce=generate_nonce(), signtest=fault.signtest
        )
        headers["Content-Type"] = "application/json"
        headers["Request-ID"] = str(uuid.uuid4())
        return PreparedRequest("POST", url, headers, sent)

    return prepare


def probe(sim: Simulator, action: ProbeAction) -> list[Delivery]:
    """A SIGNTEST probe: a notification whose signature must fail; not retried (§1.3).

    Raises:
        ControlError: 404 unknown mchid; 409 no URL (neither given nor registered).
    """
    merchant = find_merchant(sim, action.mchid)
    url = action.url or sim.callback_url(Source.WECHAT_PAY, merchant.mchid)
    if url is None:
        raise ControlError(409, f"no URL for probes of {merchant.mchid}: give url or register one")
    fault = PushFault(signtest=True)
    resource = {"mchid": merchant.mchid, "probe": True}
    spec = _v3_spec(
        sim,
        merchant,
        url,
        ("TRANSACTION.SUCCESS", "支付成功", "transaction"),
        resource,
        fault=fault,
        key="signtest",
    )
    return submit_push(sim, dataclasses.replace(spec, schedule_s=()), fault)
