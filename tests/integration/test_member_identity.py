"""One person, one member: logins find members, phone numbers merge the ones made elsewhere."""

from datetime import UTC, datetime
from typing import Any

import pytest

from hub.errors import AlreadyExistsError
from hub.models.audit import AuditLog
from hub.models.contact import ContactLink, ContactStatus
from hub.models.member import Member, MemberMerge, MemberOpenid
from hub.models.membership import Level
from hub.models.order import Order
from hub.models.points import PointsEntry
from hub.models.staff import StaffRole
from hub.services import identity, orders, staff
from hub.services.audit import Actor
from hub.services.identity import WeChatUser
from hub.services.members import create_member, find_member
from hub.services.orders import OfflineSale
from hub.settings import Settings
from hub.vault import Vault, load_vault
from tests import builders
from tests.builders import APPID, SHOP_APPID, HubBrand

PHONE = "13800138000"


@pytest.fixture
async def hub(db: None, settings: Settings) -> HubBrand:
    hub = await builders.create_hub_brand(load_vault(settings))
    await builders.apply_programme(hub)
    return hub


@pytest.fixture
def vault(settings: Settings) -> Vault:
    return load_vault(settings)


async def log_in(
    hub: HubBrand, vault: Vault, openid: str, unionid: str | None = None, **more: Any
) -> identity.Login:
    user = WeChatUser(APPID, openid, unionid)
    return await identity.log_in(hub.brand, user, vault, datetime.now(UTC), **more)


async def spend(hub: HubBrand, member: Member, amount_fen: int, external_id: str) -> Order:
    sale = OfflineSale(hub.store, amount_fen, external_id, datetime.now(UTC), member=member)
    order, _ = await orders.post_offline_sale(hub.brand.id, sale, Actor.cli())
    return order


async def test_a_first_login_makes_a_member_and_later_ones_find_it(
    hub: HubBrand, vault: Vault
) -> None:
    first = await log_in(hub, vault, "o_alice", "u_alice", store=hub.store)
    again = await log_in(hub, vault, "o_alice", "u_alice")

    assert first.created
    assert not again.created
    assert again.member.id == first.member.id
    assert first.member.home_store_id == hub.store.id
    assert (await Level.get(id=first.member.level_id)).code == "regular"


async def test_the_same_unionid_under_another_app_is_the_same_member(
    hub: HubBrand, vault: Vault
) -> None:
    alice = (await log_in(hub, vault, "o_alice", "u_alice")).member

    shop = await identity.log_in(
        hub.brand, WeChatUser(SHOP_APPID, "o_alice_shop", "u_alice"), vault, datetime.now(UTC)
    )

    assert shop.member.id == alice.id
    assert await MemberOpenid.filter(member_id=alice.id).count() == 2


async def test_an_invite_code_counts_for_the_inviter_once_and_can_lift_their_level(
    hub: HubBrand, vault: Vault
) -> None:
    host = (await log_in(hub, vault, "o_host")).member
    for number in range(5):
        await log_in(hub, vault, f"o_friend{number}", invite_code=host.code)
    await log_in(hub, vault, "o_friend0", invite_code=host.code)  # a second login is no invite

    fresh = await Member.get(id=host.id)
    assert fresh.invite_count == 5
    assert (await Level.get(id=fresh.level_id)).code == "gold"  # 5 invites reach gold
    friend = await Member.get(openids__openid="o_friend3")
    assert friend.invited_by_id == host.id


async def test_a_contact_made_before_joining_gives_the_new_member_their_guide(
    hub: HubBrand, vault: Vault
) -> None:
    guide = await staff.add_staff(
        hub.brand, "Guide Li", StaffRole.CLERK, Actor.cli(), store=hub.store, wecom_userid="li"
    )
    await ContactLink.create(
        brand_id=hub.brand.id,
        corpid="ww1",
        userid="li",
        external_userid="wm_alice",
        guide_id=guide.id,
        store_id=hub.store.id,
        unionid="u_alice",
        status=ContactStatus.ACTIVE,
        added_at=datetime.now(UTC),
    )

    member = (await log_in(hub, vault, "o_alice", "u_alice")).member

    fresh = await Member.get(id=member.id)
    assert fresh.guide_id == guide.id
    assert fresh.guide_since is not None
    assert (await ContactLink.get()).member_id == member.id


async def test_binding_a_phone_the_pos_knew_merges_the_two_members(
    hub: HubBrand, vault: Vault
) -> None:
    walk_in = await create_member(hub.brand, vault, phone=PHONE)  # made by the POS
    await spend(hub, walk_in, 30_000, "POS-1")
    app_user = (await log_in(hub, vault, "o_alice", "u_alice")).member
    await spend(hub, app_user, 80_000, "POS-2")

    survivor = await identity.bind_phone(app_user, PHONE, "86", vault)

    assert survivor.id == walk_in.id  # the older member survives
    merged = await Member.get(id=app_user.id)
    assert merged.merged_into_id == survivor.id
    fresh = await Member.get(id=survivor.id)
    assert fresh.points_balance == 300 + 800 + 100  # both ledgers, and silver's gift
    assert fresh.total_spend_fen == 110_000
    assert (await Level.get(id=fresh.level_id)).code == "silver"  # together they reach it
    assert fresh.unionid == "u_alice"
    assert await Order.filter(member_id=survivor.id).count() == 2
    entries = await PointsEntry.filter(member_id=survivor.id)
    assert sum(entry.delta for entry in entries) == fresh.points_balance
    assert sum(entry.remaining for entry in entries) == fresh.points_balance
    assert (await MemberOpenid.get(openid="o_alice")).member_id == survivor.id
    assert await AuditLog.filter(action="member.merge").count() == 1
    # Old references lead to the survivor; binding again changes nothing.
    assert (await find_member(hub.brand.id, vault, by="code", value=merged.code)).id == survivor.id
    assert (await identity.bind_phone(merged, PHONE, "86", vault)).id == survivor.id
    assert await MemberMerge.all().count() == 1


async def test_a_phone_of_another_wechat_user_or_a_second_phone_is_refused(
    hub: HubBrand, vault: Vault
) -> None:
    bob = (await log_in(hub, vault, "o_bob")).member
    await identity.bind_phone(bob, PHONE, "86", vault)
    alice = (await log_in(hub, vault, "o_alice")).member

    with pytest.raises(AlreadyExistsError) as taken:
        await identity.bind_phone(alice, PHONE, "86", vault)
    with pytest.raises(AlreadyExistsError) as second:
        await identity.bind_phone(bob, "13900139000", "86", vault)

    assert taken.value.reason == "phone_in_use"
    assert second.value.reason == "phone_already_bound"
    assert not await MemberMerge.exists()


async def test_a_unionid_seen_later_merges_the_member_made_from_wecom(
    hub: HubBrand, vault: Vault
) -> None:
    from_wecom = await create_member(hub.brand, vault, unionid="u_carol")
    openid_only = (await log_in(hub, vault, "o_carol")).member

    again = await log_in(hub, vault, "o_carol", "u_carol")

    assert again.member.id == from_wecom.id
    assert (await Member.get(id=openid_only.id)).merged_into_id == from_wecom.id
