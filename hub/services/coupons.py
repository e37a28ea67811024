"""Issuing coupons to members, and what a coupon is worth on an order.

Every path that gives a member a coupon — staff, the open API, a birthday or an upgrade, a
campaign or a referral — calls `issue_coupon`. It locks the member (then the template's stock row:
member → template), checks the template's rules, takes one from the stock with a
conditional UPDATE (so concurrent issuance never oversells) and is idempotent by its key.
Each new coupon adds a follow-up that tells the member (subscription message coupon_issued);
the expiry job queues the "expiring soon" reminder (coupon_expiring) once per coupon.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from hub import outbox
from hub.errors import AlreadyExistsError, DomainError, InvalidValueError, NotFoundError
from hub.models.brand import Store
from hub.models.coupon import (
    Coupon,
    CouponKind,
    CouponStatus,
    CouponTemplate,
    IssueSource,
    StoreScope,
)
from hub.models.member import Member
from hub.queue import TaskName
from hub.services import audit
from hub.services.audit import Actor
from hub.services.fields import check_text
from hub.services.member_locks import lock_member, resolve_member

log = logging.getLogger(__name__)

_KEY_MAX = 128
# The subscription messages about a coupon (templates/messages/<name>.toml).
ISSUED_MESSAGE = "coupon_issued"
EXPIRING_MESSAGE = "coupon_expiring"
# Reminders are queued this many coupons per UPDATE: one statement stays short.
_REMIND_BATCH = 500


@dataclass(frozen=True)
class Issuance:
    """One coupon to give: which template, to whom, why, and the key that makes it once."""

    template_id: int
    member_id: int
    key: str
    source: IssueSource


async def issue_coupon(issuance: Issuance, actor: Actor, now: datetime) -> tuple[Coupon, bool]:
    """Give the member a coupon: the coupon, and whether this call issued it.

    The same key again returns the first coupon (and False), also when sent concurrently.

    Raises:
        NotFoundError: "template_not_found", "member_not_found" (also of another brand).
        InvalidValueError: an empty or over-long key.
        DomainError: "template_inactive", "template_ended", "level_not_eligible",
            "member_limit_reached", "out_of_stock".
        AlreadyExistsError: "issue_key_reused" (the key gave another coupon).
    """
    key = check_text(issuance.key, "issue_key", _KEY_MAX)
    if not key:
        raise InvalidValueError("issue_key", "must not be empty")
    template = await CouponTemplate.get_or_none(id=issuance.template_id)
    if template is None:
        raise NotFoundError("template_not_found", f"no coupon template {issuance.template_id}")
    try:
        async with in_transaction():
            return await _issue(template, issuance, key, actor, now)
    except IntegrityError:
        # The same key, concurrently: the first one's coupon stands if it is the same issuance.
        member = await resolve_member(await Member.get(id=issuance.member_id))
        return await _earlier(template, member, key), False


async def _issue(
    template: CouponTemplate, issuance: Issuance, key: str, actor: Actor, now: datetime
) -> tuple[Coupon, bool]:
    if not await Member.exists(id=issuance.member_id, brand_id=template.brand_id):
        raise NotFoundError("member_not_found", f"no member {issuance.member_id}")
    member = await lock_member(issuance.member_id)
    return await _issue_locked(template, member, issuance.source, key, actor, now)


async def _issue_locked(
    template: CouponTemplate,
    member: Member,
    source: IssueSource,
    key: str,
    actor: Actor,
    now: datetime,
) -> tuple[Coupon, bool]:
    if await Coupon.exists(brand_id=template.brand_id, issue_key=key):
        return await _earlier(template, member, key), False
    _check_template(template, member, now, check_level=source is not IssueSource.UPGRADE)
    await _check_member_limit(template, member)
    await _take_from_stock(template)
    valid_from, valid_until = validity(template, now)
    coupon = await Coupon.create(
        brand_id=template.brand_id,
        template_id=template.id,
        member_id=member.id,
        uses_total=template.uses,
        uses_left=template.uses,
        valid_from=valid_from,
        valid_until=valid_until,
        source=source,
        issue_key=key,
    )
    await audit.record(
        actor,
        "coupon.issue",
        "coupon",
        coupon.id,
        brand_id=template.brand_id,
        after={
            "template": template.code,
            "member": member.id,
            "source": source.value,
            "valid_until": valid_until.isoformat(),
        },
    )
    await _notify(coupon, "issued", ISSUED_MESSAGE)
    return coupon, True


async def _notify(coupon: Coupon, event: str, message: str) -> None:
    """Add the follow-up that tells the member (in the caller's transaction; once per key)."""
    await outbox.add(
        TaskName.NOTIFY_COUPON,
        f"coupon:{coupon.id}:{event}",
        {"coupon_id": coupon.id, "message": message},
    )


async def _earlier(template: CouponTemplate, member: Member, key: str) -> Coupon:
    """The coupon the key gave before, if it was this template for this member."""
    coupon = await Coupon.get(brand_id=template.brand_id, issue_key=key)
    if coupon.template_id != template.id or coupon.member_id != member.id:
        raise AlreadyExistsError("issue_key_reused", "this issue key gave another coupon")
    return coupon


async def give_coupon(
    member: Member, template_code: str, key: str, source: IssueSource, actor: Actor, now: datetime
) -> Coupon | None:
    """A coupon given by a rule (an upgrade, a birthday) to a member the caller has locked.

    Runs in a savepoint of the caller's transaction; a coupon that cannot be given (out of
    stock, retired, limit reached, not for the member's level) is logged and skipped, so the
    payment or job that triggered it still goes through. None when skipped or given before.
    """
    template = await CouponTemplate.get_or_none(brand_id=member.brand_id, code=template_code)
    if template is None:
        log.warning("coupon template %s of brand %s is gone", template_code, member.brand_id)
        return None
    try:
        async with in_transaction():
            coupon, created = await _issue_locked(template, member, source, key, actor, now)
    except DomainError as exc:
        log.info("coupon %s not given to member %s: %s", template_code, member.id, exc.reason)
        return None
    return coupon if created else None


def _check_template(
    template: CouponTemplate, member: Member, now: datetime, *, check_level: bool = True
) -> None:
    """An upgrade gift skips the level check: it is given for a level passed on the way up."""
    if not template.active:
        raise DomainError("template_inactive", f"coupon template {template.code} is retired")
    if template.valid_until is not None and template.valid_until <= now:
        raise DomainError("template_ended", f"coupon template {template.code} has ended")
    if check_level and template.level_ids and member.level_id not in template.level_ids:
        raise DomainError(
            "level_not_eligible", f"the member's level may not receive {template.code}"
        )


async def _check_member_limit(template: CouponTemplate, member: Member) -> None:
    """Under the member's lock, so two issuances to one member cannot both pass."""
    if template.per_member_limit is None:
        return
    held = await Coupon.filter(template_id=template.id, member_id=member.id).count()
    if held >= template.per_member_limit:
        raise DomainError(
            "member_limit_reached",
            f"the member has {held} of {template.code} (at most {template.per_member_limit})",
        )


async def _take_from_stock(template: CouponTemplate) -> None:
    """One coupon from the stock, atomically: the UPDATE matches only while some are left."""
    left = Q(stock_total__isnull=True) | Q(stock_total__gt=F("issued_count"))
    taken = await CouponTemplate.filter(left, id=template.id).update(
        issued_count=F("issued_count") + 1
    )
    if not taken:
        raise DomainError("out_of_stock", f"coupon template {template.code} is out of stock")


def validity(template: CouponTemplate, now: datetime) -> tuple[datetime, datetime]:
    """When a coupon issued now may be used: the template's window, or N days from now."""
    if template.valid_days is not None:
        return now, now + timedelta(days=template.valid_days)
    if template.valid_until is None:  # the spec requires one of the two
        raise RuntimeError(f"template {template.id} has no validity")
    return template.valid_from or now, template.valid_until


# -- what a coupon is worth ------------------------------------------------------------------


@dataclass(frozen=True)
class Benefit:
    """What the till applies for one use: money off, or a gift to hand over."""

    discount_fen: int
    gift_name: str = ""


def benefit(template: CouponTemplate, order_amount_fen: int) -> Benefit:
    """What one use takes off an order of `order_amount_fen` (never more than the order).

    Raises:
        DomainError: "below_threshold" when the order is smaller than the threshold.
    """
    if order_amount_fen < template.threshold_fen:
        raise DomainError(
            "below_threshold",
            f"{template.code} needs an order of at least {template.threshold_fen} fen",
        )
    if template.kind is CouponKind.CASH_OFF:
        return Benefit(min(template.face_value_fen, order_amount_fen))
    if template.kind is CouponKind.PERCENT_OFF:
        off = order_amount_fen * template.percent_off // 100
        if template.face_value_fen:
            off = min(off, template.face_value_fen)
        return Benefit(off)
    return Benefit(0, gift_of(template))


def gift_of(template: CouponTemplate) -> str:
    """What the clerk hands over for one use: a gift, a count card's use ("" for money off)."""
    if template.kind in (CouponKind.CASH_OFF, CouponKind.PERCENT_OFF):
        return ""
    return template.gift_name or template.name


def accepted_in(template: CouponTemplate, store: Store) -> bool:
    """Whether the store accepts coupons of this template."""
    if store.brand_id != template.brand_id:
        return False
    if template.store_scope is StoreScope.REGION:
        return store.region_id == template.region_id
    if template.store_scope is StoreScope.STORES:
        return store.id in template.store_ids
    return True


def check_usable(coupon: Coupon, template: CouponTemplate, store: Store, now: datetime) -> None:
    """Raises DomainError unless the coupon can be used in the store now.

    Reasons: those of check_state, "wrong_store".
    """
    check_state(coupon, now)
    if not accepted_in(template, store):
        raise DomainError("wrong_store", f"store {store.code} does not accept {template.code}")


def check_state(coupon: Coupon, now: datetime) -> None:
    """Raises DomainError unless the coupon can be used now (in some store).

    Reasons: "coupon_used", "coupon_expired", "coupon_voided", "coupon_reserved",
    "coupon_not_yet_valid".
    """
    if coupon.status is CouponStatus.VOIDED:
        raise DomainError("coupon_voided", "the coupon was voided")
    if coupon.status is CouponStatus.RESERVED:
        raise DomainError("coupon_reserved", "the coupon is held by an unpaid order")
    if coupon.status is CouponStatus.USED or coupon.uses_left < 1:
        raise DomainError("coupon_used", "the coupon has no use left")
    # By its validity at `now`, not its status: an offline scan made before the coupon expired
    # is judged when it was made, though the expiry job may have marked the coupon since.
    if coupon.valid_until <= now:
        raise DomainError("coupon_expired", "the coupon has expired")
    if coupon.valid_from > now:
        raise DomainError("coupon_not_yet_valid", "the coupon is not valid yet")


# -- the member's own coupons ----------------------------------------------------------------


def shown_status(coupon: Coupon, now: datetime) -> CouponStatus:
    """The status the member sees: past its validity, an available coupon shows expired."""
    if coupon.status is CouponStatus.AVAILABLE and coupon.valid_until <= now:
        return CouponStatus.EXPIRED
    return coupon.status


def held_coupons(member_id: int, status: CouponStatus | None, now: datetime) -> QuerySet[Coupon]:
    """The member's coupons whose shown status is `status` (every one for None)."""
    held = Coupon.filter(member_id=member_id)
    if status is CouponStatus.AVAILABLE:
        return held.filter(status=status, valid_until__gt=now)
    if status is CouponStatus.EXPIRED:
        overdue = Q(status=CouponStatus.AVAILABLE, valid_until__lte=now)
        return held.filter(Q(status=status) | overdue)
    return held if status is None else held.filter(status=status)


async def coupon_to_show(member_id: int, coupon_id: int, now: datetime) -> Coupon:
    """The member's coupon, if a till could take it now (so its QR token may be made).

    Raises:
        NotFoundError: "coupon_not_found" (also another member's).
        DomainError: the reasons of check_state.
    """
    coupon = await Coupon.get_or_none(id=coupon_id, member_id=member_id)
    if coupon is None:
        raise NotFoundError("coupon_not_found", f"no coupon {coupon_id} of yours")
    check_state(coupon, now)
    return coupon


# -- expiry ----------------------------------------------------------------------------------


async def expire_coupons(now: datetime) -> int:
    """Mark available coupons past their validity as expired; returns how many.

    A reserved coupon is left to its order: closing the order releases it, and the next run
    expires it.
    """
    return await Coupon.filter(status=CouponStatus.AVAILABLE, valid_until__lte=now).update(
        status=CouponStatus.EXPIRED
    )


async def queue_expiry_reminders(now: datetime, days_before: int) -> int:
    """Queue "expiring soon" for coupons expiring within `days_before` days; returns how many.

    Only available coupons not reminded yet; `days_before` 0 queues none.

    Each coupon is claimed by a conditional UPDATE (reminded_at still empty) in the same
    transaction as its follow-up, so runs at the same time queue each reminder once.
    """
    if days_before <= 0:
        return 0
    due = Q(
        status=CouponStatus.AVAILABLE,
        reminded_at__isnull=True,
        valid_until__gt=now,
        valid_until__lte=now + timedelta(days=days_before),
    )
    queued, after_id = 0, 0
    while True:
        batch = await (
            Coupon.filter(due, id__gt=after_id).order_by("id").limit(_REMIND_BATCH).only("id")
        )
        if not batch:
            return queued
        for coupon in batch:
            queued += await _remind(coupon, now)
        after_id = batch[-1].id


async def _remind(coupon: Coupon, now: datetime) -> int:
    async with in_transaction():
        claimed = await Coupon.filter(
            id=coupon.id, reminded_at__isnull=True, status=CouponStatus.AVAILABLE
        ).update(reminded_at=now)
        if claimed:
            await _notify(coupon, "expiring", EXPIRING_MESSAGE)
    return claimed
