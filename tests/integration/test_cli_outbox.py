"""Operators inspect follow-up work and hand failed follow-ups to the workers again."""

import pytest
from redis.asyncio import Redis

from hub.cli.main import build_parser, execute
from hub.models.outbox import OutboxMessage, OutboxStatus
from hub.settings import Settings


async def wxhub(settings: Settings, *argv: str) -> int:
    return await execute(build_parser().parse_args(list(argv)), settings)


@pytest.fixture
async def failed(db: None) -> OutboxMessage:
    return await OutboxMessage.create(
        task="sync_channels_order",
        key="inbox:7:channels_order",
        payload={"channels_order_id": 3},
        status=OutboxStatus.FAILED,
        attempts=6,
        last_error="DeliveryError: WeChat busy",
    )


async def test_list_and_show(
    failed: OutboxMessage, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    await OutboxMessage.create(task="welcome_contact", key="k2", status=OutboxStatus.DONE)

    assert await wxhub(settings, "outbox", "list", "--status", "failed", "--since", "1h") == 0
    listed = capsys.readouterr().out.splitlines()
    assert await wxhub(settings, "outbox", "show", str(failed.id)) == 0
    shown = capsys.readouterr().out

    assert len(listed) == 1
    assert "sync_channels_order" in listed[0]
    assert "DeliveryError: WeChat busy" in listed[0]
    assert '"channels_order_id": 3' in shown
    assert '"key": "inbox:7:channels_order"' in shown
    assert await wxhub(settings, "outbox", "show", "999") == 1


async def test_replay_hands_a_failed_follow_up_to_the_workers_under_a_new_job_id(
    failed: OutboxMessage, settings: Settings, redis: Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await wxhub(settings, "outbox", "replay", "--failed") == 0

    row = await OutboxMessage.get(id=failed.id)
    assert (row.status, row.last_error) == (OutboxStatus.ENQUEUED, None)
    assert await redis.exists(f"arq:job:outbox:{failed.id}:6") == 1
    assert "1 follow-up(s) handed to the workers" in capsys.readouterr().out


async def test_replay_leaves_unfailed_rows_alone(
    db: None, settings: Settings, redis: Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    done = await OutboxMessage.create(task="welcome_contact", key="k", status=OutboxStatus.DONE)

    assert await wxhub(settings, "outbox", "replay", str(done.id)) == 1
    assert await wxhub(settings, "outbox", "replay") == 1

    assert (await OutboxMessage.get(id=done.id)).status is OutboxStatus.DONE
    assert await redis.keys("arq:job:*") == []
    assert "1 not failed (or unknown), left alone" in capsys.readouterr().err
