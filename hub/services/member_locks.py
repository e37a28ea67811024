"""Locking and resolving members: a merged-away member leads to the survivor.

Lock order everywhere: the member row first (select_for_update), then anything else.
"""

from hub.models.member import Member

# A merge chain longer than this is a bug; lookups stop following it.
_MAX_MERGE_HOPS = 4


async def lock_member(member_id: int) -> Member:
    """Lock the member's row for the transaction — the survivor's, if it was merged.

    A merge that commits while this waits for the lock moves everything to the survivor, so
    the lock is taken again there: nothing is credited to a merged-away member.
    """
    member = await Member.select_for_update().get(id=member_id)
    for _ in range(_MAX_MERGE_HOPS):
        if member.merged_into_id is None:
            break
        member = await Member.select_for_update().get(id=member.merged_into_id)
    return member


async def lock_member_or_none(member_id: int | None) -> Member | None:
    return None if member_id is None else await lock_member(member_id)


async def resolve_member(member: Member) -> Member:
    """The member itself, or the member it was merged into."""
    for _ in range(_MAX_MERGE_HOPS):
        if member.merged_into_id is None:
            break
        member = await Member.get(id=member.merged_into_id)
    return member
