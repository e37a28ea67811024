"""Open API, coupons: templates, issuing to members, a member's coupons, template reports."""

from datetime import UTC, datetime

from aiohttp import web

from hub.api import coupon_admin
from hub.api.auth import api_caller
from hub.api.bodies import json_response, read_query
from hub.api.coupon_views import coupons_json
from hub.api.paging import Page, page_of
from hub.keys import vault_key
from hub.models.coupon import CouponStatus, IssueSource
from hub.services.coupons import held_coupons
from hub.services.members import find_member


class CouponQuery(Page):
    """?status=&limit=&before_id=."""

    status: CouponStatus | None = None


async def list_templates(request: web.Request) -> web.Response:
    """GET /api/v1/coupon-templates: the brand's templates, newest first."""
    caller = await api_caller(request)
    return await coupon_admin.list_templates(request, caller.brand_id)


async def show_template(request: web.Request) -> web.Response:
    """GET /api/v1/coupon-templates/{template_id}."""
    caller = await api_caller(request)
    return await coupon_admin.show_template(request, caller.brand_id)


async def put_template(request: web.Request) -> web.Response:
    """POST /api/v1/coupon-templates: create (201) or update (200) a template by its code."""
    caller = await api_caller(request)
    return await coupon_admin.put_template(request, caller.brand_id, caller.actor)


async def show_template_report(request: web.Request) -> web.Response:
    """GET /api/v1/coupon-templates/{template_id}/report?from=…&to=…."""
    caller = await api_caller(request)
    return await coupon_admin.show_report(request, caller.brand_id)


async def issue_coupon(request: web.Request) -> web.Response:
    """POST /api/v1/coupons: give a member a coupon (201; 200 for a repeat of the key)."""
    caller = await api_caller(request)
    return await coupon_admin.issue(request, caller.brand_id, caller.actor, IssueSource.API)


async def list_member_coupons(request: web.Request) -> web.Response:
    """GET /api/v1/members/{member_id}/coupons: the member's coupons, newest first."""
    caller = await api_caller(request)
    member = await find_member(
        caller.brand_id, request.app[vault_key], by="id", value=request.match_info["member_id"]
    )
    query = read_query(request, CouponQuery)
    now = datetime.now(UTC)
    # By the status the member sees: an available coupon past its validity is expired.
    rows = await page_of(held_coupons(member.id, query.status, now), query)
    return json_response({"coupons": await coupons_json(rows, now)})
