"""The open API with a brand's key: members, points, POS orders and refunds."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from hub.models.audit import AuditLog
from hub.models.brand import StoreStatus
from hub.models.member import Member
from hub.models.order import Order, OrderSource, OrderStatus
from hub.models.points import PointsEntry
from hub.services import api_keys, brands
from hub.services.audit import Actor
from hub.services.members import create_member
from hub.settings import Settings
from hub.vault import load_vault
from tests import builders
from tests.builders import HubBrand

Client = TestClient[web.Request, web.Application]
Call = Callable[..., Awaitable[tuple[int, dict[str, Any]]]]
PHONE = "13800138000"


@pytest.fixture
async def hub(db: None, settings: Settings) -> HubBrand:
    hub = await builders.create_hub_brand(load_vault(settings))
    await builders.apply_programme(hub)
    return hub


@pytest.fixture
async def member(hub: HubBrand, settings: Settings) -> Member:
    return await create_member(hub.brand, load_vault(settings), phone=PHONE, unionid="u_alice")


@pytest.fixture
async def api(client: Client, hub: HubBrand) -> Call:
    key = await api_keys.create_api_key(hub.brand, "POS", Actor.cli())

    async def call(method: str, path: str, body: Any = None, **headers: str) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {key.plaintext}"} | headers
        answer = await client.request(method, f"/api/v1{path}", json=body, headers=headers)
        return answer.status, await answer.json()

    return call


def sale(
    hub: HubBrand, member: Member | None, external_id: str, amount_fen: int = 8_800, **more: Any
) -> dict[str, Any]:
    body = {
        "store_id": hub.store.id,
        "amount_fen": amount_fen,
        "external_id": external_id,
        "paid_at": datetime.now(UTC).isoformat(),
    }
    return body | ({"member_id": member.id} if member else {}) | more


async def test_members_are_found_by_id_phone_unionid_and_code(api: Call, member: Member) -> None:
    by_id = await api("GET", f"/members/{member.id}")
    by_phone = await api("GET", "/members?phone=138 0013 8000")
    by_unionid = await api("GET", "/members?unionid=u_alice")
    by_code = await api("GET", f"/members?code={member.code}")

    assert {status for status, _ in (by_id, by_phone, by_unionid, by_code)} == {200}
    assert {body["member"]["id"] for _, body in (by_id, by_phone, by_unionid, by_code)} == {
        member.id
    }
    shown = by_id[1]["member"]
    assert shown["phone"] == "+8613800138000"
    assert shown["level"]["code"] == "regular"
    assert shown["next_level"]["code"] == "silver"
    assert shown["progress"] == [
        {"rule": "cumulative_spend", "required": 100_000, "current": 0, "months": None}
    ]


@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [
        ("/members/999999", 404, "member_not_found"),
        ("/members/99999999999999999999", 404, "member_not_found"),
        ("/members/abc", 404, "member_not_found"),
        ("/members?phone=12", 400, "invalid_value"),
        ("/members?phone=13800138000&code=1", 400, "invalid_value"),
        ("/members?name=alice", 400, "invalid_request"),
    ],
)
async def test_bad_lookups_are_4xx_with_a_reason(
    api: Call, member: Member, path: str, status: int, reason: str
) -> None:
    answer = await api("GET", path)

    assert answer[0] == status
    assert answer[1]["reason"] == reason


async def test_no_key_or_a_wrong_key_is_401_and_another_brand_sees_nothing(
    client: Client, api: Call, member: Member, settings: Settings
) -> None:
    other = await brands.create_brand("other", "Other Tea", Actor.cli())
    other_key = await api_keys.create_api_key(other, "POS", Actor.cli())

    bare = await client.get(f"/api/v1/members/{member.id}")
    forged = await client.get(
        f"/api/v1/members/{member.id}", headers={"Authorization": "Bearer wxk_abc_forged"}
    )
    foreign = await client.get(
        f"/api/v1/members/{member.id}",
        headers={"Authorization": f"Bearer {other_key.plaintext}"},
    )

    assert (bare.status, (await bare.json())["reason"]) == (401, "missing_token")
    assert bare.headers["WWW-Authenticate"].startswith("Bearer")
    assert (forged.status, (await forged.json())["reason"]) == (401, "invalid_api_key")
    assert (foreign.status, (await foreign.json())["reason"]) == (404, "member_not_found")


async def test_the_bearer_scheme_is_case_insensitive_and_other_schemes_are_refused(
    client: Client, hub: HubBrand, member: Member
) -> None:
    key = await api_keys.create_api_key(hub.brand, "CRM", Actor.cli())
    path = f"/api/v1/members/{member.id}"

    lower = await client.get(path, headers={"Authorization": f"bearer {key.plaintext}"})
    basic = await client.get(path, headers={"Authorization": f"Basic {key.plaintext}"})

    assert lower.status == 200
    assert (basic.status, (await basic.json())["reason"]) == (401, "malformed_token")


async def test_points_adjustments_and_redemptions_apply_once_per_key(
    api: Call, member: Member
) -> None:
    add = {"points": 500, "reason": "service recovery", "idempotency_key": "crm-1"}
    spend = {"points": 200, "reason": "free cup", "idempotency_key": "pos-7", "store_id": 1}

    first = await api("POST", f"/members/{member.id}/points/adjustments", add)
    again = await api("POST", f"/members/{member.id}/points/adjustments", add)
    redeemed = await api("POST", f"/members/{member.id}/points/redemptions", spend)
    too_much = await api(
        "POST",
        f"/members/{member.id}/points/redemptions",
        spend | {"points": 301, "idempotency_key": "pos-8"},
    )
    reused = await api("POST", f"/members/{member.id}/points/adjustments", add | {"points": 501})
    # The redemption's key on an adjustment of the same size is another change.
    crossed = await api(
        "POST",
        f"/members/{member.id}/points/adjustments",
        add | {"points": -200, "idempotency_key": "pos-7"},
    )

    assert (first[0], first[1]["points_balance"]) == (201, 500)
    assert (again[0], again[1]["entry"]["id"]) == (200, first[1]["entry"]["id"])
    assert (redeemed[0], redeemed[1]["points_balance"]) == (201, 300)
    assert (too_much[0], too_much[1]["reason"]) == (422, "insufficient_points")
    assert (reused[0], reused[1]["reason"]) == (409, "idempotency_key_reused")
    assert (crossed[0], crossed[1]["reason"]) == (409, "idempotency_key_reused")
    assert await PointsEntry.filter(member_id=member.id).count() == 2
    assert await AuditLog.filter(action__startswith="points.").count() == 2


@pytest.mark.parametrize(
    "change",
    [
        {"points": 0},
        {"points": "100"},
        {"points": 1.5},
        {"points": True},
        {"reason": ""},
        {"idempotency_key": ""},
        {"points": 10_000_001},
        {"store_id": 999},
        {"extra": 1},
    ],
)
async def test_bad_points_requests_change_nothing(
    api: Call, member: Member, change: dict[str, Any]
) -> None:
    body = {"points": 100, "reason": "x", "idempotency_key": "k"} | change

    status, answer = await api("POST", f"/members/{member.id}/points/adjustments", body)

    assert 400 <= status < 500, answer
    assert answer["reason"]
    assert not await PointsEntry.exists()


async def test_a_pos_sale_earns_points_once_and_reports_its_order(
    hub: HubBrand, api: Call, member: Member
) -> None:
    first = await api("POST", "/orders", sale(hub, member, "POS-1001"))
    again = await api("POST", "/orders", sale(hub, member, "POS-1001"))
    different = await api("POST", "/orders", sale(hub, member, "POS-1001", amount_fen=9_900))

    assert first[0] == 201
    assert again[0] == 200
    assert again[1]["order"]["out_trade_no"] == first[1]["order"]["out_trade_no"]
    assert (different[0], different[1]["reason"]) == (409, "external_id_reused")
    order = await Order.get(external_id="POS-1001")
    assert (order.source, order.status, order.points_earned) == (
        OrderSource.POS,
        OrderStatus.PAID,
        88,
    )
    assert (await Member.get(id=member.id)).points_balance == 88
    shown = await api("GET", f"/orders/{order.out_trade_no}")
    assert shown[1]["order"]["points_earned"] == 88


async def test_a_pos_sale_finds_its_member_by_phone_or_code_or_is_a_walk_in(
    hub: HubBrand, api: Call, member: Member
) -> None:
    by_phone = await api("POST", "/orders", sale(hub, None, "P1", member_phone=PHONE))
    by_code = await api("POST", "/orders", sale(hub, None, "P2", member_code=member.code))
    walk_in = await api("POST", "/orders", sale(hub, None, "P3"))
    two_ways = await api("POST", "/orders", sale(hub, member, "P4", member_code=member.code))

    assert by_phone[1]["order"]["member_id"] == member.id
    assert by_code[1]["order"]["member_id"] == member.id
    assert walk_in[1]["order"]["member_id"] is None
    assert (two_ways[0], two_ways[1]["reason"]) == (400, "invalid_request")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"amount_fen": 0}, "invalid_request"),
        ({"amount_fen": -5}, "invalid_request"),
        ({"amount_fen": 12.5}, "invalid_request"),
        ({"amount_fen": 100_000_001}, "invalid_request"),
        ({"store_id": 999}, "store_not_found"),
        ({"paid_at": "2026-11-23T10:00:00"}, "invalid_request"),  # no offset
        ({"paid_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}, "invalid_value"),
        ({"paid_at": (datetime.now(UTC) - timedelta(days=40)).isoformat()}, "invalid_value"),
        ({"external_id": ""}, "invalid_request"),
        ({"member_id": 424242}, "member_not_found"),
    ],
)
async def test_bad_pos_sales_are_refused_and_change_nothing(
    hub: HubBrand, api: Call, member: Member, change: dict[str, Any], reason: str
) -> None:
    status, answer = await api("POST", "/orders", sale(hub, member, "BAD-1") | change)

    assert 400 <= status < 500
    assert answer["reason"] == reason
    assert not await Order.exists()


async def test_a_paused_store_takes_no_sales(api: Call, member: Member, hub: HubBrand) -> None:
    hub.store.status = StoreStatus.PAUSED
    await hub.store.save()

    status, answer = await api("POST", "/orders", sale(hub, member, "P-paused"))

    assert (status, answer["reason"]) == (400, "store_paused")


async def test_a_pos_refund_is_applied_at_once_and_takes_points_back(
    hub: HubBrand, api: Call, member: Member
) -> None:
    _, posted = await api("POST", "/orders", sale(hub, member, "POS-2", amount_fen=10_000))
    number = posted["order"]["out_trade_no"]

    half = await api(
        "POST", f"/orders/{number}/refunds", {"refund_fen": 5_000, "out_refund_no": "PR-1"}
    )
    replay = await api(
        "POST", f"/orders/{number}/refunds", {"refund_fen": 5_000, "out_refund_no": "PR-1"}
    )
    too_much = await api(
        "POST", f"/orders/{number}/refunds", {"refund_fen": 5_001, "out_refund_no": "PR-2"}
    )
    no_number = await api("POST", f"/orders/{number}/refunds", {"refund_fen": 1})

    assert (half[0], half[1]["refund"]["status"]) == (201, "succeeded")
    assert half[1]["order"]["status"] == "partially_refunded"
    assert (replay[0], replay[1]["refund"]) == (200, half[1]["refund"])
    # Nothing of a POS sale went through WeChat Pay, so nothing comes back through it.
    assert (half[1]["order"]["wechat_fen"], half[1]["refund"]["wechat_fen"]) == (0, 0)
    assert (too_much[0], too_much[1]["reason"]) == (422, "refund_exceeds_paid")
    assert (no_number[0], no_number[1]["reason"]) == (400, "invalid_request")
    fresh = await Member.get(id=member.id)
    assert (fresh.points_balance, fresh.total_spend_fen) == (50, 5_000)
    unknown = await api("POST", "/orders/W0000/refunds", {"refund_fen": 1, "out_refund_no": "X"})
    assert (unknown[0], unknown[1]["reason"]) == (404, "order_not_found")
