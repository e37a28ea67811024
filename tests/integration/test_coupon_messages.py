"""Coupon messages are queued exactly once: on issuance, and "expiring soon" before expiry;
and the brand's message templates are set and listed with `wxhub message`."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from tortoise.transactions import in_transaction

from hub.cli.main import build_parser, execute
from hub.errors import InvalidValueError
from hub.models.audit import ActorType, AuditLog
from hub.models.coupon import Coupon, CouponStatus, IssueSource
from hub.models.member import Member
from hub.models.outbox import OutboxMessage
from hub.models.subscription import MessageTemplate
from hub.queue import TaskName
from hub.services import coupons, message_templates
from hub.services.audit import Actor
from hub.services.member_locks import lock_member
from hub.services.members import create_member
from hub.settings import Settings
from hub.vault import load_vault
from tests import builders
from tests.builders import APPID, HubBrand
from tests.integration.coupon_kit import give, make_template

ACTOR = Actor.cli()
TEMPLATE_ID = "CouponArrivalTemplate0000000000000000000001"


@pytest.fixture
async def hub(db: None, settings: Settings) -> HubBrand:
    return await builders.create_hub_brand(load_vault(settings))


@pytest.fixture
async def member(hub: HubBrand, settings: Settings) -> Member:
    return await create_member(hub.brand, load_vault(settings))


async def follow_ups() -> list[OutboxMessage]:
    return await OutboxMessage.filter(task=TaskName.NOTIFY_COUPON.value).order_by("id")


async def coupon_valid_for(template_code: str, hub: HubBrand, member: Member, days: int) -> Coupon:
    template = await make_template(hub.brand, template_code, valid_days=days)
    return await give(template, member)


# -- issuance --------------------------------------------------------------------------------


async def test_issuing_a_coupon_queues_its_message_once_also_when_repeated(
    hub: HubBrand, member: Member
) -> None:
    template = await make_template(hub.brand, "ten-off")

    coupon = await give(template, member, key="gift-1")
    again = await give(template, member, key="gift-1")

    assert again.id == coupon.id
    rows = await follow_ups()
    assert [(row.key, row.payload) for row in rows] == [
        (f"coupon:{coupon.id}:issued", {"coupon_id": coupon.id, "message": "coupon_issued"})
    ]


async def test_concurrent_issuance_with_one_key_queues_one_message(
    hub: HubBrand, member: Member
) -> None:
    template = await make_template(hub.brand, "ten-off")

    given = await asyncio.gather(*(give(template, member, key="same") for _ in range(5)))

    assert len({coupon.id for coupon in given}) == 1
    assert [row.key for row in await follow_ups()] == [f"coupon:{given[0].id}:issued"]


async def test_a_coupon_given_by_a_rule_queues_its_message_and_a_skipped_one_none(
    hub: HubBrand, member: Member
) -> None:
    await make_template(hub.brand, "upgrade-gift")
    await make_template(hub.brand, "sold-out", stock_total=0)
    now = datetime.now(UTC)

    async with in_transaction():
        locked = await lock_member(member.id)
        given = await coupons.give_coupon(
            locked, "upgrade-gift", "upgrade:1", IssueSource.UPGRADE, ACTOR, now
        )
        skipped = await coupons.give_coupon(
            locked, "sold-out", "upgrade:2", IssueSource.UPGRADE, ACTOR, now
        )

    assert given is not None
    assert skipped is None
    assert [row.key for row in await follow_ups()] == [f"coupon:{given.id}:issued"]


# -- expiry reminders ------------------------------------------------------------------------


async def test_reminders_are_queued_once_for_available_coupons_within_the_window(
    hub: HubBrand, member: Member
) -> None:
    soon = await coupon_valid_for("soon", hub, member, 2)
    later = await coupon_valid_for("later", hub, member, 10)
    used = await coupon_valid_for("used", hub, member, 2)
    reserved = await coupon_valid_for("reserved", hub, member, 2)
    expired = await coupon_valid_for("expired", hub, member, 1)
    await Coupon.filter(id=used.id).update(status=CouponStatus.USED, uses_left=0)
    await Coupon.filter(id=reserved.id).update(status=CouponStatus.RESERVED)
    await OutboxMessage.all().delete()  # the issuance messages
    tomorrow = datetime.now(UTC) + timedelta(days=1, minutes=1)
    await coupons.expire_coupons(tomorrow)

    first = await coupons.queue_expiry_reminders(tomorrow, 3)
    second = await coupons.queue_expiry_reminders(tomorrow + timedelta(hours=1), 3)

    assert (first, second) == (1, 0)
    rows = await follow_ups()
    assert [(row.key, row.payload["message"]) for row in rows] == [
        (f"coupon:{soon.id}:expiring", "coupon_expiring")
    ]
    assert (await Coupon.get(id=soon.id)).reminded_at == tomorrow
    for untouched in (later, used, reserved, expired):
        assert (await Coupon.get(id=untouched.id)).reminded_at is None
    # Nine days on, the later coupon is within the window too.
    assert await coupons.queue_expiry_reminders(tomorrow + timedelta(days=8), 3) == 1


async def test_no_reminders_when_turned_off(hub: HubBrand, member: Member) -> None:
    await coupon_valid_for("soon", hub, member, 1)

    assert await coupons.queue_expiry_reminders(datetime.now(UTC), 0) == 0
    assert await Coupon.filter(reminded_at__isnull=False).count() == 0


async def test_concurrent_reminder_runs_queue_one_reminder_per_coupon(
    hub: HubBrand, member: Member
) -> None:
    template = await make_template(hub.brand, "soon", valid_days=2)
    given = [await give(template, member) for _ in range(12)]
    await OutboxMessage.all().delete()
    now = datetime.now(UTC)

    counts = await asyncio.gather(*(coupons.queue_expiry_reminders(now, 3) for _ in range(4)))

    assert sum(counts) == len(given)
    keys = [row.key for row in await follow_ups()]
    assert sorted(keys) == sorted(f"coupon:{coupon.id}:expiring" for coupon in given)


# -- wxhub message ---------------------------------------------------------------------------


async def wxhub(settings: Settings, *argv: str) -> int:
    return await execute(build_parser().parse_args(list(argv)), settings)


async def test_message_set_records_the_template_audited_and_list_shows_it(
    hub: HubBrand, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ("message", "set", "coupon_issued", "--brand", "acme", "--template-id", TEMPLATE_ID)

    assert await wxhub(settings, *base) == 0
    assert "thing1 thing2 date3 phrase4" in capsys.readouterr().out
    assert await wxhub(settings, *base, "--page", "/pages/coupon/list", "--inactive") == 0
    assert await wxhub(settings, "message", "list", "--brand", "acme") == 0
    listed = capsys.readouterr().out

    row = await MessageTemplate.get(brand=hub.brand, name="coupon_issued")
    assert (row.appid, row.template_id, row.page, row.active) == (
        APPID,
        TEMPLATE_ID,
        "pages/coupon/list",
        False,
    )
    assert "coupon_issued" in listed
    assert "inactive" in listed
    audits = await AuditLog.filter(action="message_template.set").order_by("id")
    assert [a.actor_type for a in audits] == [ActorType.CLI, ActorType.CLI]
    assert audits[1].before is not None
    assert audits[1].before["active"] is True


@pytest.mark.parametrize(
    ("name", "template_id", "field"),
    [
        ("contact_welcome", TEMPLATE_ID, "name"),  # not a subscription message
        ("nope", TEMPLATE_ID, "name"),
        ("coupon_issued", "bad id!", "template_id"),
    ],
)
async def test_message_set_refuses_unknown_messages_and_bad_ids(
    hub: HubBrand, name: str, template_id: str, field: str
) -> None:
    setting = message_templates.MessageSetting(name=name, template_id=template_id)

    with pytest.raises(InvalidValueError) as refused:
        await message_templates.set_message_template(hub.brand, setting, ACTOR)

    assert refused.value.field == field
    assert await MessageTemplate.all().count() == 0


async def test_message_set_exits_1_for_a_mini_program_of_another_brand(
    hub: HubBrand, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    status = await wxhub(
        settings,
        *("message", "set", "coupon_issued", "--brand", "acme"),
        *("--template-id", TEMPLATE_ID, "--appid", "wx0000000000000001"),
    )

    assert status == 1
    assert "not a mini-program of brand acme" in capsys.readouterr().err
