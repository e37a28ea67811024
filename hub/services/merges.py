"""Merging two members found to be one person (a phone number or unionid seen on both).

The older member survives. Everything of the other — ledgers, orders, level history, WeChat
identities, sessions, guide links, shop orders — moves to it; balances add up; the better
card and level are kept; the merged member keeps its row (and code) with `merged_into` set, so
old references lead to the survivor. One MemberMerge row per merged member makes a repeated
merge a no-op. Both members are locked, in id order.
"""

from datetime import UTC, datetime
from typing import Any

from tortoise.transactions import in_transaction

from hub.errors import AlreadyExistsError
from hub.models.channels_order import ChannelsOrder
from hub.models.contact import ContactLink
from hub.models.coupon import Coupon, Redemption
from hub.models.member import Member, MemberMerge, MemberOpenid, MemberSession
from hub.models.membership import LevelChange, LevelChangeReason
from hub.models.order import Order
from hub.models.points import PointsEntry
from hub.models.stored_value import StoredValueEntry
from hub.models.subscription import SubscriptionGrant
from hub.services import audit, levels
from hub.services.audit import Actor
from hub.services.programme import Programme, load_programme

# Rows that belong to a member and move with a merge.
_MOVED: tuple[tuple[str, Any], ...] = (
    ("points_entries", PointsEntry),
    ("stored_value_entries", StoredValueEntry),
    ("orders", Order),
    ("level_changes", LevelChange),
    ("openids", MemberOpenid),
    ("sessions", MemberSession),
    ("contact_links", ContactLink),
    ("channels_orders", ChannelsOrder),
    ("subscription_grants", SubscriptionGrant),
    ("coupons", Coupon),
    ("redemptions", Redemption),
)
_SUMMED = (
    "points_balance",
    "sv_principal_fen",
    "sv_bonus_fen",
    "total_spend_fen",
    "paid_orders_count",
    "invite_count",
)


async def merge_members(first_id: int, second_id: int, cause: str, actor: Actor) -> Member:
    """Merge two members of one brand into the older one; returns the survivor.

    Raises:
        AlreadyExistsError: "phone_in_use" when the two are different WeChat users (both have
            an openid under one app, or different unionids): they must stay apart.
    """
    async with in_transaction():
        low, high = sorted((first_id, second_id))
        survivor = await Member.select_for_update().get(id=low)
        merged = await Member.select_for_update().get(id=high)
        if merged.merged_into_id == survivor.id:
            return survivor  # merged before
        await _refuse_different_people(survivor, merged)
        moved = await _move_rows(survivor, merged)
        before = _snapshot(survivor)
        await _combine(survivor, merged)
        programme = await load_programme(survivor.brand_id)
        await _keep_better_card(survivor, merged, programme)
        await MemberMerge.create(
            brand_id=survivor.brand_id,
            survivor_id=survivor.id,
            merged_id=merged.id,
            cause=cause,
            moved=moved,
        )
        await audit.record(
            actor,
            "member.merge",
            "member",
            survivor.id,
            brand_id=survivor.brand_id,
            before=before | {"merged": _snapshot(merged) | {"id": merged.id}},
            after=_snapshot(survivor) | {"cause": cause, "moved": moved},
        )
    return survivor


async def _refuse_different_people(survivor: Member, merged: Member) -> None:
    if survivor.unionid and merged.unionid and survivor.unionid != merged.unionid:
        raise _different()
    apps = await MemberOpenid.filter(member_id=survivor.id).values_list("appid", flat=True)
    if await MemberOpenid.filter(member_id=merged.id, appid__in=list(apps)).exists():
        raise _different()


def _different() -> AlreadyExistsError:
    return AlreadyExistsError(
        "phone_in_use", "this phone number belongs to another WeChat user of the brand"
    )


async def _move_rows(survivor: Member, merged: Member) -> dict[str, int]:
    moved = {}
    for name, model in _MOVED:
        moved[name] = await model.filter(member_id=merged.id).update(member_id=survivor.id)
    moved["invitees"] = await Member.filter(invited_by_id=merged.id).update(
        invited_by_id=survivor.id
    )
    return moved


async def _combine(survivor: Member, merged: Member) -> None:
    """Add up balances, and take over identities and the guide the survivor lacks."""
    for name in _SUMMED:
        setattr(survivor, name, getattr(survivor, name) + getattr(merged, name))
        setattr(merged, name, 0)
    taken_over = {
        "unionid": merged.unionid if not survivor.unionid else None,
        "phone_sealed": merged.phone_sealed if not survivor.phone_index else None,
        "phone_index": merged.phone_index if not survivor.phone_index else None,
    }
    # The merged member gives up its unique identities first (unionid, phone are unique).
    merged.unionid, merged.phone_sealed, merged.phone_index = None, None, None
    merged.merged_into_id = survivor.id
    await merged.save()
    for name, value in taken_over.items():
        if value is not None:
            setattr(survivor, name, value)
    if survivor.guide_id is None and merged.guide_id is not None:
        survivor.guide_id, survivor.guide_since = merged.guide_id, merged.guide_since
    survivor.home_store_id = survivor.home_store_id or merged.home_store_id
    survivor.birthday = survivor.birthday or merged.birthday
    survivor.birthday_mmdd = survivor.birthday_mmdd or merged.birthday_mmdd
    if merged.invited_by_id not in {None, survivor.id} and survivor.invited_by_id is None:
        survivor.invited_by_id = merged.invited_by_id


async def _keep_better_card(survivor: Member, merged: Member, programme: Programme) -> None:
    """The survivor keeps the better of the two cards and levels, then is looked at again."""
    now = datetime.now(UTC)
    if _standing(merged, programme, now) > _standing(survivor, programme, now):
        await LevelChange.create(
            brand_id=survivor.brand_id,
            member_id=survivor.id,
            from_level_id=survivor.level_id,
            to_level_id=merged.level_id,
            reason=LevelChangeReason.MERGE,
            idempotency_key=f"merge:{merged.id}:level",
        )
        survivor.card_type_id, survivor.level_id = merged.card_type_id, merged.level_id
        survivor.level_valid_until = merged.level_valid_until
        survivor.card_expires_at = merged.card_expires_at
    # Together they may have spent or invited enough for more.
    await levels.upgrade(survivor, programme, now, levels.Cause(f"merge:{merged.id}:upgrade"))
    await survivor.save()


def _standing(member: Member, programme: Programme, now: datetime) -> tuple[int, int, datetime]:
    """How good a member's card and level are: a running paid card, then rank, then expiry."""
    level = programme.level(member.level_id)
    card = programme.cards.get(member.card_type_id or 0)
    paid = bool(card and card.price_fen and member.card_expires_at and member.card_expires_at > now)
    return (int(paid), level.rank if level else -1, member.card_expires_at or now)


def _snapshot(member: Member) -> dict[str, Any]:
    return {name: getattr(member, name) for name in (*_SUMMED, "level_id", "guide_id")}
