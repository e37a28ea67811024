"""The staff API with staff tokens, and the open API's audit log, through HTTP."""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from hub.models.audit import AuditLog
from hub.models.member import Member
from hub.models.staff import Staff
from hub.services import api_keys
from hub.services.audit import Actor
from hub.services.members import create_member
from hub.services.staff_access import issue_staff_token
from hub.settings import Settings
from hub.vault import load_vault
from tests import builders
from tests.integration.staff_org import Org, create_org

# Who may do what does not depend on the database: SQLite is enough.
pytestmark = pytest.mark.sqlite_only

Client = TestClient[web.Request, web.Application]
Call = Callable[..., Awaitable[tuple[int, Any]]]
PHONE = "13800138000"
STAFF_API = "/api/staff/v1"


@pytest.fixture
async def org(db: None) -> Org:
    org = await create_org()
    await builders.apply_programme(builders.HubBrand(org.brand, org.stores["s001"]))
    return org


@pytest.fixture
async def tokens(org: Org) -> dict[str, str]:
    """A staff token per member of the org (`other_manager`, `other_hq` for the other brand)."""
    people = org.staff | {f"other_{name}": staff for name, staff in org.other_staff.items()}
    return {
        name: (await issue_staff_token(staff.id, staff.brand_id, Actor.cli())).plaintext
        for name, staff in people.items()
    }


@pytest.fixture
async def member(org: Org, settings: Settings) -> Member:
    return await create_member(org.brand, load_vault(settings), phone=PHONE, unionid="u_alice")


@pytest.fixture
def as_staff(client: Client, tokens: dict[str, str]) -> Call:
    async def call(who: str, method: str, path: str, **params: str) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {tokens[who]}"}
        answer = await client.request(method, STAFF_API + path, params=params, headers=headers)
        return answer.status, await answer.json()

    return call


@pytest.fixture
async def api(client: Client, org: Org) -> Call:
    key = await api_keys.create_api_key(org.brand, "CRM", Actor.cli())

    async def call(path: str, **params: str) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {key.plaintext}"}
        answer = await client.get(f"/api/v1{path}", params=params, headers=headers)
        return answer.status, await answer.json()

    return call


# -- who I am -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "role", "permissions"),
    [
        ("clerk_s001", "clerk", ["look_up_member", "redeem"]),
        (
            "manager_s001",
            "store_manager",
            ["look_up_member", "redeem", "undo_redemption", "view_store", "manage_staff"],
        ),
        (
            "region_east",
            "region_manager",
            ["look_up_member", "redeem", "undo_redemption", "view_store", "manage_staff"],
        ),
        (
            "hq",
            "hq_admin",
            [
                "look_up_member",
                "redeem",
                "undo_redemption",
                "view_store",
                "manage_staff",
                "manage_templates",
                "issue_coupons",
                "view_reports",
                "adjust_points",
            ],
        ),
    ],
)
async def test_me_shows_the_caller_their_brand_and_their_permissions(
    as_staff: Call, org: Org, who: str, role: str, permissions: list[str]
) -> None:
    status, body = await as_staff(who, "GET", "/me")

    assert status == 200
    staff = org.staff[who]
    assert body["staff"]["id"] == staff.id
    assert body["staff"]["name"] == who
    assert body["staff"]["role"] == role
    assert (body["staff"]["store_id"], body["staff"]["region_id"]) == (
        staff.store_id,
        staff.region_id,
    )
    assert body["brand"] == {"code": "acme", "name": "Acme Tea"}
    assert body["permissions"] == permissions
    assert "token_hash" not in body["staff"]


# -- 401 ----------------------------------------------------------------------------------------


async def test_requests_without_a_valid_staff_token_are_401_with_a_reason(
    client: Client, org: Org, tokens: dict[str, str]
) -> None:
    key = await api_keys.create_api_key(org.brand, "POS", Actor.cli())
    replaced = tokens["clerk_s001"]
    await issue_staff_token(org.staff["clerk_s001"].id, org.brand.id, Actor.cli())
    await Staff.filter(id=org.staff["clerk_s002"].id).update(active=False)
    cases = {
        None: "missing_token",
        "Basic abcdefgh": "malformed_token",
        "Bearer wxt_short!": "malformed_token",
        f"Bearer {key.plaintext}": "invalid_staff_token",
        "Bearer wxs_a-session-token-of-a-member": "invalid_staff_token",
        "Bearer wxt_000000000000_forged-token-forged-token-forg": "invalid_staff_token",
        f"Bearer {replaced}": "invalid_staff_token",
        f"Bearer {tokens['clerk_s002']}": "invalid_staff_token",
    }

    for header, reason in cases.items():
        headers = {} if header is None else {"Authorization": header}
        answer = await client.get(f"{STAFF_API}/me", headers=headers)
        assert (answer.status, (await answer.json())["reason"]) == (401, reason), header
        assert answer.headers["WWW-Authenticate"] == 'Bearer realm="wxhub"'


async def test_a_staff_token_is_no_api_key(client: Client, tokens: dict[str, str]) -> None:
    answer = await client.get("/api/v1/audit", headers={"Authorization": f"Bearer {tokens['hq']}"})

    assert (answer.status, (await answer.json())["reason"]) == (401, "invalid_api_key")


# -- members at the till ------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["clerk_s001", "manager_s002", "region_south", "hq"])
async def test_every_role_finds_a_member_by_code_or_phone_with_the_phone_masked(
    as_staff: Call, member: Member, who: str
) -> None:
    by_code = await as_staff(who, "GET", "/members", code=member.code)
    by_phone = await as_staff(who, "GET", "/members", phone="138-0013-8000")

    assert by_code == by_phone
    status, body = by_code
    assert status == 200
    shown = body["member"]
    assert shown["id"] == member.id
    assert shown["phone"] == "138****8000"
    assert shown["unionid"] is None
    assert shown["level"]["code"] == "regular"
    assert PHONE not in str(body)


async def test_another_brands_member_is_not_found(
    as_staff: Call, org: Org, member: Member, settings: Settings
) -> None:
    theirs = await create_member(org.other_brand, load_vault(settings), phone="13900139000")

    from_acme = await as_staff("hq", "GET", "/members", code=theirs.code)
    from_acme_by_phone = await as_staff("hq", "GET", "/members", phone="13900139000")
    from_other = await as_staff("other_hq", "GET", "/members", code=member.code)

    for status, body in (from_acme, from_acme_by_phone, from_other):
        assert (status, body["reason"]) == (404, "member_not_found")


async def adjust(
    client: Client, token: str, member_id: int, body: dict[str, Any]
) -> tuple[int, Any]:
    answer = await client.post(
        f"{STAFF_API}/members/{member_id}/points/adjustments",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    )
    return answer.status, await answer.json()


async def test_head_office_adjusts_points_with_a_reason_once_per_key(
    client: Client, tokens: dict[str, str], org: Org, member: Member
) -> None:
    body = {"points": 300, "reason": "missed a receipt", "idempotency_key": "hq-1"}
    in_store = body | {"idempotency_key": "hq-2", "store_id": org.stores["s002"].id}

    first = await adjust(client, tokens["hq"], member.id, body)
    again = await adjust(client, tokens["hq"], member.id, body)
    with_store = await adjust(client, tokens["hq"], member.id, in_store)

    assert (first[0], first[1]["points_balance"]) == (201, 300)
    assert (again[0], again[1]["entry"]["id"]) == (200, first[1]["entry"]["id"])
    assert (with_store[0], with_store[1]["entry"]["store_id"]) == (201, org.stores["s002"].id)
    audit = await AuditLog.filter(action="points.adjust").order_by("id").first()
    assert audit is not None
    assert (audit.actor_type.value, audit.actor_id) == ("staff", str(org.staff["hq"].id))


@pytest.mark.parametrize("who", ["clerk_s001", "manager_s002", "region_south"])
async def test_only_head_office_adjusts_points(
    client: Client, tokens: dict[str, str], member: Member, who: str
) -> None:
    body = {"points": 5, "reason": "nice customer", "idempotency_key": "k"}

    status, answer = await adjust(client, tokens[who], member.id, body)

    assert (status, answer["reason"]) == (403, "forbidden")
    assert (await Member.get(id=member.id)).points_balance == 0


async def test_head_office_adjusts_no_other_brands_member(
    client: Client, tokens: dict[str, str], org: Org, member: Member, settings: Settings
) -> None:
    theirs = await create_member(org.other_brand, load_vault(settings))
    body = {"points": 5, "reason": "x", "idempotency_key": "k"}
    other_store = body | {"store_id": org.other_store.id}

    assert (await adjust(client, tokens["hq"], theirs.id, body))[0] == 404
    status, answer = await adjust(client, tokens["hq"], member.id, other_store)
    assert (status, answer["reason"]) == (404, "store_not_found")


@pytest.mark.parametrize(
    ("params", "status", "reason"),
    [
        ({}, 400, "invalid_value"),
        ({"code": "1", "phone": PHONE}, 400, "invalid_value"),
        ({"phone": "12"}, 400, "invalid_value"),
        ({"unionid": "u_alice"}, 400, "invalid_request"),
        ({"code": "000000000000"}, 404, "member_not_found"),
    ],
)
async def test_bad_member_lookups_are_4xx_with_a_reason(
    as_staff: Call, member: Member, params: dict[str, str], status: int, reason: str
) -> None:
    answer = await as_staff("clerk_s001", "GET", "/members", **params)

    assert (answer[0], answer[1]["reason"]) == (status, reason)


# -- staff lists --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "seen"),
    [
        ("manager_s001", {"clerk_s001", "manager_s001"}),
        (
            "region_east",
            {"clerk_s001", "manager_s001", "clerk_s002", "manager_s002", "region_east"},
        ),
        (
            "hq",
            {"clerk_s001", "manager_s001", "clerk_s002", "manager_s002", "clerk_s003"}
            | {"region_east", "region_south", "hq"},
        ),
        ("other_manager", {"other_manager"}),
    ],
)
async def test_managers_list_the_staff_in_their_scope_without_tokens(
    as_staff: Call, who: str, seen: set[str]
) -> None:
    status, body = await as_staff(who, "GET", "/staff")

    assert status == 200
    assert {person["name"] for person in body["staff"]} == seen
    ids = [person["id"] for person in body["staff"]]
    assert ids == sorted(ids, reverse=True)
    assert all(person["token_issued_at"] is not None for person in body["staff"])
    assert all(
        "token" not in key for person in body["staff"] for key in person if key != "token_issued_at"
    )


async def test_the_staff_list_is_paged(as_staff: Call, org: Org) -> None:
    first = await as_staff("hq", "GET", "/staff", limit="3")
    rest = await as_staff("hq", "GET", "/staff", before_id=str(first[1]["staff"][-1]["id"]))

    assert [len(page[1]["staff"]) for page in (first, rest)] == [3, 5]


async def test_a_clerk_may_not_list_staff(as_staff: Call) -> None:
    status, body = await as_staff("clerk_s001", "GET", "/staff")

    assert (status, body["reason"]) == (403, "forbidden")


# -- tokens -------------------------------------------------------------------------------------


async def test_a_store_manager_issues_a_clerks_token_once_and_the_old_one_stops_working(
    client: Client, as_staff: Call, org: Org, tokens: dict[str, str]
) -> None:
    clerk, manager = org.staff["clerk_s001"], org.staff["manager_s001"]
    answer = await client.post(
        f"{STAFF_API}/staff/{clerk.id}/token",
        headers={"Authorization": f"Bearer {tokens['manager_s001']}"},
    )
    body = await answer.json()

    assert answer.status == 201
    assert answer.headers["Cache-Control"] == "no-store"
    assert body["staff"]["id"] == clerk.id
    assert body["token"].startswith("wxt_")
    new = await client.get(f"{STAFF_API}/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert (new.status, (await new.json())["staff"]["id"]) == (200, clerk.id)
    old = await as_staff("clerk_s001", "GET", "/me")
    assert (old[0], old[1]["reason"]) == (401, "invalid_staff_token")
    row = (
        await AuditLog.filter(action="staff.token_issued", target_id=str(clerk.id))
        .order_by("-id")
        .first()
    )
    assert row is not None
    assert (row.actor_type.value, row.actor_id) == ("staff", str(manager.id))
    assert body["token"] not in str([row.before, row.after])


@pytest.mark.parametrize(
    ("who", "target", "status", "reason"),
    [
        ("hq", "region_east", 201, None),
        ("region_east", "clerk_s002", 201, None),
        ("manager_s002", "manager_s002", 201, None),
        ("manager_s001", "clerk_s002", 403, "outside_scope"),
        ("region_east", "clerk_s003", 403, "outside_scope"),
        ("manager_s001", "manager_s002", 403, "forbidden"),
        ("region_east", "manager_s001", 403, "forbidden"),
        ("clerk_s001", "clerk_s001", 403, "forbidden"),
        ("other_hq", "clerk_s001", 404, "staff_not_found"),
        ("hq", "other_manager", 404, "staff_not_found"),
    ],
)
async def test_who_may_issue_a_token_for_whom(
    as_staff: Call, org: Org, who: str, target: str, status: int, reason: str | None
) -> None:
    people = org.staff | {f"other_{name}": staff for name, staff in org.other_staff.items()}

    answer = await as_staff(who, "POST", f"/staff/{people[target].id}/token")

    assert answer[0] == status
    assert answer[1].get("reason") == reason


@pytest.mark.parametrize("staff_id", ["abc", "0", "99999", "99999999999", "9" * 5000])
async def test_a_token_for_no_staff_member_is_404(as_staff: Call, staff_id: str) -> None:
    status, body = await as_staff("hq", "POST", f"/staff/{staff_id}/token")

    assert (status, body["reason"]) == (404, "staff_not_found")


async def test_an_inactive_staff_member_gets_no_token(as_staff: Call, org: Org) -> None:
    await Staff.filter(id=org.staff["clerk_s001"].id).update(active=False)

    status, body = await as_staff("hq", "POST", f"/staff/{org.staff['clerk_s001'].id}/token")

    assert (status, body["reason"]) == (422, "staff_inactive")


# -- the audit log (open API) -------------------------------------------------------------------


async def test_the_audit_log_is_the_brands_own_newest_first(api: Call, org: Org) -> None:
    status, body = await api("/audit")

    assert status == 200
    entries = body["entries"]
    ids = [entry["id"] for entry in entries]
    assert ids == sorted(ids, reverse=True)
    own = await AuditLog.filter(brand_id=org.brand.id).count()
    assert len(entries) == min(own, 20)
    first = entries[0]
    assert set(first) == {
        "id",
        "actor_type",
        "actor_id",
        "action",
        "target_type",
        "target_id",
        "before",
        "after",
        "request_id",
        "created_at",
    }
    assert first["created_at"].endswith("+08:00")
    assert {entry["target_id"] for entry in entries}.isdisjoint(
        {str(staff.id) for staff in org.other_staff.values()}
    )


async def test_the_audit_log_filters_by_action_actor_and_target(
    api: Call, as_staff: Call, org: Org, tokens: dict[str, str]
) -> None:
    clerk, manager = org.staff["clerk_s001"], org.staff["manager_s001"]
    await as_staff("manager_s001", "POST", f"/staff/{clerk.id}/token")

    brand = await api("/audit", action="brand.create")
    staff_actions = await api("/audit", action="staff.*", limit="100")
    everything = await api("/audit", action="*", limit="100")
    by_manager = await api("/audit", actor_type="staff", actor_id=str(manager.id))
    on_clerk = await api("/audit", target_type="staff", target_id=str(clerk.id))

    assert [entry["target_id"] for entry in brand[1]["entries"]] == [str(org.brand.id)]
    assert {entry["action"] for entry in staff_actions[1]["entries"]} == {
        "staff.create",
        "staff.token_issued",
    }
    # One staff.create each, one token each (the fixture), one more for the clerk.
    assert len(staff_actions[1]["entries"]) == 2 * len(org.staff) + 1
    assert len(everything[1]["entries"]) == await AuditLog.filter(brand_id=org.brand.id).count()
    assert [(e["action"], e["target_id"]) for e in by_manager[1]["entries"]] == [
        ("staff.token_issued", str(clerk.id))
    ]
    assert [e["action"] for e in on_clerk[1]["entries"]] == [
        "staff.token_issued",
        "staff.token_issued",
        "staff.create",
    ]
    assert on_clerk[1]["entries"][0]["request_id"] is not None


async def test_the_audit_log_filters_by_time_with_an_offset(api: Call, org: Org) -> None:
    rows = await AuditLog.filter(brand_id=org.brand.id).order_by("id").limit(3)
    # Long ago, so that every other row (written now) is later than these.
    moments = [
        "2001-11-23T01:00:00+00:00",
        "2001-11-23T02:00:00+00:00",
        "2001-11-23T03:00:00+00:00",
    ]
    for row, moment in zip(rows, moments, strict=True):
        await AuditLog.filter(id=row.id).update(created_at=datetime.fromisoformat(moment))

    status, body = await api(
        "/audit", since="2001-11-23T10:00:00+08:00", until="2001-11-23T03:00:00Z"
    )

    assert status == 200
    assert [entry["id"] for entry in body["entries"]] == [rows[1].id]
    assert body["entries"][0]["created_at"] == "2001-11-23T10:00:00+08:00"
    early = await api("/audit", until="2001-11-23T02:00:00Z")
    assert [entry["id"] for entry in early[1]["entries"]] == [rows[0].id]


async def test_the_audit_log_is_paged(api: Call) -> None:
    first = await api("/audit", limit="2")
    second = await api("/audit", limit="2", before_id=str(first[1]["entries"][-1]["id"]))

    ids = [entry["id"] for entry in first[1]["entries"] + second[1]["entries"]]
    assert ids == sorted(ids, reverse=True)
    assert len(set(ids)) == 4


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"since": "2026-11-23T10:00:00"}, "invalid_request"),
        ({"since": "2026-11-23"}, "invalid_request"),
        ({"since": "1795423500"}, "invalid_request"),
        ({"since": "2026-11-23T10:00:00 08:00"}, "invalid_request"),
        ({"since": "0001-01-01T00:00:00+08:00"}, "invalid_request"),
        ({"since": "2026-11-23T10:00:00Z", "until": "2026-11-23T10:00:00Z"}, "range_reversed"),
        ({"actor_type": "robot"}, "invalid_request"),
        ({"action": "Points.*"}, "invalid_request"),
        ({"action": "points.*.adjust"}, "invalid_request"),
        ({"limit": "101"}, "invalid_request"),
        ({"store_id": "1"}, "invalid_request"),
    ],
)
async def test_bad_audit_filters_are_400_with_a_reason(
    api: Call, params: dict[str, str], reason: str
) -> None:
    status, body = await api("/audit", **params)

    assert (status, body["reason"]) == (400, reason)


async def test_the_audit_log_needs_an_api_key(client: Client) -> None:
    answer = await client.get("/api/v1/audit")

    assert (answer.status, (await answer.json())["reason"]) == (401, "missing_token")
