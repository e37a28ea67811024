"""`wxhub simulate pay|refund|subscribe-popup|mp-event|wecom-contact|channels-order`.

Each builds one real-format WeChat callback from the simulator's World — Pay signed with the
platform key and encrypted with the APIv3 key, pushes encrypted with the account's
EncodingAESKey — and POSTs it to the hub's callback URL, printing every answer. Exit status 1
when the hub refuses (or cannot be reached). Money is given in yuan and sent in fen.
"""

import argparse
import json
import re
import secrets
import sys
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hub.settings import Settings
from hub.simulator import emissions, shop_events
from hub.simulator.context import Simulator
from hub.simulator.delivery import Attempt, Delivery
from hub.simulator.demo import WORLD_FILE
from hub.simulator.emitter import Copies, Emitter, delivered
from hub.simulator.faults import PushFault
from hub.simulator.replies import ControlError
from hub.simulator.state import RefundStatus, random_digits
from hub.simulator.wecom_events import ChangeType
from hub.simulator.world import KeyMode, World, load_world
from hub.wechat.pay_v2 import SignType

EXIT_FAILED = 1
EXIT_USAGE = 2
FEN_PER_YUAN = 100
# Push faults set by their own options (or meaningless for one emission) are not --fault names.
_NOT_FAULT_OPTIONS = frozenset(
    {"source", "event", "rate", "times", "retry_schedule_s", "duplicates", "concurrent"}
)
_ORDER_ID = re.compile(r"[0-9]{1,20}")
# Shop order ids are 19 digits (§5.1).
_SHOP_ORDER_ID_DIGITS = 19

Build = Callable[[Simulator, argparse.Namespace, PushFault], list[Delivery]]


def yuan(text: str) -> int:
    """A positive amount in yuan ("88", "88.5", "88.00") as fen.

    Raises:
        argparse.ArgumentTypeError: not a number, not positive, or finer than a fen.
    """
    try:
        fen = Decimal(text) * FEN_PER_YUAN
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount in yuan") from None
    if not fen.is_finite() or fen <= 0 or fen != fen.to_integral_value():
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive amount of whole fen")
    return int(fen)


def field_value(text: str) -> tuple[str, Any]:
    """`name=text` (a string) or `name:=json` (a number, object …) for an extra push field.

    Raises:
        argparse.ArgumentTypeError: no `=`, or invalid JSON after `:=`.
    """
    name, separator, value = text.partition("=")
    if not separator or not name.rstrip(":"):
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE or NAME:=JSON")
    if not name.endswith(":"):
        return name, value
    try:
        return name[:-1], json.loads(value)
    except json.JSONDecodeError:
        raise argparse.ArgumentTypeError(f"{text!r}: the value is not JSON") from None


def fault_setting(text: str) -> tuple[str, str | bool]:
    """`name` (switched on) or `name=value` of a push fault (see hub/simulator/faults.py).

    Raises:
        argparse.ArgumentTypeError: not a fault the emitter offers.
    """
    name, separator, value = text.partition("=")
    allowed = sorted(set(PushFault.model_fields) - _NOT_FAULT_OPTIONS)
    if name not in allowed:
        raise argparse.ArgumentTypeError(f"unknown fault {name!r}: one of {', '.join(allowed)}")
    return name, value if separator else True


def order_id(text: str) -> str:
    """A shop order id: up to 20 digits. Raises argparse.ArgumentTypeError otherwise."""
    if not _ORDER_ID.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a shop order id (digits)")
    return text


def add_parsers(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    simulate = commands.add_parser(
        "simulate", help="send the hub a real-format WeChat callback, signed and encrypted"
    )
    kinds = simulate.add_subparsers(dest="callback", required=True, metavar="CALLBACK")
    common = _common_options()
    for name, summary, add_options, build in _KINDS:
        parser = kinds.add_parser(name, parents=[common], help=summary)
        add_options(parser)
        parser.set_defaults(func=simulate_callback, build=build)


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    sending = common.add_argument_group("sending")
    sending.add_argument("--hub", metavar="URL", help="the hub's base URL (default: http.base_url)")
    sending.add_argument(
        "--world",
        type=Path,
        metavar="FILE",
        help="World JSON file with the keys (default: <data_dir>/simulator/world.json)",
    )
    sending.add_argument(
        "--account", metavar="ID", help="mchid, appid or corpid (default: the World's only one)"
    )
    sending.add_argument(
        "--repeat", type=int, default=1, metavar="N", help="N rounds, one after another"
    )
    sending.add_argument(
        "--concurrency", type=int, default=1, metavar="C", help="C copies at once in each round"
    )
    sending.add_argument(
        "--follow-retries",
        action="store_true",
        help="on a failure answer, retry on WeChat's schedule (compressed by simulator.time_scale)",
    )
    sending.add_argument(
        "--fault",
        type=fault_setting,
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help="bend the push: tamper_body, stale_timestamp, wrong_api_v3_key, amount_delta_fen=5 …",
    )
    return common


def _user_options(parser: argparse.ArgumentParser, *, openid: str = "--openid") -> None:
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--user", metavar="KEY", help="a World user (default: the first one)")
    who.add_argument(openid, metavar="ID", help="an id as given instead of a World user's")


def _buyer(args: argparse.Namespace) -> emissions.Buyer:
    return emissions.Buyer(user=args.user, openid=getattr(args, "openid", None))


def _pay_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--order", required=True, metavar="OUT_TRADE_NO")
    parser.add_argument("--amount", type=yuan, required=True, help="order total in yuan (88.00)")
    parser.add_argument("--payer-total", type=yuan, help="what the payer paid (default: --amount)")
    _user_options(parser)
    _pay_protocol_options(parser)
    parser.add_argument("--sign-type", choices=list(SignType), default=SignType.MD5.value)


def _pay_protocol_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--v2", action="store_true", help="a legacy v2 XML notification")
    parser.add_argument(
        "--key-mode",
        choices=list(KeyMode),
        help="platform key announced as certificate serial or PUB_KEY_ID_ (default: the World's)",
    )


def _refund_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--order", required=True, metavar="OUT_TRADE_NO")
    parser.add_argument("--refund-no", metavar="OUT_REFUND_NO", help="default: a new one")
    parser.add_argument("--amount", type=yuan, required=True, help="refunded, in yuan")
    parser.add_argument("--total", type=yuan, help="the order's total in yuan (default: --amount)")
    outcomes = [status for status in RefundStatus if status is not RefundStatus.PROCESSING]
    parser.add_argument("--status", choices=outcomes, default=RefundStatus.SUCCESS.value)
    _pay_protocol_options(parser)


def _popup_options(parser: argparse.ArgumentParser) -> None:
    _user_options(parser)
    for answer in ("accept", "reject"):
        parser.add_argument(
            f"--{answer}",
            action="append",
            default=[],
            metavar="TPL",
            help=f"template id (or a unique prefix) to {answer}; repeatable",
        )
    parser.add_argument(
        "--as-object", action="store_true", help="one answer as a JSON object, not an array"
    )


def _mp_event_options(parser: argparse.ArgumentParser) -> None:
    _user_options(parser)
    parser.add_argument("--event", required=True, metavar="NAME")
    _field_option(parser, "an extra field (NAME:=JSON for numbers and objects); repeatable")


def _field_option(parser: argparse.ArgumentParser, summary: str) -> None:
    parser.add_argument(
        "--field", type=field_value, action="append", default=[], metavar="NAME=VALUE", help=summary
    )


def _contact_options(parser: argparse.ArgumentParser) -> None:
    changes = list(ChangeType)
    parser.add_argument("--change", choices=changes, default=ChangeType.ADD_EXTERNAL_CONTACT.value)
    parser.add_argument("--userid", required=True, help="the staff member's WeCom userid")
    _user_options(parser, openid="--external-userid")
    parser.add_argument("--state", help="adds: the state of the scanned 'contact me' code")
    code = parser.add_mutually_exclusive_group()
    code.add_argument("--welcome-code", metavar="CODE", help="adds: default a fresh one")
    code.add_argument("--no-welcome-code", action="store_true", help="adds: without one")
    _field_option(parser, "another field: Source=DELETE_BY_TRANSFER, FailReason=… (repeatable)")


def _shop_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--event", default=shop_events.ORDER_PAY, type=_shop_event, metavar="NAME")
    parser.add_argument("--order-id", type=order_id, help="default: a new 19-digit id")
    _user_options(parser)
    parser.add_argument("--amount", type=yuan, default=FEN_PER_YUAN, help="price in yuan")
    parser.add_argument("--aftersale-status", default="MERCHANT_REFUND_SUCCESS")
    parser.add_argument("--aftersale-id", type=order_id)
    parser.add_argument("--refund-amount", type=yuan, help="after-sale refund in yuan")


def _shop_event(text: str) -> str:
    if not re.fullmatch(r"channels_ec_\w+", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a channels_ec_* event")
    return text


# -- building --------------------------------------------------------------------------------


def _with_key_mode(fault: PushFault, args: argparse.Namespace) -> PushFault:
    if args.key_mode is None:
        return fault
    return fault.merged(PushFault(sign_mode=KeyMode(args.key_mode)))


def _build_payment(sim: Simulator, args: argparse.Namespace, fault: PushFault) -> list[Delivery]:
    payment = emissions.Payment(
        out_trade_no=args.order,
        amount_fen=args.amount,
        payer_total_fen=args.payer_total,
        buyer=_buyer(args),
        mchid=args.account,
        v2=args.v2,
        v2_sign_type=SignType(args.sign_type),
    )
    return emissions.pay(sim, payment, _with_key_mode(fault, args))


def _build_refund(sim: Simulator, args: argparse.Namespace, fault: PushFault) -> list[Delivery]:
    outcome = emissions.RefundOutcome(
        out_trade_no=args.order,
        out_refund_no=args.refund_no or f"R{secrets.token_hex(12)}",
        refund_fen=args.amount,
        total_fen=args.total or args.amount,
        status=RefundStatus(args.status),
        mchid=args.account,
        v2=args.v2,
    )
    return emissions.refund(sim, outcome, _with_key_mode(fault, args))


def _build_popup(sim: Simulator, args: argparse.Namespace, fault: PushFault) -> list[Delivery]:
    if not args.accept and not args.reject:
        raise ControlError(400, "give at least one --accept or --reject template")
    answers = emissions.PopupAnswers(
        accept=tuple(args.accept),
        reject=tuple(args.reject),
        buyer=_buyer(args),
        appid=args.account,
        as_object=args.as_object,
    )
    return emissions.subscribe_popup(sim, answers, fault)


def _build_mp_event(sim: Simulator, args: argparse.Namespace, fault: PushFault) -> list[Delivery]:
    event = emissions.MiniProgramEvent(
        event=args.event, fields=dict(args.field), buyer=_buyer(args), appid=args.account
    )
    return emissions.mini_program_event(sim, event, fault)


def _build_contact(sim: Simulator, args: argparse.Namespace, fault: PushFault) -> list[Delivery]:
    change = emissions.ContactChange(
        change=ChangeType(args.change),
        userid=args.userid,
        buyer=emissions.Buyer(user=args.user),
        external_userid=args.external_userid,
        state=args.state,
        welcome_code=args.welcome_code,
        with_welcome_code=not args.no_welcome_code,
        fields=dict(args.field),
        corpid=args.account,
    )
    return emissions.contact_change(sim, change, fault)


def _build_shop_event(sim: Simulator, args: argparse.Namespace, fault: PushFault) -> list[Delivery]:
    event = emissions.ShopOrderEvent(
        event=args.event,
        order_id=args.order_id or random_digits(_SHOP_ORDER_ID_DIGITS),
        buyer=_buyer(args),
        price_fen=args.amount,
        appid=args.account,
        aftersale_status=args.aftersale_status,
        aftersale_id=args.aftersale_id,
        refund_fen=args.refund_amount,
    )
    return emissions.shop_order_event(sim, event, fault)


# (subcommand, summary, its options, how its callback is built)
_KINDS: list[tuple[str, str, Callable[[argparse.ArgumentParser], None], Build]] = [
    ("pay", "TRANSACTION.SUCCESS for an order", _pay_options, _build_payment),
    ("refund", "REFUND.* for a refund of an order", _refund_options, _build_refund),
    ("subscribe-popup", "subscribe_msg_popup_event", _popup_options, _build_popup),
    ("mp-event", "any mini-program event push", _mp_event_options, _build_mp_event),
    ("wecom-contact", "change_external_contact", _contact_options, _build_contact),
    ("channels-order", "a shop order event (channels_ec_*)", _shop_options, _build_shop_event),
]


# -- sending -----------------------------------------------------------------------------------


class _RefusedError(Exception):
    """The command cannot run as given; the message says why."""

    def __init__(self, message: str, status: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _world(args: argparse.Namespace, settings: Settings) -> World:
    path = args.world or settings.data_dir / "simulator" / WORLD_FILE
    if not path.exists():
        raise _RefusedError(
            f"no simulator World at {path}: `wxhub run` (simulator enabled) or `wxhub demo` "
            "creates the demo World there, or name one with --world"
        )
    try:
        return load_world(path)
    except (OSError, ValidationError) as exc:
        raise _RefusedError(f"cannot load the simulator World from {path}: {exc}") from None


def _fault(args: argparse.Namespace) -> PushFault:
    try:
        return PushFault.model_validate(dict(args.fault))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in exc.errors()
        )
        raise _RefusedError(f"invalid --fault: {problems}", EXIT_USAGE) from None


async def simulate_callback(args: argparse.Namespace, settings: Settings) -> int:
    """Build the callback, send it (with copies and retries as asked), report the answers."""
    try:
        copies = Copies(args.repeat, args.concurrency)
        world, fault = _world(args, settings), _fault(args)
    except ValueError as exc:
        print(f"wxhub: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except _RefusedError as exc:
        print(f"wxhub: {exc.message}", file=sys.stderr)
        return exc.status
    hub = args.hub or settings.http.base_url
    time_scale = settings.simulator.time_scale
    async with Emitter(
        world, hub, time_scale=time_scale, follow_retries=args.follow_retries
    ) as emitter:
        build: Build = args.build
        try:
            first = build(emitter.simulator, args, emitter.fault(fault))
        except ControlError as exc:
            print(f"wxhub: {exc.message}", file=sys.stderr)
            return EXIT_FAILED
        _announce(first[0], copies, args.follow_retries, time_scale)
        sent = await emitter.send(first, copies, _print_attempt)
    return _conclude(sent)


def _announce(push: Delivery, copies: Copies, follow_retries: bool, time_scale: float) -> None:
    url = push.prepare().url.split("?", 1)[0]
    print(f"{push.event} {push.key} → {url}", flush=True)
    if copies.total > 1:
        print(f"  {copies.repeat} round(s) of {copies.concurrency} copy(ies) at once", flush=True)
    if follow_retries:
        print(
            f"  failures are retried on WeChat's schedule, {time_scale:g} times faster", flush=True
        )


def _answer(attempt: Attempt) -> str:
    if attempt.status is None:
        return f"no answer ({attempt.error})"
    body = attempt.body.strip()
    return f"{attempt.status} {body}" if body else str(attempt.status)


def _print_attempt(copy: int, _push: Delivery, attempt: Attempt) -> None:
    print(
        f"  copy {copy}, attempt {attempt.number}: {_answer(attempt)} "
        f"({attempt.duration_ms:.1f} ms)",
        flush=True,
    )


def _conclude(sent: list[Delivery]) -> int:
    event, failed = sent[0].event, [push for push in sent if not delivered([push])]
    copies = f"{len(sent) - len(failed)} of {len(sent)} cop(ies)"
    if not failed:
        print(f"the hub took {event}: {copies} answered success")
        return 0
    last = failed[0].attempts[-1] if failed[0].attempts else None
    if last is None or last.status is None:
        error = last.error if last is not None else "not sent"
        print(f"wxhub: no answer from the hub to {event} ({error})", file=sys.stderr)
    else:
        print(
            f"wxhub: the hub refused {event} ({copies} accepted): {_answer(last)}", file=sys.stderr
        )
    return EXIT_FAILED
