"""The points ledger: a member's balance changes only together with a ledger row.

Lock order: the member row first (select_for_update), then anything else. Every change has an
idempotency key (unique), so the same change applied twice — or concurrently — lands once: the
key is checked under the member's lock, and the unique constraint backs that check up. Callers
(settlement, refunds, Channels orders) lock the member and save it after record_change().

A positive entry is a lot; a negative one takes from the oldest lots first (a reversal from
its own order's lot first), so what expires is always the oldest points left.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from hub import db
from hub.dates import add_months
from hub.errors import AlreadyExistsError, DomainError, InvalidValueError, NotFoundError
from hub.models.member import Member
from hub.models.points import PointsEntry, PointsKind
from hub.services import audit
from hub.services.audit import Actor
from hub.services.fields import check_text
from hub.services.member_locks import lock_member
from hub.services.programme import LevelInfo, Programme, load_programme

# The default earning rule when a brand has no programme: one point per whole yuan paid.
FEN_PER_POINT = 100
# No single change is larger: a bigger number is a mistake, not a promotion.
MAX_CHANGE = 10_000_000
_KEY_MAX = 128


@dataclass(frozen=True)
class PointsChange:
    member_id: int
    kind: PointsKind
    delta: int
    idempotency_key: str
    reason: str = ""
    store_id: int | None = None
    guide_id: int | None = None
    order_id: int | None = None
    # A positive change (a lot) expires then; None: never.
    expires_at: datetime | None = None


def points_for_amount(amount_fen: int) -> int:
    """Points earned by paying `amount_fen` under the default rule."""
    return max(0, amount_fen) // FEN_PER_POINT


def earned_points(
    amount_fen: int, fen_per_point: int, multiplier_percent: int, bonus_percent: int
) -> int:
    """Points for a payment: whole base points, times the level's multiplier and store bonus.

    Rounded down once, at the end: 3 base points at 150 % are 4.
    """
    base = max(0, amount_fen) // fen_per_point
    return base * multiplier_percent * (100 + bonus_percent) // 10_000


def points_for_sale(
    programme: Programme,
    level: LevelInfo | None,
    amount_fen: int,
    store_id: int | None,
    at: datetime,
) -> int:
    """What a paid sale earns under the brand's programme at `at`."""
    return earned_points(
        amount_fen,
        programme.fen_per_point,
        level.points_multiplier_percent if level else 100,
        programme.store_bonus_percent(store_id, at),
    )


def lot_expiry(programme: Programme, earned_at: datetime) -> datetime | None:
    """When points earned at `earned_at` expire under the brand's policy."""
    months = programme.points_valid_months
    return None if months is None else add_months(earned_at, months)


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
    if delta < 0:
        await _take_from_lots(member.id, -delta, change.order_id)
    entry = await PointsEntry.create(
        brand_id=member.brand_id,
        member_id=member.id,
        kind=change.kind,
        delta=delta,
        requested_delta=change.delta,
        balance_after=member.points_balance + delta,
        store_id=change.store_id,
        guide_id=change.guide_id,
        order_id=change.order_id,
        reason=change.reason[:128],
        idempotency_key=change.idempotency_key,
        remaining=max(delta, 0),
        expires_at=change.expires_at if delta > 0 else None,
    )
    member.points_balance += delta
    return entry


async def _take_from_lots(member_id: int, points: int, order_id: int | None) -> None:
    """Use up `points` of the member's lots: the order's own first, then the oldest."""
    lots = await PointsEntry.filter(member_id=member_id, remaining__gt=0).order_by("id")
    lots.sort(key=lambda lot: order_id is None or lot.order_id != order_id)
    for lot in lots:
        if points == 0:
            return
        taken = min(points, lot.remaining)
        await PointsEntry.filter(id=lot.id).update(remaining=lot.remaining - taken)
        points -= taken


# -- changes made by people and the POS ------------------------------------------------------


@dataclass(frozen=True)
class PointsRequest:
    """A redemption or adjustment asked for by staff, an API key or the POS."""

    points: int
    idempotency_key: str
    reason: str
    store_id: int | None = None


async def redeem_points(
    member_id: int, request: PointsRequest, actor: Actor
) -> tuple[PointsEntry, bool]:
    """Spend points (a gift at the till): the entry, and whether this call made it.

    The same key again returns the first entry (and False).

    Raises:
        InvalidValueError: not a positive number of points, or an empty reason or key.
        DomainError: "insufficient_points" when the balance is smaller.
        AlreadyExistsError: "idempotency_key_reused" (the key was used for another change).
        NotFoundError: no such member.
    """
    if not 0 < request.points <= MAX_CHANGE:
        raise InvalidValueError("points", f"must be between 1 and {MAX_CHANGE}")
    return await _apply_request(member_id, request, -request.points, PointsKind.REDEEM, actor)


async def adjust_points(
    member_id: int, request: PointsRequest, actor: Actor
) -> tuple[PointsEntry, bool]:
    """Add or remove points by hand, with a reason: the entry, and whether this call made it.

    Never below zero. The same key again returns the first entry (and False).

    Raises:
        InvalidValueError: zero or an over-large change, or an empty reason or key.
        DomainError: "insufficient_points" for a removal larger than the balance.
        AlreadyExistsError: "idempotency_key_reused" (the key was used for another change).
        NotFoundError: no such member.
    """
    if request.points == 0 or abs(request.points) > MAX_CHANGE:
        raise InvalidValueError("points", f"must be non-zero and at most {MAX_CHANGE} either way")
    return await _apply_request(member_id, request, request.points, PointsKind.ADJUST, actor)


async def _apply_request(
    member_id: int, request: PointsRequest, delta: int, kind: PointsKind, actor: Actor
) -> tuple[PointsEntry, bool]:
    reason = check_text(request.reason, "reason", 128)
    key = check_text(request.idempotency_key, "idempotency_key", _KEY_MAX - 16)
    if not reason or not key:
        raise InvalidValueError("reason", "a reason and an idempotency key are required")
    full_key = f"api:{member_id}:{key}"
    async with in_transaction():
        if not await Member.exists(id=member_id):
            raise NotFoundError("member_not_found", f"no member {member_id}")
        member = await lock_member(member_id)
        earlier = await PointsEntry.get_or_none(idempotency_key=full_key)
        if earlier is not None:
            if (earlier.kind, earlier.requested_delta) != (kind, delta):
                raise AlreadyExistsError(
                    "idempotency_key_reused", "this key was used for a different change"
                )
            return earlier, False
        if delta < 0 and member.points_balance < -delta:
            raise DomainError(
                "insufficient_points",
                f"the balance is {member.points_balance}, {-delta} were asked for",
            )
        expires_at = await _expiry_for_adjustment(member, delta)
        entry = await record_change(
            member,
            PointsChange(
                member_id=member.id,
                kind=kind,
                delta=delta,
                idempotency_key=full_key,
                reason=reason,
                store_id=request.store_id,
                expires_at=expires_at,
            ),
        )
        if entry is None:  # the key was checked under the member's lock: cannot happen
            raise RuntimeError(full_key)
        await member.save(update_fields=["points_balance", "updated_at"])
        await audit.record(
            actor,
            f"points.{kind.value}",
            "member",
            member.id,
            brand_id=member.brand_id,
            after={"delta": delta, "balance": member.points_balance, "reason": reason},
        )
    return entry, True


async def _expiry_for_adjustment(member: Member, delta: int) -> datetime | None:
    if delta <= 0:
        return None
    return lot_expiry(await load_programme(member.brand_id), datetime.now(UTC))


# -- expiry ----------------------------------------------------------------------------------


async def expire_points(now: datetime, batch: int = 500) -> int:
    """Expire every lot past its date that still has points left; returns the entries written.

    One member at a time, under the member's lock, so it runs safely beside payments; members
    are taken in batches by id until none is left.
    """
    written, after = 0, 0
    while True:
        rows = await (
            PointsEntry.filter(expires_at__lte=now, remaining__gt=0, member_id__gt=after)
            .order_by("member_id")
            .limit(batch)
            .distinct()
            .values("member_id")
        )
        for row in rows:
            written += await _expire_member(int(row["member_id"]), now)
        if len(rows) < batch:
            return written
        after = int(rows[-1]["member_id"])


async def _expire_member(member_id: int, now: datetime) -> int:
    async with db.atomic():
        member = await lock_member(member_id)
        lots = await PointsEntry.filter(
            member_id=member_id, expires_at__lte=now, remaining__gt=0
        ).order_by("id")
        for lot in lots:
            await PointsEntry.filter(id=lot.id).update(remaining=0)
            await PointsEntry.create(
                brand_id=member.brand_id,
                member_id=member.id,
                kind=PointsKind.EXPIRE,
                delta=-lot.remaining,
                requested_delta=-lot.remaining,
                balance_after=member.points_balance - lot.remaining,
                store_id=lot.store_id,
                reason=f"points earned {lot.created_at:%Y-%m-%d} expired",
                idempotency_key=f"expire:{lot.id}",
            )
            member.points_balance -= lot.remaining
        await member.save(update_fields=["points_balance", "updated_at"])
    return len(lots)
