"""Coupon templates: what head office designs — value, validity, stock, limits, stores, levels.

A template is written as one document (`TemplateSpec`, e.g. JSON from the API) and saved by
its code: the same code again updates it. Issued coupons keep the validity they were given;
the other rules (stores, threshold, value) are read from the template when a coupon is used.
"""

from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from hub.errors import DomainError, InvalidValueError, NotFoundError
from hub.models.brand import Region, Store
from hub.models.coupon import CouponKind, CouponTemplate, RefundRule, StoreScope
from hub.models.membership import Level
from hub.services import audit
from hub.services.audit import Actor
from hub.services.fields import Code, Name

# A coupon above ¥100,000 off is a typo, not a promotion.
MAX_FACE_VALUE_FEN = 10_000_000
# A count card of more than 1,000 uses is not a coupon.
MAX_USES = 1_000
# Coupons live at most ten years.
MAX_VALID_DAYS = 3_660


Fen = Annotated[int, Field(ge=0, le=MAX_FACE_VALUE_FEN, strict=True)]


class TemplateSpec(BaseModel):
    """A coupon template as head office writes it (codes name regions, stores and levels)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: Code
    name: Name
    kind: CouponKind
    face_value_fen: Fen = 0
    percent_off: int = Field(default=0, ge=0, le=99, strict=True)
    threshold_fen: Fen = 0
    gift_name: str = Field(default="", max_length=64)
    uses: int = Field(default=1, ge=1, le=MAX_USES, strict=True)
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    valid_days: int | None = Field(default=None, ge=1, le=MAX_VALID_DAYS, strict=True)
    stock_total: int | None = Field(default=None, ge=0, le=100_000_000, strict=True)
    per_member_limit: int | None = Field(default=None, ge=1, le=1_000, strict=True)
    store_scope: StoreScope = StoreScope.ALL
    region: Code | None = None
    stores: list[Code] = Field(default_factory=list, max_length=500)
    levels: list[Code] = Field(default_factory=list, max_length=50)
    stackable: bool = False
    refund_rule: RefundRule = RefundRule.RESTORE
    active: bool = True

    @model_validator(mode="after")
    def _value_fits_kind(self) -> Self:
        kind = self.kind
        if kind is CouponKind.CASH_OFF and self.face_value_fen < 1:
            raise ValueError("a cash_off coupon needs face_value_fen")
        if kind is CouponKind.PERCENT_OFF and self.percent_off < 1:
            raise ValueError("a percent_off coupon needs percent_off (1-99)")
        if kind is not CouponKind.PERCENT_OFF and self.percent_off:
            raise ValueError("percent_off is for percent_off coupons only")
        if kind is CouponKind.GIFT and not self.gift_name.strip():
            raise ValueError("a gift coupon needs gift_name")
        if kind is CouponKind.COUNT_CARD and self.uses < 2:  # noqa: PLR2004 - one use is a coupon
            raise ValueError("a count_card has at least 2 uses")
        if kind is not CouponKind.COUNT_CARD and self.uses != 1:
            raise ValueError("only a count_card has more than one use")
        return self

    @model_validator(mode="after")
    def _validity(self) -> Self:
        for moment in (self.valid_from, self.valid_until):
            if moment is not None and moment.tzinfo is None:
                raise ValueError("valid_from and valid_until need a UTC offset (e.g. +08:00)")
        if (self.valid_days is None) == (self.valid_until is None):
            raise ValueError("give either valid_days (from issue) or valid_until (a fixed end)")
        if self.valid_days is not None and self.valid_from is not None:
            raise ValueError("valid_from goes with valid_until, not with valid_days")
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self

    @model_validator(mode="after")
    def _scope(self) -> Self:
        if (self.store_scope is StoreScope.REGION) != (self.region is not None):
            raise ValueError("store_scope region goes with region, and region with it")
        if (self.store_scope is StoreScope.STORES) != bool(self.stores):
            raise ValueError("store_scope stores goes with a list of stores, and stores with it")
        return self


def parse_template(data: dict[str, Any]) -> TemplateSpec:
    """Raises InvalidValueError naming the first problem (reason invalid_template)."""
    try:
        return TemplateSpec.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "template"
        raise InvalidValueError(where, error["msg"], reason="invalid_template") from None


async def save_template(
    brand_id: int, spec: TemplateSpec, actor: Actor
) -> tuple[CouponTemplate, bool]:
    """Create the template, or update the brand's template with that code; audited.

    Returns the template and whether it was created.

    Raises:
        InvalidValueError: an unknown region, store or level code (reason invalid_template).
        DomainError: "stock_below_issued" when stock_total is lower than what was issued.
    """
    fields = await _resolve(brand_id, spec)
    try:
        return await _save(brand_id, spec.code, fields, actor)
    except IntegrityError:
        # Created concurrently under the same code: this one is an update of it.
        return await _save(brand_id, spec.code, fields, actor)


async def _save(
    brand_id: int, code: str, fields: dict[str, Any], actor: Actor
) -> tuple[CouponTemplate, bool]:
    async with in_transaction():
        template = (
            await CouponTemplate.select_for_update().filter(brand_id=brand_id, code=code).first()
        )
        if template is None:
            template = await CouponTemplate.create(brand_id=brand_id, code=code, **fields)
            await audit.record(
                actor,
                "coupon_template.create",
                "coupon_template",
                template.id,
                brand_id=brand_id,
                after=template_json(template),
            )
            return template, True
        before = template_json(template)
        stock = fields["stock_total"]
        if stock is not None and stock < template.issued_count:
            raise DomainError(
                "stock_below_issued",
                f"{template.issued_count} coupons were issued already: stock_total must be "
                "at least that",
            )
        await template.update_from_dict(fields).save()
        await audit.record(
            actor,
            "coupon_template.update",
            "coupon_template",
            template.id,
            brand_id=brand_id,
            before=before,
            after=template_json(template),
        )
    return template, False


async def _resolve(brand_id: int, spec: TemplateSpec) -> dict[str, Any]:
    """The model fields of a spec, its codes turned into ids of the brand's rows."""
    region_id = None
    if spec.region is not None:
        region = await Region.get_or_none(brand_id=brand_id, code=spec.region)
        if region is None:
            raise InvalidValueError("region", f"no region {spec.region!r}", "invalid_template")
        region_id = region.id
    store_ids = await _ids(Store, brand_id, spec.stores, "stores")
    level_ids = await _ids(Level, brand_id, spec.levels, "levels")
    fields = spec.model_dump(exclude={"code", "region", "stores", "levels"})
    fields["gift_name"] = spec.gift_name.strip()
    return fields | {"region_id": region_id, "store_ids": store_ids, "level_ids": level_ids}


async def _ids(
    model: type[Store] | type[Level], brand_id: int, codes: list[str], where: str
) -> list[int]:
    rows = await model.filter(brand_id=brand_id, code__in=codes).values("code", "id")
    found = {str(row["code"]): int(row["id"]) for row in rows}
    missing = [code for code in codes if code not in found]
    if missing:
        raise InvalidValueError(where, f"no such code(s): {', '.join(missing)}", "invalid_template")
    return sorted({found[code] for code in codes})


async def get_template(brand_id: int, template_id: int) -> CouponTemplate:
    """Raises NotFoundError unless the brand has the template."""
    template = await CouponTemplate.get_or_none(id=template_id, brand_id=brand_id)
    if template is None:
        raise NotFoundError("template_not_found", f"no coupon template {template_id}")
    return template


async def find_template(brand_id: int, code: str) -> CouponTemplate:
    """The brand's template by code. Raises NotFoundError."""
    template = await CouponTemplate.get_or_none(brand_id=brand_id, code=code.strip().lower())
    if template is None:
        raise NotFoundError("template_not_found", f"no coupon template {code!r}")
    return template


def template_json(template: CouponTemplate) -> dict[str, Any]:
    """The template as the API shows it and the audit log records it."""
    return {
        "id": template.id,
        "code": template.code,
        "name": template.name,
        "kind": template.kind.value,
        "face_value_fen": template.face_value_fen,
        "percent_off": template.percent_off,
        "threshold_fen": template.threshold_fen,
        "gift_name": template.gift_name,
        "uses": template.uses,
        "valid_from": template.valid_from.isoformat() if template.valid_from else None,
        "valid_until": template.valid_until.isoformat() if template.valid_until else None,
        "valid_days": template.valid_days,
        "stock_total": template.stock_total,
        "issued_count": template.issued_count,
        "per_member_limit": template.per_member_limit,
        "store_scope": template.store_scope.value,
        "region_id": template.region_id,
        "store_ids": list(template.store_ids),
        "level_ids": list(template.level_ids),
        "stackable": template.stackable,
        "refund_rule": template.refund_rule.value,
        "active": template.active,
    }
