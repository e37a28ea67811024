"""Mini-program API, the member: log in, bind a phone, my birthday, card, history (/api/mp/v1)."""

import re
from datetime import UTC, date, datetime, timedelta

from aiohttp import web
from pydantic import Field, field_validator

from hub.api.auth import member_caller
from hub.api.bodies import Body, json_response, read_body, read_query
from hub.api.paging import Page, page_of
from hub.api.views import (
    member_json,
    moment,
    order_json,
    points_entry_json,
    stored_value_entry_json,
)
from hub.errors import InvalidValueError, NotFoundError, WeChatApiError
from hub.keys import accounts_key, settings_key, vault_key
from hub.models.brand import Brand, Store
from hub.models.member import Member
from hub.models.order import Order
from hub.models.points import PointsEntry
from hub.models.stored_value import StoredValueEntry
from hub.services import birthdays, identity, sessions
from hub.services.audit import Actor
from hub.services.card_view import card_view
from hub.wechat.miniprogram_api import MiniProgramApi

_DAY_FORM = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# WeChat's answers to a bad wx.login or getPhoneNumber code (invalid, used, expired, risky).
_BAD_CODE_ERRCODES = frozenset({40029, 40163, 40226, 40013})


class LoginBody(Body):
    appid: str = Field(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z]+$")
    code: str = Field(min_length=1, max_length=128)
    # The inviting member's code (from a shared card) and the store whose code was scanned.
    invite_code: str | None = Field(default=None, max_length=16)
    store_id: int | None = Field(default=None, ge=1, le=2**31 - 1)


class PhoneBody(Body):
    code: str = Field(min_length=1, max_length=128)


class BirthdayBody(Body):
    birthday: date

    @field_validator("birthday", mode="before")
    @classmethod
    def _iso_day(cls, value: object) -> object:
        # pydantic alone would refuse the string (strict) or, lax, take 0 as 1970-01-01.
        if not isinstance(value, str) or not _DAY_FORM.fullmatch(value):
            raise ValueError("must be a day as YYYY-MM-DD")
        return date.fromisoformat(value)  # ValueError for a day that does not exist


async def _miniprogram_api(request: web.Request, appid: str) -> tuple[int, MiniProgramApi]:
    accounts = request.app[accounts_key]
    account = await accounts.miniprogram(appid)
    if account is None:
        raise NotFoundError("unknown_app", f"no mini-program {appid}")
    return account.brand_id, accounts.miniprogram_api(account)


def _refused_code(exc: WeChatApiError) -> Exception:
    """A bad code is the client's fault (400); any other WeChat error is WeChat's (503)."""
    if exc.errcode in _BAD_CODE_ERRCODES:
        return InvalidValueError("code", f"WeChat refused the code ({exc.errcode})", "invalid_code")
    return exc


async def log_in(request: web.Request) -> web.Response:
    """POST /api/mp/v1/login: wx.login code → a member (found or new) and a session token."""
    body = await read_body(request, LoginBody)
    brand_id, api = await _miniprogram_api(request, body.appid)
    try:
        user = await api.code_to_session(body.code)
    except WeChatApiError as exc:
        raise _refused_code(exc) from None
    brand = await Brand.get(id=brand_id)
    store = await Store.get_or_none(id=body.store_id, brand_id=brand_id) if body.store_id else None
    now = datetime.now(UTC)
    login = await identity.log_in(
        brand,
        identity.WeChatUser(body.appid, user.openid, user.unionid),
        request.app[vault_key],
        now,
        store=store,
        invite_code=body.invite_code,
    )
    ttl = timedelta(days=request.app[settings_key].membership.session_ttl_days)
    issued = await sessions.open_session(login.member, body.appid, user.openid, now, ttl)
    return json_response(
        {
            "token": issued.token,
            "expires_at": moment(issued.session.expires_at),
            "created": login.created,
            "member": await _member_json(request, login.member),
        },
        status=201 if login.created else 200,
    )


async def bind_phone(request: web.Request) -> web.Response:
    """POST /api/mp/v1/me/phone: a getPhoneNumber code → the phone bound (members merged)."""
    caller = await member_caller(request)
    body = await read_body(request, PhoneBody)
    _, api = await _miniprogram_api(request, caller.session.appid)
    try:
        phone = await api.phone_number(body.code, caller.session.openid)
    except WeChatApiError as exc:
        raise _refused_code(exc) from None
    member = await identity.bind_phone(
        caller.member, phone.pure_phone_number, phone.country_code, request.app[vault_key]
    )
    return json_response({"member": await _member_json(request, member)})


async def set_birthday(request: web.Request) -> web.Response:
    """PUT /api/mp/v1/me/birthday: set once (birthday coupons); the same day again is a no-op."""
    caller = await member_caller(request)
    body = await read_body(request, BirthdayBody)
    member = await birthdays.set_birthday(
        caller.member.id, body.birthday, Actor.member(caller.member.id)
    )
    return json_response({"member": await _member_json(request, member)})


async def show_me(request: web.Request) -> web.Response:
    """GET /api/mp/v1/me: card, level, benefits, progress, balances."""
    caller = await member_caller(request)
    return json_response({"member": await _member_json(request, caller.member)})


async def _member_json(request: web.Request, member: Member) -> dict[str, object]:
    view = await card_view(member, datetime.now(UTC))
    return member_json(member, view, request.app[vault_key], full_phone=False)


async def list_points(request: web.Request) -> web.Response:
    """GET /api/mp/v1/me/points: points history, newest first, in every store."""
    caller = await member_caller(request)
    page = read_query(request, Page)
    rows = await page_of(PointsEntry.filter(member_id=caller.member.id), page)
    return json_response(
        {
            "points_balance": caller.member.points_balance,
            "entries": [points_entry_json(row) for row in rows],
        }
    )


async def list_stored_value(request: web.Request) -> web.Response:
    """GET /api/mp/v1/me/stored-value: balance and its history, newest first."""
    caller = await member_caller(request)
    page = read_query(request, Page)
    rows = await page_of(StoredValueEntry.filter(member_id=caller.member.id), page)
    member = caller.member
    return json_response(
        {
            "principal_fen": member.sv_principal_fen,
            "bonus_fen": member.sv_bonus_fen,
            "total_fen": member.sv_principal_fen + member.sv_bonus_fen,
            "entries": [stored_value_entry_json(row) for row in rows],
        }
    )


async def list_orders(request: web.Request) -> web.Response:
    """GET /api/mp/v1/me/orders: the member's orders in every store, newest first."""
    caller = await member_caller(request)
    page = read_query(request, Page)
    rows = await page_of(Order.filter(member_id=caller.member.id), page)
    return json_response({"orders": [order_json(row) for row in rows]})
