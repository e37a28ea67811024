"""Concurrent changes to one member never lose an update nor apply one twice.

Run on both databases; on PostgreSQL the transactions truly overlap (one pool connection
each), so the member row lock and the unique idempotency keys are what these prove.
"""

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

import pytest

from hub.errors import DomainError
from hub.models.member import Member
from hub.models.order import Order
from hub.models.points import PointsEntry
from hub.models.stored_value import StoredValueEntry
from hub.services import identity, orders, points, settlement
from hub.services.audit import Actor
from hub.services.members import create_member
from hub.services.orders import OfflineSale, PayTarget, SaleRequest
from hub.services.points import PointsRequest
from hub.services.settlement import PaymentResult
from hub.settings import Settings
from hub.vault import Vault, load_vault
from tests import builders
from tests.builders import APPID, MCHID, HubBrand

ACTOR = Actor.cli()
_numbers = itertools.count()


@pytest.fixture
async def hub(db: None, settings: Settings) -> HubBrand:
    hub = await builders.create_hub_brand(load_vault(settings))
    await builders.apply_programme(hub)
    return hub


@pytest.fixture
def vault(settings: Settings) -> Vault:
    return load_vault(settings)


async def assert_ledgers_match(member_id: int) -> Member:
    member = await Member.get(id=member_id)
    entries = await PointsEntry.filter(member_id=member_id)
    assert member.points_balance >= 0
    assert sum(entry.delta for entry in entries) == member.points_balance
    assert sum(entry.remaining for entry in entries) == member.points_balance
    assert [entry.balance_after for entry in entries if entry.balance_after < 0] == []
    stored = await StoredValueEntry.filter(member_id=member_id)
    assert sum(entry.principal_delta for entry in stored) == member.sv_principal_fen
    assert sum(entry.bonus_delta for entry in stored) == member.sv_bonus_fen
    return member


async def settle(hub: HubBrand, order: Order) -> str:
    return await settlement.settle_payment(
        hub.brand.id,
        PaymentResult(
            mchid=MCHID,
            appid=APPID,
            out_trade_no=order.out_trade_no,
            transaction_id=f"42{next(_numbers):020d}",
            amount_fen=order.wechat_fen,
            payer_fen=order.wechat_fen,
            paid_at=datetime.now(UTC),
            openid="o_payer",
        ),
    )


async def test_a_hundred_concurrent_earns_and_redeems_keep_the_ledger_whole(
    hub: HubBrand, vault: Vault
) -> None:
    member = await create_member(hub.brand, vault)
    unpaid = [
        await orders.create_order(hub.store, 1_000, mchid=MCHID, appid=APPID, member=member)
        for _ in range(40)
    ]

    async def earn_by_payment(order: Order) -> str:
        return await settle(hub, order)

    async def earn_by_hand(number: int) -> str:
        request = PointsRequest(5, f"earn-{number}", "bonus")
        await points.adjust_points(member.id, request, ACTOR)
        return "adjusted"

    async def redeem(number: int) -> str:
        try:
            await points.redeem_points(
                member.id, PointsRequest(12, f"redeem-{number}", "gift"), ACTOR
            )
        except DomainError as exc:
            return exc.reason
        return "redeemed"

    work = [earn_by_payment(order) for order in unpaid]
    work += [earn_by_hand(number) for number in range(20)]
    work += [redeem(number) for number in range(40)]
    outcomes = await asyncio.gather(*work)

    assert set(outcomes) <= {"paid", "adjusted", "redeemed", "insufficient_points"}
    assert outcomes.count("paid") == 40
    redeemed = outcomes.count("redeemed")
    fresh = await assert_ledgers_match(member.id)
    assert fresh.points_balance == 40 * 10 + 20 * 5 - 12 * redeemed


async def test_one_idempotency_key_sent_twenty_times_at_once_lands_once(
    hub: HubBrand, vault: Vault
) -> None:
    member = await create_member(hub.brand, vault)
    request = PointsRequest(50, "crm-42", "goodwill")

    entries = await asyncio.gather(
        *(points.adjust_points(member.id, request, ACTOR) for _ in range(20))
    )

    assert len({entry.id for entry, _ in entries}) == 1
    assert [created for _, created in entries].count(True) == 1
    assert await PointsEntry.filter(member_id=member.id).count() == 1
    assert (await assert_ledgers_match(member.id)).points_balance == 50


async def test_the_same_pos_sale_posted_twenty_times_at_once_is_one_order(
    hub: HubBrand, vault: Vault
) -> None:
    member = await create_member(hub.brand, vault)
    sale = OfflineSale(hub.store, 3_000, "POS-77", datetime.now(UTC), member=member)

    results = await asyncio.gather(
        *(orders.post_offline_sale(hub.brand.id, sale, ACTOR) for _ in range(20))
    )

    assert [created for _, created in results].count(True) == 1
    assert await Order.filter(external_id="POS-77").count() == 1
    assert (await assert_ledgers_match(member.id)).points_balance == 30


async def test_concurrent_spends_never_overdraw_the_stored_value(
    hub: HubBrand, vault: Vault
) -> None:
    member = await create_member(hub.brand, vault)
    recharge = await orders.create_recharge(
        member, 10_000, PayTarget(MCHID, APPID, "o", datetime.now(UTC) + timedelta(minutes=5))
    )
    assert await settle(hub, recharge) == "paid"

    async def spend() -> str:
        sale = SaleRequest(hub.store, 1_000, stored_value_fen=1_000)
        try:
            await orders.create_sale(member, sale, None, datetime.now(UTC))
        except DomainError as exc:
            return exc.reason
        return "paid"

    outcomes = await asyncio.gather(*(spend() for _ in range(20)))

    assert outcomes.count("paid") == 10
    assert outcomes.count("insufficient_balance") == 10
    fresh = await assert_ledgers_match(member.id)
    assert (fresh.sv_principal_fen, fresh.sv_bonus_fen) == (0, 0)


@pytest.mark.parametrize("round_", range(5))
async def test_a_merge_and_a_payment_at_the_same_moment_lose_nothing(
    hub: HubBrand, vault: Vault, round_: int
) -> None:
    phone = f"1380013{round_:04d}"
    known = await create_member(hub.brand, vault, phone=phone)  # from the POS, older
    await orders.post_offline_sale(
        hub.brand.id,
        OfflineSale(hub.store, 2_000, f"old-{round_}", datetime.now(UTC), member=known),
        ACTOR,
    )
    app_user = (
        await identity.log_in(
            hub.brand,
            identity.WeChatUser(APPID, f"o_{round_}", None),
            vault,
            datetime.now(UTC),
        )
    ).member
    order = await orders.create_order(hub.store, 7_000, mchid=MCHID, appid=APPID, member=app_user)
    pos_sale = OfflineSale(hub.store, 1_000, f"new-{round_}", datetime.now(UTC), member=app_user)

    merged, paid, posted = await asyncio.gather(
        identity.bind_phone(app_user, phone, "86", vault),
        settle(hub, order),
        orders.post_offline_sale(hub.brand.id, pos_sale, ACTOR),
    )

    assert merged.id == known.id
    assert paid == "paid"
    assert posted[1] is True
    survivor = await assert_ledgers_match(known.id)
    gone = await Member.get(id=app_user.id)
    assert (gone.points_balance, gone.total_spend_fen, gone.paid_orders_count) == (0, 0, 0)
    assert survivor.points_balance == 20 + 70 + 10
    assert survivor.total_spend_fen == 10_000
    assert survivor.paid_orders_count == 3
    assert await Order.filter(member_id=app_user.id).count() == 0


@pytest.mark.parametrize("unionid", [None, "u_rush"], ids=["openid", "unionid"])
async def test_ten_first_logins_of_one_user_at_once_make_one_member(
    hub: HubBrand, vault: Vault, unionid: str | None
) -> None:
    user = identity.WeChatUser(APPID, "o_rush", unionid)

    logins = await asyncio.gather(
        *(identity.log_in(hub.brand, user, vault, datetime.now(UTC)) for _ in range(10))
    )

    assert len({login.member.id for login in logins}) == 1
    assert [login.created for login in logins].count(True) == 1
    assert await Member.filter(brand_id=hub.brand.id).count() == 1
