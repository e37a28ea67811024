"""Store and guide performance by China day, through the open API."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hub.dates import BEIJING, beijing_day
from hub.models.brand import Store
from hub.models.member import Member
from hub.models.order import Order, OrderKind, OrderSource, OrderStatus
from hub.models.staff import Staff, StaffRole
from hub.services import brands
from hub.services.api_keys import create_api_key
from hub.services.audit import Actor
from hub.services.members import create_member
from hub.services.orders import OfflineSale, new_out_trade_no, post_offline_sale
from hub.services.refunds import request_refund
from hub.services.staff import add_staff
from hub.settings import Settings
from hub.vault import Vault, load_vault
from tests.builders import HubBrand, create_hub_brand

Client = TestClient[Any, Any]

# Recent days, so that a POS may still post their sales (at most 31 days late).
DAY_1 = beijing_day(datetime.now(UTC)) - timedelta(days=4)
DAY_2 = DAY_1 + timedelta(days=1)
DAY_3 = DAY_1 + timedelta(days=2)
EMPTY = {
    "gmv_fen": 0,
    "refunded_fen": 0,
    "net_fen": 0,
    "orders": 0,
    "customers": 0,
    "repeat_customers": 0,
    "repeat_rate": None,
    "new_members": 0,
}


def beijing(day: date, hour: int, minute: int = 0) -> datetime:
    """A moment given in China's time, as the UTC datetime the database stores."""
    return datetime.combine(day, time(hour, minute), BEIJING).astimezone(UTC)


@dataclass
class Shop:
    hub: HubBrand
    vault: Vault
    headers: dict[str, str]
    sales: int = 0

    async def sell(self, amount_fen: int, paid_at: datetime, member: Member | None = None) -> Order:
        self.sales += 1
        sale = OfflineSale(self.hub.store, amount_fen, f"pos-{self.sales}", paid_at, member)
        order, _ = await post_offline_sale(self.hub.brand.id, sale, Actor.cli())
        return order

    async def member(self, joined_at: datetime, home_store: Store | None = None) -> Member:
        member = await create_member(self.hub.brand, self.vault, home_store=home_store)
        await Member.filter(id=member.id).update(created_at=joined_at)
        return member

    async def guide(self, name: str) -> Staff:
        return await add_staff(
            self.hub.brand, name, StaffRole.CLERK, Actor.cli(), store=self.hub.store
        )


@pytest.fixture
async def shop(db: None, settings: Settings) -> Shop:
    hub = await create_hub_brand(load_vault(settings))
    issued = await create_api_key(hub.brand, "reports", Actor.cli())
    return Shop(hub, load_vault(settings), {"Authorization": f"Bearer {issued.plaintext}"})


async def take_on(member: Member, guide: Staff, since: datetime) -> None:
    await Member.filter(id=member.id).update(guide_id=guide.id, guide_since=since)


async def report(client: Client, shop: Shop, path: str, first: date, last: date) -> Any:
    response = await client.get(
        path, params={"from": first.isoformat(), "to": last.isoformat()}, headers=shop.headers
    )
    assert response.status == 200, await response.text()
    return await response.json()


def figures(**given: Any) -> dict[str, Any]:
    return EMPTY | given


async def test_store_performance_counts_sales_on_their_china_day(
    client: Client, shop: Shop
) -> None:
    store = shop.hub.store
    regular = await shop.member(beijing(DAY_1, 23, 30), home_store=store)
    newcomer = await shop.member(beijing(DAY_2, 0, 30), home_store=store)
    await shop.member(beijing(DAY_2, 9), home_store=None)  # joined, but not in this store
    await shop.member(beijing(DAY_1, 12) - timedelta(days=1), home_store=store)  # before the range
    await shop.sell(10_000, beijing(DAY_1, 23, 30), regular)  # 15:30 UTC on day 1
    await shop.sell(5_000, beijing(DAY_2, 0, 30), regular)  # 16:30 UTC on day 1: a repeat
    await shop.sell(3_000, beijing(DAY_2, 12))  # a walk-in
    refunded = await shop.sell(2_000, beijing(DAY_2, 13), newcomer)
    await request_refund(refunded, 500, "one cup spilt", Actor.cli())

    body = await report(client, shop, f"/api/v1/stores/{store.id}/performance", DAY_1, DAY_3)

    assert body["store"] == {"id": store.id, "code": store.code, "name": store.name}
    assert (body["from"], body["to"]) == (DAY_1.isoformat(), DAY_3.isoformat())
    assert [day["day"] for day in body["days"]] == [d.isoformat() for d in (DAY_1, DAY_2, DAY_3)]
    day_1, day_2, day_3 = ({k: v for k, v in d.items() if k != "day"} for d in body["days"])
    assert day_1 == figures(
        gmv_fen=10_000, net_fen=10_000, orders=1, customers=1, repeat_rate=0.0, new_members=1
    )
    assert day_2 == figures(
        gmv_fen=10_000,
        refunded_fen=500,
        net_fen=9_500,
        orders=3,
        customers=2,
        repeat_customers=1,
        repeat_rate=0.5,
        new_members=1,
    )
    assert day_3 == EMPTY
    assert body["total"] == figures(
        gmv_fen=20_000,
        refunded_fen=500,
        net_fen=19_500,
        orders=4,
        customers=2,
        repeat_customers=1,
        repeat_rate=0.5,
        new_members=2,
    )


async def test_store_performance_counts_only_paid_sales_of_that_store(
    client: Client, shop: Shop
) -> None:
    brand, store = shop.hub.brand, shop.hub.store
    elsewhere = await brands.add_store(brand, "s002", "Xujiahui", Actor.cli())
    member = await shop.member(beijing(DAY_1, 8))
    await shop.sell(1_000, beijing(DAY_1, 10), member)
    refunded = await shop.sell(4_000, beijing(DAY_1, 11), member)
    await request_refund(refunded, 4_000, "returned", Actor.cli())
    await post_offline_sale(
        brand.id, OfflineSale(elsewhere, 7_000, "pos-elsewhere", beijing(DAY_1, 12)), Actor.cli()
    )
    paid_at = beijing(DAY_1, 13)
    for kind, status in (
        (OrderKind.RECHARGE, OrderStatus.PAID),
        (OrderKind.SALE, OrderStatus.CREATED),
        (OrderKind.SALE, OrderStatus.CLOSED),
    ):
        await Order.create(
            brand=brand,
            store=store,
            member=member,
            kind=kind,
            source=OrderSource.MINIPROGRAM,
            out_trade_no=new_out_trade_no(),
            mchid="",
            appid="",
            amount_fen=9_000,
            status=status,
            paid_at=paid_at,
        )

    body = await report(client, shop, f"/api/v1/stores/{store.id}/performance", DAY_1, DAY_1)

    assert body["total"] == figures(
        gmv_fen=5_000,
        refunded_fen=4_000,
        net_fen=1_000,
        orders=2,
        customers=1,
        repeat_customers=1,
        repeat_rate=1.0,
    )


async def test_guide_performance_counts_attributed_sales_and_members_taken_on(
    client: Client, shop: Shop
) -> None:
    guide, colleague = await shop.guide("Li Na"), await shop.guide("Wang Fang")
    loyal = await shop.member(beijing(DAY_1, 9) - timedelta(days=10))
    await take_on(loyal, guide, beijing(DAY_1, 23, 30))
    newcomer = await shop.member(beijing(DAY_2, 8))
    await take_on(newcomer, guide, beijing(DAY_2, 0, 30))
    leaver = await shop.member(beijing(DAY_1, 8))
    await take_on(leaver, guide, beijing(DAY_1, 8))
    others = await shop.member(beijing(DAY_1, 8))
    await take_on(others, colleague, beijing(DAY_1, 8))
    await shop.sell(8_000, beijing(DAY_1, 23, 30), loyal)
    await shop.sell(2_000, beijing(DAY_2, 0, 30), loyal)
    await shop.sell(1_500, beijing(DAY_2, 10), newcomer)
    await shop.sell(900, beijing(DAY_2, 11), leaver)
    await take_on(leaver, colleague, beijing(DAY_2, 12))  # the sale before stays with the guide
    await shop.sell(6_000, beijing(DAY_2, 11), others)
    await shop.sell(700, beijing(DAY_2, 11))  # a walk-in has no guide

    body = await report(client, shop, f"/api/v1/staff/{guide.id}/performance", DAY_1, DAY_2)

    assert body["staff"] == {
        "id": guide.id,
        "name": "Li Na",
        "role": "clerk",
        "store_id": shop.hub.store.id,
        "active": True,
    }
    day_1, day_2 = ({k: v for k, v in d.items() if k != "day"} for d in body["days"])
    assert day_1 == figures(
        gmv_fen=8_000, net_fen=8_000, orders=1, customers=1, repeat_rate=0.0, new_members=1
    )
    assert day_2 == figures(
        gmv_fen=4_400,
        net_fen=4_400,
        orders=3,
        customers=3,
        repeat_customers=1,
        repeat_rate=0.3333,
        new_members=1,
    )
    assert body["total"] == figures(
        gmv_fen=12_400,
        net_fen=12_400,
        orders=4,
        customers=3,
        repeat_customers=1,
        repeat_rate=0.3333,
        new_members=2,
    )


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ({"from": "2024-03-10", "to": "2024-03-01"}, "range_reversed"),
        ({"from": "2024-01-01", "to": "2024-04-02"}, "range_too_long"),
        ({"from": "1999-12-31", "to": "2000-01-01"}, "range_out_of_bounds"),
        ({"from": "2024-3-1", "to": "2024-03-02"}, "invalid_request"),
        ({"from": "2024-02-30", "to": "2024-03-02"}, "invalid_request"),
        ({"from": "0", "to": "2024-03-02"}, "invalid_request"),
        ({"from": "2024-03-01"}, "invalid_request"),
        ({"from": "2024-03-01", "to": "2024-03-02", "store": "1"}, "invalid_request"),
    ],
)
async def test_bad_ranges_are_refused_with_a_reason(
    client: Client, shop: Shop, query: dict[str, str], reason: str
) -> None:
    path = f"/api/v1/stores/{shop.hub.store.id}/performance"

    response = await client.get(path, params=query, headers=shop.headers)

    assert response.status == 400
    assert (await response.json())["reason"] == reason


async def test_a_range_of_92_days_is_answered_day_by_day(client: Client, shop: Shop) -> None:
    last = DAY_1 + timedelta(days=91)
    body = await report(
        client, shop, f"/api/v1/stores/{shop.hub.store.id}/performance", DAY_1, last
    )

    assert len(body["days"]) == 92
    assert body["total"] == EMPTY


async def test_other_brands_stores_and_staff_are_not_found(client: Client, shop: Shop) -> None:
    other = await brands.create_brand("other", "Other Tea", Actor.cli())
    their_store = await brands.add_store(other, "s001", "Their shop", Actor.cli())
    their_guide = await add_staff(
        other, "Zhao Lei", StaffRole.CLERK, Actor.cli(), store=their_store
    )
    query = {"from": DAY_1.isoformat(), "to": DAY_2.isoformat()}

    for path, reason in (
        (f"/api/v1/stores/{their_store.id}/performance", "store_not_found"),
        (f"/api/v1/staff/{their_guide.id}/performance", "staff_not_found"),
        ("/api/v1/stores/abc/performance", "store_not_found"),
        ("/api/v1/stores/2147483648/performance", "store_not_found"),
        ("/api/v1/stores/-1/performance", "store_not_found"),
        ("/api/v1/staff/99999999999999999999/performance", "staff_not_found"),
        ("/api/v1/staff/%C2%B2/performance", "staff_not_found"),
    ):
        response = await client.get(path, params=query, headers=shop.headers)

        assert response.status == 404, path
        assert (await response.json())["reason"] == reason, path


async def test_performance_needs_an_api_key(client: Client, shop: Shop) -> None:
    query = {"from": DAY_1.isoformat(), "to": DAY_2.isoformat()}

    for path in (
        f"/api/v1/stores/{shop.hub.store.id}/performance",
        "/api/v1/staff/1/performance",
    ):
        response = await client.get(path, params=query)

        assert response.status == 401
        assert (await response.json())["reason"] == "missing_token"
