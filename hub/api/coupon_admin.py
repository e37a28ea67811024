"""Coupon templates, issuance and template reports of one brand, for the open and staff APIs.

Each function acts once the caller is known and allowed: their modules check who may.
"""

from datetime import UTC, datetime

from aiohttp import web
from pydantic import Field

from hub import outbox
from hub.api.bodies import Body, json_response, read_body, read_json, read_query
from hub.api.coupon_views import BIGINT_ID_MAX, coupon_json, path_id, templates_json
from hub.api.open_reports import DayRange
from hub.api.paging import Page, page_of
from hub.errors import InvalidValueError
from hub.keys import redis_key, vault_key
from hub.models.coupon import CouponTemplate, IssueSource
from hub.services import coupon_reports, coupon_templates
from hub.services.audit import Actor
from hub.services.coupons import Issuance, issue_coupon
from hub.services.members import find_member


class IssueBody(Body):
    """POST …/coupons: which template, to whom, and the key that makes a retry harmless."""

    template_code: str = Field(min_length=1, max_length=32)
    member_id: int = Field(ge=1, le=BIGINT_ID_MAX)
    issue_key: str = Field(min_length=1, max_length=128)


async def list_templates(request: web.Request, brand_id: int) -> web.Response:
    """The brand's templates, newest first (paged)."""
    rows = await page_of(CouponTemplate.filter(brand_id=brand_id), read_query(request, Page))
    return json_response({"templates": await templates_json(rows)})


async def show_template(request: web.Request, brand_id: int) -> web.Response:
    """One template of the brand.

    Raises:
        NotFoundError: "template_not_found" (also another brand's).
    """
    template = await _template(request, brand_id)
    return json_response({"template": (await templates_json([template]))[0]})


async def put_template(request: web.Request, brand_id: int, actor: Actor) -> web.Response:
    """Create the template (201) or update the brand's template of that code (200).

    Raises:
        InvalidValueError: "invalid_template" (the spec, or an unknown region, store or level),
            "invalid_request" (not a JSON object).
        DomainError: "stock_below_issued".
    """
    data = await read_json(request)
    if not isinstance(data, dict):
        raise InvalidValueError("body", "must be a JSON object", reason="invalid_request")
    spec = coupon_templates.parse_template(data)
    template, created = await coupon_templates.save_template(brand_id, spec, actor)
    # auto_now fields as stored, not as the instance last set them.
    await template.refresh_from_db()
    body = {"template": (await templates_json([template]))[0]}
    return json_response(body, status=201 if created else 200)


async def show_report(request: web.Request, brand_id: int) -> web.Response:
    """The template's figures per China day and store, ?from=YYYY-MM-DD&to=YYYY-MM-DD.

    Raises:
        NotFoundError: "template_not_found".
        InvalidValueError: "range_reversed", "range_too_long", "range_out_of_bounds",
            "invalid_request".
    """
    template = await _template(request, brand_id)
    days = read_query(request, DayRange)
    report = await coupon_reports.template_report(template, days.first_day, days.last_day)
    return json_response(coupon_reports.report_json(report))


async def issue(
    request: web.Request, brand_id: int, actor: Actor, source: IssueSource
) -> web.Response:
    """Give a member of the brand a coupon: 201 when issued, 200 for a repeat of the key.

    Raises:
        NotFoundError: "template_not_found", "member_not_found" (also another brand's).
        DomainError: see coupons.issue_coupon.
        AlreadyExistsError: "issue_key_reused".
    """
    body = await read_body(request, IssueBody)
    template = await coupon_templates.find_template(brand_id, body.template_code)
    member = await find_member(brand_id, request.app[vault_key], by="id", value=str(body.member_id))
    issuance = Issuance(template.id, member.id, body.issue_key, source)
    now = datetime.now(UTC)
    async with outbox.collecting() as follow_ups:
        coupon, created = await issue_coupon(issuance, actor, now)
    # Committed: the member's message goes to the workers now (the relay would, within seconds).
    await outbox.flush(follow_ups, request.app[redis_key])
    return json_response(
        {"coupon": coupon_json(coupon, template, now)}, status=201 if created else 200
    )


async def _template(request: web.Request, brand_id: int) -> CouponTemplate:
    template_id = path_id(request, "template_id", "template_not_found")
    return await coupon_templates.get_template(brand_id, template_id)
