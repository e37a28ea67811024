"""Redeeming coupons at the till through the staff API: kinds, refusals, retries, batches, undo."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from aiohttp import web
from aiohttp.test_utils import TestClient

from hub.models.audit import AuditLog
from hub.models.coupon import Coupon, CouponStatus, Redemption
from hub.models.member import Member
from hub.services.audit import Actor
from hub.services.coupon_tokens import make_token
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
async def tokens(org: Org) -> dict[str, str]:
    people = org.staff | {f"other_{name}": staff for name, staff in org.other_staff.items()}
    return {
        name: (await issue_staff_token(staff.id, staff.brand_id, Actor.cli())).plaintext
        for name, staff in people.items()
    }


@pytest.fixture
def as_staff(client: Client, tokens: dict[str, str]) -> Call:
    async def call(
        who: str, method: str, path: str, body: Any = None, request_id: str | None = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {tokens[who]}"}
        if request_id:
            headers["X-Request-ID"] = request_id
        answer = await client.request(method, STAFF_API + path, json=body, headers=headers)
        return answer.status, await answer.json()

    return call


def scan(
    org: Org, token: str, scan_id: str, amount_fen: int = 8_800, **more: Any
) -> dict[str, Any]:
    return {
        "store_id": org.stores["s001"].id,
        "token": token,
        "scan_id": scan_id,
        "order_amount_fen": amount_fen,
    } | more


async def state() -> tuple[list[dict[str, Any]], int, int]:
    """Every coupon as stored, the number of redemptions and of coupon audit rows."""
    coupons = await Coupon.all().order_by("id").values("id", "status", "uses_left")
    redemptions = await Redemption.all().count()
    audits = await AuditLog.filter(action__startswith="coupon.redeem").count()
    return coupons, redemptions, audits


# -- what each kind gives ----------------------------------------------------------------------


async def test_a_cash_off_coupon_takes_its_face_value_off_an_order_above_its_threshold(
    as_staff: Call, org: Org, member: Member, vault: Vault
) -> None:
    template = await make_template(org.brand, "ten-off", face_value_fen=1_000, threshold_fen=5_000)
    coupon = await give(template, member)

    status, body = await as_staff(
        "clerk_s001", "POST", "/redemptions", scan(org, qr(vault, coupon.id), "t1-0001", 5_000)
    )

    assert status == 201
    assert body["apply"] == {"discount_fen": 1_000, "gift_name": None}
    redemption = body["redemption"]
    assert redemption["coupon_id"] == coupon.id
    assert redemption["store_id"] == org.stores["s001"].id
    assert redemption["staff_id"] == org.staff["clerk_s001"].id
    assert (redemption["order_amount_fen"], redemption["discount_fen"]) == (5_000, 1_000)
    assert redemption["scan_id"] == "t1-0001"
    assert redemption["undone_at"] is None
    assert redemption["redeemed_at"].endswith("+08:00")
    shown = body["coupon"]["template"]
    assert (shown["id"], shown["code"], shown["name"], shown["kind"]) == (
        template.id,
        "ten-off",
        "Ten-Off",
        "cash_off",
    )
    assert body["coupon"]["member_id"] == member.id
    assert (body["coupon"]["status"], body["coupon"]["uses_left"]) == ("used", 0)
    stored = await Coupon.get(id=coupon.id)
    assert (stored.status, stored.uses_left) == (CouponStatus.USED, 0)


@pytest.mark.parametrize(
    ("first_stackable", "second_stackable", "second_status"),
    [(True, True, 201), (True, False, 422), (False, True, 422)],
)
async def test_coupons_on_one_order_of_the_till_must_all_be_stackable(
    as_staff: Call,
    org: Org,
    member: Member,
    vault: Vault,
    first_stackable: bool,
    second_stackable: bool,
    second_status: int,
) -> None:
    first = await give(await make_template(org.brand, "a", stackable=first_stackable), member)
    second = await give(await make_template(org.brand, "b", stackable=second_stackable), member)
    one_order = "T-42"

    status, _ = await as_staff(
        "clerk_s001",
        "POST",
        "/redemptions",
        scan(org, qr(vault, first.id), "s-1", order_ref=one_order),
    )
    refused = await as_staff(
        "clerk_s001",
        "POST",
        "/redemptions",
        scan(org, qr(vault, second.id), "s-2", order_ref=one_order),
    )
    other_order = await as_staff(
        "clerk_s001",
        "POST",
        "/redemptions",
        scan(org, qr(vault, second.id), "s-3", order_ref="T-43"),
    )

    assert status == 201
    assert refused[0] == second_status
    if second_status == 422:
        assert refused[1]["reason"] == "not_stackable"
        assert other_order[0] == 201  # alone on its own order
    assert await Redemption.filter(coupon_id=second.id).count() == 1


async def test_a_count_card_used_twice_on_one_order_is_no_stacking(
    as_staff: Call, org: Org, member: Member, vault: Vault
) -> None:
    card = await give(await make_template(org.brand, "wash", "count_card"), member)
    token = qr(vault, card.id)

    first = await as_staff(
        "clerk_s001", "POST", "/redemptions", scan(org, token, "w-1", order_ref="T-7")
    )
    second = await as_staff(
        "clerk_s001", "POST", "/redemptions", scan(org, token, "w-2", order_ref="T-7")
    )

    assert (first[0], second[0]) == (201, 201)
    assert (await Coupon.get(id=card.id)).uses_left == 1


@pytest.mark.parametrize(("amount_fen", "discount_fen"), [(5_000, 1_000), (10_000, 1_500)])
async def test_a_percent_off_coupon_takes_its_share_up_to_its_cap(
    as_staff: Call, org: Org, member: Member, vault: Vault, amount_fen: int, discount_fen: int
) -> None:
    template = await make_template(
        org.brand, "twenty-pct", "percent_off", percent_off=20, face_value_fen=1_500
    )
    coupon = await give(template, member)

    status, body = await as_staff(
        "clerk_s001", "POST", "/redemptions", scan(org, qr(vault, coupon.id), "t1", amount_fen)
    )

    assert status == 201
    assert body["apply"] == {"discount_fen": discount_fen, "gift_name": None}
    assert body["redemption"]["discount_fen"] == discount_fen


async def test_a_gift_coupon_names_the_gift_and_takes_nothing_off(
    as_staff: Call, org: Org, member: Member, vault: Vault
) -> None:
    coupon = await give(await make_template(org.brand, "free-tea", "gift"), member)

    status, body = await as_staff(
        "clerk_s001", "POST", "/redemptions", scan(org, qr(vault, coupon.id), "t1", 0)
    )

    assert status == 201
    assert body["apply"] == {"discount_fen": 0, "gift_name": "A cup of tea"}
    assert body["coupon"]["status"] == "used"


async def test_a_count_card_is_used_once_per_scan_down_to_zero(
    as_staff: Call, org: Org, member: Member, vault: Vault
) -> None:
    template = await make_template(org.brand, "wash", "count_card", uses=3, name="Car wash")
    card = await give(template, member)
    seen = []

    for number in range(3):
        status, body = await as_staff(
            "clerk_s001", "POST", "/redemptions", scan(org, qr(vault, card.id), f"w{number}")
        )
        assert status == 201
        assert body["apply"] == {"discount_fen": 0, "gift_name": "Car wash"}
        seen.append((body["coupon"]["uses_left"], body["coupon"]["status"]))
    status, body = await as_staff(
        "clerk_s001", "POST", "/redemptions", scan(org, qr(vault, card.id), "w3")
    )

    assert seen == [(2, "available"), (1, "available"), (0, "used")]
    assert (status, body["reason"]) == (422, "coupon_used")
    assert await Redemption.filter(coupon_id=card.id).count() == 3


# -- refusals change nothing -------------------------------------------------------------------


async def _coupon(org: Org, member: Member, **spec: Any) -> Coupon:
    return await give(await make_template(org.brand, "ten-off", **spec), member)


async def unknown_coupon(org: Org, member: Member, vault: Vault) -> dict[str, Any]:
    await _coupon(org, member)
    return scan(org, qr(vault, 987_654), "s1")


async def not_a_token(org: Org, member: Member, vault: Vault) -> dict[str, Any]:
    await _coupon(org, member)
    return scan(org, "https://example.com/coupon/1", "s1")


async def forged_token(org: Org, member: Member, vault: Vault) -> dict[str, Any]:
    coupon = await _coupon(org, member)
    forger = Vault(b"\x01" * 32)
    return scan(org, make_token(forger, coupon.id, datetime.now(UTC) + timedelta(minutes=1)), "s1")


async def altered_coupon_id(org: Org, member: Member, vault: Vault) -> dict[str, Any]:
    coupon = await _coupon(org, member)
    other = await give(await make_template(org.brand, "other"), member)
    prefix, _, rest = qr(vault, coupon.id).partition(f".{coupon.id}.")
    return scan(org, f"{prefix}.{other.id}.{rest}", "s1")


async def altered_expiry(org: Org, member: Member, vault: Vault) -> dict[str, Any]:
    coupon = await _coupon(org, member)
    prefix, coupon_id, expires, mac = qr(vault, coupon.id).split(".")
    return scan(org, f"{prefix}.{coupon_id}.{int(expires) + 3_600}.{mac}", "s1")


async def altered_last_character(org: Org, member: Member, vault: Vault) -> dict[str, Any]:
    coupon = await _coupon(org, member)
    token = qr(vault, coupon.id)
    # Base64's last character carries 4 unused bits: any other spelling is not ours.
    swapped = "B" if token[-1] == "A" else "A"
    return scan(org, token[:-1] + swapped, "s1")


async def expired_token(org: Org, member: Member, vault: Vault) -> dict[str, Any]:
    coupon = await _coupon(org, member)
    return scan(
        org, qr(vault, coupon.id, ttl_s=60, at=datetime.now(UTC) - timedelta(minutes=2)), "s1"
    )


async def another_brands_coupon(org: Org, member: Member, vault: Vault) -> dict[str, Any]:
    stranger = await create_member(org.other_brand, vault)
    coupon = await give(await make_template(org.other_brand, "ten-off"), stranger)
    return scan(org, qr(vault, coupon.id), "s1")


async def expired_coupon(org: Org, member: Member, vault: Vault) -> dict[str, Any]:
    coupon = await _coupon(org, member)
    await Coupon.filter(id=coupon.id).update(valid_until=datetime.now(UTC) - timedelta(hours=1))
    await expire_coupons(datetime.now(UTC))
    return scan(org, qr(vault, coupon.id), "s1")


async def voided_coupon(org: Org, member: Member, vault: Vault) -> dict[str, Any]:
    coupon = await _coupon(org, member)
    await Coupon.filter(id=coupon.id).update(status=CouponStatus.VOIDED)
    return scan(org, qr(vault, coupon.id), "s1")


async def reserved_coupon(org: Org, member: Member, vault: Vault) -> dict[str, Any]:
    coupon = await _coupon(org, member)
    await Coupon.filter(id=coupon.id).update(status=CouponStatus.RESERVED, reserved_order_id=7)
    return scan(org, qr(vault, coupon.id), "s1")


async def used_coupon(org: Org, member: Member, vault: Vault) -> dict[str, Any]:
    from hub.services.redemptions import Scan, redeem  # noqa: PLC0415

    coupon = await _coupon(org, member)
    first = Scan(qr(vault, coupon.id), "s0", org.stores["s001"], 8_800)
    await redeem(first, None, Actor.cli(), vault, datetime.now(UTC))
    return scan(org, qr(vault, coupon.id), "s1")


async def not_yet_valid(org: Org, member: Member, vault: Vault) -> dict[str, Any]:
    now = datetime.now(UTC)
    coupon = await _coupon(
        org,
        member,
        valid_from=(now + timedelta(days=1)).isoformat(),
        valid_until=(now + timedelta(days=9)).isoformat(),
    )
    return scan(org, qr(vault, coupon.id), "s1")


async def region_elsewhere(org: Org, member: Member, vault: Vault) -> dict[str, Any]:
    coupon = await _coupon(org, member, store_scope="region", region="south")
    return scan(org, qr(vault, coupon.id), "s1")


async def other_stores_only(org: Org, member: Member, vault: Vault) -> dict[str, Any]:
    coupon = await _coupon(org, member, store_scope="stores", stores=["s002", "s003"])
    return scan(org, qr(vault, coupon.id), "s1")


async def below_threshold(org: Org, member: Member, vault: Vault) -> dict[str, Any]:
    coupon = await _coupon(org, member, threshold_fen=10_000)
    return scan(org, qr(vault, coupon.id), "s1", 9_999)


async def another_brands_store(org: Org, member: Member, vault: Vault) -> dict[str, Any]:
    coupon = await _coupon(org, member)
    return scan(org, qr(vault, coupon.id), "s1", store_id=org.other_store.id)


Arrange = Callable[[Org, Member, Vault], Awaitable[dict[str, Any]]]


@pytest.mark.parametrize(
    ("arrange", "status", "reason"),
    [
        (unknown_coupon, 404, "coupon_not_found"),
        (not_a_token, 422, "invalid_coupon_token"),
        (forged_token, 422, "invalid_coupon_token"),
        (altered_coupon_id, 422, "invalid_coupon_token"),
        (altered_expiry, 422, "invalid_coupon_token"),
        (altered_last_character, 422, "invalid_coupon_token"),
        (expired_token, 422, "coupon_token_expired"),
        (another_brands_coupon, 404, "coupon_not_found"),
        (expired_coupon, 422, "coupon_expired"),
        (voided_coupon, 422, "coupon_voided"),
        (reserved_coupon, 422, "coupon_reserved"),
        (used_coupon, 422, "coupon_used"),
        (not_yet_valid, 422, "coupon_not_yet_valid"),
        (region_elsewhere, 422, "wrong_store"),
        (other_stores_only, 422, "wrong_store"),
        (below_threshold, 422, "below_threshold"),
        (another_brands_store, 404, "store_not_found"),
    ],
    ids=lambda value: getattr(value, "__name__", None),
)
async def test_a_refused_scan_names_its_reason_and_changes_nothing(
    as_staff: Call,
    org: Org,
    member: Member,
    vault: Vault,
    arrange: Arrange,
    status: int,
    reason: str,
) -> None:
    body = await arrange(org, member, vault)
    before = await state()

    answer = await as_staff("hq", "POST", "/redemptions", body)

    assert answer[0] == status
    assert answer[1]["reason"] == reason
    assert answer[1]["request_id"]
    assert await state() == before


@pytest.mark.parametrize(
    ("scope", "accepted", "refused"),
    [
        ({}, ["s001", "s003", "s004"], []),
        ({"store_scope": "region", "region": "east"}, ["s001", "s002"], ["s003", "s004"]),
        ({"store_scope": "stores", "stores": ["s002", "s004"]}, ["s002", "s004"], ["s001"]),
    ],
)
async def test_a_coupon_is_accepted_only_in_the_stores_of_its_scope(
    as_staff: Call,
    org: Org,
    member: Member,
    vault: Vault,
    scope: dict[str, Any],
    accepted: list[str],
    refused: list[str],
) -> None:
    template = await make_template(org.brand, "scoped", "count_card", uses=10, **scope)
    card = await give(template, member)

    async def at(store: str) -> tuple[int, Any]:
        body = scan(org, qr(vault, card.id), f"at-{store}", store_id=org.stores[store].id)
        return await as_staff("hq", "POST", "/redemptions", body)

    for store in accepted:
        assert (await at(store))[0] == 201, store
    for store in refused:
        status, body = await at(store)
        assert (status, body["reason"]) == (422, "wrong_store"), store


async def test_a_clerk_redeems_in_their_own_store_only(
    as_staff: Call, org: Org, member: Member, vault: Vault
) -> None:
    coupon = await _coupon(org, member)
    elsewhere = scan(org, qr(vault, coupon.id), "c1", store_id=org.stores["s002"].id)
    before = await state()

    status, body = await as_staff("clerk_s001", "POST", "/redemptions", elsewhere)

    assert (status, body["reason"]) == (403, "outside_scope")
    assert await state() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"order_amount_fen": "100"}, "order_amount_fen"),
        ({"order_amount_fen": -1}, "order_amount_fen"),
        ({"scan_id": ""}, "scan_id"),
        ({"scan_id": "x" * 65}, "scan_id"),
        ({"scan_id": "扫描-1"}, "scan_id"),
        ({"order_ref": "r" * 65}, "order_ref"),
        ({"coupon_id": 1}, "coupon_id"),
    ],
)
async def test_a_malformed_scan_is_400_invalid_request(
    as_staff: Call, org: Org, member: Member, vault: Vault, body: dict[str, Any], field: str
) -> None:
    coupon = await _coupon(org, member)

    status, answer = await as_staff(
        "clerk_s001", "POST", "/redemptions", scan(org, qr(vault, coupon.id), "m1") | body
    )

    assert (status, answer["reason"]) == (400, "invalid_request")
    assert field in answer["message"]


# -- retries -----------------------------------------------------------------------------------


async def test_a_repeated_scan_id_answers_the_first_redemption_even_after_the_token_lapsed(
    as_staff: Call, org: Org, member: Member, vault: Vault
) -> None:
    card = await give(await make_template(org.brand, "wash", "count_card", uses=5), member)
    body = scan(org, qr(vault, card.id), "till-7-0042", order_ref="R-1")
    first = await as_staff("clerk_s001", "POST", "/redemptions", body)

    again = await as_staff("clerk_s001", "POST", "/redemptions", body)
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=5), tick=False):
        lapsed = await as_staff("clerk_s001", "POST", "/redemptions", body)

    assert first[0] == 201
    assert (again[0], lapsed[0]) == (200, 200)
    assert again[1]["redemption"] == first[1]["redemption"] == lapsed[1]["redemption"]
    assert again[1]["apply"] == first[1]["apply"]
    assert (await Coupon.get(id=card.id)).uses_left == 4
    assert await AuditLog.filter(action="coupon.redeem").count() == 1


async def test_a_scan_id_used_for_another_coupon_is_409(
    as_staff: Call, org: Org, member: Member, vault: Vault
) -> None:
    one = await _coupon(org, member)
    two = await give(await make_template(org.brand, "other"), member)
    await as_staff("clerk_s001", "POST", "/redemptions", scan(org, qr(vault, one.id), "dup"))

    status, body = await as_staff(
        "clerk_s001", "POST", "/redemptions", scan(org, qr(vault, two.id), "dup")
    )

    assert (status, body["reason"]) == (409, "scan_id_reused")
    assert (await Coupon.get(id=two.id)).status is CouponStatus.AVAILABLE


async def test_two_stores_tills_may_use_the_same_scan_id(
    as_staff: Call, org: Org, member: Member, vault: Vault
) -> None:
    one = await _coupon(org, member)
    two = await give(await make_template(org.brand, "other"), member)
    in_s002 = scan(org, qr(vault, two.id), "0001") | {"store_id": org.stores["s002"].id}

    first = await as_staff(
        "clerk_s001", "POST", "/redemptions", scan(org, qr(vault, one.id), "0001")
    )
    second = await as_staff("clerk_s002", "POST", "/redemptions", in_s002)

    assert (first[0], second[0]) == (201, 201)
    assert first[1]["redemption"]["scan_id"] == second[1]["redemption"]["scan_id"] == "0001"


async def test_a_redemption_is_audited_with_the_clerk_and_the_request_id(
    as_staff: Call, org: Org, member: Member, vault: Vault
) -> None:
    coupon = await _coupon(org, member)

    await as_staff(
        "clerk_s001",
        "POST",
        "/redemptions",
        scan(org, qr(vault, coupon.id), "a1", order_ref="POS-9"),
        request_id="till-req-1",
    )

    row = await AuditLog.get(action="coupon.redeem")
    assert (row.actor_type.value, row.actor_id) == ("staff", str(org.staff["clerk_s001"].id))
    assert (row.target_type, row.target_id) == ("coupon", str(coupon.id))
    assert row.request_id == "till-req-1"
    assert row.brand_id == org.brand.id
    assert row.after is not None
    assert row.after["order_ref"] == "POS-9"
    assert row.after["discount_fen"] == 1_000
    assert row.after["uses_left"] == 0


# -- offline batches ---------------------------------------------------------------------------


def item(token: str, scan_id: str, scanned_at: datetime, amount_fen: int = 8_800) -> Any:
    return {
        "scan_id": scan_id,
        "token": token,
        "scanned_at": scanned_at.isoformat(),
        "order_amount_fen": amount_fen,
    }


def batch(org: Org, *items: Any, store: str = "s001") -> Any:
    return {"store_id": org.stores[store].id, "items": list(items)}


async def issued_yesterday() -> None:
    """Every coupon valid from a day ago, so that scans made offline earlier may use them."""
    await Coupon.all().update(valid_from=datetime.now(UTC) - timedelta(days=1))


async def test_a_batch_applies_the_earliest_scan_of_a_coupon_and_answers_in_the_given_order(
    as_staff: Call, org: Org, member: Member, vault: Vault
) -> None:
    coupon = await _coupon(org, member)
    await issued_yesterday()
    now = datetime.now(UTC)
    early, late = now - timedelta(hours=2), now - timedelta(hours=1)
    later_scan = item(qr(vault, coupon.id, at=late), "b-late", late)
    earlier_scan = item(qr(vault, coupon.id, at=early), "b-early", early)

    status, body = await as_staff(
        "clerk_s001", "POST", "/redemptions/batch", batch(org, later_scan, earlier_scan)
    )

    assert status == 200
    results = body["results"]
    assert [r["scan_id"] for r in results] == ["b-late", "b-early"]
    assert (results[0]["status"], results[0]["reason"]) == ("refused", "coupon_used")
    assert results[1]["status"] == "redeemed"
    assert results[1]["apply"] == {"discount_fen": 1_000, "gift_name": None}
    redemption = await Redemption.get(coupon_id=coupon.id)
    assert redemption.redeemed_at == early
    assert results[1]["redemption"]["id"] == redemption.id


async def test_an_offline_scan_loses_to_an_online_redemption_made_before_the_upload(
    as_staff: Call, org: Org, member: Member, vault: Vault
) -> None:
    coupon = await _coupon(org, member)
    await issued_yesterday()
    earlier = datetime.now(UTC) - timedelta(minutes=30)
    online = await as_staff(
        "clerk_s001", "POST", "/redemptions", scan(org, qr(vault, coupon.id), "on-1")
    )

    status, body = await as_staff(
        "clerk_s001",
        "POST",
        "/redemptions/batch",
        batch(org, item(qr(vault, coupon.id, at=earlier), "off-1", earlier)),
    )

    assert online[0] == 201
    assert status == 200
    assert body["results"][0]["status"] == "refused"
    assert body["results"][0]["reason"] == "coupon_used"
    assert await Redemption.filter(coupon_id=coupon.id).count() == 1


async def test_a_batch_judges_each_scan_when_it_was_made_and_refuses_each_on_its_own(
    as_staff: Call, org: Org, member: Member, vault: Vault
) -> None:
    now = datetime.now(UTC)
    hour_ago = now - timedelta(hours=1)
    card = await give(await make_template(org.brand, "wash", "count_card", uses=5), member)
    lapsed = await _coupon(org, member)
    await issued_yesterday()
    await Coupon.filter(id=lapsed.id).update(valid_until=now - timedelta(minutes=30))
    await expire_coupons(now)
    applied = await as_staff(
        "clerk_s001", "POST", "/redemptions", scan(org, qr(vault, card.id), "seen")
    )
    items = [
        # The token had lapsed when it was scanned.
        item(qr(vault, card.id, at=hour_ago - timedelta(minutes=5)), "stale-token", hour_ago),
        # Valid when scanned an hour ago, though the coupon expired since.
        item(qr(vault, lapsed.id, at=hour_ago), "was-valid", hour_ago),
        item(qr(vault, card.id, at=now - timedelta(days=8)), "too-old", now - timedelta(days=8)),
        item(qr(vault, card.id), "from-the-future", now + timedelta(minutes=10)),
        item(qr(vault, card.id, at=hour_ago), "twice", hour_ago),
        item(qr(vault, card.id, at=hour_ago), "twice", hour_ago + timedelta(seconds=1)),
        item("garbage", "bad-token", hour_ago),
        item(qr(vault, card.id), "seen", now),
        item(qr(vault, card.id, at=hour_ago), "ok", hour_ago),
    ]

    status, body = await as_staff("clerk_s001", "POST", "/redemptions/batch", batch(org, *items))

    assert applied[0] == 201
    assert status == 200
    outcomes = [(r["scan_id"], r["status"], r.get("reason")) for r in body["results"]]
    assert outcomes == [
        ("stale-token", "refused", "coupon_token_expired"),
        ("was-valid", "redeemed", None),
        ("too-old", "refused", "scan_too_old"),
        ("from-the-future", "refused", "scan_too_old"),
        ("twice", "redeemed", None),
        ("twice", "refused", "duplicate_item"),
        ("bad-token", "refused", "invalid_coupon_token"),
        ("seen", "already_applied", None),
        ("ok", "redeemed", None),
    ]
    assert body["results"][7]["redemption"]["id"] == applied[1]["redemption"]["id"]
    assert (await Coupon.get(id=card.id)).uses_left == 2
    was_valid = await Coupon.get(id=lapsed.id)
    assert (was_valid.status, was_valid.uses_left) == (CouponStatus.USED, 0)


async def test_a_batch_in_a_store_outside_the_clerks_scope_is_403_and_applies_nothing(
    as_staff: Call, org: Org, member: Member, vault: Vault
) -> None:
    coupon = await _coupon(org, member)
    scanned = datetime.now(UTC) - timedelta(minutes=5)
    before = await state()

    status, body = await as_staff(
        "clerk_s001",
        "POST",
        "/redemptions/batch",
        batch(org, item(qr(vault, coupon.id, at=scanned), "x", scanned), store="s002"),
    )

    assert (status, body["reason"]) == (403, "outside_scope")
    assert await state() == before


@pytest.mark.parametrize(
    "items",
    [
        [],
        [
            {
                "scan_id": "a",
                "token": "t",
                "order_amount_fen": 1,
                "scanned_at": "2026-11-23T14:05:00",
            }
        ],
        [{"scan_id": "a", "token": "t", "order_amount_fen": 1, "scanned_at": 1_790_000_000}],
        [{"scan_id": "a", "token": "t", "order_amount_fen": 1}],
    ],
    ids=["empty", "no-offset", "unix-time", "no-scanned-at"],
)
async def test_a_malformed_batch_is_400(
    as_staff: Call, org: Org, member: Member, items: list[Any]
) -> None:
    status, body = await as_staff(
        "clerk_s001",
        "POST",
        "/redemptions/batch",
        {"store_id": org.stores["s001"].id, "items": items},
    )

    assert (status, body["reason"]) == (400, "invalid_request")


async def test_a_batch_of_more_than_two_hundred_items_is_400(
    as_staff: Call, org: Org, vault: Vault
) -> None:
    at = datetime.now(UTC)
    items = [item(qr(vault, 1), f"i{n}", at) for n in range(201)]

    status, body = await as_staff("clerk_s001", "POST", "/redemptions/batch", batch(org, *items))

    assert (status, body["reason"]) == (400, "invalid_request")


# -- undo --------------------------------------------------------------------------------------


async def _redeemed(as_staff: Call, org: Org, coupon: Coupon, vault: Vault) -> int:
    status, body = await as_staff(
        "clerk_s001", "POST", "/redemptions", scan(org, qr(vault, coupon.id), f"u-{coupon.id}")
    )
    assert status == 201
    return int(body["redemption"]["id"])


async def test_a_store_manager_undoes_a_redemption_within_the_window_once(
    as_staff: Call, org: Org, member: Member, vault: Vault
) -> None:
    coupon = await _coupon(org, member)
    redemption_id = await _redeemed(as_staff, org, coupon, vault)

    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=29), tick=False):
        status, body = await as_staff(
            "manager_s001", "POST", f"/redemptions/{redemption_id}/undo", request_id="undo-1"
        )
        again = await as_staff("manager_s001", "POST", f"/redemptions/{redemption_id}/undo")

    assert status == 200
    assert body["redemption"]["id"] == redemption_id
    assert body["redemption"]["undone_at"] is not None
    assert body["redemption"]["undone_by"] == org.staff["manager_s001"].id
    assert (body["coupon"]["status"], body["coupon"]["uses_left"]) == ("available", 1)
    assert (again[0], again[1]["reason"]) == (422, "already_undone")
    row = await AuditLog.get(action="coupon.redeem_undo")
    assert (row.actor_id, row.target_id) == (str(org.staff["manager_s001"].id), str(coupon.id))
    assert row.request_id == "undo-1"
    assert row.before is not None
    assert row.after is not None
    assert (row.before["undone"], row.after["undone"]) == (False, True)
    assert (row.before["uses_left"], row.after["uses_left"]) == (0, 1)
    # The use is back: the coupon can be scanned again.
    status, _ = await as_staff(
        "clerk_s001", "POST", "/redemptions", scan(org, qr(vault, coupon.id), "after-undo")
    )
    assert status == 201


async def test_an_undo_after_the_window_is_refused_and_changes_nothing(
    as_staff: Call, org: Org, member: Member, vault: Vault
) -> None:
    coupon = await _coupon(org, member)
    redemption_id = await _redeemed(as_staff, org, coupon, vault)
    before = await state()

    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=31), tick=False):
        status, body = await as_staff("manager_s001", "POST", f"/redemptions/{redemption_id}/undo")

    assert (status, body["reason"]) == (422, "undo_window_passed")
    assert await state() == before


@pytest.mark.parametrize(
    ("who", "status", "reason"),
    [
        ("clerk_s001", 403, "forbidden"),
        ("manager_s002", 403, "outside_scope"),
        ("region_south", 403, "outside_scope"),
        ("other_manager", 404, "redemption_not_found"),
        ("other_hq", 404, "redemption_not_found"),
    ],
)
async def test_only_a_manager_over_the_store_may_undo(
    as_staff: Call,
    org: Org,
    member: Member,
    vault: Vault,
    who: str,
    status: int,
    reason: str,
) -> None:
    coupon = await _coupon(org, member)
    redemption_id = await _redeemed(as_staff, org, coupon, vault)
    before = await state()

    answer = await as_staff(who, "POST", f"/redemptions/{redemption_id}/undo")

    assert (answer[0], answer[1]["reason"]) == (status, reason)
    assert await state() == before


@pytest.mark.parametrize("who", ["manager_s001", "region_east", "hq"])
async def test_the_stores_manager_its_region_manager_and_head_office_may_undo(
    as_staff: Call, org: Org, member: Member, vault: Vault, who: str
) -> None:
    coupon = await _coupon(org, member)
    redemption_id = await _redeemed(as_staff, org, coupon, vault)

    status, _ = await as_staff(who, "POST", f"/redemptions/{redemption_id}/undo")

    assert status == 200


@pytest.mark.parametrize(
    "path",
    ["/redemptions/999999/undo", "/redemptions/abc/undo", "/redemptions/99999999999999999999/undo"],
)
async def test_undoing_no_redemption_is_404(as_staff: Call, org: Org, path: str) -> None:
    status, body = await as_staff("hq", "POST", path)

    assert (status, body["reason"]) == (404, "redemption_not_found")


# -- a store's redemptions ---------------------------------------------------------------------


async def test_a_store_lists_its_redemptions_newest_first_in_pages(
    as_staff: Call, org: Org, member: Member, vault: Vault
) -> None:
    card = await give(await make_template(org.brand, "wash", "count_card", uses=5), member)
    made = []
    for number in range(3):
        _, body = await as_staff(
            "clerk_s001", "POST", "/redemptions", scan(org, qr(vault, card.id), f"l{number}")
        )
        made.append(body["redemption"]["id"])
    elsewhere = scan(org, qr(vault, card.id), "l-s002", store_id=org.stores["s002"].id)
    await as_staff("hq", "POST", "/redemptions", elsewhere)
    store = org.stores["s001"].id

    status, first = await as_staff("manager_s001", "GET", f"/stores/{store}/redemptions?limit=2")
    _, rest = await as_staff(
        "manager_s001", "GET", f"/stores/{store}/redemptions?limit=2&before_id={made[1]}"
    )

    assert status == 200
    assert [r["id"] for r in first["redemptions"]] == [made[2], made[1]]
    assert [r["id"] for r in rest["redemptions"]] == [made[0]]
    assert {r["store_id"] for r in first["redemptions"]} == {store}


@pytest.mark.parametrize(
    ("who", "store", "status", "reason"),
    [
        ("clerk_s001", "s001", 403, "forbidden"),
        ("manager_s002", "s001", 403, "outside_scope"),
        ("region_south", "s001", 403, "outside_scope"),
        ("other_hq", "s001", 404, "store_not_found"),
    ],
)
async def test_a_stores_redemptions_are_shown_to_its_managers_only(
    as_staff: Call, org: Org, who: str, store: str, status: int, reason: str
) -> None:
    answer = await as_staff(who, "GET", f"/stores/{org.stores[store].id}/redemptions")

    assert (answer[0], answer[1]["reason"]) == (status, reason)
