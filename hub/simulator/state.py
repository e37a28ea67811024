"""What the simulated WeChat remembers between requests (§7 "State to keep"), in memory.

Plain mutable records; the rules that change them live with the endpoints and actions. Tokens
are in tokens.py, pushes and their attempts in delivery.py.
"""

import itertools
import secrets
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

# The request log keeps this many entries (a long session must not grow without bound).
REQUEST_LOG_SIZE = 2000


class Source(StrEnum):
    """A callback source of the hub; its pushes go to /callbacks/<source>/<account id>."""

    WECHAT_PAY = "wechat_pay"
    MINI_PROGRAM = "mini_program"
    CHANNELS = "channels"
    WECOM = "wecom"


class TradeState(StrEnum):
    NOTPAY = "NOTPAY"
    SUCCESS = "SUCCESS"
    REFUND = "REFUND"
    CLOSED = "CLOSED"


class RefundStatus(StrEnum):
    PROCESSING = "PROCESSING"
    SUCCESS = "SUCCESS"
    CLOSED = "CLOSED"
    ABNORMAL = "ABNORMAL"


@dataclass
class IssuedCode:
    """A single-use code minted by the control API: wx.login code or getPhoneNumber code."""

    code: str
    appid: str
    openid: str
    issued_at: float
    phone: str | None = None
    used_at: float | None = None


@dataclass
class PayOrder:
    mchid: str
    appid: str
    out_trade_no: str
    description: str
    total_fen: int
    openid: str
    notify_url: str
    attach: str
    created_at: float
    prepay_id: str
    # The request body as parsed: an identical repeat gets the same prepay_id (§1.7).
    request: dict[str, Any]
    time_expire: str | None = None
    trade_state: TradeState = TradeState.NOTPAY
    transaction_id: str | None = None
    success_time: float | None = None
    payer_total_fen: int | None = None
    bank_type: str = "OTHERS"
    refunded_fen: int = 0


@dataclass
class Refund:
    mchid: str
    refund_id: str
    out_refund_no: str
    out_trade_no: str
    transaction_id: str
    refund_fen: int
    total_fen: int
    payer_total_fen: int
    notify_url: str | None
    reason: str
    created_at: float
    status: RefundStatus = RefundStatus.PROCESSING
    success_time: float | None = None
    user_received_account: str = "支付用户零钱"


@dataclass
class Subscription:
    """One user's consent to one template: one-time grants left, or long-term consent."""

    grants: int = 0
    accepted: bool = False
    switched_off: bool = False


@dataclass
class SentMessage:
    msgid: int
    appid: str
    openid: str
    template_id: str
    data: dict[str, str]
    page: str | None
    miniprogram_state: str
    lang: str
    sent_at: float


@dataclass
class Relationship:
    """A customer added as an external contact by one staff member."""

    corpid: str
    userid: str
    external_userid: str
    user_key: str
    state: str
    createtime: int
    add_way: int = 1
    remark: str = ""
    description: str = ""
    tag_ids: list[str] = field(default_factory=list)


@dataclass
class ContactWay:
    corpid: str
    config_id: str
    type: int
    scene: int
    state: str
    users: list[str]
    parties: list[int]
    remark: str = ""
    skip_verify: bool = True
    style: int | None = None
    is_temp: bool = False
    expires_in: int | None = None
    qr_code: str | None = None
    created_at: float = 0.0


@dataclass
class WelcomeCode:
    code: str
    corpid: str
    userid: str
    external_userid: str
    issued_at: float
    used_at: float | None = None


@dataclass
class WelcomeMessage:
    corpid: str
    userid: str
    external_userid: str
    text: str | None
    attachments: list[dict[str, Any]]
    sent_at: float


@dataclass
class ShopOrder:
    appid: str
    order_id: str
    openid: str
    unionid: str
    title: str
    price_fen: int
    create_time: int
    update_time: int
    # 10 unpaid, 20 paid (awaiting shipping), 250 cancelled (the shop API's status codes).
    status: int = 10
    pay_time: int | None = None
    transaction_id: str | None = None
    aftersale_ids: list[str] = field(default_factory=list)


@dataclass
class Aftersale:
    appid: str
    after_sale_order_id: str
    order_id: str
    openid: str
    status: str
    refund_fen: int
    create_time: int
    update_time: int
    type: str = "REFUND"
    reason: str = ""


@dataclass
class RequestRecord:
    """One request to a WeChat endpoint, secrets already redacted."""

    id: int
    at: float
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: str
    status: int
    errcode: int | None
    code: str | None
    duration_ms: float


@dataclass
class State:
    """Everything that changes while the simulator runs (tokens and pushes excepted)."""

    login_codes: dict[str, IssuedCode] = field(default_factory=dict)
    phone_codes: dict[str, IssuedCode] = field(default_factory=dict)
    # (mchid, out_trade_no) → order; refunds by (mchid, out_refund_no).
    orders: dict[tuple[str, str], PayOrder] = field(default_factory=dict)
    refunds: dict[tuple[str, str], Refund] = field(default_factory=dict)
    # (appid, openid, template_id) → consent.
    subscriptions: dict[tuple[str, str, str], Subscription] = field(default_factory=dict)
    sent_messages: list[SentMessage] = field(default_factory=list)
    # (corpid, userid, external_userid) → relationship.
    relationships: dict[tuple[str, str, str], Relationship] = field(default_factory=dict)
    contact_ways: dict[str, ContactWay] = field(default_factory=dict)
    welcome_codes: dict[str, WelcomeCode] = field(default_factory=dict)
    welcome_messages: list[WelcomeMessage] = field(default_factory=list)
    shop_orders: dict[str, ShopOrder] = field(default_factory=dict)
    aftersales: dict[str, Aftersale] = field(default_factory=dict)
    # (source, account) → the hub's callback URL, overriding the World's.
    callback_urls: dict[tuple[Source, str], str] = field(default_factory=dict)
    requests: deque[RequestRecord] = field(default_factory=lambda: deque(maxlen=REQUEST_LOG_SIZE))
    _ids: "itertools.count[int]" = field(default_factory=lambda: itertools.count(1))

    def next_id(self) -> int:
        """A process-unique sequence number (request log ids, msgid and order id suffixes)."""
        return next(self._ids)

    def subscription(self, appid: str, openid: str, template_id: str) -> Subscription:
        return self.subscriptions.setdefault((appid, openid, template_id), Subscription())

    def order_by_transaction_id(self, mchid: str, transaction_id: str) -> PayOrder | None:
        return next(
            (
                order
                for (owner, _), order in self.orders.items()
                if owner == mchid and order.transaction_id == transaction_id
            ),
            None,
        )

    def relationships_of(self, corpid: str, external_userid: str) -> list[Relationship]:
        return [
            rel
            for rel in self.relationships.values()
            if rel.corpid == corpid and rel.external_userid == external_userid
        ]


def random_digits(count: int) -> str:
    """`count` random decimal digits, the first not zero (WeChat's numeric ids)."""
    return str(secrets.randbelow(9) + 1) + "".join(
        str(secrets.randbelow(10)) for _ in range(count - 1)
    )
