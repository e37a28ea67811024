"""How coupon templates, coupons and redemptions look in API answers, and their path ids."""

from datetime import datetime
from typing import Any

from aiohttp import web

from hub.api import mp_coupons
from hub.api.views import moment
from hub.errors import NotFoundError
from hub.models.brand import Region, Store
from hub.models.coupon import Coupon, CouponTemplate, Redemption
from hub.models.membership import Level
from hub.services.coupon_templates import template_json
from hub.services.coupons import Benefit
from hub.services.redemptions import scan_key

# Template ids are 32-bit, coupon and redemption ids 64-bit: a larger number is no id (and
# would overflow the database's integer), so it is answered like an unknown one.
INT_ID_MAX = 2**31 - 1
BIGINT_ID_MAX = 2**63 - 1


def path_id(request: web.Request, name: str, reason: str, largest: int = INT_ID_MAX) -> int:
    """The id in the path, or NotFoundError(reason) for anything that cannot be one."""
    value = request.match_info[name]
    if not value.isascii() or not value.isdigit() or len(value) > len(str(largest)):
        raise NotFoundError(reason, f"no {name.removesuffix('_id')} {value[:20]}")
    number = int(value)
    if not 1 <= number <= largest:
        raise NotFoundError(reason, f"no {name.removesuffix('_id')} {value[:20]}")
    return number


async def templates_json(templates: list[CouponTemplate]) -> list[dict[str, Any]]:
    """Templates as the APIs show them: ids and the codes a TemplateSpec names them by."""
    region_ids = {t.region_id for t in templates if t.region_id is not None}
    store_ids = {store_id for t in templates for store_id in t.store_ids}
    level_ids = {level_id for t in templates for level_id in t.level_ids}
    regions = await _codes(Region, region_ids)
    stores = await _codes(Store, store_ids)
    levels = await _codes(Level, level_ids)
    return [
        template_json(template)
        | {
            "valid_from": moment(template.valid_from),
            "valid_until": moment(template.valid_until),
            "region": regions.get(template.region_id) if template.region_id else None,
            "stores": [stores[i] for i in template.store_ids if i in stores],
            "levels": [levels[i] for i in template.level_ids if i in levels],
            "created_at": moment(template.created_at),
            "updated_at": moment(template.updated_at),
        }
        for template in templates
    ]


async def _codes(model: type[Region] | type[Store] | type[Level], ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await model.filter(id__in=sorted(ids)).values_list("id", "code")
    return {int(row_id): str(code) for row_id, code in rows}


def coupon_json(coupon: Coupon, template: CouponTemplate, now: datetime) -> dict[str, Any]:
    """A coupon as the brand's systems and staff see it: as its holder does, and whose it is."""
    shown = mp_coupons.coupon_json(coupon, template, now)
    return shown | {
        "template": {"id": template.id} | shown["template"],
        "member_id": coupon.member_id,
        "source": coupon.source.value,
        "issue_key": coupon.issue_key,
        "issued_at": moment(coupon.issued_at),
    }


async def coupons_json(coupons: list[Coupon], now: datetime) -> list[dict[str, Any]]:
    """Coupons with their templates, fetched in one query."""
    ids = sorted({coupon.template_id for coupon in coupons})
    templates = {t.id: t for t in await CouponTemplate.filter(id__in=ids)} if ids else {}
    return [coupon_json(coupon, templates[coupon.template_id], now) for coupon in coupons]


def redemption_json(redemption: Redemption) -> dict[str, Any]:
    key = redemption.redemption_key
    prefix = scan_key(redemption.store_id, "")
    return {
        "id": redemption.id,
        "coupon_id": redemption.coupon_id,
        "template_id": redemption.template_id,
        "member_id": redemption.member_id,
        "store_id": redemption.store_id,
        "staff_id": redemption.staff_id,
        # The till's scan_id; None for a use by a mini-program order (order_id).
        "scan_id": key.removeprefix(prefix) if key.startswith(prefix) else None,
        "order_id": redemption.order_id,
        "order_ref": redemption.order_ref,
        "order_amount_fen": redemption.order_amount_fen,
        "discount_fen": redemption.discount_fen,
        "redeemed_at": moment(redemption.redeemed_at),
        "undone_at": moment(redemption.undone_at),
        "undone_by": redemption.undone_by_id,
    }


def apply_json(benefit: Benefit) -> dict[str, Any]:
    """What the till applies: money off, or a gift to hand over (then discount_fen is 0)."""
    return {"discount_fen": benefit.discount_fen, "gift_name": benefit.gift_name or None}
