"""Staff API, coupons: redeem at the till, offline batches, undo, templates, issue, reports."""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from pydantic import AwareDatetime, Field, field_validator

from hub.api import coupon_admin
from hub.api.bodies import Body, json_response, read_body, read_query
from hub.api.coupon_views import (
    BIGINT_ID_MAX,
    INT_ID_MAX,
    apply_json,
    coupon_json,
    path_id,
    redemption_json,
)
from hub.api.paging import Page, page_of
from hub.api.staff_auth import StaffCaller, staff_caller
from hub.errors import NotFoundError
from hub.keys import settings_key, vault_key
from hub.models.brand import Store
from hub.models.coupon import Coupon, CouponTemplate, IssueSource, Redemption
from hub.services import redemptions
from hub.services.redemptions import BatchOutcome, OfflineScan, Redeemed, Scan
from hub.services.staff_access import Permission, authorize

# An offline till uploads at most this many scans at once.
BATCH_MAX = 200
# The till's order amount: above ¥1,000,000 it is a typo (as redemptions checks).
_ORDER_MAX_FEN = 100_000_000
# RFC 3339 with an offset; pydantic alone would also take a Unix time or a bare day.
_MOMENT_FORM = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


class ScanFields(Body):
    """What the till read and sold: the QR token, its own id for the scan, the order."""

    token: str = Field(min_length=1, max_length=200)
    # The device's id of this scan: the same scan sent again is applied once.
    scan_id: str = Field(min_length=1, max_length=64, pattern=r"^[\x20-\x7e]+$")
    order_amount_fen: int = Field(ge=0, le=_ORDER_MAX_FEN)
    order_ref: str = Field(default="", max_length=64)


class RedemptionBody(ScanFields):
    store_id: int = Field(ge=1, le=INT_ID_MAX)


class BatchItem(ScanFields):
    # When the clerk scanned it, offline; RFC 3339 with an offset (strict mode takes it as text).
    scanned_at: AwareDatetime = Field(strict=False)

    @field_validator("scanned_at", mode="before")
    @classmethod
    def _rfc3339(cls, value: object) -> object:
        if not isinstance(value, str) or not _MOMENT_FORM.fullmatch(value):
            raise ValueError("must be RFC 3339 with an offset, e.g. 2026-11-23T14:05:00+08:00")
        return value


class BatchBody(Body):
    store_id: int = Field(ge=1, le=INT_ID_MAX)
    items: list[BatchItem] = Field(min_length=1, max_length=BATCH_MAX)


# -- at the till -------------------------------------------------------------------------------


async def redeem(request: web.Request) -> web.Response:
    """POST /api/staff/v1/redemptions: use a scanned coupon once (201; 200 for a repeated scan)."""
    caller = await staff_caller(request)
    authorize(caller.staff, Permission.REDEEM)
    body = await read_body(request, RedemptionBody)
    store = await _store(caller, body.store_id, Permission.REDEEM)
    scan = Scan(body.token, body.scan_id, store, body.order_amount_fen, body.order_ref)
    now = datetime.now(UTC)
    redeemed = await redemptions.redeem(
        scan, caller.staff.id, caller.actor, request.app[vault_key], now
    )
    return json_response(_redeemed_json(redeemed, now), status=201 if redeemed.created else 200)


async def redeem_batch(request: web.Request) -> web.Response:
    """POST /api/staff/v1/redemptions/batch: the scans a till queued while offline.

    Each is judged when it was scanned; one outcome per item, in the order given.
    """
    caller = await staff_caller(request)
    authorize(caller.staff, Permission.REDEEM)
    body = await read_body(request, BatchBody)
    store = await _store(caller, body.store_id, Permission.REDEEM)
    scans = [
        OfflineScan(
            Scan(item.token, item.scan_id, store, item.order_amount_fen, item.order_ref),
            item.scanned_at,
        )
        for item in body.items
    ]
    now = datetime.now(UTC)
    outcomes = await redemptions.redeem_batch(
        scans, caller.staff.id, caller.actor, request.app[vault_key], now
    )
    return json_response({"results": [_outcome_json(outcome, now) for outcome in outcomes]})


async def undo_redemption(request: web.Request) -> web.Response:
    """POST /api/staff/v1/redemptions/{redemption_id}/undo: give the coupon its use back."""
    caller = await staff_caller(request)
    authorize(caller.staff, Permission.UNDO_REDEMPTION)
    redemption_id = path_id(request, "redemption_id", "redemption_not_found", BIGINT_ID_MAX)
    found = await Redemption.get_or_none(id=redemption_id, brand_id=caller.staff.brand_id)
    if found is None:
        raise NotFoundError("redemption_not_found", f"no redemption {redemption_id}")
    await _store(caller, found.store_id, Permission.UNDO_REDEMPTION)
    window = timedelta(minutes=request.app[settings_key].coupons.undo_window_minutes)
    now = datetime.now(UTC)
    undone = await redemptions.undo_redemption(
        found.id, found.brand_id, caller.staff.id, caller.actor, now, window
    )
    coupon = await Coupon.get(id=undone.coupon_id)
    template = await CouponTemplate.get(id=coupon.template_id)
    return json_response(
        {"redemption": redemption_json(undone), "coupon": coupon_json(coupon, template, now)}
    )


async def list_store_redemptions(request: web.Request) -> web.Response:
    """GET /api/staff/v1/stores/{store_id}/redemptions: the store's redemptions, newest first."""
    caller = await staff_caller(request)
    authorize(caller.staff, Permission.VIEW_STORE)
    store = await _store(
        caller, path_id(request, "store_id", "store_not_found"), Permission.VIEW_STORE
    )
    rows = await page_of(Redemption.filter(store_id=store.id), read_query(request, Page))
    return json_response({"redemptions": [redemption_json(row) for row in rows]})


async def _store(caller: StaffCaller, store_id: int, permission: Permission) -> Store:
    """The brand's store, if the caller may do `permission` there.

    Raises:
        NotFoundError: "store_not_found" (also another brand's).
        PermissionDeniedError: "forbidden", "outside_scope".
    """
    store = await Store.get_or_none(id=store_id, brand_id=caller.staff.brand_id)
    if store is None:
        raise NotFoundError("store_not_found", f"no store {store_id}")
    authorize(caller.staff, permission, store)
    return store


def _redeemed_json(redeemed: Redeemed, now: datetime) -> dict[str, Any]:
    return {
        "redemption": redemption_json(redeemed.redemption),
        "coupon": coupon_json(redeemed.coupon, redeemed.template, now),
        "apply": apply_json(redeemed.benefit),
    }


def _outcome_json(outcome: BatchOutcome, now: datetime) -> dict[str, Any]:
    if outcome.redeemed is None:
        return {
            "scan_id": outcome.scan_id,
            "status": "refused",
            "reason": outcome.reason,
            "message": outcome.message,
        }
    status = "redeemed" if outcome.redeemed.created else "already_applied"
    return {"scan_id": outcome.scan_id, "status": status} | _redeemed_json(outcome.redeemed, now)


# -- head office -------------------------------------------------------------------------------


async def list_templates(request: web.Request) -> web.Response:
    """GET /api/staff/v1/coupon-templates: the brand's templates, newest first."""
    caller = await staff_caller(request)
    authorize(caller.staff, Permission.MANAGE_TEMPLATES)
    return await coupon_admin.list_templates(request, caller.staff.brand_id)


async def show_template(request: web.Request) -> web.Response:
    """GET /api/staff/v1/coupon-templates/{template_id}."""
    caller = await staff_caller(request)
    authorize(caller.staff, Permission.MANAGE_TEMPLATES)
    return await coupon_admin.show_template(request, caller.staff.brand_id)


async def put_template(request: web.Request) -> web.Response:
    """POST /api/staff/v1/coupon-templates: create (201) or update (200) a template by code."""
    caller = await staff_caller(request)
    authorize(caller.staff, Permission.MANAGE_TEMPLATES)
    return await coupon_admin.put_template(request, caller.staff.brand_id, caller.actor)


async def show_template_report(request: web.Request) -> web.Response:
    """GET /api/staff/v1/coupon-templates/{template_id}/report?from=…&to=…."""
    caller = await staff_caller(request)
    authorize(caller.staff, Permission.VIEW_REPORTS)
    return await coupon_admin.show_report(request, caller.staff.brand_id)


async def issue_coupon(request: web.Request) -> web.Response:
    """POST /api/staff/v1/coupons: give a member a coupon (201; 200 for a repeat of the key)."""
    caller = await staff_caller(request)
    authorize(caller.staff, Permission.ISSUE_COUPONS)
    return await coupon_admin.issue(request, caller.staff.brand_id, caller.actor, IssueSource.STAFF)
