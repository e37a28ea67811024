"""Coupon messages against the simulator: a member who accepted the template in the
mini-program is told of a new coupon; one who did not, or a brand that set no template, is not;
WeChat's refusals use the grant up or fail the follow-up for good."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from arq.worker import Worker

from hub.dates import BEIJING
from hub.models.coupon import Coupon, CouponTemplate
from hub.models.member import MemberOpenid
from hub.models.outbox import OutboxMessage, OutboxStatus
from hub.models.subscription import SubscriptionGrant, SubscriptionMessage
from hub.services import api_keys, message_templates
from hub.services.audit import Actor
from hub.simulator.demo import DEMO_APPID
from tests import builders
from tests.e2e.clients.conftest import control
from tests.e2e.workers.conftest import HubClient, Seeded

RunWorker = Callable[[], Awaitable[Worker]]
# The demo mini-program's 「优惠券到账通知」: thing1 thing2 date3 phrase4, as coupon_issued needs.
ARRIVAL = "DemoCouponArrival00000000000000000000000001"


@pytest.fixture
async def template(seeded: Seeded) -> CouponTemplate:
    """¥10 off an order of ¥50; the seeded welcome coupons' messages are set aside."""
    await OutboxMessage.all().delete()
    return await builders.create_coupon_template(seeded.brand, "e2e-cash", name="满50减10")


async def configure(seeded: Seeded, name: str = "coupon_issued", **more: Any) -> None:
    setting = message_templates.MessageSetting(name=name, template_id=ARRIVAL, **more)
    await message_templates.set_message_template(seeded.brand, setting, Actor.cli())


async def accept(simulator: TestServer, user: str, template_id: str = ARRIVAL) -> None:
    """The user taps "allow" in wx.requestSubscribeMessage; WeChat pushes the answer."""
    answered = await control(
        simulator,
        "POST",
        "/_sim/mp/subscriptions",
        {"user": user, "answers": [{"template_id": template_id}], "wait": True},
    )
    assert answered["deliveries"][0]["status"] == "delivered", answered


async def issue(client: HubClient, seeded: Seeded, user: str, key: str) -> dict[str, Any]:
    """The brand's CRM gives the member a coupon through the open API."""
    api_key = await api_keys.create_api_key(seeded.brand, "crm", Actor.cli())
    answer = await client.post(
        "/api/v1/coupons",
        json={"template_code": "e2e-cash", "member_id": seeded.members[user].id, "issue_key": key},
        headers={"Authorization": f"Bearer {api_key.plaintext}"},
    )
    body: dict[str, Any] = await answer.json()
    assert answer.status == 201, body
    coupon: dict[str, Any] = body["coupon"]
    return coupon


async def follow_up(coupon_id: int, event: str = "issued") -> OutboxMessage:
    return await OutboxMessage.get(key=f"coupon:{coupon_id}:{event}")


async def sent_messages(simulator: TestServer) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = (await control(simulator, "GET", "/_sim/messages"))[
        "subscribe"
    ]
    return received


async def openid_of(seeded: Seeded, user: str) -> MemberOpenid:
    """The member's identity under the demo mini-program (they have a shop openid too)."""
    return await MemberOpenid.get(member_id=seeded.members[user].id, appid=DEMO_APPID)


async def test_a_member_who_accepted_gets_the_coupon_message_once(
    seeded: Seeded,
    template: CouponTemplate,
    client: HubClient,
    simulator: TestServer,
    run_worker: RunWorker,
) -> None:
    await configure(seeded)
    await accept(simulator, "alice")

    coupon = await issue(client, seeded, "alice", "spring-1")
    await run_worker()
    await run_worker()  # nothing more happens

    row = await follow_up(coupon["id"])
    assert (row.status, row.outcome) == (OutboxStatus.DONE, "sent")
    identity = await openid_of(seeded, "alice")
    [message] = await sent_messages(simulator)
    until = (await Coupon.get(id=coupon["id"])).valid_until.astimezone(BEIJING)
    assert message["openid"] == identity.openid
    assert message["template_id"] == ARRIVAL
    assert message["page"] == f"pages/coupon/detail?id={coupon['id']}"
    assert message["data"] == {
        "thing1": "满50减10",
        "thing2": "到店出示或小程序下单时使用",
        "date3": f"{until.year}年{until.month}月{until.day}日 {until:%H:%M}",
        "phrase4": "已到账",
    }
    grant = await SubscriptionGrant.get(openid=identity.openid, template_id=ARRIVAL)
    assert grant.remaining == 0  # the one-time grant is spent
    recorded = await SubscriptionMessage.get()
    assert (recorded.msgid, recorded.openid) == (str(message["msgid"]), identity.openid)


async def test_without_acceptance_nothing_is_sent(
    seeded: Seeded,
    template: CouponTemplate,
    client: HubClient,
    simulator: TestServer,
    run_worker: RunWorker,
) -> None:
    await configure(seeded)
    await accept(simulator, "bob")  # bob accepted; alice did not

    coupon = await issue(client, seeded, "alice", "spring-1")
    await run_worker()

    row = await follow_up(coupon["id"])
    assert (row.status, row.outcome) == (OutboxStatus.DONE, "no_grant")
    assert await sent_messages(simulator) == []


@pytest.mark.parametrize("inactive", [False, True])
async def test_without_the_brand_configuring_the_message_nothing_is_sent(
    seeded: Seeded,
    template: CouponTemplate,
    client: HubClient,
    simulator: TestServer,
    run_worker: RunWorker,
    inactive: bool,
) -> None:
    if inactive:
        await configure(seeded, active=False)
    await accept(simulator, "alice")

    coupon = await issue(client, seeded, "alice", "spring-1")
    await run_worker()

    row = await follow_up(coupon["id"])
    assert (row.status, row.outcome) == (OutboxStatus.DONE, "not_configured")
    assert await sent_messages(simulator) == []


async def test_wechat_refusing_for_lack_of_a_grant_uses_the_grant_up(
    seeded: Seeded,
    template: CouponTemplate,
    client: HubClient,
    simulator: TestServer,
    run_worker: RunWorker,
) -> None:
    await configure(seeded)
    await accept(simulator, "alice")
    identity = await openid_of(seeded, "alice")
    # The hub counts two sends; WeChat granted one (a popup answer the hub saw twice, say).
    await SubscriptionGrant.filter(openid=identity.openid).update(remaining=2)

    first = await issue(client, seeded, "alice", "spring-1")
    await run_worker()
    second = await issue(client, seeded, "alice", "spring-2")
    await run_worker()

    assert (await follow_up(first["id"])).outcome == "sent"
    row = await follow_up(second["id"])
    assert (row.status, row.outcome) == (OutboxStatus.DONE, "refused")
    assert len(await sent_messages(simulator)) == 1
    grant = await SubscriptionGrant.get(openid=identity.openid, template_id=ARRIVAL)
    assert grant.remaining == 0


async def test_expiring_soon_is_sent_by_the_expiry_job_and_a_mismatched_template_fails(
    seeded: Seeded,
    template: CouponTemplate,
    simulator: TestServer,
    run_worker: RunWorker,
) -> None:
    """The reminder is queued by the expiry cron (run at worker start); configured with a
    template whose keywords differ, WeChat answers 47003 and the follow-up fails, unretried."""
    soon = await builders.create_coupon_template(seeded.brand, "soon", valid_days=2)
    coupon = await builders.give_coupon(soon, seeded.members["alice"].id)
    await configure(seeded, name="coupon_expiring")
    await accept(simulator, "alice")

    await run_worker()
    await run_worker()

    row = await follow_up(coupon.id, "expiring")
    assert row.status is OutboxStatus.FAILED
    assert row.attempts == 1
    assert row.last_error is not None
    assert "47003" in row.last_error
    assert "data.date2" in row.last_error or "data.thing2" in row.last_error
    assert await sent_messages(simulator) == []
    reminded_at = (await Coupon.get(id=coupon.id)).reminded_at
    assert reminded_at is not None
    assert reminded_at <= datetime.now(UTC)
