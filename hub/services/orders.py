"""Orders: sales in a store, recharges and card purchases — created, posted by a POS, closed.

Lock order: member, then order (then anything else). The stored-value part of an order is
taken from the balance when the order is created and given back if it is never paid. An
order paid entirely from stored value, and a POS order, are settled at once (settlement.py);
the others when WeChat Pay's notification arrives.
"""

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from hub import db
from hub.errors import AlreadyExistsError, DomainError, InvalidValueError, NotFoundError
from hub.models.brand import Store, StoreStatus
from hub.models.member import Member
from hub.models.membership import CardKind
from hub.models.order import Order, OrderKind, OrderSource, OrderStatus
from hub.models.stored_value import StoredValueKind
from hub.services import audit, order_coupons, stored_value
from hub.services.audit import Actor
from hub.services.fields import check_text
from hub.services.member_locks import lock_member, lock_member_or_none
from hub.services.programme import MAX_RECHARGE_FEN, load_programme
from hub.services.settlement import complete_order

# WeChat Pay's own ceiling per order is far higher; a store sale above ¥1,000,000 is a typo.
MAX_ORDER_FEN = 100_000_000
# How long a POS may take to post a sale, and how far its clock may run ahead of ours.
MAX_POS_DELAY = timedelta(days=31)
MAX_CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class PayTarget:
    """Where the WeChat part of an order is paid: the brand's merchant, app and the payer."""

    mchid: str
    appid: str
    payer_openid: str
    # Until when WeChat accepts the payment (JSAPI time_expire).
    expires_at: datetime


def new_out_trade_no() -> str:
    """An order number for WeChat Pay: 'W' + 24 hex digits (unique, 6-32 allowed chars)."""
    return "W" + secrets.token_hex(12)


def check_amount(amount_fen: int, field: str = "amount_fen", ceiling: int = MAX_ORDER_FEN) -> int:
    """Raises InvalidValueError unless 1 <= amount <= ceiling (an int, not a bool)."""
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        raise InvalidValueError(field, "must be a whole number of fen")
    if not 0 < amount_fen <= ceiling:
        raise InvalidValueError(field, f"must be between 1 and {ceiling} fen")
    return amount_fen


def check_store(store: Store, brand_id: int) -> Store:
    """Raises NotFoundError for another brand's store, InvalidValueError for a paused one."""
    if store.brand_id != brand_id:
        raise NotFoundError("store_not_found", f"no store {store.id}")
    if store.status is StoreStatus.PAUSED:
        raise InvalidValueError("store", "the store is paused", reason="store_paused")
    return store


def level_discount_fen(original_fen: int, discount_percent: int) -> int:
    """The level's discount, rounded down to the fen (the customer never pays less than due)."""
    return original_fen * discount_percent // 100


async def create_order(
    store: Store,
    amount_fen: int,
    *,
    mchid: str,
    appid: str,
    member: Member | None = None,
    description: str = "",
) -> Order:
    """A plain sale awaiting WeChat Pay for `amount_fen` (no discount, no stored value).

    It has no payment deadline, so the close job leaves it open: the demo's orders wait for
    `wxhub simulate pay`. Customers' orders come from create_sale, with a deadline.

    Raises:
        InvalidValueError: a zero, negative or too large amount, or a paused store.
    """
    check_amount(amount_fen)
    check_store(store, store.brand_id)
    return await Order.create(
        brand_id=store.brand_id,
        store=store,
        member=member,
        out_trade_no=new_out_trade_no(),
        mchid=mchid,
        appid=appid,
        original_fen=amount_fen,
        amount_fen=amount_fen,
        description=description[:127],
    )


@dataclass(frozen=True)
class SaleRequest:
    store: Store
    original_fen: int
    stored_value_fen: int = 0
    description: str = ""
    # The client's idempotency key: the same key again returns the first order.
    client_key: str | None = None
    # One of the member's money coupons (cash off or percent off), applied after the level's
    # discount; reserved until the order is paid or closed.
    coupon_id: int | None = None


async def _earlier(member_id: int, client_key: str | None, **expected: object) -> Order | None:
    """The order an earlier request with the same idempotency key created, if any.

    `expected` names what the request asked for (kind, amounts, store, card); an earlier order
    that differs in any of them is another order.

    Raises:
        AlreadyExistsError: "idempotency_key_reused" when that order is a different one.
    """
    if client_key is None:
        return None
    earlier = await Order.get_or_none(member_id=member_id, client_key=client_key)
    if earlier is not None and any(
        getattr(earlier, name) != value for name, value in expected.items()
    ):
        raise AlreadyExistsError(
            "idempotency_key_reused", "this Idempotency-Key was used for another order"
        )
    return earlier


async def create_sale(
    member: Member, request: SaleRequest, pay: PayTarget | None, now: datetime
) -> Order:
    """A member's sale in a store: level discount and coupon off, part paid from stored value.

    The coupon (a money coupon of the member's) is reserved by the order. When stored value
    covers all of it, the order is paid at once; otherwise WeChat Pay collects the rest through
    `pay`. A repeated request (same client key) returns the first order.

    Raises:
        InvalidValueError: bad amounts or a paused store.
        NotFoundError: the store is another brand's; "coupon_not_found".
        DomainError: "insufficient_balance" for more stored value than the member holds,
            "pay_unavailable" for a WeChat part without `pay`, the coupon's refusals (see
            order_coupons.coupon_discount).
        AlreadyExistsError: "idempotency_key_reused".
    """
    check_amount(request.original_fen, "original_fen")
    key = request.client_key
    asked = {
        "kind": OrderKind.SALE,
        "original_fen": request.original_fen,
        "store_id": request.store.id,
        "stored_value_fen": request.stored_value_fen,
        "coupon_id": request.coupon_id,
    }
    if (earlier := await _earlier(member.id, key, **asked)) is not None:
        return earlier
    try:
        return await _create_sale(member, request, pay, now)
    except IntegrityError:
        # The same request, concurrently: the first one's order stands.
        earlier = await _earlier(member.id, key, **asked)
        if earlier is None:
            raise
        return earlier


async def _create_sale(
    member: Member, request: SaleRequest, pay: PayTarget | None, now: datetime
) -> Order:
    check_store(request.store, member.brand_id)
    programme = await load_programme(member.brand_id)
    level = programme.level(member.level_id)
    discount = level_discount_fen(request.original_fen, level.discount_percent if level else 0)
    async with db.atomic():
        locked = await lock_member(member.id)
        amount = request.original_fen - discount
        coupon, coupon_off = None, 0
        if request.coupon_id is not None:
            coupon, coupon_off = await order_coupons.coupon_discount(
                locked, request.coupon_id, request.store, amount, now
            )
            amount -= coupon_off
        _check_payable(request, amount, pay)
        order = await Order.create(
            brand_id=member.brand_id,
            store=request.store,
            member_id=member.id,
            kind=OrderKind.SALE,
            out_trade_no=new_out_trade_no(),
            client_key=request.client_key,
            original_fen=request.original_fen,
            discount_fen=discount,
            coupon_id=request.coupon_id,
            coupon_discount_fen=coupon_off,
            amount_fen=amount,
            description=check_text(request.description, "description", 127),
            **_pay_fields(pay if request.stored_value_fen < amount else None),
        )
        if coupon is not None:
            await order_coupons.reserve(coupon, order)
        await _hold_stored_value(locked, order, request.stored_value_fen)
        if order.wechat_fen == 0:
            await complete_order(order, locked, programme, now, transaction_id=None)
        await locked.save()
    return order


def _check_payable(request: SaleRequest, amount: int, pay: PayTarget | None) -> None:
    if not 0 <= request.stored_value_fen <= amount:
        raise InvalidValueError("stored_value_fen", f"must be between 0 and {amount}")
    if request.stored_value_fen < amount and pay is None:
        raise DomainError("pay_unavailable", "WeChat Pay is not set up for this mini-program")


def _pay_fields(pay: PayTarget | None) -> dict[str, Any]:
    if pay is None:
        return {"mchid": "", "appid": ""}
    return {
        "mchid": pay.mchid,
        "appid": pay.appid,
        "payer_openid": pay.payer_openid,
        "expires_at": pay.expires_at,
    }


async def _hold_stored_value(member: Member, order: Order, amount_fen: int) -> None:
    if amount_fen == 0:
        return
    split = stored_value.spending_split(member, amount_fen)
    order.stored_value_fen = amount_fen
    order.sv_principal_fen, order.sv_bonus_fen = split.principal_fen, split.bonus_fen
    await order.save(update_fields=["stored_value_fen", "sv_principal_fen", "sv_bonus_fen"])
    await stored_value.record(
        member,
        StoredValueKind.SPEND,
        stored_value.Split(-split.principal_fen, -split.bonus_fen),
        key=f"order:{order.out_trade_no}:spend",
        order=order,
        reason=f"order {order.out_trade_no}",
    )


async def create_recharge(
    member: Member,
    amount_fen: int,
    pay: PayTarget,
    store: Store | None = None,
    client_key: str | None = None,
) -> Order:
    """Stored value to buy through WeChat Pay; the bonus of its tier is fixed now.

    Raises:
        InvalidValueError: a bad amount or a paused store.
        NotFoundError: the store is another brand's.
        AlreadyExistsError: "idempotency_key_reused".
    """
    check_amount(amount_fen, ceiling=MAX_RECHARGE_FEN)
    if store is not None:
        check_store(store, member.brand_id)
    asked = {
        "kind": OrderKind.RECHARGE,
        "original_fen": amount_fen,
        "store_id": store.id if store else None,
    }
    if (earlier := await _earlier(member.id, client_key, **asked)) is not None:
        return earlier
    programme = await load_programme(member.brand_id)
    return await _create_once(
        member,
        client_key,
        asked,
        brand_id=member.brand_id,
        store=store,
        kind=OrderKind.RECHARGE,
        out_trade_no=new_out_trade_no(),
        original_fen=amount_fen,
        amount_fen=amount_fen,
        recharge_bonus_fen=programme.recharge_bonus_fen(amount_fen),
        description="储值充值",
        **_pay_fields(pay),
    )


async def _create_once(
    member: Member, client_key: str | None, asked: dict[str, object], **fields: Any
) -> Order:
    """Order.create, where a concurrent request with the same key returns its order instead."""
    try:
        async with in_transaction():
            return await Order.create(member_id=member.id, client_key=client_key, **fields)
    except IntegrityError:
        earlier = await _earlier(member.id, client_key, **asked)
        if earlier is None:
            raise
        return earlier


async def create_card_purchase(
    member: Member, card_code: str, pay: PayTarget, client_key: str | None = None
) -> Order:
    """A paid card to buy through WeChat Pay; granted when the payment settles.

    Raises:
        NotFoundError: no such active paid card.
        AlreadyExistsError: "idempotency_key_reused".
    """
    programme = await load_programme(member.brand_id)
    card = next(
        (
            card
            for card in programme.cards.values()
            if card.code == card_code and card.active and card.kind is CardKind.PAID
        ),
        None,
    )
    if card is None:
        raise NotFoundError("card_not_found", f"no paid card {card_code!r} on sale")
    asked = {"kind": OrderKind.CARD, "original_fen": card.price_fen, "card_type_id": card.id}
    if (earlier := await _earlier(member.id, client_key, **asked)) is not None:
        return earlier
    return await _create_once(
        member,
        client_key,
        asked,
        brand_id=member.brand_id,
        kind=OrderKind.CARD,
        card_type_id=card.id,
        out_trade_no=new_out_trade_no(),
        original_fen=card.price_fen,
        amount_fen=card.price_fen,
        description=card.name[:127],
        **_pay_fields(pay),
    )


@dataclass(frozen=True)
class OfflineSale:
    """A sale a POS made and posts afterwards so that it earns points too."""

    store: Store
    amount_fen: int
    external_id: str
    paid_at: datetime
    member: Member | None = None
    description: str = ""


async def post_offline_sale(brand_id: int, sale: OfflineSale, actor: Actor) -> tuple[Order, bool]:
    """Record a paid POS sale (points, spend, level); the same external id twice is one order.

    Returns the order and whether it was created now.

    Raises:
        InvalidValueError: bad amount or id, a paid_at in the future or too long ago.
        NotFoundError: the store is another brand's.
        AlreadyExistsError: "external_id_reused" for the same id with different contents.
    """
    check_amount(sale.amount_fen)
    check_store(sale.store, brand_id)
    external_id = check_text(sale.external_id, "external_id", 64)
    if not external_id:
        raise InvalidValueError("external_id", "must not be empty")
    now = datetime.now(UTC)
    if not now - MAX_POS_DELAY <= sale.paid_at <= now + MAX_CLOCK_SKEW:
        raise InvalidValueError("paid_at", "must be within the last 31 days and not ahead")
    earlier = await Order.get_or_none(brand_id=brand_id, external_id=external_id)
    if earlier is not None:
        return _same_sale(earlier, sale), False
    try:
        async with in_transaction():
            order = await _post(brand_id, sale, external_id, actor)
    except IntegrityError:
        # A concurrent post of the same sale won the unique (brand, external_id).
        earlier = await Order.get(brand_id=brand_id, external_id=external_id)
        return _same_sale(earlier, sale), False
    return order, True


def _same_sale(order: Order, sale: OfflineSale) -> Order:
    member_id = sale.member.id if sale.member else None
    if (order.amount_fen, order.store_id, order.member_id) != (
        sale.amount_fen,
        sale.store.id,
        member_id,
    ):
        raise AlreadyExistsError(
            "external_id_reused", "an order with this external_id exists with other contents"
        )
    return order


async def _post(brand_id: int, sale: OfflineSale, external_id: str, actor: Actor) -> Order:
    member = await lock_member_or_none(sale.member.id if sale.member else None)
    order = await Order.create(
        brand_id=brand_id,
        store=sale.store,
        member_id=member.id if member else None,
        kind=OrderKind.SALE,
        source=OrderSource.POS,
        external_id=external_id,
        out_trade_no=new_out_trade_no(),
        mchid="",
        appid="",
        original_fen=sale.amount_fen,
        amount_fen=sale.amount_fen,
        description=check_text(sale.description, "description", 127),
    )
    programme = await load_programme(brand_id)
    await complete_order(order, member, programme, sale.paid_at, transaction_id=None)
    if member is not None:
        await member.save()
    await audit.record(
        actor,
        "order.post_offline",
        "order",
        order.id,
        brand_id=brand_id,
        after={"external_id": external_id, "amount_fen": sale.amount_fen, "store": sale.store.id},
    )
    return order


async def close_expired_orders(now: datetime, grace: timedelta, batch: int = 500) -> int:
    """Close unpaid orders past their deadline (plus `grace`); returns how many were closed.

    Stored value they held is given back. WeChat refuses payment after the deadline
    (time_expire), so a closed order is not paid later; a payment that still arrives becomes a
    "paid_after_close" anomaly. Orders are taken in batches by id until none is left.
    """
    closed, after = 0, 0
    while True:
        rows = await (
            Order.filter(status=OrderStatus.CREATED, expires_at__lt=now - grace, id__gt=after)
            .order_by("id")
            .limit(batch)
            .values("id")
        )
        for row in rows:
            closed += await _close(int(row["id"]), now)
        if len(rows) < batch:
            return closed
        after = int(rows[-1]["id"])


async def abandon_order(order_id: int, now: datetime) -> bool:
    """Close an unpaid order at once (its prepay failed); gives back stored value it held."""
    return bool(await _close(order_id, now))


async def _close(order_id: int, now: datetime) -> int:
    async with db.atomic():
        peek = await Order.get(id=order_id)
        member = await lock_member_or_none(peek.member_id)
        changed = await Order.filter(id=order_id, status=OrderStatus.CREATED).update(
            status=OrderStatus.CLOSED, closed_at=now
        )
        if not changed:
            return 0
        await order_coupons.release_for(peek, now)
        if member is not None and peek.stored_value_fen:
            await stored_value.record(
                member,
                StoredValueKind.RESTORE,
                stored_value.Split(peek.sv_principal_fen, peek.sv_bonus_fen),
                key=f"order:{peek.out_trade_no}:restore",
                order=peek,
                reason=f"order {peek.out_trade_no} not paid",
            )
            await member.save(update_fields=stored_value.SAVED_FIELDS)
    return 1


async def find_order(brand_id: int, out_trade_no: str) -> Order:
    """Raises NotFoundError unless the brand has the order."""
    order = await Order.get_or_none(brand_id=brand_id, out_trade_no=out_trade_no)
    if order is None:
        raise NotFoundError("order_not_found", f"no order {out_trade_no!r}")
    return order


def refuse_unpayable(order: Order) -> None:
    """Raises DomainError "order_not_payable" unless the order still awaits payment."""
    if order.status is not OrderStatus.CREATED:
        raise DomainError("order_not_payable", f"the order is {order.status.value}")
