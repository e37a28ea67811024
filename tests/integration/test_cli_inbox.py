"""Operators inspect, count and replay callbacks from the command line."""

from datetime import UTC, datetime

import pytest

from hub.callbacks import inbox
from hub.callbacks.envelope import Envelope
from hub.cli.main import build_parser, execute
from hub.models.inbox import CallbackSource, InboxCallback, InboxStatus, RejectedCallback
from hub.models.order import Order, OrderStatus
from hub.services import orders
from hub.services.members import create_member
from hub.settings import Settings
from hub.vault import load_vault
from tests import builders
from tests.builders import MCHID, HubBrand


async def wxhub(settings: Settings, *argv: str) -> int:
    return await execute(build_parser().parse_args(list(argv)), settings)


@pytest.fixture
async def hub(db: None, settings: Settings) -> HubBrand:
    return await builders.create_hub_brand(load_vault(settings))


async def stored_payment(hub: HubBrand, settings: Settings) -> tuple[int, Order]:
    vault = load_vault(settings)
    member = await create_member(hub.brand, vault, phone="13800138000")
    order = await orders.create_order(
        hub.store, 500, mchid=MCHID, appid=builders.APPID, member=member
    )
    recorded = await inbox.record(
        Envelope(
            source=CallbackSource.WECHAT_PAY,
            account=MCHID,
            brand_id=hub.brand.id,
            event_type="TRANSACTION.SUCCESS",
            event_key="4200000001",
            occurred_at=datetime.now(UTC),
            payload={"resource": builders.transaction(order.out_trade_no, 500)},
        ),
        vault,
    )
    return recorded.inbox_id, order


async def test_replay_processes_a_stored_callback_once(
    hub: HubBrand, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    inbox_id, order = await stored_payment(hub, settings)

    assert await wxhub(settings, "inbox", "replay", str(inbox_id)) == 0
    assert await wxhub(settings, "inbox", "replay", str(inbox_id)) == 0

    assert capsys.readouterr().out.splitlines() == [f"{inbox_id}: done (paid)"] * 2
    await order.refresh_from_db()
    assert order.status is OrderStatus.PAID
    assert order.points_earned == 5


async def test_list_show_and_stats(
    hub: HubBrand, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    inbox_id, _ = await stored_payment(hub, settings)
    await RejectedCallback.create(
        source=CallbackSource.WECOM, account="ww1", reason="bad_signature", status_code=401
    )

    assert await wxhub(settings, "inbox", "list", "--status", "pending", "--since", "1h") == 0
    listed = capsys.readouterr().out
    assert await wxhub(settings, "inbox", "show", str(inbox_id)) == 0
    shown = capsys.readouterr().out
    assert await wxhub(settings, "inbox", "stats") == 0
    stats = capsys.readouterr().out
    assert await wxhub(settings, "inbox", "rejected", "--source", "wecom") == 0
    rejected = capsys.readouterr().out

    assert "TRANSACTION.SUCCESS" in listed
    assert '"event_key": "4200000001"' in shown
    assert '"out_trade_no"' in shown
    assert "stored   wechatpay   pending         1" in stats
    assert "refused  wecom       bad_signature                   1" in stats
    assert "bad_signature" in rejected


async def test_replay_of_an_unknown_id_and_bad_since_fail_clearly(
    hub: HubBrand, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await wxhub(settings, "inbox", "replay", "999") == 1
    assert "999: no such callback" in capsys.readouterr().err
    assert await wxhub(settings, "inbox", "list", "--since", "yesterday") == 1
    assert "since: must be a number" in capsys.readouterr().err


async def test_replay_failed_processes_every_failed_callback(
    hub: HubBrand, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    inbox_id, _ = await stored_payment(hub, settings)
    await InboxCallback.filter(id=inbox_id).update(status=InboxStatus.FAILED, attempts=10)

    assert await wxhub(settings, "inbox", "replay", "--failed") == 0

    assert (await InboxCallback.get(id=inbox_id)).status is InboxStatus.DONE
