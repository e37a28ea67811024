"""Member cards and levels: joining, upgrades as they are earned, purchases, period ends.

Upgrades happen in the transaction of the payment (or invitation) that earns them; nothing
lowers a level except the end of its period (when the card says so) or the end of a bought
card. Every change is a LevelChange row with its reason and a unique idempotency key. The
member must be locked by the caller, who saves it afterwards (LEVEL_FIELDS).
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tortoise.expressions import Q
from tortoise.functions import Sum

from hub import db
from hub.dates import add_months
from hub.models.coupon import CouponTemplate, IssueSource
from hub.models.member import Member
from hub.models.membership import LevelChange, LevelChangeReason
from hub.models.order import Order, OrderKind, OrderStatus
from hub.models.points import PointsKind
from hub.services import coupons
from hub.services.audit import Actor
from hub.services.member_locks import lock_member
from hub.services.points import PointsChange, lot_expiry, record_change
from hub.services.programme import CardInfo, LevelInfo, Programme, load_programme

# What a level change may touch on the member (gifts move points).
LEVEL_FIELDS = [
    "card_type_id",
    "level_id",
    "level_valid_until",
    "card_expires_at",
    "points_balance",
    "updated_at",
]
# Orders whose money counts as spend: a refund lowers it by what was refunded.
_SPENT = [OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED]


@dataclass(frozen=True)
class MemberFacts:
    """What the upgrade rules look at."""

    cumulative_spend_fen: int
    invites: int
    # Paid-minus-refunded sales within the last N months, by N.
    rolling_spend_fen: dict[int, int] = field(default_factory=dict)


def rule_met(level: LevelInfo, facts: MemberFacts) -> LevelChangeReason | None:
    """Which of the level's rules the facts meet (any one is enough), if any."""
    if level.rolling_spend_fen is not None and level.rolling_months is not None:
        spent = facts.rolling_spend_fen.get(level.rolling_months, 0)
        if spent >= level.rolling_spend_fen:
            return LevelChangeReason.ROLLING_SPEND
    cumulative = level.cumulative_spend_fen
    if cumulative is not None and facts.cumulative_spend_fen >= cumulative:
        return LevelChangeReason.CUMULATIVE_SPEND
    if level.min_invites is not None and facts.invites >= level.min_invites:
        return LevelChangeReason.INVITES
    return None


def qualifying_level(
    card: CardInfo, facts: MemberFacts
) -> tuple[LevelInfo, LevelChangeReason | None]:
    """The card's highest level the facts reach (the entry level reaches itself)."""
    best: tuple[LevelInfo, LevelChangeReason | None] = (card.levels[0], None)
    for level in card.levels[1:]:
        reason = rule_met(level, facts)
        if reason is not None:
            best = (level, reason)
    return best


def _windows(levels: tuple[LevelInfo, ...]) -> set[int]:
    return {level.rolling_months for level in levels if level.rolling_months is not None}


async def gather_facts(member: Member, levels: tuple[LevelInfo, ...], now: datetime) -> MemberFacts:
    """The member's facts, with the rolling windows `levels` need (one query per window)."""
    rolling: dict[int, int] = {}
    for months in _windows(levels):
        rolling[months] = await _spend_since(member.id, add_months(now, -months))
    return MemberFacts(member.total_spend_fen, member.invite_count, rolling)


async def _spend_since(member_id: int, since: datetime) -> int:
    row = (
        await Order.filter(
            member_id=member_id, kind=OrderKind.SALE, status__in=_SPENT, paid_at__gte=since
        )
        .annotate(paid=Sum("amount_fen"), refunded=Sum("refunded_fen"))
        .first()
        .values("paid", "refunded")
    )
    # An aggregate always has its one row; sums over no orders are NULL.
    return int(row["paid"] or 0) - int(row["refunded"] or 0)


@dataclass(frozen=True)
class Cause:
    """Why the level is looked at: names the idempotency key and the order, if any."""

    key: str
    order_id: int | None = None


async def enrol(member: Member, programme: Programme, now: datetime) -> bool:
    """Give a member without a card the default card's entry level; False if nothing to do."""
    card = programme.default_card
    if member.card_type_id is not None or card is None:
        return False
    cause = Cause(f"member:{member.id}:joined")
    await _change(
        member,
        programme,
        card,
        card.levels[0],
        reason=LevelChangeReason.JOINED,
        now=now,
        cause=cause,
    )
    return True


async def upgrade(member: Member, programme: Programme, now: datetime, cause: Cause) -> bool:
    """Move the member up to the highest level of their card they now reach; True if moved.

    Only levels above the current one are looked at (so only their rolling windows are
    queried). A member without a card is enrolled first.
    """
    await enrol(member, programme, now)
    card = programme.cards.get(member.card_type_id or 0)
    current = programme.level(member.level_id)
    if card is None or current is None:
        return False
    higher = tuple(level for level in card.levels if level.rank > current.rank)
    if not higher:
        return False
    facts = await gather_facts(member, higher, now)
    target, reason = qualifying_level(card, facts)
    if target.rank <= current.rank or reason is None:
        return False
    await _change(member, programme, card, target, reason=reason, now=now, cause=cause)
    return True


async def grant_card(
    member: Member, programme: Programme, card: CardInfo, now: datetime, cause: Cause
) -> None:
    """A bought card: held for its validity (a renewal extends it), at the level it reaches."""
    await enrol(member, programme, now)
    start = now
    if member.card_type_id == card.id and member.card_expires_at and member.card_expires_at > now:
        start = member.card_expires_at
    facts = await gather_facts(member, card.levels, now)
    target, _ = qualifying_level(card, facts)
    await _change(
        member, programme, card, target, reason=LevelChangeReason.PURCHASE, now=now, cause=cause
    )
    member.card_expires_at = start + timedelta(days=card.validity_days or 0)


async def return_to_default(
    member: Member, programme: Programme, now: datetime, reason: LevelChangeReason, cause: Cause
) -> bool:
    """Back from a bought card to the default card, at the level the member reaches there."""
    card = programme.default_card
    if card is None:
        return False
    facts = await gather_facts(member, card.levels, now)
    target, _ = qualifying_level(card, facts)
    await _change(member, programme, card, target, reason=reason, now=now, cause=cause)
    member.card_expires_at = None
    return True


async def end_period(member: Member, programme: Programme, now: datetime) -> bool:
    """The level's period is over: renew it, or — if the card says so — re-evaluate it."""
    card = programme.cards.get(member.card_type_id or 0)
    current = programme.level(member.level_id)
    if card is None or current is None or member.level_valid_until is None:
        return False
    cause = Cause(f"member:{member.id}:period:{member.level_valid_until.isoformat()}")
    target = current
    if card.downgrade_at_period_end:
        facts = await gather_facts(member, card.levels, now)
        target, _ = qualifying_level(card, facts)
    if target.id == current.id:
        member.level_valid_until = _period_end(card, now)
        return False
    await _change(
        member, programme, card, target, reason=LevelChangeReason.PERIOD_END, now=now, cause=cause
    )
    return True


def _period_end(card: CardInfo, now: datetime) -> datetime | None:
    months = card.level_period_months
    return None if months is None else add_months(now, months)


async def _change(  # noqa: PLR0913 - a level change has this many parts
    member: Member,
    programme: Programme,
    card: CardInfo,
    target: LevelInfo,
    *,
    reason: LevelChangeReason,
    now: datetime,
    cause: Cause,
) -> None:
    if await LevelChange.exists(idempotency_key=cause.key):
        return
    await LevelChange.create(
        brand_id=member.brand_id,
        member_id=member.id,
        from_level_id=member.level_id,
        to_level_id=target.id,
        reason=reason,
        order_id=cause.order_id,
        idempotency_key=cause.key,
    )
    previous = programme.level(member.level_id)
    member.card_type_id = card.id
    member.level_id = target.id
    member.level_valid_until = _period_end(card, now)
    await _give_upgrade_gifts(member, programme, card, previous, target, now)


async def _give_upgrade_gifts(
    member: Member,
    programme: Programme,
    card: CardInfo,
    previous: LevelInfo | None,
    target: LevelInfo,
    now: datetime,
) -> None:
    """The gifts of every level passed on the way up (points, coupons), once per level."""
    floor = previous.rank if previous and previous.card_type_id == card.id else 0
    passed = [level for level in card.levels if floor < level.rank <= target.rank]
    await _give_upgrade_coupons(member, passed, now)
    for level in card.levels:
        if floor < level.rank <= target.rank and level.upgrade_gift_points:
            await record_change(
                member,
                PointsChange(
                    member_id=member.id,
                    kind=PointsKind.GIFT,
                    delta=level.upgrade_gift_points,
                    idempotency_key=f"member:{member.id}:level:{level.id}:gift",
                    reason=f"reached {level.name}",
                    expires_at=lot_expiry(programme, now),
                ),
            )


async def _give_upgrade_coupons(member: Member, passed: list[LevelInfo], now: datetime) -> None:
    """The coupons of the levels passed, given in template-id order.

    Giving one holds its template's stock row lock until the payment commits: with one order
    for every payment, two upgrades never wait on each other in a ring (a deadlock).
    """
    gifts = [(code, level) for level in passed for code in level.upgrade_coupons]
    if not gifts:
        return
    codes = {code for code, _ in gifts}
    ids = {
        str(row["code"]): int(row["id"])
        for row in await CouponTemplate.filter(brand_id=member.brand_id, code__in=codes).values(
            "code", "id"
        )
    }
    for code, level in sorted(gifts, key=lambda gift: ids.get(gift[0], 0)):
        key = f"member:{member.id}:level:{level.id}:coupon:{code}"
        await coupons.give_coupon(member, code, key, IssueSource.UPGRADE, Actor.system(), now)


async def review_due(now: datetime, batch: int = 500) -> int:
    """End bought cards and level periods that are over; returns how many members changed.

    Members are taken in batches by id until none is left.
    """
    due = Q(card_expires_at__lte=now) | Q(level_valid_until__lte=now)
    changed, after = 0, 0
    while True:
        rows = await (
            Member.filter(due, merged_into_id=None, id__gt=after)
            .order_by("id")
            .limit(batch)
            .values("id")
        )
        for row in rows:
            changed += await _review(int(row["id"]), now)
        if len(rows) < batch:
            return changed
        after = int(rows[-1]["id"])


async def _review(member_id: int, now: datetime) -> int:
    async with db.atomic():
        member = await lock_member(member_id)
        programme = await load_programme(member.brand_id)
        if member.card_expires_at is not None and member.card_expires_at <= now:
            cause = Cause(f"member:{member.id}:card_expired:{member.card_expires_at.isoformat()}")
            moved = await return_to_default(
                member, programme, now, LevelChangeReason.CARD_EXPIRED, cause
            )
            if not moved:
                member.card_expires_at = None  # no free card to return to: the card just ends
        elif member.level_valid_until is not None and member.level_valid_until <= now:
            moved = await end_period(member, programme, now)
        else:
            return 0  # reviewed by another worker meanwhile
        await member.save(update_fields=LEVEL_FIELDS)
    return int(moved)
