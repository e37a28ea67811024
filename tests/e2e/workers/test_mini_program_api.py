"""The mini-program's journey against the simulator: log in, pay in a store, recharge, buy a
card, get refunded — WeChat's codes, prepay, notifications and refunds all real-format."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestServer
from arq.worker import Worker

from hub.models.brand import StoreStatus
from hub.models.member import Member
from hub.models.membership import Level
from hub.models.order import Order, OrderStatus
from hub.services import api_keys
from hub.services.audit import Actor
from hub.simulator.world import World
from hub.wechat.pay_v3 import pay_sign
from hub.wechat.primitives import load_private_key
from tests.e2e.clients.conftest import control, demo_user
from tests.e2e.workers.conftest import HubClient, Seeded

RunWorker = Callable[[], Awaitable[Worker]]
MP = "/api/mp/v1"


class MiniProgram:
    """The brand's mini-program as one user runs it: wx.login, then calls with the token."""

    def __init__(self, client: HubClient, simulator: TestServer, world: World, user: str) -> None:
        """`user` is a World user's key, or "o…" for an openid WeChat knows nothing more of."""
        self.client, self.simulator, self.world, self.user = client, simulator, world, user
        self.appid = world.mini_programs[0].appid
        self.token = ""

    async def log_in(self, **more: Any) -> dict[str, Any]:
        who = {"openid": self.user} if self.user.startswith("o") else {"user": self.user}
        code = await control(
            self.simulator, "POST", "/_sim/codes/login", {"appid": self.appid} | who
        )
        status, body = await self.call(
            "POST", "/login", {"appid": self.appid, "code": code["code"]} | more
        )
        assert status in {200, 201}, body
        self.token = body["token"]
        answer: dict[str, Any] = body
        return answer

    async def call(
        self, method: str, path: str, body: Any = None, **headers: str
    ) -> tuple[int, Any]:
        if self.token:
            headers = {"Authorization": f"Bearer {self.token}"} | headers
        answer = await self.client.request(method, MP + path, json=body, headers=headers)
        return answer.status, await answer.json()

    async def pay(self, order: dict[str, Any]) -> None:
        """The user confirms wx.requestPayment: WeChat Pay notifies the hub."""
        paid = await control(
            self.simulator, "POST", f"/_sim/pay/orders/{order['out_trade_no']}/pay", {"wait": True}
        )
        assert paid["deliveries"][0]["status"] == "delivered", paid


@pytest.fixture
async def alice(
    seeded: Seeded, client: HubClient, simulator: TestServer, world: World
) -> MiniProgram:
    app = MiniProgram(client, simulator, world, "alice")
    await app.log_in()
    return app


async def test_logging_in_finds_the_member_and_shows_the_card(
    alice: MiniProgram, seeded: Seeded
) -> None:
    status, me = await alice.call("GET", "/me")

    assert status == 200
    member = me["member"]
    assert member["id"] == seeded.members["alice"].id
    assert member["level"]["code"] == "regular"
    assert member["next_level"]["code"] == "vip"
    assert member["phone"].count("*") == 4  # masked for the member's own screen
    assert member["unionid"] is None


async def test_a_new_user_becomes_a_member_once_with_the_inviter_counted(
    seeded: Seeded, client: HubClient, simulator: TestServer, world: World
) -> None:
    host = seeded.members["alice"]
    newcomer = MiniProgram(client, simulator, world, "o_newcomer_1")

    first = await newcomer.log_in(invite_code=host.code, store_id=seeded.store.id)
    again = await newcomer.log_in(invite_code=host.code)

    assert first["created"] is True
    assert again["created"] is False
    assert again["member"]["id"] == first["member"]["id"]
    assert first["member"]["home_store_id"] == seeded.store.id
    assert first["member"]["level"]["code"] == "regular"
    assert (await Member.get(id=host.id)).invite_count == 1


async def test_binding_the_phone_wechat_verified_is_idempotent(
    alice: MiniProgram, world: World
) -> None:
    code = await control(
        alice.simulator, "POST", "/_sim/codes/phone", {"appid": alice.appid, "user": "alice"}
    )

    status, body = await alice.call("POST", "/me/phone", {"code": code["code"]})
    reused = await alice.call("POST", "/me/phone", {"code": code["code"]})

    assert status == 200
    assert body["member"]["phone"].endswith(demo_user(world, "alice").phone[-4:])
    assert (reused[0], reused[1]["reason"]) == (400, "invalid_code")  # single use at WeChat


async def test_paying_in_a_store_earns_points_at_the_level_and_is_attributed(
    alice: MiniProgram, seeded: Seeded, world: World
) -> None:
    status, created = await alice.call(
        "POST", "/orders", {"store_id": seeded.store.id, "amount_fen": 8_850}
    )

    assert status == 201, created
    order, payment = created["order"], created["payment"]
    assert order["wechat_fen"] == 8_850
    merchant = world.merchants[0]
    assert merchant.merchant_private_key_pem is not None
    key = load_private_key(merchant.merchant_private_key_pem)
    expected = pay_sign(
        alice.appid,
        int(payment["timeStamp"]),
        payment["nonceStr"],
        payment["package"].removeprefix("prepay_id="),
        key,
    )
    assert payment["paySign"] == expected

    await alice.pay(order)

    _, shown = await alice.call("GET", f"/orders/{order['out_trade_no']}")
    assert shown["order"]["status"] == "paid"
    assert shown["order"]["points_earned"] == 88
    paid = await Order.get(out_trade_no=order["out_trade_no"])
    assert paid.store_id == seeded.store.id
    _, me = await alice.call("GET", "/me")
    assert me["member"]["points_balance"] >= 88
    _, history = await alice.call("GET", "/me/points?limit=5")
    assert history["entries"][0]["delta"] == 88


async def test_a_repeated_create_with_the_same_idempotency_key_is_one_order(
    alice: MiniProgram, seeded: Seeded
) -> None:
    body = {"store_id": seeded.store.id, "amount_fen": 1_200}

    first = await alice.call("POST", "/orders", body, **{"Idempotency-Key": "tap-1"})
    again = await alice.call("POST", "/orders", body, **{"Idempotency-Key": "tap-1"})
    other = await alice.call(
        "POST", "/orders", body | {"amount_fen": 1_300}, **{"Idempotency-Key": "tap-1"}
    )
    with_balance = await alice.call(
        "POST", "/orders", body | {"stored_value_fen": 100}, **{"Idempotency-Key": "tap-1"}
    )

    assert first[1]["order"]["out_trade_no"] == again[1]["order"]["out_trade_no"]
    assert again[1]["payment"]["package"] == first[1]["payment"]["package"]
    assert (other[0], other[1]["reason"]) == (409, "idempotency_key_reused")
    assert (with_balance[0], with_balance[1]["reason"]) == (409, "idempotency_key_reused")


async def test_a_recharge_then_a_mixed_payment_with_the_balance(
    alice: MiniProgram, seeded: Seeded, client: HubClient
) -> None:
    _, tiers = await alice.call("GET", "/recharge-tiers")
    assert tiers["tiers"][0] == {"pay_fen": 50_000, "bonus_fen": 5_000}
    _, recharge = await alice.call("POST", "/recharges", {"amount_fen": 50_000})
    await alice.pay(recharge["order"])

    _, mixed = await alice.call(
        "POST",
        "/orders",
        {"store_id": seeded.store.id, "amount_fen": 60_000, "stored_value_fen": 54_000},
    )
    assert mixed["order"]["wechat_fen"] == 6_000
    await alice.pay(mixed["order"])

    _, balance = await alice.call("GET", "/me/stored-value")
    assert (balance["principal_fen"], balance["bonus_fen"]) == (0, 1_000)
    kinds = [entry["kind"] for entry in balance["entries"]]
    assert kinds == ["spend", "recharge"]
    assert balance["total_fen"] == 1_000
    # The brand's CRM sees the same ledger.
    _, me = await alice.call("GET", "/me")
    key = await api_keys.create_api_key(seeded.brand, "crm", Actor.cli())
    crm = await client.get(
        f"/api/v1/members/{me['member']['id']}/stored-value",
        headers={"Authorization": f"Bearer {key.plaintext}"},
    )
    assert await crm.json() == {k: balance[k] for k in balance}
    # My orders, a page at a time, newest first.
    _, newest = await alice.call("GET", "/me/orders?limit=1")
    _, older = await alice.call("GET", f"/me/orders?limit=1&before_id={newest['orders'][0]['id']}")
    _, rest = await alice.call("GET", f"/me/orders?limit=1&before_id={older['orders'][0]['id']}")
    assert [newest["orders"][0]["kind"], older["orders"][0]["kind"]] == ["sale", "recharge"]
    assert all(order["id"] < older["orders"][0]["id"] for order in rest["orders"])


async def test_a_paid_card_is_granted_when_its_payment_settles(alice: MiniProgram) -> None:
    _, cards = await alice.call("GET", "/cards")
    assert [card["code"] for card in cards["cards"]] == ["plus"]

    _, bought = await alice.call("POST", "/cards/plus/purchase")
    await alice.pay(bought["order"])

    _, me = await alice.call("GET", "/me")
    assert me["member"]["card"]["code"] == "plus"
    assert me["member"]["level"]["discount_percent"] == 12
    assert me["member"]["card_expires_at"] is not None
    _, discounted = await alice.call(
        "POST", "/orders", {"store_id": me["member"]["home_store_id"] or 1, "amount_fen": 10_000}
    )
    assert discounted["order"]["amount_fen"] == 8_800


async def test_a_refund_through_the_open_api_goes_to_wechat_and_settles_back(
    alice: MiniProgram, seeded: Seeded, client: HubClient, run_worker: RunWorker
) -> None:
    _, created = await alice.call(
        "POST", "/orders", {"store_id": seeded.store.id, "amount_fen": 10_000}
    )
    await alice.pay(created["order"])
    key = await api_keys.create_api_key(seeded.brand, "crm", Actor.cli())
    number = created["order"]["out_trade_no"]

    answer = await client.post(
        f"/api/v1/orders/{number}/refunds",
        json={"refund_fen": 4_000, "out_refund_no": "RF-1", "reason": "cold"},
        headers={"Authorization": f"Bearer {key.plaintext}"},
    )
    assert answer.status == 201, await answer.json()
    await run_worker()  # asks WeChat Pay
    settled = await control(
        alice.simulator, "POST", "/_sim/pay/refunds/RF-1/result", {"wait": True}
    )

    assert settled["deliveries"][0]["status"] == "delivered"
    order = await Order.get(out_trade_no=number)
    assert (order.status, order.refunded_fen) == (OrderStatus.PARTIALLY_REFUNDED, 4_000)
    _, history = await alice.call("GET", "/me/points?limit=1")
    assert history["entries"][0] == history["entries"][0] | {"kind": "reverse", "delta": -40}


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"amount_fen": 0}, 400, "invalid_request"),
        ({"amount_fen": "88.50"}, 400, "invalid_request"),
        ({"amount_fen": 100_000_001}, 400, "invalid_request"),
        ({"store_id": 999_999}, 404, "store_not_found"),
        ({"stored_value_fen": 1}, 422, "insufficient_balance"),
        ({"stored_value_fen": 20_000}, 400, "invalid_value"),
    ],
)
async def test_bad_orders_are_refused_and_change_nothing(
    alice: MiniProgram, seeded: Seeded, body: dict[str, Any], status: int, reason: str
) -> None:
    before = await Order.all().count()

    answer = await alice.call(
        "POST", "/orders", {"store_id": seeded.store.id, "amount_fen": 10_000} | body
    )

    assert (answer[0], answer[1]["reason"]) == (status, reason)
    assert await Order.all().count() == before


async def test_a_paused_store_and_another_member_s_order_are_refused(
    alice: MiniProgram, seeded: Seeded, client: HubClient, simulator: TestServer, world: World
) -> None:
    bob = MiniProgram(client, simulator, world, "bob")
    await bob.log_in()
    _, bobs = await bob.call("POST", "/orders", {"store_id": seeded.store.id, "amount_fen": 500})
    await seeded.store.__class__.filter(id=seeded.store.id).update(status=StoreStatus.PAUSED)

    paused = await alice.call("POST", "/orders", {"store_id": seeded.store.id, "amount_fen": 500})
    peek = await alice.call("GET", f"/orders/{bobs['order']['out_trade_no']}")

    assert (paused[0], paused[1]["reason"]) == (400, "store_paused")
    assert (peek[0], peek[1]["reason"]) == (404, "order_not_found")


async def test_logins_with_bad_codes_apps_or_tokens_are_refused(
    alice: MiniProgram, seeded: Seeded
) -> None:
    bad_code = await alice.client.post(
        f"{MP}/login", json={"appid": alice.appid, "code": "not-a-code"}
    )
    unknown_app = await alice.client.post(
        f"{MP}/login", json={"appid": "wx0000000000000000", "code": "x"}
    )
    no_token = await alice.client.get(f"{MP}/me")
    forged = await alice.client.get(f"{MP}/me", headers={"Authorization": "Bearer wxs_forged1"})
    with time_machine.travel(datetime.now(UTC) + timedelta(days=31)):
        expired = await alice.call("GET", "/me")

    assert (bad_code.status, (await bad_code.json())["reason"]) == (400, "invalid_code")
    assert (unknown_app.status, (await unknown_app.json())["reason"]) == (404, "unknown_app")
    assert (no_token.status, (await no_token.json())["reason"]) == (401, "missing_token")
    assert (forged.status, (await forged.json())["reason"]) == (401, "invalid_session")
    assert (expired[0], expired[1]["reason"]) == (401, "session_expired")


async def test_levels_show_progress_towards_the_next_one(
    alice: MiniProgram, seeded: Seeded
) -> None:
    _, created = await alice.call(
        "POST", "/orders", {"store_id": seeded.store.id, "amount_fen": 50_000}
    )
    await alice.pay(created["order"])

    _, me = await alice.call("GET", "/me")

    progress = {entry["rule"]: entry for entry in me["member"]["progress"]}
    assert progress["rolling_spend"]["current"] >= 50_000
    assert progress["rolling_spend"]["required"] == 200_000
    assert progress["invites"]["required"] == 5
    vip = await Level.get(code="vip", brand_id=seeded.brand.id)
    assert me["member"]["next_level"]["code"] == vip.code


JSAPI = "/v3/pay/transactions/jsapi"


async def test_when_wechat_pay_is_down_the_order_waits_for_the_same_key_again(
    alice: MiniProgram, seeded: Seeded
) -> None:
    await control(
        alice.simulator, "POST", "/_sim/faults/endpoints", {"endpoint": JSAPI, "status": 503}
    )
    body = {"store_id": seeded.store.id, "amount_fen": 1_500}

    down = await alice.call("POST", "/orders", body, **{"Idempotency-Key": "tap-9"})
    await control(alice.simulator, "DELETE", "/_sim/faults")
    back = await alice.call("POST", "/orders", body, **{"Idempotency-Key": "tap-9"})

    assert (down[0], down[1]["reason"]) == (503, "wechat_unavailable")
    assert back[0] == 201
    assert back[1]["order"]["status"] == "created"
    assert back[1]["payment"]["package"].startswith("prepay_id=")
    assert await Order.filter(client_key="tap-9").count() == 1
    await alice.pay(back[1]["order"])
    _, shown = await alice.call("GET", f"/orders/{back[1]['order']['out_trade_no']}")
    assert shown["order"]["status"] == "paid"


async def test_an_order_wechat_pay_refuses_is_closed_and_its_balance_given_back(
    alice: MiniProgram, seeded: Seeded
) -> None:
    _, recharge = await alice.call("POST", "/recharges", {"amount_fen": 50_000})
    await alice.pay(recharge["order"])
    await control(
        alice.simulator,
        "POST",
        "/_sim/faults/endpoints",
        {"endpoint": JSAPI, "status": 400, "times": 1},
    )
    body = {"store_id": seeded.store.id, "amount_fen": 1_500, "stored_value_fen": 500}

    refused = await alice.call("POST", "/orders", body, **{"Idempotency-Key": "tap-10"})
    again = await alice.call("POST", "/orders", body, **{"Idempotency-Key": "tap-10"})

    assert (refused[0], refused[1]["reason"]) == (503, "wechat_unavailable")
    assert (again[1]["order"]["status"], again[1]["payment"]) == ("closed", None)
    _, balance = await alice.call("GET", "/me/stored-value")
    assert balance["total_fen"] == 55_000


async def test_the_store_a_payment_code_opens_shows_its_name_and_my_discount(
    alice: MiniProgram, seeded: Seeded
) -> None:
    status, shown = await alice.call("GET", f"/stores/{seeded.store.id}")
    not_a_number = await alice.call("GET", "/stores/abc")
    unknown = await alice.call("GET", "/stores/999999")

    assert status == 200
    assert shown["store"]["name"] == seeded.store.name
    assert shown["store"]["status"] == "open"
    assert 0 <= shown["discount_percent"] < 100
    assert (not_a_number[0], not_a_number[1]["reason"]) == (404, "store_not_found")
    assert (unknown[0], unknown[1]["reason"]) == (404, "store_not_found")
