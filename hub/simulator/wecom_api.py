"""WeCom customer-contact APIs (§4.3): contacts, welcome messages, tags, "contact me" ways.

The server side of hub.wechat.wecom_api. Relationships and welcome codes come from the control
API's "customer scans contact way C" (wecom_events.py); changes made here push no events,
as in WeCom (§4.2).
"""

import secrets
from typing import Any

from aiohttp import web

from hub.simulator.context import Simulator, simulator_key
from hub.simulator.replies import (
    ERR_INVALID_EXTERNAL_USERID,
    ERR_INVALID_PARAMETER,
    ERR_INVALID_TAG,
    ERR_NO_RELATIONSHIP,
    ERR_USER_NOT_FOUND,
    ERR_WELCOME_CODE,
    ApiError,
    api_ok,
    read_api_json,
    require_str,
)
from hub.simulator.state import ContactWay, Relationship, WelcomeMessage
from hub.simulator.token_api import authorized_corp
from hub.simulator.world import Corp

routes = web.RouteTableDef()

# §4.3: the welcome message must be sent within 20 s of the event, once, with ≤ 9 attachments.
WELCOME_WINDOW_S = 20
_MAX_ATTACHMENTS = 9
# §4.3: the state of a contact way is at most 30 characters, like its remark.
_MAX_STATE = 30
_MAX_REMARK = 30
_CURSOR_PREFIX = "c"


def _invalid(hint: str) -> ApiError:
    return ApiError(ERR_INVALID_PARAMETER, f"invalid parameter hint: [{hint}]")


@routes.get("/cgi-bin/externalcontact/get")
async def get_external_contact(request: web.Request) -> web.Response:
    """A customer and the staff following them, paged by cursor."""
    corp = authorized_corp(request)
    sim = request.app[simulator_key]
    external_userid = request.query.get("external_userid", "")
    user = sim.world.user_by_external_userid(corp.corpid, external_userid)
    if user is None:
        raise ApiError(ERR_INVALID_EXTERNAL_USERID, "invalid external_userid")
    relationships = sorted(
        sim.state.relationships_of(corp.corpid, external_userid), key=lambda rel: rel.createtime
    )
    if not relationships:
        raise ApiError(ERR_NO_RELATIONSHIP, "not external contact")
    offset = _read_cursor(request.query.get("cursor", ""))
    end = offset + sim.follow_user_page_size
    contact: dict[str, Any] = {
        "external_userid": external_userid,
        "name": user.name,
        "avatar": f"https://wx.qlogo.cn/mmhead/{external_userid}/0",
        "type": 1,
        "gender": user.gender,
    }
    if corp.unionid_bound:
        contact["unionid"] = user.unionid
    return api_ok(
        external_contact=contact,
        follow_user=[_follow_user(corp, rel) for rel in relationships[offset:end]],
        next_cursor=f"{_CURSOR_PREFIX}{end}" if end < len(relationships) else "",
    )


def _read_cursor(cursor: str) -> int:
    if not cursor:
        return 0
    digits = cursor.removeprefix(_CURSOR_PREFIX)
    if not digits.isdigit():
        raise _invalid("cursor")
    return int(digits)


def _follow_user(corp: Corp, rel: Relationship) -> dict[str, Any]:
    tags = []
    for tag_id in rel.tag_ids:
        found = corp.tag(tag_id)
        if found is not None:
            group, tag = found
            tags.append(
                {"group_name": group.group_name, "tag_name": tag.name, "tag_id": tag.id, "type": 1}
            )
    follow: dict[str, Any] = {
        "userid": rel.userid,
        "remark": rel.remark,
        "description": rel.description,
        "createtime": rel.createtime,
        "tags": tags,
        "remark_mobiles": [],
        "oper_userid": rel.userid,
        "add_way": rel.add_way,
    }
    if rel.state:
        follow["state"] = rel.state
    return follow


@routes.post("/cgi-bin/externalcontact/send_welcome_msg")
async def send_welcome_message(request: web.Request) -> web.Response:
    """Once per welcome code, within 20 s of the add_external_contact event."""
    corp = authorized_corp(request)
    sim = request.app[simulator_key]
    body = await read_api_json(request)
    code = sim.state.welcome_codes.get(require_str(body, "welcome_code"))
    now = sim.clock()
    if code is None or code.corpid != corp.corpid:
        raise ApiError(ERR_WELCOME_CODE, "welcome_code is invalid")
    if code.used_at is not None:
        raise ApiError(ERR_WELCOME_CODE, "welcome msg has been sent")
    if now - code.issued_at > WELCOME_WINDOW_S:
        raise ApiError(ERR_WELCOME_CODE, "welcome_code expired (20 s window)")
    text = body.get("text")
    content = text.get("content") if isinstance(text, dict) else None
    attachments = body.get("attachments") or []
    if not isinstance(attachments, list) or len(attachments) > _MAX_ATTACHMENTS:
        raise _invalid("attachments")
    if not content and not attachments:
        raise _invalid("text or attachments")
    code.used_at = now
    sim.state.welcome_messages.append(
        WelcomeMessage(
            corpid=corp.corpid,
            userid=code.userid,
            external_userid=code.external_userid,
            text=str(content) if content else None,
            attachments=attachments,
            sent_at=now,
        )
    )
    return api_ok()


@routes.post("/cgi-bin/externalcontact/mark_tag")
async def mark_tag(request: web.Request) -> web.Response:
    """Add and remove corp tags on a customer as seen by one staff member."""
    corp = authorized_corp(request)
    sim = request.app[simulator_key]
    body = await read_api_json(request)
    userid = require_str(body, "userid")
    external_userid = require_str(body, "external_userid")
    if not corp.has_staff(userid):
        raise ApiError(ERR_USER_NOT_FOUND, "userid not found")
    rel = sim.state.relationships.get((corp.corpid, userid, external_userid))
    if rel is None:
        raise ApiError(ERR_NO_RELATIONSHIP, "not external contact")
    add, remove = _tag_list(body, "add_tag"), _tag_list(body, "remove_tag")
    if not add and not remove:
        raise _invalid("add_tag and remove_tag are both empty")
    if any(corp.tag(tag_id) is None for tag_id in add + remove):
        raise ApiError(ERR_INVALID_TAG, "invalid tagid")
    rel.tag_ids = [tag for tag in rel.tag_ids if tag not in remove]
    rel.tag_ids += [tag for tag in add if tag not in rel.tag_ids]
    return api_ok()


def _tag_list(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name) or []
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise _invalid(name)
    return value


@routes.post("/cgi-bin/externalcontact/get_corp_tag_list")
async def get_corp_tag_list(request: web.Request) -> web.Response:
    """The corp's tag groups, optionally only the named groups or tags."""
    corp = authorized_corp(request)
    body = await read_api_json(request)
    tag_ids, group_ids = _tag_list(body, "tag_id"), _tag_list(body, "group_id")
    groups = []
    for order, group in enumerate(corp.tag_groups):
        tags = [tag for tag in group.tags if not tag_ids or tag.id in tag_ids]
        if (group_ids and group.group_id not in group_ids) or not tags:
            continue
        groups.append(
            {
                "group_id": group.group_id,
                "group_name": group.group_name,
                "create_time": 0,
                "order": order,
                "tag": [
                    {"id": tag.id, "name": tag.name, "create_time": 0, "order": index}
                    for index, tag in enumerate(tags)
                ],
            }
        )
    return api_ok(tag_group=groups)


# -- contact ways ------------------------------------------------------------------------------


@routes.post("/cgi-bin/externalcontact/add_contact_way")
async def add_contact_way(request: web.Request) -> web.Response:
    """A "contact me" way; `state` comes back in add_external_contact events."""
    corp = authorized_corp(request)
    sim = request.app[simulator_key]
    body = await read_api_json(request)
    way = ContactWay(
        corpid=corp.corpid,
        config_id=secrets.token_hex(16),
        type=_int_choice(body, "type", (1, 2), None),
        scene=_int_choice(body, "scene", (1, 2), None),
        state="",
        users=[],
        parties=[],
        created_at=sim.clock(),
    )
    _apply_contact_way(corp, way, body)
    if way.scene == 2:  # noqa: PLR2004 - scene 2 is the QR code
        way.qr_code = f"https://wework.qq.com/q/{secrets.token_urlsafe(12)}"
    sim.state.contact_ways[way.config_id] = way
    fields: dict[str, Any] = {"config_id": way.config_id}
    if way.qr_code:
        fields["qr_code"] = way.qr_code
    return api_ok(**fields)


def _int_choice(
    body: dict[str, Any], name: str, allowed: tuple[int, ...], default: int | None
) -> int:
    value = body.get(name, default)
    if value not in allowed or not isinstance(value, int):
        raise _invalid(name)
    return value


def _apply_contact_way(corp: Corp, way: ContactWay, body: dict[str, Any]) -> None:
    """Apply the settable fields of add/update_contact_way, checking each."""
    way.state = _bounded_str(body, "state", way.state, _MAX_STATE)
    way.remark = _bounded_str(body, "remark", way.remark, _MAX_REMARK)
    way.skip_verify = bool(body.get("skip_verify", way.skip_verify))
    way.style = body.get("style", way.style)
    way.is_temp = bool(body.get("is_temp", way.is_temp))
    way.expires_in = body.get("expires_in", way.expires_in)
    users = body.get("user", way.users)
    if not isinstance(users, list) or not all(isinstance(user, str) for user in users):
        raise _invalid("user")
    if any(not corp.has_staff(user) for user in users):
        raise ApiError(ERR_USER_NOT_FOUND, "userid not found")
    parties = body.get("party", way.parties)
    if not isinstance(parties, list):
        raise _invalid("party")
    # Type 1 (single) is exactly one staff member; type 2 (multi) needs someone.
    if (way.type == 1 and (len(users) != 1 or parties)) or not (users or parties):
        raise _invalid("user")
    way.users, way.parties = users, parties


def _bounded_str(body: dict[str, Any], name: str, default: str, limit: int) -> str:
    value = body.get(name, default)
    if not isinstance(value, str) or len(value) > limit:
        raise _invalid(name)
    return value


def _contact_way(sim: Simulator, corp: Corp, body: dict[str, Any]) -> ContactWay:
    way = sim.state.contact_ways.get(require_str(body, "config_id"))
    if way is None or way.corpid != corp.corpid:
        raise _invalid("config_id")
    return way


@routes.post("/cgi-bin/externalcontact/get_contact_way")
async def get_contact_way(request: web.Request) -> web.Response:
    corp = authorized_corp(request)
    way = _contact_way(request.app[simulator_key], corp, await read_api_json(request))
    fields: dict[str, Any] = {
        "config_id": way.config_id,
        "type": way.type,
        "scene": way.scene,
        "remark": way.remark,
        "skip_verify": way.skip_verify,
        "state": way.state,
        "user": way.users,
        "party": way.parties,
        "is_temp": way.is_temp,
    }
    optional = {"style": way.style, "qr_code": way.qr_code, "expires_in": way.expires_in}
    fields |= {name: value for name, value in optional.items() if value is not None}
    return api_ok(contact_way=fields)


@routes.post("/cgi-bin/externalcontact/update_contact_way")
async def update_contact_way(request: web.Request) -> web.Response:
    corp = authorized_corp(request)
    body = await read_api_json(request)
    way = _contact_way(request.app[simulator_key], corp, body)
    _apply_contact_way(corp, way, body)
    return api_ok()


@routes.post("/cgi-bin/externalcontact/del_contact_way")
async def delete_contact_way(request: web.Request) -> web.Response:
    corp = authorized_corp(request)
    sim = request.app[simulator_key]
    way = _contact_way(sim, corp, await read_api_json(request))
    del sim.state.contact_ways[way.config_id]
    return api_ok()
