"""The mini-program's coupons against the simulator: list them, show one as a QR token, pay
with one through WeChat Pay; and the member's birthday."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from hub.dates import BEIJING
from hub.keys import vault_key
from hub.models.coupon import Coupon, CouponStatus, CouponTemplate, Redemption
from hub.services import api_keys, coupon_tokens
from hub.services.audit import Actor
from hub.simulator.world import World
from tests import builders
from tests.e2e.workers.conftest import HubClient, Seeded
from tests.e2e.workers.test_mini_program_api import MiniProgram


@pytest.fixture
async def alice(
    seeded: Seeded, client: HubClient, simulator: TestServer, world: World
) -> MiniProgram:
    app = MiniProgram(client, simulator, world, "alice")
    await app.log_in()
    return app


@pytest.fixture
async def template(seeded: Seeded) -> CouponTemplate:
    """¥10 off an order of ¥50, in every store of the demo brand."""
    return await builders.create_coupon_template(seeded.brand, "e2e-cash")


async def mine(alice: MiniProgram, status: str) -> dict[int, dict[str, Any]]:
    answer, listed = await alice.call("GET", f"/me/coupons?status={status}")
    assert answer == 200, listed
    return {coupon["id"]: coupon for coupon in listed["coupons"]}


async def test_my_coupons_are_listed_and_one_shows_as_a_short_lived_qr_token(
    alice: MiniProgram, seeded: Seeded, template: CouponTemplate, client: HubClient
) -> None:
    coupon = await builders.give_coupon(template, seeded.members["alice"].id)

    available = await mine(alice, "available")
    status, qr = await alice.call("POST", f"/me/coupons/{coupon.id}/qr-token")

    assert available[coupon.id] == available[coupon.id] | {
        "template": {
            "code": "e2e-cash",
            "name": template.name,
            "kind": "cash_off",
            "face_value_fen": 1_000,
            "percent_off": 0,
            "threshold_fen": 5_000,
            "gift_name": "",
            "stackable": False,
        },
        "uses_total": 1,
        "uses_left": 1,
        "status": "available",
        "stores": {"scope": "all", "region_id": None, "store_ids": []},
    }
    assert available[coupon.id]["valid_until"].endswith("+08:00")
    assert coupon.id not in await mine(alice, "used")
    assert status == 201, qr
    assert qr["token"].startswith("wxq1.")
    assert qr["refresh_after_s"] == 50  # of the 60 s the token lasts
    expires_at = datetime.fromisoformat(qr["expires_at"])
    assert timedelta(seconds=55) < expires_at - datetime.now(UTC) <= timedelta(seconds=60)
    vault = client.app[vault_key]
    assert coupon_tokens.read_token(vault, qr["token"], datetime.now(UTC)) == coupon.id


async def test_paying_an_order_with_a_coupon_through_wechat_pay_uses_it(
    alice: MiniProgram, seeded: Seeded, template: CouponTemplate
) -> None:
    coupon = await builders.give_coupon(template, seeded.members["alice"].id)

    status, created = await alice.call(
        "POST",
        "/orders",
        {"store_id": seeded.store.id, "amount_fen": 8_000, "coupon_id": coupon.id},
    )
    assert status == 201, created
    order = created["order"]
    assert (order["coupon_id"], order["coupon_discount_fen"]) == (coupon.id, 1_000)
    assert order["wechat_fen"] == order["amount_fen"] == 8_000 - order["discount_fen"] - 1_000
    assert coupon.id in await mine(alice, "reserved")
    held = await alice.call("POST", f"/me/coupons/{coupon.id}/qr-token")
    assert (held[0], held[1]["reason"]) == (422, "coupon_reserved")

    await alice.pay(order)

    _, shown = await alice.call("GET", f"/orders/{order['out_trade_no']}")
    assert shown["order"]["status"] == "paid"
    assert shown["order"]["coupon_discount_fen"] == 1_000
    used = await mine(alice, "used")
    assert used[coupon.id]["uses_left"] == 0
    assert (await Coupon.get(id=coupon.id)).status is CouponStatus.USED
    redemption = await Redemption.get(coupon_id=coupon.id)
    assert (redemption.store_id, redemption.order_ref) == (seeded.store.id, order["out_trade_no"])
    spent = await alice.call("POST", f"/me/coupons/{coupon.id}/qr-token")
    again = await alice.call(
        "POST",
        "/orders",
        {"store_id": seeded.store.id, "amount_fen": 8_000, "coupon_id": coupon.id},
    )
    assert (spent[0], spent[1]["reason"]) == (422, "coupon_used")
    assert (again[0], again[1]["reason"]) == (422, "coupon_used")


async def test_other_members_unknown_and_lapsed_coupons_give_no_qr_token(
    alice: MiniProgram, seeded: Seeded, template: CouponTemplate
) -> None:
    bobs = await builders.give_coupon(template, seeded.members["bob"].id)
    lapsed = await builders.give_coupon(
        template, seeded.members["alice"].id, now=datetime.now(UTC) - timedelta(days=31)
    )
    voided = await builders.give_coupon(template, seeded.members["alice"].id, "voided")
    await Coupon.filter(id=voided.id).update(status=CouponStatus.VOIDED)

    answers = {
        path: await alice.call("POST", f"/me/coupons/{path}/qr-token")
        for path in (bobs.id, 999_999_999, "abc", "9" * 5_000, lapsed.id, voided.id)
    }
    bad_status = await alice.call("GET", "/me/coupons?status=lost")
    paying = await alice.call(
        "POST", "/orders", {"store_id": seeded.store.id, "amount_fen": 8_000, "coupon_id": bobs.id}
    )

    reasons = {path: (status, body["reason"]) for path, (status, body) in answers.items()}
    assert reasons == {
        bobs.id: (404, "coupon_not_found"),
        999_999_999: (404, "coupon_not_found"),
        "abc": (404, "coupon_not_found"),
        "9" * 5_000: (404, "coupon_not_found"),
        lapsed.id: (422, "coupon_expired"),
        voided.id: (422, "coupon_voided"),
    }
    assert lapsed.id in await mine(alice, "expired")  # before the hourly job marks it
    assert lapsed.id not in await mine(alice, "available")
    assert (bad_status[0], bad_status[1]["reason"]) == (400, "invalid_request")
    assert (paying[0], paying[1]["reason"]) == (404, "coupon_not_found")


async def test_my_birthday_is_set_once_and_shown_to_me_and_the_brand(
    alice: MiniProgram, seeded: Seeded, client: HubClient
) -> None:
    tomorrow = (datetime.now(BEIJING) + timedelta(days=1)).date().isoformat()

    status, body = await alice.call("PUT", "/me/birthday", {"birthday": "1990-05-20"})
    same = await alice.call("PUT", "/me/birthday", {"birthday": "1990-05-20"})
    other = await alice.call("PUT", "/me/birthday", {"birthday": "1990-05-21"})
    bad = [
        await alice.call("PUT", "/me/birthday", {"birthday": value})
        for value in ("1990-02-30", "20 May 1990", 642_124_800, None)
    ]
    future = await alice.call("PUT", "/me/birthday", {"birthday": tomorrow})

    assert status == 200, body
    assert body["member"]["birthday"] == "1990-05-20"
    assert (same[0], same[1]["member"]["birthday"]) == (200, "1990-05-20")
    assert (other[0], other[1]["reason"]) == (409, "birthday_already_set")
    assert [(code, answer["reason"]) for code, answer in bad] == [(400, "invalid_request")] * 4
    assert (future[0], future[1]["reason"]) == (400, "invalid_value")
    _, me = await alice.call("GET", "/me")
    assert me["member"]["birthday"] == "1990-05-20"
    key = await api_keys.create_api_key(seeded.brand, "crm", Actor.cli())
    crm = await client.get(
        f"/api/v1/members/{me['member']['id']}",
        headers={"Authorization": f"Bearer {key.plaintext}"},
    )
    assert (await crm.json())["member"]["birthday"] == "1990-05-20"
