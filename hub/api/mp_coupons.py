"""Mini-program API, coupons: the member's coupons, and the QR token that shows one (/api/mp/v1)."""

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from hub.api.auth import member_caller
from hub.api.bodies import json_response, read_query
from hub.api.paging import Page, page_of
from hub.api.views import moment
from hub.errors import NotFoundError
from hub.keys import settings_key, vault_key
from hub.models.coupon import Coupon, CouponStatus, CouponTemplate
from hub.services import coupon_tokens, coupons
from hub.services.fields import parse_id

# Coupon ids are 64-bit: a larger number is no id, answered like an unknown one.
_ID_MAX = 2**63 - 1
# The mini-program asks for a new token this long before the shown one expires (a scan
# in progress, a slow network), but never before half of its life.
_REFRESH_MARGIN_S = 10


class CouponPage(Page):
    """?status=…&limit=…&before_id=…; no status: every coupon."""

    status: CouponStatus | None = None


def refresh_after_s(ttl_s: int) -> int:
    """When the mini-program should fetch a fresh token, in seconds from now."""
    return max(ttl_s // 2, ttl_s - _REFRESH_MARGIN_S)


def coupon_json(coupon: Coupon, template: CouponTemplate, now: datetime) -> dict[str, Any]:
    """A coupon as its holder sees it: what it is worth, how long, and where it is accepted."""
    return {
        "id": coupon.id,
        "template": {
            "code": template.code,
            "name": template.name,
            "kind": template.kind.value,
            "face_value_fen": template.face_value_fen,
            "percent_off": template.percent_off,
            "threshold_fen": template.threshold_fen,
            "gift_name": template.gift_name,
            "stackable": template.stackable,
        },
        "uses_total": coupon.uses_total,
        "uses_left": coupon.uses_left,
        "status": coupons.shown_status(coupon, now).value,
        "valid_from": moment(coupon.valid_from),
        "valid_until": moment(coupon.valid_until),
        "stores": {
            "scope": template.store_scope.value,
            "region_id": template.region_id,
            "store_ids": list(template.store_ids),
        },
    }


async def list_coupons(request: web.Request) -> web.Response:
    """GET /api/mp/v1/me/coupons: my coupons, newest first, optionally of one status."""
    caller = await member_caller(request)
    page = read_query(request, CouponPage)
    now = datetime.now(UTC)
    rows = await page_of(coupons.held_coupons(caller.member.id, page.status, now), page)
    ids = list({row.template_id for row in rows})
    templates = {t.id: t for t in await CouponTemplate.filter(id__in=ids)} if ids else {}
    return json_response(
        {"coupons": [coupon_json(row, templates[row.template_id], now) for row in rows]}
    )


async def issue_qr_token(request: web.Request) -> web.Response:
    """POST /api/mp/v1/me/coupons/{coupon_id}/qr-token: what the coupon's QR code shows."""
    caller = await member_caller(request)
    coupon_id = _coupon_id(request)
    now = datetime.now(UTC)
    coupon = await coupons.coupon_to_show(caller.member.id, coupon_id, now)
    ttl_s = request.app[settings_key].coupons.qr_token_ttl_s
    expires_at = coupon_tokens.token_expiry(now, timedelta(seconds=ttl_s))
    token = coupon_tokens.make_token(request.app[vault_key], coupon.id, expires_at)
    response = json_response(
        {
            "token": token,
            "expires_at": moment(expires_at),
            "refresh_after_s": refresh_after_s(ttl_s),
        },
        status=201,
    )
    # Whoever holds the token can redeem the coupon until it expires: no cache keeps it.
    response.headers["Cache-Control"] = "no-store"
    return response


def _coupon_id(request: web.Request) -> int:
    value = request.match_info["coupon_id"]
    found = parse_id(value, _ID_MAX)
    if found is None:
        raise NotFoundError("coupon_not_found", f"no coupon {value[:20]}")
    return found
