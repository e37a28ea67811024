"""Who a mini-program user is: login (openid, unionid) and phone binding, merging as needed.

A member is found by openid under the app, else by unionid; otherwise a new member is made
(invited by the member whose code came with the login, at the store whose code was scanned).
Binding a phone number that already belongs to another member merges the two.
"""

from dataclasses import dataclass
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from hub.errors import AlreadyExistsError
from hub.models.brand import Brand, Store
from hub.models.member import Member, MemberOpenid
from hub.services import contacts, levels, merges
from hub.services.audit import Actor
from hub.services.member_locks import lock_member, resolve_member
from hub.services.members import PHONE_COLUMN, create_member, normalize_phone, phone_index
from hub.services.programme import load_programme
from hub.vault import Vault

# Concurrent first logins of one user race on the unique openid; the loser looks again.
_LOGIN_ATTEMPTS = 3


@dataclass(frozen=True)
class WeChatUser:
    """What code2Session says about the user."""

    appid: str
    openid: str
    unionid: str | None


@dataclass(frozen=True)
class Login:
    member: Member
    created: bool


async def log_in(
    brand: Brand,
    user: WeChatUser,
    vault: Vault,
    now: datetime,
    *,
    store: Store | None = None,
    invite_code: str | None = None,
) -> Login:
    """Find or create the member behind a mini-program login."""
    for _ in range(_LOGIN_ATTEMPTS):
        found = await _known(brand, user)
        if found is not None:
            return Login(found, created=False)
        try:
            async with in_transaction():
                member = await _join(brand, user, vault, now, store, invite_code)
            return Login(member, created=True)
        except IntegrityError:
            continue  # another login of the same user made the member first
        except AlreadyExistsError as exc:
            if exc.reason != "member_exists":
                raise
            continue  # … with the same unionid
    found = await _known(brand, user)
    if found is None:
        raise AlreadyExistsError("login_conflict", "the login raced another one: try again")
    return Login(found, created=False)


async def _known(brand: Brand, user: WeChatUser) -> Member | None:
    link = await MemberOpenid.get_or_none(appid=user.appid, openid=user.openid)
    if link is not None:
        member = await resolve_member(await Member.get(id=link.member_id))
        if user.unionid and member.unionid is None:
            return await _learn_unionid(member, user.unionid)
        return member
    if user.unionid is None:
        return None
    by_unionid = await Member.get_or_none(brand_id=brand.id, unionid=user.unionid)
    if by_unionid is None:
        return None
    member = await resolve_member(by_unionid)
    try:
        async with in_transaction():
            await MemberOpenid.create(member_id=member.id, appid=user.appid, openid=user.openid)
    except IntegrityError:
        # The same user's other login linked it a moment ago (or WeChat broke its own rule).
        link = await MemberOpenid.get_or_none(appid=user.appid, openid=user.openid)
        if link is None:
            raise AlreadyExistsError(
                "login_conflict", "the member has another openid under this app"
            ) from None
        return await resolve_member(await Member.get(id=link.member_id))
    return member


async def _learn_unionid(member: Member, unionid: str) -> Member:
    """A member known by openid only now shows a unionid: keep it, or merge with its owner."""
    owner = await Member.get_or_none(brand_id=member.brand_id, unionid=unionid)
    if owner is not None:
        try:
            return await merges.merge_members(
                member.id, owner.id, "unionid", Actor.member(member.id)
            )
        except AlreadyExistsError as exc:
            # Both hold an openid under one app: WeChat broke its own rule, keep them apart.
            raise AlreadyExistsError(
                "login_conflict", "another member of the brand has this WeChat user's unionid"
            ) from exc
    async with in_transaction():
        locked = await lock_member(member.id)
        locked.unionid = unionid
        await locked.save(update_fields=["unionid", "updated_at"])
        await contacts.attach_waiting_links(locked)
    return locked


async def _join(
    brand: Brand,
    user: WeChatUser,
    vault: Vault,
    now: datetime,
    store: Store | None,
    invite_code: str | None,
) -> Member:
    inviter = await _inviter(brand, invite_code)
    member = await create_member(
        brand,
        vault,
        unionid=user.unionid,
        home_store=store if store and store.brand_id == brand.id else None,
        invited_by=inviter,
    )
    await MemberOpenid.create(member_id=member.id, appid=user.appid, openid=user.openid)
    if member.unionid:
        await contacts.attach_waiting_links(member)
    if inviter is not None:
        await _count_invite(inviter.id, member, now)
    return member


async def _inviter(brand: Brand, invite_code: str | None) -> Member | None:
    if not invite_code or not (invite_code.isascii() and invite_code.isdigit()):
        return None
    inviter = await Member.get_or_none(brand_id=brand.id, code=invite_code)
    return await resolve_member(inviter) if inviter else None


async def _count_invite(inviter_id: int, invitee: Member, now: datetime) -> None:
    inviter = await lock_member(inviter_id)
    inviter.invite_count += 1
    programme = await load_programme(inviter.brand_id)
    cause = levels.Cause(f"member:{inviter.id}:invited:{invitee.id}")
    await levels.upgrade(inviter, programme, now, cause)
    await inviter.save()


async def bind_phone(member: Member, number: str, country_code: str, vault: Vault) -> Member:
    """Attach a (WeChat-verified) phone number; returns the member that now holds it.

    Binding the member's own number again changes nothing. A number another member holds
    merges the two (the older survives).

    Raises:
        InvalidValueError: not a valid phone number.
        AlreadyExistsError: "phone_already_bound" (the member has another number),
            "phone_in_use" (the number's owner is a different WeChat user).
    """
    phone = normalize_phone(number, country_code)
    index = phone_index(vault, phone)
    member = await resolve_member(await Member.get(id=member.id))
    if member.phone_index == index:
        return member
    if member.phone_index is not None:
        raise AlreadyExistsError("phone_already_bound", "the member has another phone number bound")
    owner = await Member.get_or_none(brand_id=member.brand_id, phone_index=index)
    if owner is None:
        try:
            return await _set_phone(member.id, phone, index, vault)
        except IntegrityError:
            # Bound to another member at the same moment (a POS, another login): merge.
            owner = await Member.get(brand_id=member.brand_id, phone_index=index)
    return await merges.merge_members(member.id, owner.id, "phone", Actor.member(member.id))


async def _set_phone(member_id: int, phone: str, index: str, vault: Vault) -> Member:
    async with in_transaction():
        locked = await lock_member(member_id)
        locked.phone_sealed = vault.seal(phone, column=PHONE_COLUMN)
        locked.phone_index = index
        await locked.save(update_fields=["phone_sealed", "phone_index", "updated_at"])
    return locked
