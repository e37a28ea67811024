"""Coupon templates, issuance, members' coupons and template reports via the open and staff APIs."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from aiohttp import web
from aiohttp.test_utils import TestClient

from hub.models.audit import AuditLog
from hub.models.coupon import Coupon, CouponStatus, CouponTemplate
from hub.models.member import Member
from hub.services import api_keys
from hub.services.audit import Actor
from hub.services.coupons import expire_coupons
from hub.services.members import create_member
from hub.services.staff_access import issue_staff_token
from hub.settings import Settings
from hub.vault import Vault, load_vault
from tests import builders
from tests.integration.coupon_kit import give, make_template, qr
from tests.integration.staff_org import Org, create_org

Client = TestClient[web.Request, web.Application]
Call = Callable[..., Awaitable[tuple[int, Any]]]
STAFF_API = "/api/staff/v1"
# Noon in Shanghai on 2026-03-10.
NOON = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)


@pytest.fixture
async def org(db: None) -> Org:
    org = await create_org()
    await builders.apply_programme(builders.HubBrand(org.brand, org.stores["s001"]))
    return org


@pytest.fixture
def vault(settings: Settings) -> Vault:
    return load_vault(settings)


@pytest.fixture
async def member(org: Org, vault: Vault) -> Member:
    return await create_member(org.brand, vault, phone="13800138000")


@pytest.fixture
async def api(client: Client, org: Org) -> Call:
    key = await api_keys.create_api_key(org.brand, "CRM", Actor.cli())

    async def call(method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {key.plaintext}"}
        answer = await client.request(method, f"/api/v1{path}", json=body, headers=headers)
        return answer.status, await answer.json()

    return call


@pytest.fixture
async def as_staff(client: Client, org: Org) -> Call:
    people = org.staff | {f"other_{name}": staff for name, staff in org.other_staff.items()}
    tokens = {
        name: (await issue_staff_token(staff.id, staff.brand_id, Actor.cli())).plaintext
        for name, staff in people.items()
    }

    async def call(who: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {tokens[who]}"}
        answer = await client.request(method, STAFF_API + path, json=body, headers=headers)
        return answer.status, await answer.json()

    return call


def spec(code: str = "spring", **more: Any) -> dict[str, Any]:
    return {
        "code": code,
        "name": "Spring ¥10 off",
        "kind": "cash_off",
        "face_value_fen": 1_000,
        "threshold_fen": 5_000,
        "valid_days": 30,
    } | more


# -- templates ---------------------------------------------------------------------------------


async def test_a_template_is_created_then_updated_by_its_code_and_audited(
    api: Call, org: Org
) -> None:
    created = await api(
        "POST",
        "/coupon-templates",
        spec(
            store_scope="stores",
            stores=["s002", "s001"],
            levels=["silver"],
            stock_total=100,
            per_member_limit=1,
        ),
    )
    updated = await api("POST", "/coupon-templates", spec(name="Spring sale", stock_total=200))

    assert created[0] == 201
    shown = created[1]["template"]
    assert shown["code"] == "spring"
    assert (shown["kind"], shown["face_value_fen"], shown["threshold_fen"]) == (
        "cash_off",
        1_000,
        5_000,
    )
    assert shown["store_scope"] == "stores"
    assert shown["stores"] == ["s001", "s002"]
    assert shown["store_ids"] == sorted([org.stores["s001"].id, org.stores["s002"].id])
    assert shown["levels"] == ["silver"]
    assert (shown["stock_total"], shown["issued_count"], shown["per_member_limit"]) == (100, 0, 1)
    assert shown["created_at"].endswith("+08:00")
    assert updated[0] == 200
    assert updated[1]["template"]["id"] == shown["id"]
    assert updated[1]["template"]["name"] == "Spring sale"
    assert updated[1]["template"]["store_scope"] == "all"
    assert updated[1]["template"]["stores"] == []
    assert await CouponTemplate.filter(brand_id=org.brand.id).count() == 1
    rows = await AuditLog.filter(target_type="coupon_template").order_by("id")
    assert [row.action for row in rows] == ["coupon_template.create", "coupon_template.update"]
    assert rows[1].before is not None
    assert rows[1].after is not None
    assert (rows[1].before["name"], rows[1].after["name"]) == ("Spring ¥10 off", "Spring sale")
    assert rows[0].actor_type.value == "api_key"


async def test_templates_are_listed_newest_first_and_shown_by_id(api: Call, org: Org) -> None:
    first = (await api("POST", "/coupon-templates", spec("a")))[1]["template"]
    second = (await api("POST", "/coupon-templates", spec("b")))[1]["template"]
    theirs = await make_template(org.other_brand, "c")

    listed = await api("GET", "/coupon-templates")
    paged = await api("GET", f"/coupon-templates?before_id={second['id']}")
    shown = await api("GET", f"/coupon-templates/{first['id']}")
    hidden = await api("GET", f"/coupon-templates/{theirs.id}")

    assert [t["code"] for t in listed[1]["templates"]] == ["b", "a"]
    assert [t["code"] for t in paged[1]["templates"]] == ["a"]
    assert shown == (200, {"template": first})
    assert (hidden[0], hidden[1]["reason"]) == (404, "template_not_found")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"face_value_fen": 0}, "face_value_fen"),
        ({"face_value_fen": "1000"}, "face_value_fen"),
        ({"kind": "percent_off", "face_value_fen": 0}, "percent_off"),
        ({"kind": "gift", "face_value_fen": 0}, "gift_name"),
        ({"kind": "count_card", "uses": 1}, "count_card"),
        ({"valid_until": "2026-12-31T23:59:59+08:00"}, "valid_days"),
        ({"valid_days": None, "valid_until": "2026-12-31T23:59:59"}, "offset"),
        ({"store_scope": "region"}, "region"),
        ({"store_scope": "region", "region": "north"}, "region"),
        ({"store_scope": "stores", "stores": ["s001", "s999"]}, "s999"),
        ({"levels": ["platinum"]}, "platinum"),
        ({"code": "Spring Sale!"}, "code"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_an_invalid_template_is_400_naming_the_problem(
    api: Call, org: Org, change: dict[str, Any], field: str
) -> None:
    status, body = await api("POST", "/coupon-templates", spec() | change)

    assert (status, body["reason"]) == (400, "invalid_template")
    assert field in body["message"]
    assert not await CouponTemplate.exists(brand_id=org.brand.id)


async def test_a_template_body_that_is_no_object_is_400(api: Call, client: Client) -> None:
    status, body = await api("POST", "/coupon-templates", [spec()])

    assert (status, body["reason"]) == (400, "invalid_request")


async def test_stock_cannot_fall_below_what_was_issued(api: Call, org: Org, vault: Vault) -> None:
    await api("POST", "/coupon-templates", spec(stock_total=5))
    template = await CouponTemplate.get(brand_id=org.brand.id, code="spring")
    for _ in range(3):
        await give(template, await create_member(org.brand, vault))

    below = await api("POST", "/coupon-templates", spec(stock_total=2))
    exactly = await api("POST", "/coupon-templates", spec(stock_total=3))

    assert (below[0], below[1]["reason"]) == (422, "stock_below_issued")
    assert exactly[0] == 200
    assert (exactly[1]["template"]["stock_total"], exactly[1]["template"]["issued_count"]) == (3, 3)


@pytest.mark.parametrize(
    ("who", "status", "reason"),
    [
        ("clerk_s001", 403, "forbidden"),
        ("manager_s001", 403, "forbidden"),
        ("region_east", 403, "forbidden"),
        ("hq", 201, None),
    ],
)
async def test_only_head_office_manages_templates_in_the_staff_api(
    as_staff: Call, org: Org, who: str, status: int, reason: str | None
) -> None:
    created = await as_staff(who, "POST", "/coupon-templates", spec())
    listed = await as_staff(who, "GET", "/coupon-templates")

    assert created[0] == status
    assert created[1].get("reason") == reason
    assert listed[0] == (200 if status == 201 else 403)
    if status == 201:
        template_id = created[1]["template"]["id"]
        shown = await as_staff(who, "GET", f"/coupon-templates/{template_id}")
        assert shown[1]["template"]["code"] == "spring"
        row = await AuditLog.get(action="coupon_template.create")
        assert (row.actor_type.value, row.actor_id) == ("staff", str(org.staff["hq"].id))


async def test_another_brands_admin_sees_none_of_the_brands_templates(
    as_staff: Call, org: Org
) -> None:
    _, body = await as_staff("hq", "POST", "/coupon-templates", spec())
    template_id = body["template"]["id"]

    listed = await as_staff("other_hq", "GET", "/coupon-templates")
    shown = await as_staff("other_hq", "GET", f"/coupon-templates/{template_id}")
    # The same code in their brand is their own template.
    theirs = await as_staff("other_hq", "POST", "/coupon-templates", spec())

    assert listed == (200, {"templates": []})
    assert (shown[0], shown[1]["reason"]) == (404, "template_not_found")
    assert theirs[0] == 201
    assert theirs[1]["template"]["id"] != template_id


# -- issuing -----------------------------------------------------------------------------------


def issue(template_code: str, member_id: int, key: str) -> dict[str, Any]:
    return {"template_code": template_code, "member_id": member_id, "issue_key": key}


async def test_the_open_api_issues_a_coupon_once_per_key(
    api: Call, org: Org, member: Member, vault: Vault
) -> None:
    await make_template(org.brand, "spring", stock_total=10)
    someone_else = await create_member(org.brand, vault)

    first = await api("POST", "/coupons", issue("spring", member.id, "crm-1"))
    again = await api("POST", "/coupons", issue("SPRING", member.id, "crm-1"))
    other_member = await api("POST", "/coupons", issue("spring", someone_else.id, "crm-1"))

    assert first[0] == 201
    coupon = first[1]["coupon"]
    assert coupon["template"]["code"] == "spring"
    assert (coupon["member_id"], coupon["status"], coupon["uses_left"]) == (
        member.id,
        "available",
        1,
    )
    assert (coupon["source"], coupon["issue_key"]) == ("api", "crm-1")
    assert coupon["valid_until"].endswith("+08:00")
    assert again == (200, first[1])
    assert (other_member[0], other_member[1]["reason"]) == (409, "issue_key_reused")
    assert (await CouponTemplate.get(code="spring", brand_id=org.brand.id)).issued_count == 1
    row = await AuditLog.get(action="coupon.issue")
    assert (row.actor_type.value, row.target_id) == ("api_key", str(coupon["id"]))


async def test_issuing_refuses_what_the_template_does_not_allow(
    api: Call, org: Org, member: Member, vault: Vault
) -> None:
    await make_template(org.brand, "one-each", per_member_limit=1)
    await make_template(org.brand, "scarce", stock_total=1)
    await make_template(org.brand, "gold-only", levels=["gold"])
    await make_template(org.brand, "retired", active=False)
    await make_template(
        org.brand,
        "winter",
        valid_from="2025-12-01T00:00:00+08:00",
        valid_until="2026-01-01T00:00:00+08:00",
    )
    await api("POST", "/coupons", issue("one-each", member.id, "k1"))
    await api("POST", "/coupons", issue("scarce", (await create_member(org.brand, vault)).id, "k2"))
    stranger = await create_member(org.other_brand, vault)

    outcomes = [
        await api("POST", "/coupons", issue(code, member_id, f"x-{n}"))
        for n, (code, member_id) in enumerate(
            [
                ("one-each", member.id),
                ("scarce", member.id),
                ("gold-only", member.id),
                ("retired", member.id),
                ("winter", member.id),
                ("nothing", member.id),
                ("one-each", stranger.id),
                ("one-each", 999_999),
            ]
        )
    ]

    assert [(status, body["reason"]) for status, body in outcomes] == [
        (422, "member_limit_reached"),
        (422, "out_of_stock"),
        (422, "level_not_eligible"),
        (422, "template_inactive"),
        (422, "template_ended"),
        (404, "template_not_found"),
        (404, "member_not_found"),
        (404, "member_not_found"),
    ]
    assert await Coupon.filter(member_id=member.id).count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"issue_key": ""}, "issue_key"),
        ({"member_id": "1"}, "member_id"),
        ({"template_code": None}, "template_code"),
        ({"count": 2}, "count"),
    ],
)
async def test_a_malformed_issue_is_400(
    api: Call, org: Org, member: Member, body: dict[str, Any], field: str
) -> None:
    await make_template(org.brand, "spring")

    status, answer = await api("POST", "/coupons", issue("spring", member.id, "k") | body)

    assert (status, answer["reason"]) == (400, "invalid_request")
    assert field in answer["message"]


@pytest.mark.parametrize(
    ("who", "status", "reason"),
    [
        ("clerk_s001", 403, "forbidden"),
        ("manager_s001", 403, "forbidden"),
        ("region_east", 403, "forbidden"),
        ("hq", 201, None),
    ],
)
async def test_only_head_office_issues_coupons_in_the_staff_api(
    as_staff: Call, org: Org, member: Member, who: str, status: int, reason: str | None
) -> None:
    await make_template(org.brand, "spring")

    answer = await as_staff(who, "POST", "/coupons", issue("spring", member.id, "hq-1"))

    assert answer[0] == status
    assert answer[1].get("reason") == reason
    if status == 201:
        assert answer[1]["coupon"]["source"] == "staff"
        row = await AuditLog.get(action="coupon.issue")
        assert (row.actor_type.value, row.actor_id) == ("staff", str(org.staff["hq"].id))
    else:
        assert not await Coupon.exists()


async def test_head_office_cannot_issue_to_another_brands_member_nor_their_template(
    as_staff: Call, org: Org, member: Member, vault: Vault
) -> None:
    await make_template(org.brand, "spring")
    await make_template(org.other_brand, "theirs")
    stranger = await create_member(org.other_brand, vault)

    their_member = await as_staff("hq", "POST", "/coupons", issue("spring", stranger.id, "k1"))
    their_template = await as_staff("hq", "POST", "/coupons", issue("theirs", member.id, "k2"))

    assert (their_member[0], their_member[1]["reason"]) == (404, "member_not_found")
    assert (their_template[0], their_template[1]["reason"]) == (404, "template_not_found")
    assert not await Coupon.exists()


async def test_a_members_coupons_are_listed_newest_first_by_status(
    api: Call, org: Org, member: Member, vault: Vault
) -> None:
    template = await make_template(org.brand, "spring")
    old, used, fresh = [await give(template, member) for _ in range(3)]
    await Coupon.filter(id=used.id).update(status=CouponStatus.USED, uses_left=0)
    await give(template, await create_member(org.brand, vault))
    stranger = await create_member(org.other_brand, vault)

    every = await api("GET", f"/members/{member.id}/coupons")
    available = await api("GET", f"/members/{member.id}/coupons?status=available&limit=1")
    older = await api("GET", f"/members/{member.id}/coupons?status=available&before_id={fresh.id}")
    bad_status = await api("GET", f"/members/{member.id}/coupons?status=lost")
    theirs = await api("GET", f"/members/{stranger.id}/coupons")

    assert [c["id"] for c in every[1]["coupons"]] == [fresh.id, used.id, old.id]
    assert [c["id"] for c in available[1]["coupons"]] == [fresh.id]
    assert [c["id"] for c in older[1]["coupons"]] == [old.id]
    assert (bad_status[0], bad_status[1]["reason"]) == (400, "invalid_request")
    assert (theirs[0], theirs[1]["reason"]) == (404, "member_not_found")


# -- reports -----------------------------------------------------------------------------------


async def test_a_template_report_counts_issues_redemptions_and_expiries_by_day_and_store(
    api: Call, as_staff: Call, org: Org, vault: Vault
) -> None:
    s001, s002 = org.stores["s001"].id, org.stores["s002"].id

    async def redeem(coupon: Coupon, store_id: int, amount_fen: int) -> int:
        body = {
            "store_id": store_id,
            "token": qr(vault, coupon.id),
            "scan_id": f"r-{coupon.id}",
            "order_amount_fen": amount_fen,
        }
        status, answer = await as_staff("hq", "POST", "/redemptions", body)
        assert status == 201
        return int(answer["redemption"]["id"])

    with time_machine.travel(NOON, tick=False):
        template = await make_template(org.brand, "spring")
        members = [await create_member(org.brand, vault) for _ in range(4)]
        one, two, three, four = [await give(template, member) for member in members]
        await redeem(one, s001, 8_800)
    with time_machine.travel(NOON + timedelta(days=1), tick=False):
        await redeem(two, s002, 5_000)
        undone = await redeem(three, s001, 3_000)
        assert (await as_staff("hq", "POST", f"/redemptions/{undone}/undo"))[0] == 200
        await Coupon.filter(id=four.id).update(valid_until=NOON + timedelta(days=1, hours=-2))
        await expire_coupons(datetime.now(UTC))
        by_api = await api(
            "GET", f"/coupon-templates/{template.id}/report?from=2026-03-10&to=2026-03-12"
        )
        by_staff = await as_staff(
            "hq", "GET", f"/coupon-templates/{template.id}/report?from=2026-03-10&to=2026-03-12"
        )

    assert by_api[0] == 200
    assert by_staff == by_api
    report = by_api[1]
    assert report["template"] == {"id": template.id, "code": "spring"}
    assert (report["from"], report["to"]) == ("2026-03-10", "2026-03-12")
    zero = {"issued": 0, "redeemed": 0, "expired": 0, "gmv_fen": 0, "discount_fen": 0}
    assert report["days"] == [
        {
            "day": "2026-03-10",
            "issued": 4,
            "redeemed": 1,
            "expired": 0,
            "gmv_fen": 8_800,
            "discount_fen": 1_000,
            "stores": [
                {"store_id": s001, "redeemed": 1, "issued": 0, "expired": 0}
                | {"gmv_fen": 8_800, "discount_fen": 1_000}
            ],
        },
        {
            "day": "2026-03-11",
            "issued": 0,
            "redeemed": 1,
            "expired": 1,
            "gmv_fen": 5_000,
            "discount_fen": 1_000,
            "stores": [
                {"store_id": s002, "redeemed": 1, "issued": 0, "expired": 0}
                | {"gmv_fen": 5_000, "discount_fen": 1_000}
            ],
        },
        {"day": "2026-03-12"} | zero | {"stores": []},
    ]
    assert report["total"] == {
        "issued": 4,
        "redeemed": 2,
        "expired": 1,
        "gmv_fen": 13_800,
        "discount_fen": 2_000,
        "redemption_rate": 0.5,
    }


@pytest.mark.parametrize(
    ("who", "query", "status", "reason"),
    [
        ("manager_s001", "from=2026-03-10&to=2026-03-12", 403, "forbidden"),
        ("region_east", "from=2026-03-10&to=2026-03-12", 403, "forbidden"),
        ("hq", "from=2026-03-12&to=2026-03-10", 400, "range_reversed"),
        ("hq", "from=2026-01-01&to=2026-12-31", 400, "range_too_long"),
        ("hq", "from=2026-03-10", 400, "invalid_request"),
        ("other_hq", "from=2026-03-10&to=2026-03-12", 404, "template_not_found"),
    ],
)
async def test_a_template_report_is_head_offices_for_a_valid_range(
    as_staff: Call, org: Org, who: str, query: str, status: int, reason: str
) -> None:
    template = await make_template(org.brand, "spring")

    answer = await as_staff(who, "GET", f"/coupon-templates/{template.id}/report?{query}")

    assert (answer[0], answer[1]["reason"]) == (status, reason)
