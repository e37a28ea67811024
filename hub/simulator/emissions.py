"""What the emitter sends: one callback per kind, built by the simulator's own push code.

Each function seeds the (throwaway) simulator state with just what the simulator's action needs
— an unpaid order to pay, a refund to settle, a shop order — then runs that action, which signs
or encrypts the push with the World's keys and submits it. WeCom contact changes are built here
from their documented fields (§4.2), because the simulator makes adds only from a scanned
contact way with a welcome code of its own; their crypto and delivery are the simulator's.

Every function returns the submitted deliveries (the push itself first).
"""

import secrets
from dataclasses import dataclass, field
from typing import Any

from hub.simulator import miniprogram_events, pay_events, shop_events
from hub.simulator.context import Simulator
from hub.simulator.delivery import MESSAGE_SCHEDULE_S, Delivery
from hub.simulator.faults import ListShape, PushFault
from hub.simulator.miniprogram_events import find_mini_program, resolve_openid
from hub.simulator.pay_events import PayProtocol, find_merchant
from hub.simulator.pushes import PushSpec, build_message_push, require_url, submit_push
from hub.simulator.replies import ControlError
from hub.simulator.state import PayOrder, Refund, RefundStatus, ShopOrder, Source, TradeState
from hub.simulator.state import random_digits as digits
from hub.simulator.wecom_events import EVENT, ChangeType, find_corp, wecom_target
from hub.simulator.world import Merchant, external_userid_of
from hub.wechat.pay_v2 import SignType

# A welcome code is WeCom's: random, URL-safe, 43 characters like the simulator's (§4.2).
_WELCOME_CODE_BYTES = 32
_ADDS = frozenset({ChangeType.ADD_EXTERNAL_CONTACT, ChangeType.ADD_HALF_EXTERNAL_CONTACT})
_DESCRIPTION = "wxhub simulate"


@dataclass(frozen=True)
class Buyer:
    """Who pays or acts: a World user by key, or an openid as given; default the first user."""

    user: str | None = None
    openid: str | None = None


def _openid(sim: Simulator, appid: str, buyer: Buyer) -> str:
    if buyer.user is None and buyer.openid is None:
        first = next((user for user in sim.world.users if appid in user.openids), None)
        if first is None:
            raise ControlError(404, f"no World user has an openid under {appid}")
        return first.openids[appid]
    return resolve_openid(sim, appid, buyer.user, buyer.openid)


def _pay_url(sim: Simulator, merchant: Merchant, v2: bool) -> str:
    url = require_url(sim, Source.WECHAT_PAY, merchant.mchid, None)
    return f"{url}/v2" if v2 else url


@dataclass(frozen=True)
class Payment:
    """TRANSACTION.SUCCESS for our order `out_trade_no` (§1.5; v2: §2.2)."""

    out_trade_no: str
    amount_fen: int
    payer_total_fen: int | None = None
    buyer: Buyer = Buyer()
    mchid: str | None = None
    v2: bool = False
    v2_sign_type: SignType = SignType.MD5


def pay(sim: Simulator, payment: Payment, fault: PushFault) -> list[Delivery]:
    """The user pays order `out_trade_no`: its payment notification.

    Raises:
        ControlError: an unknown account or user, or several accounts and none named.
    """
    merchant = find_merchant(sim, payment.mchid)
    url = _pay_url(sim, merchant, payment.v2)
    sim.state.orders[(merchant.mchid, payment.out_trade_no)] = PayOrder(
        mchid=merchant.mchid,
        appid=merchant.appid,
        out_trade_no=payment.out_trade_no,
        description=_DESCRIPTION,
        total_fen=payment.amount_fen,
        openid=_openid(sim, merchant.appid, payment.buyer),
        notify_url=url,
        attach="",
        created_at=sim.clock(),
        prepay_id="",
        request={},
    )
    action = pay_events.PayAction(
        mchid=merchant.mchid,
        payer_total_fen=payment.payer_total_fen,
        protocol=PayProtocol.V2 if payment.v2 else PayProtocol.V3,
        v2_sign_type=payment.v2_sign_type,
        url=url,
        fault=fault,
    )
    return pay_events.pay_order(sim, payment.out_trade_no, action)


@dataclass(frozen=True)
class RefundOutcome:
    """REFUND.SUCCESS / CLOSED / ABNORMAL of refund `out_refund_no` (§1.6; v2: §2.3)."""

    out_trade_no: str
    out_refund_no: str
    refund_fen: int
    total_fen: int
    status: RefundStatus = RefundStatus.SUCCESS
    mchid: str | None = None
    v2: bool = False


def refund(sim: Simulator, outcome: RefundOutcome, fault: PushFault) -> list[Delivery]:
    """A refund of a paid order reaches its outcome: its refund notification.

    Raises:
        ControlError: an unknown account or user, or several accounts and none named.
    """
    merchant = find_merchant(sim, outcome.mchid)
    url = _pay_url(sim, merchant, outcome.v2)
    now = sim.clock()
    transaction_id = "42000" + digits(23)
    sim.state.orders[(merchant.mchid, outcome.out_trade_no)] = PayOrder(
        mchid=merchant.mchid,
        appid=merchant.appid,
        out_trade_no=outcome.out_trade_no,
        description=_DESCRIPTION,
        total_fen=outcome.total_fen,
        openid="",
        notify_url=url,
        attach="",
        created_at=now,
        prepay_id="",
        request={},
        trade_state=TradeState.SUCCESS,
        transaction_id=transaction_id,
        success_time=now,
        refunded_fen=outcome.refund_fen,
    )
    sim.state.refunds[(merchant.mchid, outcome.out_refund_no)] = Refund(
        mchid=merchant.mchid,
        refund_id="50300" + digits(24),
        out_refund_no=outcome.out_refund_no,
        out_trade_no=outcome.out_trade_no,
        transaction_id=transaction_id,
        refund_fen=outcome.refund_fen,
        total_fen=outcome.total_fen,
        payer_total_fen=outcome.total_fen,
        notify_url=url,
        reason="",
        created_at=now,
    )
    action = pay_events.RefundAction(
        mchid=merchant.mchid,
        status=outcome.status,
        protocol=PayProtocol.V2 if outcome.v2 else PayProtocol.V3,
        url=url,
        fault=fault,
    )
    return pay_events.settle_refund_action(sim, outcome.out_refund_no, action)


@dataclass(frozen=True)
class PopupAnswers:
    """subscribe_msg_popup_event: the user's answers to wx.requestSubscribeMessage (§3.8)."""

    accept: tuple[str, ...] = ()
    reject: tuple[str, ...] = ()
    buyer: Buyer = Buyer()
    appid: str | None = None
    # One answer as a JSON object instead of a one-item array (what WeChat does, §3.8).
    as_object: bool = False


def find_template(sim: Simulator, appid: str, name: str) -> str:
    """The id of the app's template named exactly or by a unique prefix.

    Raises:
        ControlError: 404 no such template; 400 the prefix names several.
    """
    ids = [t.template_id for t in sim.world.templates if t.appid == appid]
    if name in ids:
        return name
    matches = [template_id for template_id in ids if template_id.startswith(name)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ControlError(404, f"no template {name} in {appid}: one of {', '.join(ids)}")
    raise ControlError(400, f"template prefix {name} names several: {', '.join(matches)}")


def subscribe_popup(sim: Simulator, answers: PopupAnswers, fault: PushFault) -> list[Delivery]:
    """The user accepts and rejects templates in the subscription popup.

    Raises:
        ControlError: an unknown app, user or template, or a prefix naming several.
    """
    app = find_mini_program(sim, answers.appid)
    given = [(name, "accept") for name in answers.accept]
    given += [(name, "reject") for name in answers.reject]
    action = miniprogram_events.PopupAction(
        appid=app.appid,
        openid=_openid(sim, app.appid, answers.buyer),
        answers=[
            miniprogram_events.Answer(
                template_id=find_template(sim, app.appid, name), status=status
            )
            for name, status in given
        ],
        fault=fault.merged(
            PushFault(list_shape=ListShape.AUTO if answers.as_object else ListShape.ARRAY)
        ),
    )
    return miniprogram_events.answer_popup(sim, action)


@dataclass(frozen=True)
class MiniProgramEvent:
    """Any mini-program event push: the common envelope plus `fields` (§3.3)."""

    event: str
    fields: dict[str, Any] = field(default_factory=dict)
    buyer: Buyer = Buyer()
    appid: str | None = None


def mini_program_event(sim: Simulator, event: MiniProgramEvent, fault: PushFault) -> list[Delivery]:
    """Push any mini-program event in the app's push mode and format.

    Raises:
        ControlError: an unknown account or user, or several accounts and none named.
    """
    app = find_mini_program(sim, event.appid)
    action = miniprogram_events.EventAction(
        appid=app.appid,
        openid=_openid(sim, app.appid, event.buyer),
        event=event.event,
        fields=event.fields,
        fault=fault,
    )
    return miniprogram_events.push_event(sim, action)


@dataclass(frozen=True)
class ContactChange:
    """change_external_contact: a customer and a staff member in WeCom (§4.2)."""

    change: ChangeType
    userid: str
    buyer: Buyer = Buyer()
    external_userid: str | None = None
    # Adds only: the "contact me" code's state, and the welcome code (None: a fresh one).
    state: str | None = None
    welcome_code: str | None = None
    with_welcome_code: bool = True
    # More fields as documented per change (Source, FailReason …).
    fields: dict[str, Any] = field(default_factory=dict)
    corpid: str | None = None


def _external_userid(sim: Simulator, corpid: str, change: ContactChange) -> str:
    if change.external_userid is not None:
        return change.external_userid
    key = change.buyer.user or (sim.world.users[0].key if sim.world.users else "")
    user = sim.world.user(key)
    if user is None:
        raise ControlError(404, f"unknown user {key}")
    return external_userid_of(corpid, user)


def contact_change(sim: Simulator, change: ContactChange, fault: PushFault) -> list[Delivery]:
    """Push one customer-contact change to the corp's callback URL.

    Raises:
        ControlError: an unknown account or user, or several accounts and none named.
    """
    corp = find_corp(sim, change.corpid)
    now = int(sim.clock())
    fields: dict[str, Any] = {
        "ToUserName": corp.corpid,
        "FromUserName": "sys",
        "CreateTime": now,
        "MsgType": "event",
        "Event": EVENT,
        "ChangeType": change.change.value,
        "UserID": change.userid,
        "ExternalUserID": _external_userid(sim, corp.corpid, change),
    }
    if change.change in _ADDS:
        if change.state:
            fields["State"] = change.state
        if change.with_welcome_code and not fault.omit_welcome_code:
            code = change.welcome_code or secrets.token_urlsafe(_WELCOME_CODE_BYTES)
            fields["WelcomeCode"] = code
    fields |= change.fields
    target = wecom_target(corp, require_url(sim, Source.WECOM, corp.corpid, None))
    request = build_message_push(target, fields, fault, sim.clock())
    key = f"{change.change.value}:{change.userid}:{fields['ExternalUserID']}:{now}"
    spec = PushSpec(
        Source.WECOM,
        corp.corpid,
        change.change.value,
        key,
        MESSAGE_SCHEDULE_S,
        lambda: request,
        plaintext=fields,
    )
    return submit_push(sim, spec, fault)


@dataclass(frozen=True)
class ShopOrderEvent:
    """A Channels shop order event (channels_ec_*) about order `order_id` (§5.1)."""

    event: str
    order_id: str
    buyer: Buyer = Buyer()
    price_fen: int = 100
    appid: str | None = None
    # channels_ec_aftersale_update only.
    aftersale_status: str = "MERCHANT_REFUND_SUCCESS"
    aftersale_id: str | None = None
    refund_fen: int | None = None


def shop_order_event(sim: Simulator, event: ShopOrderEvent, fault: PushFault) -> list[Delivery]:
    """Push a shop order event as the simulator's shop would for that order.

    Raises:
        ControlError: an unknown account or user, or several accounts and none named.
    """
    shop = shop_events.find_shop(sim, event.appid)
    openid = _openid(sim, shop.appid, event.buyer)
    buyer = sim.world.user_by_openid(shop.appid, openid)
    now = int(sim.clock())
    sim.state.shop_orders[event.order_id] = ShopOrder(
        appid=shop.appid,
        order_id=event.order_id,
        openid=openid,
        unionid=buyer.unionid if buyer is not None else "",
        title=_DESCRIPTION,
        price_fen=event.price_fen,
        create_time=now,
        update_time=now,
    )
    if event.event == shop_events.ORDER_PAY:
        return shop_events.pay_order(sim, event.order_id, shop_events.ShopAction(fault=fault))
    if event.event == shop_events.ORDER_CANCEL:
        return shop_events.cancel_order(sim, event.order_id, shop_events.CancelAction(fault=fault))
    if event.event == shop_events.AFTERSALE_UPDATE:
        action = shop_events.AftersaleAction(
            order_id=event.order_id,
            status=event.aftersale_status,
            after_sale_order_id=event.aftersale_id,
            refund_fen=event.refund_fen,
            fault=fault,
        )
        return shop_events.update_aftersale(sim, action)[1]
    return shop_events.push_order_event(
        sim,
        shop_events.ShopEventAction(order_id=event.order_id, event=event.event, fault=fault),
    )
