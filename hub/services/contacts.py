"""WeCom customer contacts: a guide adds a customer, the link ends, and what follows from it.

A link is found by (corpid, guide userid, external_userid). Its store and guide come from the
state of the "contact me" code the customer scanned (`contact_state`); follow-ups that need
WeCom's API (welcome message, learning the customer's unionid) go to the outbox.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from hub import db, outbox
from hub.models.brand import Store
from hub.models.contact import ContactLink, ContactStatus
from hub.models.member import Member
from hub.models.staff import Staff
from hub.queue import TaskName
from hub.services.member_locks import lock_member

# "s<store id>g<staff id>", ≤ 30 characters: what wxhub puts in the state of each code it makes.
_STATE = re.compile(r"s([0-9]{1,12})g([0-9]{1,12})")


def contact_state(store_id: int, staff_id: int) -> str:
    """The state of a "contact me" code made for this store and guide."""
    return f"s{store_id}g{staff_id}"


@dataclass(frozen=True)
class ContactEvent:
    brand_id: int
    corpid: str
    userid: str
    external_userid: str
    occurred_at: datetime
    # The event's own dedup key (ChangeType+UserID+ExternalUserID+CreateTime): keys follow-ups.
    event_key: str


async def contact_added(
    event: ContactEvent, *, state: str | None, welcome_code: str | None, half: bool
) -> str:
    """A customer added a guide (half: without verification, not yet accepted)."""
    status = ContactStatus.PENDING if half else ContactStatus.ACTIVE
    async with db.atomic():
        guide = await Staff.get_or_none(brand_id=event.brand_id, wecom_userid=event.userid)
        store_id = await _store_of(event.brand_id, state, guide)
        link = await _link_for_update(event, status)
        if link.ended_at is not None and event.occurred_at <= link.ended_at:
            # Delivered late (a retry): the contact was added, then ended; it stays ended.
            return "stale"
        link.status = status
        if state:
            link.state = state
        link.guide_id = guide.id if guide else link.guide_id
        link.store_id = store_id or link.store_id
        link.ended_at = None
        link.end_reason = None
        await link.save()
        if welcome_code:
            await outbox.add(
                TaskName.WELCOME_CONTACT,
                f"{event.event_key}:welcome",
                {
                    "link_id": link.id,
                    "welcome_code": welcome_code,
                    "event_at": event.occurred_at.isoformat(),
                },
            )
        await outbox.add(
            TaskName.LINK_CONTACT_MEMBER, f"{event.event_key}:member", {"link_id": link.id}
        )
    return "pending" if half else "added"


async def contact_ended(event: ContactEvent, reason: str) -> str:
    """The guide deleted the customer, or the customer deleted the guide."""
    async with db.atomic():
        link = await ContactLink.select_for_update().get_or_none(
            corpid=event.corpid, userid=event.userid, external_userid=event.external_userid
        )
        if link is None:
            return "unknown_contact"
        if link.status is ContactStatus.ENDED:
            return "already_ended"
        link.status = ContactStatus.ENDED
        link.ended_at = event.occurred_at
        link.end_reason = reason
        await link.save()
    return "ended"


async def contact_edited(event: ContactEvent) -> str:
    """Remark or tags changed in WeCom: nothing of ours changes, the link is touched."""
    updated = await ContactLink.filter(
        corpid=event.corpid, userid=event.userid, external_userid=event.external_userid
    ).update(updated_at=event.occurred_at)
    return "edited" if updated else "unknown_contact"


async def transfer_failed(event: ContactEvent, failure: str) -> str:
    """A transfer of the customer to guide `userid` failed (customer_refused/limit_exceed)."""
    updated = await ContactLink.filter(
        corpid=event.corpid, userid=event.userid, external_userid=event.external_userid
    ).update(transfer_failure=failure[:32])
    return "transfer_failed" if updated else "unknown_contact"


async def _store_of(brand_id: int, state: str | None, guide: Staff | None) -> int | None:
    match = _STATE.fullmatch(state or "")
    if match is not None:
        store = await Store.get_or_none(id=int(match.group(1)), brand_id=brand_id)
        if store is not None:
            return store.id
    return guide.store_id if guide else None


async def _link_for_update(event: ContactEvent, status: ContactStatus) -> ContactLink:
    key: dict[str, Any] = {
        "corpid": event.corpid,
        "userid": event.userid,
        "external_userid": event.external_userid,
    }
    link = await ContactLink.select_for_update().get_or_none(**key)
    if link is not None:
        return link
    try:
        async with in_transaction():
            return await ContactLink.create(
                brand_id=event.brand_id, status=status, added_at=event.occurred_at, **key
            )
    except IntegrityError:
        return await ContactLink.select_for_update().get(**key)


async def attach_member(link_id: int, unionid: str, now: datetime) -> str:
    """WeCom told the contact's unionid: link its member, whose later sales go to the guide.

    A customer who is not a member yet is linked when they join (attach_waiting_links).
    """
    async with db.atomic():
        link = await ContactLink.get(id=link_id)
        await ContactLink.filter(id=link_id).update(unionid=unionid)
        member = await Member.get_or_none(brand_id=link.brand_id, unionid=unionid)
        if member is None:
            return "not_a_member_yet"
        member = await lock_member(member.id)
        link.unionid = unionid
        _follow_guide(member, link, now)
        await member.save(update_fields=["guide_id", "guide_since", "home_store_id", "updated_at"])
        await ContactLink.filter(id=link_id).update(member_id=member.id)
    return "linked"


async def attach_waiting_links(member: Member) -> int:
    """A (locked or new) member now has a unionid: link the guides who added them before.

    The most recently added active link decides the guide. The caller saves the member.
    """
    links = await ContactLink.filter(
        brand_id=member.brand_id, unionid=member.unionid, member_id=None
    ).order_by("added_at")
    for link in links:
        if link.status is ContactStatus.ACTIVE:
            _follow_guide(member, link, link.added_at)
    if links:
        await ContactLink.filter(id__in=[link.id for link in links]).update(member_id=member.id)
        await member.save(update_fields=["guide_id", "guide_since", "home_store_id", "updated_at"])
    return len(links)


def _follow_guide(member: Member, link: ContactLink, since: datetime) -> None:
    # The guide who added the customer is credited with their later sales.
    if link.guide_id is not None and link.guide_id != member.guide_id:
        member.guide_id = link.guide_id
        member.guide_since = since
    member.home_store_id = member.home_store_id or link.store_id
