"""`wxhub demo`: a demo brand from the World, seeded once, whose accounts verify real pushes."""

from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from hub.keys import accounts_key
from hub.models.account import ChannelsShop, MiniProgramApp, PayMerchant, WecomCorp
from hub.models.audit import AuditLog
from hub.models.brand import Brand, Region, Store
from hub.models.channels_order import ChannelsOrder, ChannelsOrderStatus
from hub.models.contact import ContactLink, ContactStatus
from hub.models.member import Member, MemberOpenid
from hub.models.order import Order, OrderStatus
from hub.models.staff import Staff, StaffRole
from hub.models.subscription import GrantStatus, SubscriptionGrant
from hub.services.contacts import contact_state
from hub.settings import Settings
from hub.simulator import seed
from hub.simulator.seed import SeedReport
from hub.simulator.world import World
from tests.e2e.local.conftest import HubClient, control, demo_order, hub_url, wxhub


async def counts() -> dict[str, int]:
    models = (Brand, Region, Store, Staff, Member, MemberOpenid, Order, AuditLog)
    found = {model.__name__: await model.all().count() for model in models}
    for model in (MiniProgramApp, PayMerchant, ChannelsShop, WecomCorp):
        found[model.__name__] = await model.all().count()
    return found


async def test_demo_seeds_the_brand_once_and_says_so_the_second_time(
    db: None,
    settings: Settings,
    world: World,
    world_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert await wxhub(settings, "demo") == 0
    first = capsys.readouterr().out
    seeded = await counts()
    assert await wxhub(settings, "demo") == 0
    second = capsys.readouterr().out

    assert seeded == await counts()
    assert seeded["AuditLog"] > 0
    assert seeded | {"AuditLog": 0} == {
        "Brand": 1,
        "Region": 2,
        "Store": 3,
        "Staff": 5,
        "Member": 4,
        "MemberOpenid": 8,
        "Order": 3,
        "AuditLog": 0,
        "MiniProgramApp": 1,
        "PayMerchant": 1,
        "ChannelsShop": 1,
        "WecomCorp": 1,
    }
    assert "created brand demo" in first
    assert "is already seeded: nothing changed" in second
    assert "created" not in second
    alice = await demo_order("alice")
    hint = f"wxhub simulate pay --order {alice.out_trade_no} --amount 88.00 --user alice"
    assert hint in first
    assert hint in second
    assert "wxhub inbox stats" in second
    assert "wxhub simulator inspect pushes" in second


async def test_demo_staff_have_every_role_and_the_worlds_wecom_userids(
    demo: SeedReport, world: World
) -> None:
    staff = await Staff.all()

    assert {member.role for member in staff} == set(StaffRole)
    userids = {member.wecom_userid for member in staff} - {None}
    assert userids == {person.userid for person in world.corps[0].staff}
    members = {member.unionid: member for member in await Member.all()}
    assert set(members) == {user.unionid for user in world.users}
    app = world.mini_programs[0].appid
    for user in world.users:
        identity = await MemberOpenid.get(appid=app, openid=user.openids[app])
        assert identity.member_id == members[user.unionid].id
    assert {order.status for order in await Order.all()} == {OrderStatus.CREATED}
    # Certificate mode, as the World signs: no public key stored.
    assert (await PayMerchant.get()).platform_public_key_id is None


@pytest.mark.usefixtures("hub_pushes")
async def test_the_simulators_own_pushes_verify_with_the_seeded_accounts(
    demo: SeedReport, client: HubClient, simulator: TestServer, world: World
) -> None:
    registry = client.app[accounts_key]
    assert await seed.announce_demo_orders(registry, hub_url(client)) == 3
    order = await demo_order("alice")

    paid = await control(
        simulator, "POST", f"/_sim/pay/orders/{order.out_trade_no}/pay", {"wait": True}
    )
    template = world.templates[0].template_id
    popup = {"user": "bob", "answers": [{"template_id": template}], "wait": True}
    accepted = await control(simulator, "POST", "/_sim/mp/subscriptions", popup)
    placed = await control(
        simulator, "POST", "/_sim/shop/orders", {"user": "carol", "price_fen": 990, "wait": True}
    )
    shop_order = str(placed["order"]["order_id"])
    shop_paid = await control(
        simulator, "POST", f"/_sim/shop/orders/{shop_order}/pay", {"wait": True}
    )
    guide = await Staff.get(wecom_userid="guide01")
    assert guide.store_id is not None
    corp = await registry.wecom(world.corps[0].corpid)
    assert corp is not None
    way = await registry.wecom_api(corp).add_contact_way(
        "guide01", contact_state(guide.store_id, guide.id)
    )
    scan = {"config_id": way.config_id, "user": "dave", "wait": True}
    scanned = await control(simulator, "POST", "/_sim/wecom/scans", scan)

    for answer in (paid, accepted, placed, shop_paid, scanned):
        assert [push["status"] for push in answer["deliveries"]] == ["delivered"]
    await order.refresh_from_db()
    assert (order.status, order.points_earned) == (OrderStatus.PAID, 88)
    assert (await Member.get(id=order.member_id)).points_balance == 88
    assert (await SubscriptionGrant.get()).status is GrantStatus.ACCEPTED
    assert (await ChannelsOrder.get(order_id=shop_order)).status is ChannelsOrderStatus.PAID
    link = await ContactLink.get()
    assert (link.status, link.guide_id, link.store_id) == (
        ContactStatus.ACTIVE,
        guide.id,
        guide.store_id,
    )
