"""Open API, members: look up, history, adjust and redeem points (/api/v1, brand API key)."""

from datetime import UTC, datetime

from aiohttp import web
from pydantic import Field

from hub.api.auth import ApiCaller, api_caller
from hub.api.bodies import Body, Query, json_response, read_body, read_query
from hub.api.paging import Page, page_of
from hub.api.views import member_json, points_entry_json, stored_value_entry_json
from hub.errors import InvalidValueError, NotFoundError
from hub.keys import vault_key
from hub.models.brand import Store
from hub.models.member import Member
from hub.models.points import PointsEntry
from hub.models.stored_value import StoredValueEntry
from hub.services import points
from hub.services.audit import Actor
from hub.services.card_view import card_view
from hub.services.members import find_member
from hub.services.points import MAX_CHANGE

_LOOKUPS = ("phone", "unionid", "code")


class MemberLookup(Query):
    phone: str | None = Field(default=None, max_length=32)
    unionid: str | None = Field(default=None, max_length=64)
    code: str | None = Field(default=None, max_length=16)


class PointsBody(Body):
    points: int = Field(ge=-MAX_CHANGE, le=MAX_CHANGE)
    reason: str = Field(min_length=1, max_length=128)
    # Required: the same change sent twice (a retry) is applied once.
    idempotency_key: str = Field(min_length=1, max_length=100)
    store_id: int | None = Field(default=None, ge=1, le=2**31 - 1)


async def _member(request: web.Request, caller: ApiCaller) -> Member:
    return await find_member(
        caller.brand_id, request.app[vault_key], by="id", value=request.match_info["member_id"]
    )


async def _answer(request: web.Request, member: Member, status: int = 200) -> web.Response:
    view = await card_view(member, datetime.now(UTC))
    body = member_json(member, view, request.app[vault_key], full_phone=True)
    return json_response({"member": body}, status=status)


async def show_member(request: web.Request) -> web.Response:
    """GET /api/v1/members/{member_id} (a merged member's id leads to the survivor)."""
    caller = await api_caller(request)
    return await _answer(request, await _member(request, caller))


async def look_up_member(request: web.Request) -> web.Response:
    """GET /api/v1/members?phone=… | ?unionid=… | ?code=… (exactly one)."""
    caller = await api_caller(request)
    lookup = read_query(request, MemberLookup)
    given = [(name, value) for name in _LOOKUPS if (value := getattr(lookup, name))]
    if len(given) != 1:
        raise InvalidValueError("query", "give exactly one of phone, unionid or code")
    by, value = given[0]
    member = await find_member(caller.brand_id, request.app[vault_key], by=by, value=value)
    return await _answer(request, member)


async def list_member_points(request: web.Request) -> web.Response:
    """GET /api/v1/members/{member_id}/points: the points ledger, newest first."""
    caller = await api_caller(request)
    member = await _member(request, caller)
    rows = await page_of(PointsEntry.filter(member_id=member.id), read_query(request, Page))
    return json_response(
        {"points_balance": member.points_balance, "entries": [points_entry_json(r) for r in rows]}
    )


async def list_member_stored_value(request: web.Request) -> web.Response:
    """GET /api/v1/members/{member_id}/stored-value: the stored-value ledger, newest first."""
    caller = await api_caller(request)
    member = await _member(request, caller)
    rows = await page_of(StoredValueEntry.filter(member_id=member.id), read_query(request, Page))
    return json_response(
        {
            "principal_fen": member.sv_principal_fen,
            "bonus_fen": member.sv_bonus_fen,
            "total_fen": member.sv_principal_fen + member.sv_bonus_fen,
            "entries": [stored_value_entry_json(r) for r in rows],
        }
    )


async def adjust_points(request: web.Request) -> web.Response:
    """POST /api/v1/members/{member_id}/points/adjustments: add or remove points, with a reason."""
    return await _change_points(request, redeem=False)


async def redeem_points(request: web.Request) -> web.Response:
    """POST /api/v1/members/{member_id}/points/redemptions: spend points (a gift at the till)."""
    return await _change_points(request, redeem=True)


async def _change_points(request: web.Request, *, redeem: bool) -> web.Response:
    caller = await api_caller(request)
    member = await _member(request, caller)
    body = await read_body(request, PointsBody)
    if body.store_id is not None and not await Store.exists(
        id=body.store_id, brand_id=caller.brand_id
    ):
        raise NotFoundError("store_not_found", f"no store {body.store_id}")
    return await change_points(member, body, caller.actor, redeem=redeem)


async def change_points(
    member: Member, body: PointsBody, actor: Actor, *, redeem: bool
) -> web.Response:
    """Apply a checked points request (its store, if any, the brand's) and answer it."""
    change = points.PointsRequest(body.points, body.idempotency_key, body.reason, body.store_id)
    if redeem:
        entry, created = await points.redeem_points(member.id, change, actor)
    else:
        entry, created = await points.adjust_points(member.id, change, actor)
    balance = (await Member.get(id=entry.member_id)).points_balance
    return json_response(
        {"entry": points_entry_json(entry), "points_balance": balance},
        status=201 if created else 200,
    )
