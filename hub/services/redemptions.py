"""Redeeming coupons at the till: one scan, a batch uploaded after an outage, undo.

A scan is applied exactly once: the coupon's row is locked while its uses are counted, so two
devices scanning one coupon at once give one redemption (or, for a count card, no more than its
uses), and each scan carries the device's `scan_id`, unique within its store, so a retried request
returns the first answer instead of using the coupon again. Lock order: member → coupon.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from hub.errors import AlreadyExistsError, DomainError, InvalidValueError, NotFoundError
from hub.models.brand import Store
from hub.models.coupon import Coupon, CouponStatus, CouponTemplate, Redemption
from hub.services import audit, coupon_tokens
from hub.services.audit import Actor
from hub.services.coupons import Benefit, benefit, check_usable, gift_of
from hub.services.fields import check_text
from hub.services.member_locks import lock_member
from hub.vault import Vault

# How far back an offline scan may be uploaded: a till offline longer than this has a problem
# an operator should look at.
MAX_OFFLINE_AGE = timedelta(days=7)
# How far a till's clock may run ahead of ours.
MAX_CLOCK_SKEW = timedelta(minutes=5)
_SCAN_ID_MAX = 64
# The statuses an undo may move between (the others are decided elsewhere).
_SETTLED = frozenset({CouponStatus.AVAILABLE, CouponStatus.USED, CouponStatus.EXPIRED})
# The till's order amount: above ¥1,000,000 it is a typo.
_MAX_ORDER_FEN = 100_000_000


@dataclass(frozen=True)
class Scan:
    """A clerk's scan of a member's coupon QR, for an order of the till."""

    token: str
    scan_id: str
    store: Store
    order_amount_fen: int
    order_ref: str = ""


@dataclass(frozen=True)
class Redeemed:
    redemption: Redemption
    coupon: Coupon
    template: CouponTemplate
    benefit: Benefit
    # False: the same scan_id was applied before; this is that redemption.
    created: bool


async def redeem(
    scan: Scan,
    staff_id: int | None,
    actor: Actor,
    vault: Vault,
    now: datetime,
    scanned_at: datetime | None = None,
) -> Redeemed:
    """Use the scanned coupon once in the scan's store; `scanned_at` for an offline scan.

    Raises:
        InvalidValueError: a bad scan_id, amount or order reference.
        DomainError: the token ("invalid_coupon_token", "coupon_token_expired"), the coupon
            (see coupons.check_usable), "below_threshold".
        NotFoundError: "coupon_not_found" (also another brand's coupon).
        AlreadyExistsError: "scan_id_reused" (the scan_id was used for another coupon).
    """
    scan_id = _check_scan(scan)
    at = scanned_at or now
    claims = coupon_tokens.verify_token(vault, scan.token)
    coupon_id = claims.coupon_id
    key = scan_key(scan.store.id, scan_id)
    # A retry is answered with the first redemption even once its token has lapsed.
    earlier = await _earlier(scan.store.brand_id, key, coupon_id)
    if earlier is not None:
        return earlier
    coupon_tokens.check_unexpired(claims, at)
    try:
        async with in_transaction():
            return await _redeem(scan, coupon_id, key, staff_id, actor, at)
    except IntegrityError:
        found = await _earlier(scan.store.brand_id, key, coupon_id)
        if found is None:
            raise
        return found


def scan_key(store_id: int, scan_id: str) -> str:
    """A till scan's redemption key: scan_ids are the devices' own, unique within a store."""
    return f"scan:{store_id}:{scan_id}"


def _check_scan(scan: Scan) -> str:
    scan_id = check_text(scan.scan_id, "scan_id", _SCAN_ID_MAX)
    if not scan_id or not scan_id.isascii() or not scan_id.isprintable():
        raise InvalidValueError("scan_id", f"must be 1-{_SCAN_ID_MAX} printable ASCII characters")
    amount = scan.order_amount_fen
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount <= _MAX_ORDER_FEN:
        raise InvalidValueError("order_amount_fen", "must be a whole number of fen, 0-100000000")
    check_text(scan.order_ref, "order_ref", 64)
    return scan_id


async def _redeem(
    scan: Scan, coupon_id: int, key: str, staff_id: int | None, actor: Actor, at: datetime
) -> Redeemed:
    peek = await Coupon.get_or_none(id=coupon_id, brand_id=scan.store.brand_id)
    if peek is None:
        raise NotFoundError("coupon_not_found", "no such coupon")
    await lock_member(peek.member_id)
    coupon = await Coupon.select_for_update().get(id=coupon_id)
    # The same scan_id sent twice at once: the other request committed while this one waited
    # for the locks, and its redemption is the answer (not "coupon_used").
    earlier = await _earlier(scan.store.brand_id, key, coupon_id)
    if earlier is not None:
        return earlier
    template = await CouponTemplate.get(id=coupon.template_id)
    check_usable(coupon, template, scan.store, at)
    await _check_stacking(template, scan, coupon_id)
    gives = benefit(template, scan.order_amount_fen)
    coupon.uses_left -= 1
    if coupon.uses_left == 0:
        coupon.status = CouponStatus.USED
    await coupon.save(update_fields=["uses_left", "status", "updated_at"])
    redemption = await Redemption.create(
        brand_id=coupon.brand_id,
        coupon_id=coupon.id,
        template_id=template.id,
        member_id=coupon.member_id,
        store_id=scan.store.id,
        staff_id=staff_id,
        order_ref=scan.order_ref.strip(),
        order_amount_fen=scan.order_amount_fen,
        discount_fen=gives.discount_fen,
        redemption_key=key,
        redeemed_at=at,
    )
    await audit.record(
        actor,
        "coupon.redeem",
        "coupon",
        coupon.id,
        brand_id=coupon.brand_id,
        after=redemption.snapshot() | {"uses_left": coupon.uses_left},
    )
    return Redeemed(redemption, coupon, template, gives, created=True)


async def _check_stacking(template: CouponTemplate, scan: Scan, coupon_id: int) -> None:
    """Coupons used on one order of the till (same store and order_ref) must all be stackable.

    Raises:
        DomainError: "not_stackable".
    """
    order_ref = scan.order_ref.strip()
    if not order_ref:
        return
    others = (
        await Redemption.filter(
            brand_id=scan.store.brand_id,
            store_id=scan.store.id,
            order_ref=order_ref,
            undone_at=None,
        )
        .exclude(coupon_id=coupon_id)
        .values_list("template_id", flat=True)
    )
    if not others:
        return
    alone = await CouponTemplate.filter(id__in={template.id, *others}, stackable=False).count()
    if alone:
        raise DomainError(
            "not_stackable", f"order {order_ref} has a coupon already, and one of them stands alone"
        )


async def _earlier(brand_id: int, key: str, coupon_id: int) -> Redeemed | None:
    redemption = await Redemption.get_or_none(brand_id=brand_id, redemption_key=key)
    if redemption is None:
        return None
    if redemption.coupon_id != coupon_id:
        raise AlreadyExistsError("scan_id_reused", "this scan_id was used for another coupon")
    coupon = await Coupon.get(id=redemption.coupon_id)
    template = await CouponTemplate.get(id=coupon.template_id)
    gives = Benefit(redemption.discount_fen, gift_of(template))
    return Redeemed(redemption, coupon, template, gives, created=False)


# -- offline batches -------------------------------------------------------------------------


@dataclass(frozen=True)
class OfflineScan:
    scan: Scan
    scanned_at: datetime


@dataclass(frozen=True)
class BatchOutcome:
    scan_id: str
    redeemed: Redeemed | None = None
    reason: str = ""
    message: str = ""


async def redeem_batch(
    scans: list[OfflineScan], staff_id: int | None, actor: Actor, vault: Vault, now: datetime
) -> list[BatchOutcome]:
    """Apply a till's queued scans, oldest first, each on its own; outcomes in the given order.

    Each scan is judged at its `scanned_at` (token and validity then), against the coupon as it
    is now: a coupon used meanwhile elsewhere is refused for the later scan (the first valid
    redemption wins). A scan_id seen before returns its redemption; one given twice in the
    batch is refused the second time ("duplicate_item").
    """
    outcomes: dict[int, BatchOutcome] = {}
    seen: set[str] = set()
    # A time without an offset cannot be ordered among the others (nor judged): refused first.
    for index, item in enumerate(scans):
        if item.scanned_at.tzinfo is None:
            outcomes[index] = BatchOutcome(
                item.scan.scan_id.strip(), None, "invalid_value", "scanned_at needs a UTC offset"
            )
    judged = [index for index in range(len(scans)) if index not in outcomes]
    for index in sorted(judged, key=lambda i: scans[i].scanned_at):
        item = scans[index]
        scan_id = item.scan.scan_id.strip()
        if scan_id in seen:
            outcomes[index] = BatchOutcome(scan_id, None, "duplicate_item", "scan_id given twice")
            continue
        seen.add(scan_id)
        outcomes[index] = await _one_offline(item, staff_id, actor, vault, now)
    return [outcomes[index] for index in range(len(scans))]


async def _one_offline(
    item: OfflineScan, staff_id: int | None, actor: Actor, vault: Vault, now: datetime
) -> BatchOutcome:
    scan_id = item.scan.scan_id.strip()
    if not now - MAX_OFFLINE_AGE <= item.scanned_at <= now + MAX_CLOCK_SKEW:
        return BatchOutcome(
            scan_id, None, "scan_too_old", "scanned_at is in the future or over 7 days ago"
        )
    try:
        redeemed = await redeem(item.scan, staff_id, actor, vault, now, item.scanned_at)
    except DomainError as exc:
        return BatchOutcome(scan_id, None, exc.reason, exc.message)
    return BatchOutcome(scan_id, redeemed)


# -- undo ------------------------------------------------------------------------------------


async def undo_redemption(
    redemption_id: int, brand_id: int, staff_id: int, actor: Actor, now: datetime, window: timedelta
) -> Redemption:
    """Give the coupon its use back, within `window` of the redemption; audited.

    Raises:
        NotFoundError: "redemption_not_found" (also another brand's).
        DomainError: "already_undone", "undo_window_passed", "not_a_scan" (a use by a
            mini-program order is undone by refunding the order).
    """
    peek = await Redemption.get_or_none(id=redemption_id, brand_id=brand_id)
    if peek is None:
        raise NotFoundError("redemption_not_found", f"no redemption {redemption_id}")
    async with in_transaction():
        await lock_member(peek.member_id)
        coupon = await Coupon.select_for_update().get(id=peek.coupon_id)
        redemption = await Redemption.select_for_update().get(id=redemption_id)
        _check_undoable(redemption, now, window)
        before = redemption.snapshot() | {"uses_left": coupon.uses_left}
        redemption.undone_at, redemption.undone_by_id = now, staff_id
        await redemption.save(update_fields=["undone_at", "undone_by_id"])
        coupon.uses_left += 1
        # A coupon voided (or held by an order) since keeps that status; it gets the use back.
        if coupon.status in _SETTLED:
            coupon.status = (
                CouponStatus.EXPIRED if coupon.valid_until <= now else CouponStatus.AVAILABLE
            )
        await coupon.save(update_fields=["uses_left", "status", "updated_at"])
        await audit.record(
            actor,
            "coupon.redeem_undo",
            "coupon",
            coupon.id,
            brand_id=brand_id,
            before=before,
            after=redemption.snapshot() | {"uses_left": coupon.uses_left},
        )
    return redemption


def _check_undoable(redemption: Redemption, now: datetime, window: timedelta) -> None:
    if redemption.undone_at is not None:
        raise DomainError("already_undone", "the redemption was undone already")
    if redemption.order_id is not None:
        raise DomainError("not_a_scan", "refund the order to give this coupon back")
    if now - redemption.created_at > window:
        minutes = int(window.total_seconds() // 60)
        raise DomainError("undo_window_passed", f"a redemption can be undone within {minutes} min")
