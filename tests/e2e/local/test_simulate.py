"""`wxhub simulate`: callbacks made with the World's keys, into the hub app, and their effects."""

import argparse
import asyncio
import time
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from hub.cli.simulate import yuan
from hub.models.channels_order import ChannelsOrder, ChannelsOrderStatus
from hub.models.contact import ContactLink, ContactStatus
from hub.models.inbox import InboxCallback, RejectedCallback
from hub.models.member import Member
from hub.models.order import Order, OrderStatus
from hub.models.points import PointsEntry
from hub.models.staff import Staff
from hub.models.subscription import GrantStatus, SubscriptionGrant
from hub.services.audit import Actor
from hub.services.contacts import contact_state
from hub.settings import Settings
from hub.simulator import seed
from hub.simulator.context import simulator_key
from hub.simulator.demo import generate_world
from hub.simulator.seed import SeedReport
from hub.simulator.world import KeyMode, World, external_userid_of, save_world
from hub.vault import load_vault
from tests.conftest import make_settings
from tests.e2e.local.conftest import (
    HubClient,
    ServerFactory,
    demo_order,
    hub_url,
    world_path,
    wxhub,
)

# What WeChat Pay's first two retries wait (§1.5): 15 s each.
FIRST_PAY_RETRIES_S = (15, 15)


def certificate_downloads(simulator: TestServer) -> int:
    requests = simulator.app[simulator_key].state.requests
    return sum(record.path == "/v3/certificates" for record in requests)


async def simulate(settings: Settings, client: HubClient, *argv: str) -> int:
    return await wxhub(settings, "simulate", argv[0], "--hub", hub_url(client), *argv[1:])


async def paid(settings: Settings, client: HubClient, user: str = "alice") -> Order:
    order = await demo_order(user)
    amount = seed.yuan(order.amount_fen)
    pay = ("pay", "--order", order.out_trade_no, "--amount", amount, "--user", user)
    assert await simulate(settings, client, *pay) == 0
    await order.refresh_from_db()
    return order


async def test_payment_settles_the_order_and_credits_points(
    demo: SeedReport,
    client: HubClient,
    settings: Settings,
    simulator: TestServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    order = await paid(settings, client)

    assert order.status is OrderStatus.PAID
    assert order.points_earned == 88
    member = await Member.get(id=order.member_id)
    assert (member.points_balance, member.total_spend_fen) == (88, 8_800)
    out = capsys.readouterr().out
    assert f"/callbacks/wechatpay/{order.mchid}" in out
    assert "copy 1, attempt 1: 204" in out
    # Certificate mode (the World's): the hub fetched the platform certificate from WeChat.
    assert certificate_downloads(simulator) == 1


async def test_a_world_switched_to_public_key_mode_is_followed_by_demo_and_verified(
    demo: SeedReport, client: HubClient, settings: Settings, world: World, simulator: TestServer
) -> None:
    merchant = world.merchants[0].model_copy(update={"notification_key_mode": KeyMode.PUBLIC_KEY})
    switched = world.model_copy(update={"merchants": (merchant,)})
    save_world(switched, world_path(settings))

    report = await seed.seed_demo(switched, load_vault(settings), Actor.cli())
    order = await paid(settings, client, "bob")

    assert report.created == []
    assert report.updated == [f"pay_merchant {merchant.mchid}"]
    assert order.status is OrderStatus.PAID
    assert certificate_downloads(simulator) == 0


async def test_v2_payment_settles_the_order(
    demo: SeedReport, client: HubClient, settings: Settings
) -> None:
    order = await demo_order("carol")

    status = await simulate(
        settings, client, "pay", "--order", order.out_trade_no, "--amount", "128", "--v2"
    )

    assert status == 0
    await order.refresh_from_db()
    assert order.status is OrderStatus.PAID


async def test_refund_takes_points_back_in_proportion(
    demo: SeedReport, client: HubClient, settings: Settings
) -> None:
    order = await paid(settings, client)

    status = await simulate(
        settings,
        client,
        "refund",
        "--order",
        order.out_trade_no,
        "--refund-no",
        "R0001",
        "--amount",
        "22.00",
        "--total",
        "88.00",
    )

    assert status == 0
    await order.refresh_from_db()
    assert order.status is OrderStatus.PARTIALLY_REFUNDED
    assert order.refunded_fen == 2_200
    assert (await Member.get(id=order.member_id)).points_balance == 66


async def test_subscribe_popup_grants_accepted_templates(
    demo: SeedReport, client: HubClient, settings: Settings, world: World
) -> None:
    receipt, points = world.templates[0].template_id, world.templates[1].template_id

    status = await simulate(
        settings,
        client,
        "subscribe-popup",
        "--user",
        "alice",
        "--accept",
        receipt[:18],
        "--reject",
        points,
    )

    assert status == 0
    grants = {grant.template_id: grant for grant in await SubscriptionGrant.all()}
    assert grants[receipt].status is GrantStatus.ACCEPTED
    assert grants[receipt].remaining == 1
    assert grants[receipt].openid == world.users[0].openids[world.mini_programs[0].appid]
    assert grants[points].status is GrantStatus.REJECTED


async def test_one_answer_can_come_as_a_json_object(
    demo: SeedReport, client: HubClient, settings: Settings, world: World
) -> None:
    template = world.templates[0].template_id
    argv = ("subscribe-popup", "--user", "bob", "--accept", template, "--as-object")

    assert await simulate(settings, client, *argv) == 0
    assert (await SubscriptionGrant.get()).remaining == 1


async def test_any_mini_program_event_is_stored_and_acknowledged(
    demo: SeedReport, client: HubClient, settings: Settings
) -> None:
    argv = ("mp-event", "--event", "user_enter_tempsession", "--field", "SessionFrom=qr")

    assert await simulate(settings, client, *argv, "--field", "Scene:=1011") == 0
    row = await InboxCallback.get()
    assert (row.event_type, row.outcome) == ("user_enter_tempsession", "ignored")


async def test_wecom_contact_add_links_the_guide_and_store_and_delete_ends_it(
    demo: SeedReport, client: HubClient, settings: Settings, world: World
) -> None:
    guide = await Staff.get(wecom_userid="guide01")
    assert guide.store_id is not None
    state = contact_state(guide.store_id, guide.id)
    added = ("wecom-contact", "--userid", "guide01", "--user", "alice", "--state", state)

    assert await simulate(settings, client, *added) == 0
    link = await ContactLink.get()
    assert (link.status, link.guide_id, link.store_id) == (
        ContactStatus.ACTIVE,
        guide.id,
        guide.store_id,
    )
    assert link.external_userid == external_userid_of(world.corps[0].corpid, world.users[0])

    ended = ("wecom-contact", "--change", "del_follow_user", "--userid", "guide01")
    assert await simulate(settings, client, *ended, "--user", "alice") == 0
    await link.refresh_from_db()
    assert (link.status, link.end_reason) == (ContactStatus.ENDED, "deleted_by_customer")


async def test_channels_order_pay_marks_the_shop_order_paid(
    demo: SeedReport, client: HubClient, settings: Settings
) -> None:
    order_id = "3705115058471208704"
    argv = ("channels-order", "--event", "channels_ec_order_pay", "--order-id", order_id)

    assert await simulate(settings, client, *argv) == 0
    order = await ChannelsOrder.get(order_id=order_id)
    assert order.status is ChannelsOrderStatus.PAID


async def test_repeated_and_concurrent_copies_land_once(
    demo: SeedReport, client: HubClient, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    order = await demo_order("alice")
    argv = ("pay", "--order", order.out_trade_no, "--amount", "88.00")

    assert await simulate(settings, client, *argv, "--repeat", "3", "--concurrency", "5") == 0

    assert "15 of 15 cop(ies) answered success" in capsys.readouterr().out
    assert await InboxCallback.all().count() == 1
    assert await PointsEntry.all().count() == 1
    assert (await Member.get(id=order.member_id)).points_balance == 88


@pytest.mark.parametrize("change", ["other_keys", "unknown_account"])
async def test_a_refused_callback_exits_1_with_the_hubs_answer(
    change: str,
    demo: SeedReport,
    client: HubClient,
    settings: Settings,
    world: World,
    other_world: World,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    order = await demo_order("alice")
    foreign = other_world
    if change == "unknown_account":
        merchant = world.merchants[0].model_copy(update={"mchid": "1900099999"})
        foreign = world.model_copy(update={"merchants": (merchant,)})
    path = tmp_path / "foreign.json"
    save_world(foreign, path)
    argv = ("pay", "--world", str(path), "--order", order.out_trade_no, "--amount", "88.00")

    assert await simulate(settings, client, *argv) == 1

    expected = {"other_keys": "401", "unknown_account": "404"}[change]
    reason = {"other_keys": "unknown_serial", "unknown_account": "unknown_account"}[change]
    error = capsys.readouterr().err
    assert f"the hub refused TRANSACTION.SUCCESS (0 of 1 cop(ies) accepted): {expected}" in error
    assert reason in error
    await order.refresh_from_db()
    assert order.status is OrderStatus.CREATED
    assert (await RejectedCallback.get()).reason == reason


@pytest.fixture(scope="session")
def other_world() -> World:
    """A World with the same ids as the session's, and keys of its own."""
    return generate_world()


# -- without a hub database: a hub that fails, then recovers ---------------------------------------


class FlakyHub:
    """Answers the given statuses in turn (then 204), noting when each attempt came."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.arrivals: list[float] = []

    async def handle(self, _request: web.Request) -> web.Response:
        self.arrivals.append(time.monotonic())
        status = self.statuses.pop(0) if self.statuses else 204
        return web.json_response({"code": "FAIL", "message": "busy"}, status=status)


@pytest.fixture
def emitter_settings(tmp_path: Path, world: World) -> Settings:
    """Settings for the emitter alone: the World in its data dir, retries 1000 times faster."""
    settings = make_settings(tmp_path / "var", simulator={"time_scale": 1000.0})
    save_world(world, world_path(settings))
    return settings


async def flaky_hub(aiohttp_server: ServerFactory, hub: FlakyHub) -> str:
    app = web.Application()
    app.router.add_post("/callbacks/wechatpay/{mchid}", hub.handle)
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/")


async def test_follow_retries_resends_on_wechats_compressed_schedule(
    aiohttp_server: ServerFactory,
    emitter_settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    hub = FlakyHub(500, 500)
    url = await flaky_hub(aiohttp_server, hub)
    argv = ("pay", "--hub", url, "--order", "W1234567", "--amount", "1", "--follow-retries")

    assert await wxhub(emitter_settings, "simulate", *argv) == 0

    out = capsys.readouterr().out
    assert "copy 1, attempt 1: 500" in out
    assert "copy 1, attempt 3: 204" in out
    gaps = [later - earlier for earlier, later in zip(hub.arrivals, hub.arrivals[1:], strict=False)]
    assert len(gaps) == 2
    for gap, wait_s in zip(gaps, FIRST_PAY_RETRIES_S, strict=True):
        assert gap >= wait_s / 1000.0


async def test_without_follow_retries_a_failure_answer_is_final(
    aiohttp_server: ServerFactory,
    emitter_settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    hub = FlakyHub(503)
    url = await flaky_hub(aiohttp_server, hub)

    status = await wxhub(
        emitter_settings, "simulate", "pay", "--hub", url, "--order", "W1234567", "--amount", "1"
    )

    assert status == 1
    assert len(hub.arrivals) == 1
    assert '503 {"code": "FAIL", "message": "busy"}' in capsys.readouterr().err


async def test_a_missing_world_is_explained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(tmp_path / "empty")
    argv = ("simulate", "pay", "--order", "W1234567", "--amount", "1")

    assert await wxhub(settings, *argv) == 1
    assert "no simulator World at" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "fen"), [("88", 8_800), ("88.5", 8_850), ("88.00", 8_800), ("0.01", 1)]
)
def test_amounts_are_yuan_and_become_fen(text: str, fen: int) -> None:
    assert yuan(text) == fen


@pytest.mark.parametrize("text", ["0", "-1", "0.001", "abc", "inf", "NaN"])
def test_amounts_that_are_not_whole_fen_are_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        yuan(text)


async def test_storms_are_sent_at_once(
    aiohttp_server: ServerFactory, emitter_settings: Settings
) -> None:
    inflight, peak = 0, 0
    release = asyncio.Event()

    async def slow(_request: web.Request) -> web.Response:
        nonlocal inflight, peak
        inflight += 1
        peak = max(peak, inflight)
        if peak == 4:
            release.set()
        await asyncio.wait_for(release.wait(), 5)
        inflight -= 1
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/callbacks/wechatpay/{mchid}", slow)
    url = str((await aiohttp_server(app)).make_url("")).rstrip("/")
    argv = ("pay", "--hub", url, "--order", "W1234567", "--amount", "1", "--concurrency", "4")

    assert await wxhub(emitter_settings, "simulate", *argv) == 0
    assert peak == 4
