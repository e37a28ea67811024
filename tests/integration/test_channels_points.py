"""Channels shop orders earn points once, at the level the member held then; refunds take
back their share of those points, however often the order is synced and whatever the member's
level has become since."""

from datetime import UTC, datetime

import pytest

from hub.models.channels_order import ChannelsOrder
from hub.models.member import Member
from hub.models.membership import Level
from hub.models.points import PointsEntry, PointsKind
from hub.services import channels_orders
from hub.services.channels_orders import ShopOrderDetails, ShopOrderEvent
from hub.services.members import create_member
from hub.settings import Settings
from hub.vault import load_vault
from tests import builders
from tests.builders import SHOP_APPID, HubBrand


@pytest.fixture
async def hub(db: None, settings: Settings) -> HubBrand:
    hub = await builders.create_hub_brand(load_vault(settings))
    await builders.apply_programme(hub)
    return hub


async def paid_order(hub: HubBrand, order_id: str) -> ChannelsOrder:
    event = ShopOrderEvent(
        hub.brand.id,
        SHOP_APPID,
        order_id,
        "channels_ec_order_pay",
        datetime.now(UTC),
        "o_shopper",
        f"{order_id}:pay",
    )
    assert await channels_orders.order_event(event) == "paid"
    return await ChannelsOrder.get(order_id=order_id)


def details(order_id: str, refunded_fen: int = 0) -> ShopOrderDetails:
    return ShopOrderDetails(order_id, 20_000, refunded_fen, "o_shopper", "u_shopper", paid=True)


async def test_a_later_level_change_neither_adds_nor_takes_points_of_an_old_order(
    hub: HubBrand, settings: Settings
) -> None:
    member = await create_member(hub.brand, load_vault(settings), unionid="u_shopper")
    order = await paid_order(hub, "3720000000000001")

    assert await channels_orders.apply_details(order.id, details(order.order_id)) == "synced"
    earned = (await Member.get(id=member.id)).points_balance
    assert earned == 200  # ¥200 on the entry level: one point a yuan

    gold = await Level.get(brand_id=hub.brand.id, code="gold")
    await Member.filter(id=member.id).update(level_id=gold.id)
    await channels_orders.apply_details(order.id, details(order.order_id))
    assert (await Member.get(id=member.id)).points_balance == earned

    await channels_orders.apply_details(order.id, details(order.order_id, refunded_fen=5_000))
    await channels_orders.apply_details(order.id, details(order.order_id, refunded_fen=5_000))

    assert (await Member.get(id=member.id)).points_balance == 150
    reversals = await PointsEntry.filter(member_id=member.id, kind=PointsKind.REVERSE)
    assert [entry.delta for entry in reversals] == [-50]
    assert (await ChannelsOrder.get(id=order.id)).points_earned == 150
