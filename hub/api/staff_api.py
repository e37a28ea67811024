"""Staff API: who I am, members at the till, my staff and their tokens (/api/staff/v1)."""

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import Field

from hub.api.bodies import Query, json_response, read_body, read_query
from hub.api.open_members import PointsBody, change_points
from hub.api.paging import Page, page_of
from hub.api.staff_auth import staff_caller
from hub.api.views import member_json, moment
from hub.errors import InvalidValueError, NotFoundError
from hub.keys import vault_key
from hub.models.brand import Brand, Store
from hub.models.staff import Staff
from hub.services.card_view import card_view
from hub.services.members import MAX_INT_ID, find_member
from hub.services.staff_access import (
    Permission,
    authorize,
    authorize_token_issue,
    find_staff,
    issue_staff_token,
    permissions_of,
    staff_in_scope,
)

_LOOKUPS = ("code", "phone")
_ID_DIGITS = len(str(MAX_INT_ID))


class MemberLookup(Query):
    code: str | None = Field(default=None, max_length=16)
    phone: str | None = Field(default=None, max_length=32)


def staff_json(staff: Staff) -> dict[str, Any]:
    """A staff member as managers see them: never their token or its hash."""
    return {
        "id": staff.id,
        "name": staff.name,
        "role": staff.role.value,
        "store_id": staff.store_id,
        "region_id": staff.region_id,
        "wecom_userid": staff.wecom_userid,
        "active": staff.active,
        "token_issued_at": moment(staff.token_issued_at),
        "created_at": moment(staff.created_at),
    }


async def show_me(request: web.Request) -> web.Response:
    """GET /api/staff/v1/me: the caller, their brand and what their role may do."""
    staff = (await staff_caller(request)).staff
    brand = await Brand.get(id=staff.brand_id)
    return json_response(
        {
            "staff": staff_json(staff),
            "brand": {"code": brand.code, "name": brand.name},
            "permissions": [permission.value for permission in permissions_of(staff.role)],
        }
    )


async def look_up_member(request: web.Request) -> web.Response:
    """GET /api/staff/v1/members?code=… | ?phone=…: a member's card at the till (phone masked)."""
    staff = (await staff_caller(request)).staff
    authorize(staff, Permission.LOOK_UP_MEMBER)
    lookup = read_query(request, MemberLookup)
    given = [(name, value) for name in _LOOKUPS if (value := getattr(lookup, name))]
    if len(given) != 1:
        raise InvalidValueError("query", "give exactly one of code or phone")
    by, value = given[0]
    vault = request.app[vault_key]
    member = await find_member(staff.brand_id, vault, by=by, value=value)
    view = await card_view(member, datetime.now(UTC))
    return json_response({"member": member_json(member, view, vault, full_phone=False)})


async def adjust_points(request: web.Request) -> web.Response:
    """POST /api/staff/v1/members/{member_id}/points/adjustments: add or remove points by hand.

    Head office only (adjust_points); a store named must be in the caller's scope.
    """
    caller = await staff_caller(request)
    authorize(caller.staff, Permission.ADJUST_POINTS)
    member = await find_member(
        caller.staff.brand_id,
        request.app[vault_key],
        by="id",
        value=request.match_info["member_id"],
    )
    body = await read_body(request, PointsBody)
    if body.store_id is not None:
        store = await Store.get_or_none(id=body.store_id, brand_id=caller.staff.brand_id)
        if store is None:
            raise NotFoundError("store_not_found", f"no store {body.store_id}")
        authorize(caller.staff, Permission.ADJUST_POINTS, store)
    return await change_points(member, body, caller.actor, redeem=False)


async def list_staff(request: web.Request) -> web.Response:
    """GET /api/staff/v1/staff: the staff in the caller's scope, newest first."""
    staff = (await staff_caller(request)).staff
    authorize(staff, Permission.MANAGE_STAFF)
    rows = await page_of(staff_in_scope(staff), read_query(request, Page))
    return json_response({"staff": [staff_json(row) for row in rows]})


async def issue_token(request: web.Request) -> web.Response:
    """POST /api/staff/v1/staff/{staff_id}/token: a new token for them, shown this once."""
    caller = await staff_caller(request)
    authorize(caller.staff, Permission.MANAGE_STAFF)
    target = await find_staff(caller.staff.brand_id, _staff_id(request))
    await authorize_token_issue(caller.staff, target)
    issued = await issue_staff_token(target.id, target.brand_id, caller.actor)
    response = json_response(
        {"staff": staff_json(issued.staff), "token": issued.plaintext}, status=201
    )
    # The token is in this answer only: no cache may keep it.
    response.headers["Cache-Control"] = "no-store"
    return response


def _staff_id(request: web.Request) -> int:
    value = request.match_info["staff_id"]
    # Longer than any id: int() would refuse thousands of digits, and no staff has one.
    if not value.isascii() or not value.isdigit() or len(value) > _ID_DIGITS:
        raise NotFoundError("staff_not_found", f"no staff member {value[:20]}")
    return int(value)
