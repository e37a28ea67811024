"""The points ledger: a member's balance changes only together with a ledger row.

Lock order: the member row first (select_for_update), then anything else. Every change has an
idempotency key (unique), so the same change applied twice — or concurrently — lands once: the
key is checked under the member's lock, and the unique constraint backs that check up. Callers
(settlement, refunds, Channels orders) lock the member and save it after record_change().
"""

from dataclasses import dataclass

from hub.errors import InvalidValueError
from hub.models.member import Member
from hub.models.points import PointsEntry, PointsKind

# The default earning rule until brands configure their own (membership issue): one point per
# whole yuan paid.
FEN_PER_POINT = 100


@dataclass(frozen=True)
class PointsChange:
    member_id: int
    kind: PointsKind
    delta: int
    idempotency_key: str
    reason: str = ""
    store_id: int | None = None
    guide_id: int | None = None


def points_for_amount(amount_fen: int) -> int:
    """Points earned by paying `amount_fen` under the default rule."""
    return max(0, amount_fen) // FEN_PER_POINT


async def record_change(member: Member, change: PointsChange) -> PointsEntry | None:
    """Write the ledger row and move `member.points_balance`; the caller saves the member.

    The member must be locked by the caller's transaction. A negative change never takes the
    balance below zero: it is capped at the balance, and the entry records both what was asked
    and what was taken (the shortfall). Returns None when the key was applied before.

    Raises:
        InvalidValueError: a zero change.
    """
    if change.delta == 0:
        raise InvalidValueError("delta", "must not be zero")
    if await PointsEntry.exists(idempotency_key=change.idempotency_key):
        return None
    delta = max(change.delta, -member.points_balance)
    entry = await PointsEntry.create(
        brand_id=member.brand_id,
        member_id=member.id,
        kind=change.kind,
        delta=delta,
        requested_delta=change.delta,
        balance_after=member.points_balance + delta,
        store_id=change.store_id,
        guide_id=change.guide_id,
        reason=change.reason[:128],
        idempotency_key=change.idempotency_key,
    )
    member.points_balance += delta
    return entry
