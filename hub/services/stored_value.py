"""The stored-value ledger: principal (paid in) and bonus (from recharge tiers) of a member.

Same discipline as points: the member is locked by the caller's transaction, every change is
a row with a unique idempotency key, and the caller saves the member afterwards. Spending takes
principal first and bonus last.
"""

from dataclasses import dataclass

from hub.errors import DomainError
from hub.models.member import Member
from hub.models.order import Order
from hub.models.stored_value import StoredValueEntry, StoredValueKind

SAVED_FIELDS = ["sv_principal_fen", "sv_bonus_fen", "updated_at"]


@dataclass(frozen=True)
class Split:
    """An amount of stored value as principal and bonus."""

    principal_fen: int
    bonus_fen: int

    @property
    def total_fen(self) -> int:
        return self.principal_fen + self.bonus_fen


def balance_fen(member: Member) -> int:
    return int(member.sv_principal_fen) + int(member.sv_bonus_fen)


def spending_split(member: Member, amount_fen: int) -> Split:
    """How `amount_fen` is paid from the balance: principal first, the bonus last.

    Raises:
        DomainError: "insufficient_balance" when the balance is smaller.
    """
    if amount_fen > balance_fen(member):
        raise DomainError(
            "insufficient_balance",
            f"the stored-value balance is {balance_fen(member)} fen, {amount_fen} were asked for",
        )
    principal = min(amount_fen, member.sv_principal_fen)
    return Split(principal, amount_fen - principal)


def share(value: int, before_fen: int, after_fen: int, total_fen: int) -> int:
    """The part of `value` that belongs to the slice (before, after] of `total_fen`.

    Computed on running totals (floor of the cumulative share), so the parts of consecutive
    slices are never negative and add up to exactly `value` over the whole.
    """
    if total_fen <= 0:
        return 0
    return value * after_fen // total_fen - value * before_fen // total_fen


async def record(  # noqa: PLR0913 - a ledger row has this many parts
    member: Member,
    kind: StoredValueKind,
    change: Split,
    *,
    key: str,
    order: Order | None,
    reason: str,
    requested_fen: int | None = None,
) -> StoredValueEntry | None:
    """Write the ledger row and move the member's balances; None when the key was used.

    Negative changes are capped at the balances (the entry keeps what was asked).
    """
    if await StoredValueEntry.exists(idempotency_key=key):
        return None
    principal = max(change.principal_fen, -member.sv_principal_fen)
    bonus = max(change.bonus_fen, -member.sv_bonus_fen)
    member.sv_principal_fen += principal
    member.sv_bonus_fen += bonus
    return await StoredValueEntry.create(
        brand_id=member.brand_id,
        member_id=member.id,
        kind=kind,
        principal_delta=principal,
        bonus_delta=bonus,
        requested_fen=change.total_fen if requested_fen is None else requested_fen,
        principal_after=member.sv_principal_fen,
        bonus_after=member.sv_bonus_fen,
        order_id=order.id if order else None,
        store_id=order.store_id if order else None,
        guide_id=order.guide_id if order else None,
        reason=reason[:128],
        idempotency_key=key,
    )
