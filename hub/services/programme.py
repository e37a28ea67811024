"""A brand's membership programme: set from a declarative spec, read through a short cache.

The spec (cards with their levels, the earning policy, store bonuses, recharge tiers) is what
head office writes, e.g. in a TOML file for `wxhub membership apply`; `Programme` is the
read-only form the settlement path uses, cached per process for PROGRAMME_TTL_S.
"""

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from hub.errors import DomainError, InvalidValueError
from hub.models.brand import Brand, Store
from hub.models.coupon import CouponTemplate
from hub.models.member import Member
from hub.models.membership import (
    CardKind,
    CardType,
    Level,
    LevelChange,
    MembershipPolicy,
    RechargeTier,
    StorePointsRule,
)
from hub.services import audit
from hub.services.audit import Actor
from hub.services.fields import Code, Name

# Settlement reads the programme on every payment: a change reaches other processes within
# this many seconds (the process that applies it sees it at once).
PROGRAMME_TTL_S = 30.0
# Above this a "discount" is a typo, not a benefit.
MAX_DISCOUNT_PERCENT = 90
MAX_MULTIPLIER_PERCENT = 1_000

# The largest single recharge (¥50,000): stored value is prepaid money held for members, and a
# tier above it could never apply.
MAX_RECHARGE_FEN = 5_000_000


Fen = Annotated[int, Field(gt=0, le=100_000_000)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LevelSpec(_Spec):
    code: Code
    name: Name
    rank: int = Field(ge=0, le=100)
    discount_percent: int = Field(default=0, ge=0, le=MAX_DISCOUNT_PERCENT)
    points_multiplier_percent: int = Field(default=100, ge=0, le=MAX_MULTIPLIER_PERCENT)
    upgrade_gift_points: int = Field(default=0, ge=0, le=1_000_000)
    # Coupon templates (codes): given once on first reaching the level, and on each birthday.
    upgrade_coupons: list[Code] = Field(default_factory=list, max_length=10)
    birthday_coupon: Code | None = None
    rolling_spend_fen: Fen | None = None
    rolling_months: int | None = Field(default=None, ge=1, le=60)
    cumulative_spend_fen: Fen | None = None
    min_invites: int | None = Field(default=None, ge=1, le=10_000)

    @property
    def has_rule(self) -> bool:
        return any(
            rule is not None
            for rule in (self.rolling_spend_fen, self.cumulative_spend_fen, self.min_invites)
        )

    @model_validator(mode="after")
    def _rolling_pair(self) -> Self:
        if (self.rolling_spend_fen is None) != (self.rolling_months is None):
            msg = f"level {self.code}: rolling_spend_fen and rolling_months go together"
            raise ValueError(msg)
        if self.rank == 0 and self.has_rule:
            msg = f"level {self.code}: rank 0 is the card's entry level and takes no rule"
            raise ValueError(msg)
        if self.rank > 0 and not self.has_rule:
            msg = f"level {self.code}: a level above rank 0 needs an upgrade rule"
            raise ValueError(msg)
        return self


class CardSpec(_Spec):
    code: Code
    name: Name
    kind: CardKind
    default: bool = False
    price_fen: int = Field(default=0, ge=0, le=100_000_000)
    validity_days: int | None = Field(default=None, ge=1, le=3660)
    level_period_months: int | None = Field(default=None, ge=1, le=60)
    downgrade_at_period_end: bool = False
    levels: list[LevelSpec] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.kind is CardKind.PAID and (self.price_fen <= 0 or self.validity_days is None):
            msg = f"card {self.code}: a paid card needs price_fen and validity_days"
            raise ValueError(msg)
        if self.kind is CardKind.FREE and (self.price_fen or self.validity_days or False):
            msg = f"card {self.code}: a free card has no price or validity"
            raise ValueError(msg)
        if self.default and self.kind is not CardKind.FREE:
            msg = f"card {self.code}: the default card must be free"
            raise ValueError(msg)
        ranks = [level.rank for level in self.levels]
        if len(set(ranks)) != len(ranks) or 0 not in ranks:
            msg = f"card {self.code}: level ranks must be distinct and include 0"
            raise ValueError(msg)
        return self


class PolicySpec(_Spec):
    fen_per_point: int = Field(default=100, ge=1, le=1_000_000)
    points_valid_months: int | None = Field(default=None, ge=1, le=120)
    bonus_refundable: bool = False


class StoreBonusSpec(_Spec):
    store: Code
    name: Name
    bonus_percent: int = Field(ge=1, le=MAX_MULTIPLIER_PERCENT)
    starts_at: datetime | None = None
    ends_at: datetime | None = None

    @model_validator(mode="after")
    def _window(self) -> Self:
        for moment in (self.starts_at, self.ends_at):
            if moment is not None and moment.tzinfo is None:
                msg = f"store bonus {self.name}: times need a UTC offset (e.g. +08:00)"
                raise ValueError(msg)
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            msg = f"store bonus {self.name}: ends_at must be after starts_at"
            raise ValueError(msg)
        return self


class TierSpec(_Spec):
    pay_fen: int = Field(gt=0, le=MAX_RECHARGE_FEN)
    bonus_fen: int = Field(ge=0, le=100_000_000)


class ProgrammeSpec(_Spec):
    """Everything head office configures about membership, as one document."""

    policy: PolicySpec = PolicySpec()
    cards: list[CardSpec] = Field(default_factory=list, max_length=20)
    store_bonuses: list[StoreBonusSpec] = Field(default_factory=list, max_length=500)
    recharge_tiers: list[TierSpec] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _unique(self) -> Self:
        card_codes = [card.code for card in self.cards]
        level_codes = [level.code for card in self.cards for level in card.levels]
        tiers = [tier.pay_fen for tier in self.recharge_tiers]
        for what, values in (
            ("card codes", card_codes),
            ("level codes", level_codes),
            ("recharge tiers' pay_fen", tiers),
        ):
            if len(set(values)) != len(values):
                msg = f"{what} must be distinct"
                raise ValueError(msg)
        if self.cards and sum(card.default for card in self.cards) != 1:
            msg = "exactly one card must be the default (free) card"
            raise ValueError(msg)
        if sum(card.kind is CardKind.FREE for card in self.cards) > 1:
            msg = "only the default card may be free (members join on it; none moves to another)"
            raise ValueError(msg)
        return self


def parse_spec(data: dict[str, Any]) -> ProgrammeSpec:
    """Raises InvalidValueError naming the first problem."""
    try:
        spec = ProgrammeSpec.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "programme"
        raise InvalidValueError(where, error["msg"], reason="invalid_programme") from None
    return spec


# -- the read-only form ----------------------------------------------------------------------


@dataclass(frozen=True)
class LevelInfo:
    id: int
    card_type_id: int
    code: str
    name: str
    rank: int
    discount_percent: int
    points_multiplier_percent: int
    upgrade_gift_points: int
    upgrade_coupons: tuple[str, ...]
    birthday_coupon: str | None
    rolling_spend_fen: int | None
    rolling_months: int | None
    cumulative_spend_fen: int | None
    min_invites: int | None


@dataclass(frozen=True)
class CardInfo:
    id: int
    code: str
    name: str
    kind: CardKind
    price_fen: int
    validity_days: int | None
    is_default: bool
    active: bool
    level_period_months: int | None
    downgrade_at_period_end: bool
    # Ascending by rank; levels[0] is the entry level.
    levels: tuple[LevelInfo, ...]


@dataclass(frozen=True)
class StoreBonus:
    store_id: int
    name: str
    bonus_percent: int
    starts_at: datetime | None
    ends_at: datetime | None

    def applies(self, store_id: int, at: datetime) -> bool:
        return (
            self.store_id == store_id
            and (self.starts_at is None or self.starts_at <= at)
            and (self.ends_at is None or at < self.ends_at)
        )


@dataclass(frozen=True)
class Programme:
    brand_id: int
    fen_per_point: int
    points_valid_months: int | None
    bonus_refundable: bool
    cards: dict[int, CardInfo]
    levels: dict[int, LevelInfo]
    store_bonuses: tuple[StoreBonus, ...]
    # (pay_fen, bonus_fen), ascending by pay_fen.
    tiers: tuple[tuple[int, int], ...]

    @property
    def default_card(self) -> CardInfo | None:
        return next((card for card in self.cards.values() if card.is_default), None)

    def level(self, level_id: int | None) -> LevelInfo | None:
        return None if level_id is None else self.levels.get(level_id)

    def store_bonus_percent(self, store_id: int | None, at: datetime) -> int:
        """The best bonus running in the store at `at` (bonuses do not add up)."""
        if store_id is None:
            return 0
        running = [b.bonus_percent for b in self.store_bonuses if b.applies(store_id, at)]
        return max(running, default=0)

    def recharge_bonus_fen(self, amount_fen: int) -> int:
        """The bonus of the highest tier the recharge reaches (0 below every tier)."""
        reached = [bonus for pay, bonus in self.tiers if pay <= amount_fen]
        return reached[-1] if reached else 0


_cache: dict[int, tuple[float, Programme]] = {}


def forget_programmes() -> None:
    """Drop every cached programme (tests; after a change in this process)."""
    _cache.clear()


async def load_programme(brand_id: int) -> Programme:
    """The brand's programme, read at most every PROGRAMME_TTL_S per process."""
    cached = _cache.get(brand_id)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    programme = await _read_programme(brand_id)
    _cache[brand_id] = (time.monotonic() + PROGRAMME_TTL_S, programme)
    return programme


async def _read_programme(brand_id: int) -> Programme:
    policy = await MembershipPolicy.get_or_none(brand_id=brand_id)
    levels = [_level_info(level) for level in await Level.filter(brand_id=brand_id)]
    cards = {
        card.id: _card_info(card, [level for level in levels if level.card_type_id == card.id])
        for card in await CardType.filter(brand_id=brand_id)
    }
    bonuses = tuple(
        StoreBonus(rule.store_id, rule.name, rule.bonus_percent, rule.starts_at, rule.ends_at)
        for rule in await StorePointsRule.filter(brand_id=brand_id)
    )
    tiers = tuple(
        sorted(
            (tier.pay_fen, tier.bonus_fen) for tier in await RechargeTier.filter(brand_id=brand_id)
        )
    )
    defaults = PolicySpec()
    return Programme(
        brand_id=brand_id,
        fen_per_point=policy.fen_per_point if policy else defaults.fen_per_point,
        points_valid_months=policy.points_valid_months if policy else None,
        bonus_refundable=policy.bonus_refundable if policy else False,
        cards=cards,
        levels={level.id: level for level in levels},
        store_bonuses=bonuses,
        tiers=tiers,
    )


def _level_info(level: Level) -> LevelInfo:
    return LevelInfo(
        id=level.id,
        card_type_id=level.card_type_id,
        code=level.code,
        name=level.name,
        rank=level.rank,
        discount_percent=level.discount_percent,
        points_multiplier_percent=level.points_multiplier_percent,
        upgrade_gift_points=level.upgrade_gift_points,
        upgrade_coupons=tuple(level.upgrade_coupons),
        birthday_coupon=level.birthday_coupon or None,
        rolling_spend_fen=level.rolling_spend_fen,
        rolling_months=level.rolling_months,
        cumulative_spend_fen=level.cumulative_spend_fen,
        min_invites=level.min_invites,
    )


def _card_info(card: CardType, levels: list[LevelInfo]) -> CardInfo:
    return CardInfo(
        id=card.id,
        code=card.code,
        name=card.name,
        kind=card.kind,
        price_fen=card.price_fen,
        validity_days=card.validity_days,
        is_default=card.is_default,
        active=card.active,
        level_period_months=card.level_period_months,
        downgrade_at_period_end=card.downgrade_at_period_end,
        levels=tuple(sorted(levels, key=lambda level: level.rank)),
    )


# -- setting it ------------------------------------------------------------------------------


async def apply_programme(brand: Brand, spec: ProgrammeSpec, actor: Actor) -> None:
    """Make the brand's programme what `spec` says, in one transaction, audited.

    Cards missing from the spec are deactivated (members keep them); levels missing from it
    are deleted, which is refused while a member holds one or its history names it.

    Raises:
        NotFoundError: a store bonus names an unknown store.
        DomainError: "level_in_use" for a level that cannot be deleted.
    """
    before = await export_programme(brand)
    async with in_transaction():
        await MembershipPolicy.update_or_create(
            defaults=spec.policy.model_dump(), brand_id=brand.id
        )
        await _apply_cards(brand, spec.cards)
        await _apply_store_bonuses(brand, spec.store_bonuses)
        await RechargeTier.filter(brand_id=brand.id).delete()
        for tier in spec.recharge_tiers:
            await RechargeTier.create(brand_id=brand.id, **tier.model_dump())
        await audit.record(
            actor,
            "membership.apply",
            "brand",
            brand.id,
            brand_id=brand.id,
            before=before.model_dump(mode="json"),
            after=spec.model_dump(mode="json"),
        )
    _cache.pop(brand.id, None)


async def _apply_cards(brand: Brand, cards: list[CardSpec]) -> None:
    existing = {card.code: card for card in await CardType.filter(brand_id=brand.id)}
    for spec in cards:
        fields: dict[str, Any] = {
            "name": spec.name,
            "kind": spec.kind,
            "is_default": spec.default,
            "price_fen": spec.price_fen,
            "validity_days": spec.validity_days,
            "level_period_months": spec.level_period_months,
            "downgrade_at_period_end": spec.downgrade_at_period_end,
            "active": True,
        }
        card = existing.pop(spec.code, None)
        if card is None:
            card = await CardType.create(brand_id=brand.id, code=spec.code, **fields)
        else:
            await CardType.filter(id=card.id).update(**fields)
        await _apply_levels(brand, card, spec.levels)
    for retired in existing.values():
        await CardType.filter(id=retired.id).update(active=False, is_default=False)


async def _apply_levels(brand: Brand, card: CardType, levels: list[LevelSpec]) -> None:
    existing = {level.code: level for level in await Level.filter(card_type_id=card.id)}
    # Ranks are unique per card: move the old ones out of the way before re-ranking.
    for level in existing.values():
        await Level.filter(id=level.id).update(rank=-level.id)
    wanted = {spec.code for spec in levels}
    for code, level in existing.items():
        if code not in wanted:
            await _delete_level(level)
    for spec in levels:
        await _check_coupons(brand, spec)
        fields: dict[str, Any] = spec.model_dump(exclude={"code"})
        fields["birthday_coupon"] = spec.birthday_coupon or ""
        if spec.code in existing:
            await Level.filter(id=existing[spec.code].id).update(**fields)
        else:
            await Level.create(brand_id=brand.id, card_type_id=card.id, code=spec.code, **fields)


async def _check_coupons(brand: Brand, spec: LevelSpec) -> None:
    """Raises InvalidValueError unless every coupon the level gives is a template of the brand."""
    codes = {*spec.upgrade_coupons, *([spec.birthday_coupon] if spec.birthday_coupon else [])}
    known = set(
        await CouponTemplate.filter(brand_id=brand.id, code__in=codes).values_list(
            "code", flat=True
        )
    )
    missing = sorted(codes - known)
    if missing:
        raise InvalidValueError(
            f"levels.{spec.code}",
            f"no coupon template {', '.join(missing)}: create it first",
            reason="invalid_programme",
        )


async def _delete_level(level: Level) -> None:
    named = Q(to_level_id=level.id) | Q(from_level_id=level.id)
    if await Member.exists(level_id=level.id) or await LevelChange.filter(named).exists():
        raise DomainError(
            "level_in_use", f"level {level.code!r} is held or in members' history: keep it"
        )
    await level.delete()


async def _apply_store_bonuses(brand: Brand, bonuses: list[StoreBonusSpec]) -> None:
    await StorePointsRule.filter(brand_id=brand.id).delete()
    stores = {store.code: store.id for store in await Store.filter(brand_id=brand.id)}
    for bonus in bonuses:
        if bonus.store not in stores:
            raise InvalidValueError(
                "store_bonuses.store", f"no store {bonus.store!r}", reason="store_not_found"
            )
        await StorePointsRule.create(
            brand_id=brand.id,
            store_id=stores[bonus.store],
            name=bonus.name,
            bonus_percent=bonus.bonus_percent,
            starts_at=bonus.starts_at,
            ends_at=bonus.ends_at,
        )


async def export_programme(brand: Brand) -> ProgrammeSpec:
    """The brand's programme as a spec (active cards only)."""
    programme = await _read_programme(brand.id)
    store_codes = {store.id: store.code for store in await Store.filter(brand_id=brand.id)}
    return ProgrammeSpec(
        policy=PolicySpec(
            fen_per_point=programme.fen_per_point,
            points_valid_months=programme.points_valid_months,
            bonus_refundable=programme.bonus_refundable,
        ),
        cards=[_card_spec(card) for card in programme.cards.values() if card.active],
        store_bonuses=[
            StoreBonusSpec(
                store=store_codes[bonus.store_id],
                name=bonus.name,
                bonus_percent=bonus.bonus_percent,
                starts_at=bonus.starts_at,
                ends_at=bonus.ends_at,
            )
            for bonus in programme.store_bonuses
        ],
        recharge_tiers=[TierSpec(pay_fen=pay, bonus_fen=bonus) for pay, bonus in programme.tiers],
    )


def _card_spec(card: CardInfo) -> CardSpec:
    return CardSpec(
        code=card.code,
        name=card.name,
        kind=card.kind,
        default=card.is_default,
        price_fen=card.price_fen,
        validity_days=card.validity_days,
        level_period_months=card.level_period_months,
        downgrade_at_period_end=card.downgrade_at_period_end,
        levels=[
            LevelSpec(
                code=level.code,
                name=level.name,
                rank=level.rank,
                discount_percent=level.discount_percent,
                points_multiplier_percent=level.points_multiplier_percent,
                upgrade_gift_points=level.upgrade_gift_points,
                upgrade_coupons=list(level.upgrade_coupons),
                birthday_coupon=level.birthday_coupon,
                rolling_spend_fen=level.rolling_spend_fen,
                rolling_months=level.rolling_months,
                cumulative_spend_fen=level.cumulative_spend_fen,
                min_invites=level.min_invites,
            )
            for level in card.levels
        ],
    )
