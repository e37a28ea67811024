"""WeChat Pay notifications: v3 (JSON, signed, AES-GCM resource) and legacy v2 (XML).

Both are parsed into the same typed resources, so one handler settles a payment whichever
version announced it. Event keys (protocols §1.5, §1.6): a payment is its transaction_id; a
refund is its out_refund_no with its status.
"""

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from hub.accounts import Accounts, PayAccount
from hub.callbacks.envelope import Envelope
from hub.callbacks.intake import CallbackIntake
from hub.errors import PayloadError, ReceiverMismatchError, UnknownAccountError
from hub.models.inbox import CallbackSource
from hub.wechat import pay_v2
from hub.wechat.pay_v3 import read_notification_refetching

TRANSACTION_SUCCESS = "TRANSACTION.SUCCESS"
REFUND_EVENTS = ("REFUND.SUCCESS", "REFUND.ABNORMAL", "REFUND.CLOSED")
# v2 times are Beijing time without a zone (protocols §2.2).
_BEIJING = timezone(timedelta(hours=8))


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class TransactionAmount(_Frozen):
    total: int
    payer_total: int | None = None
    currency: str = "CNY"


class Payer(_Frozen):
    openid: str = ""


class TransactionResource(_Frozen):
    """The decrypted transaction of a TRANSACTION.SUCCESS notification (§1.5)."""

    mchid: str
    appid: str
    out_trade_no: str
    transaction_id: str
    trade_state: str
    success_time: AwareDatetime | None = None
    amount: TransactionAmount
    payer: Payer = Payer()
    attach: str = ""


class RefundAmount(_Frozen):
    total: int
    refund: int


class RefundResource(_Frozen):
    """The decrypted refund of a REFUND.* notification (§1.6)."""

    mchid: str
    out_trade_no: str
    out_refund_no: str
    refund_status: str
    amount: RefundAmount
    transaction_id: str = ""
    refund_id: str = ""


def _validated(model: type[BaseModel], data: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return model.model_validate(dict(data)).model_dump(mode="json")
    except ValidationError:
        raise PayloadError("bad_resource", f"not a valid {model.__name__}") from None


async def _account(accounts: Accounts, request: web.Request) -> PayAccount:
    account = await accounts.pay(request.match_info["account"])
    if account is None:
        raise UnknownAccountError("unknown_account")
    return account


class PayV3Intake(CallbackIntake):
    """POST /callbacks/wechatpay/{mchid}."""

    source = CallbackSource.WECHAT_PAY

    def __init__(self, accounts: Accounts) -> None:
        self._accounts = accounts

    async def parse(self, request: web.Request, body: bytes) -> Envelope:
        account = await _account(self._accounts, request)
        if request.content_type != "application/json":
            raise PayloadError("unsupported_media_type")
        notification = await read_notification_refetching(
            request.headers, body, account.keys, account.api_v3_key, max_bytes=self.max_bytes
        )
        resource, key = _resource_and_key(
            notification.event_type, notification.resource, fallback_key=notification.id
        )
        if resource.get("mchid", account.mchid) != account.mchid:
            raise ReceiverMismatchError("wrong_merchant")
        return Envelope(
            source=self.source,
            account=account.mchid,
            brand_id=account.brand_id,
            event_type=notification.event_type,
            event_key=key,
            occurred_at=notification.created_at,
            payload={"notification_id": notification.id, "resource": resource},
        )

    def success(self) -> web.Response:
        # 200 or 204 both mean "received" (§1.5).
        return web.Response(status=204)

    def failure(self, status: int, reason: str) -> web.Response:
        return web.json_response({"code": "FAIL", "message": reason[:64]}, status=status)


def _resource_and_key(
    event_type: str, resource: Mapping[str, Any], fallback_key: str
) -> tuple[dict[str, Any], str]:
    if event_type == TRANSACTION_SUCCESS:
        transaction = _validated(TransactionResource, resource)
        return transaction, transaction["transaction_id"]
    if event_type in REFUND_EVENTS:
        refund = _validated(RefundResource, resource)
        return refund, f"{refund['out_refund_no']}:{refund['refund_status']}"
    # Another event type: kept as it came, recorded and acknowledged (ignored).
    return dict(resource), fallback_key


class PayV2Intake(CallbackIntake):
    """POST /callbacks/wechatpay/{mchid}/v2 — legacy XML payment and refund notifications."""

    source = CallbackSource.WECHAT_PAY

    def __init__(self, accounts: Accounts) -> None:
        self._accounts = accounts

    async def parse(self, request: web.Request, body: bytes) -> Envelope:
        account = await _account(self._accounts, request)
        if not account.api_v2_key:
            raise UnknownAccountError("v2_not_configured")
        # A refund notification carries req_info instead of a signature (§2.3).
        if b"<req_info>" in body:
            return self._refund(account, body)
        return self._payment(account, body)

    def _payment(self, account: PayAccount, body: bytes) -> Envelope:
        fields = pay_v2.read_notification(body, account.api_v2_key or "", max_bytes=self.max_bytes)
        if fields.get("mch_id") != account.mchid:
            raise ReceiverMismatchError("wrong_merchant")
        succeeded = fields.get("return_code") == "SUCCESS" == fields.get("result_code")
        resource = _validated(
            TransactionResource,
            {
                "mchid": fields.get("mch_id"),
                "appid": fields.get("appid"),
                "out_trade_no": fields.get("out_trade_no"),
                "transaction_id": fields.get("transaction_id"),
                "trade_state": "SUCCESS" if succeeded else "PAYERROR",
                "success_time": _v2_time(fields.get("time_end", "")),
                "amount": {
                    "total": _fen(fields, "total_fee"),
                    "payer_total": _fen(fields, "cash_fee", _fen(fields, "total_fee")),
                },
                "payer": {"openid": fields.get("openid", "")},
                "attach": fields.get("attach", ""),
            },
        )
        return Envelope(
            source=self.source,
            account=account.mchid,
            brand_id=account.brand_id,
            event_type=TRANSACTION_SUCCESS if succeeded else "TRANSACTION.FAIL",
            # A success keeps v3's key (the same payment notified both ways is one event); a
            # failure notice must not take the key its later success needs.
            event_key=resource["transaction_id"] + ("" if succeeded else ":FAIL"),
            occurred_at=resource["success_time"] or datetime.now(UTC),
            payload={"notification_id": "", "resource": resource, "version": 2},
        )

    def _refund(self, account: PayAccount, body: bytes) -> Envelope:
        notice = pay_v2.read_refund_notification(
            body, account.api_v2_key or "", max_bytes=self.max_bytes
        )
        if notice.fields.get("mch_id") != account.mchid:
            raise ReceiverMismatchError("wrong_merchant")
        refund = notice.refund
        # v2 says SUCCESS / CHANGE (abnormal) / REFUNDCLOSE; v3 words are used from here on.
        status = {"CHANGE": "ABNORMAL", "REFUNDCLOSE": "CLOSED"}.get(
            refund.get("refund_status", ""), refund.get("refund_status", "")
        )
        resource = _validated(
            RefundResource,
            {
                "mchid": account.mchid,
                "out_trade_no": refund.get("out_trade_no"),
                "out_refund_no": refund.get("out_refund_no"),
                "refund_status": status,
                "transaction_id": refund.get("transaction_id", ""),
                "refund_id": refund.get("refund_id", ""),
                "amount": {
                    "total": _fen(refund, "total_fee"),
                    "refund": _fen(refund, "refund_fee"),
                },
            },
        )
        return Envelope(
            source=self.source,
            account=account.mchid,
            brand_id=account.brand_id,
            event_type=f"REFUND.{status}",
            event_key=f"{resource['out_refund_no']}:{status}",
            occurred_at=datetime.now(UTC),
            payload={"notification_id": "", "resource": resource, "version": 2},
        )

    def success(self) -> web.Response:
        return web.Response(body=pay_v2.SUCCESS_REPLY, content_type="text/xml")

    def failure(self, status: int, reason: str) -> web.Response:
        return web.Response(
            status=status, body=pay_v2.render_failure_reply(reason), content_type="text/xml"
        )


def _fen(fields: Mapping[str, str], name: str, default: int | None = None) -> int:
    value = fields.get(name)
    if value is None and default is not None:
        return default
    if value is None or not (value.isascii() and value.isdigit()):
        raise PayloadError("missing_field", f"{name} is missing or not a whole number of fen")
    return int(value)


def _v2_time(value: str) -> str | None:
    try:
        moment = datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=_BEIJING)
    except ValueError:
        return None
    return moment.isoformat()
