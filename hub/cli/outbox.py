"""Operator commands for follow-up work (the outbox): list, show, replay."""

import argparse
import json
import sys
from datetime import datetime

from hub import outbox
from hub.cli.inbox import since
from hub.models.outbox import OutboxMessage, OutboxStatus
from hub.queue import TaskName, create_queue_pool
from hub.settings import Settings

_HANDED = "handed to the workers"
# Without redis.url (wxhub run's embedded Redis) the running process's relay hands them over.
_PENDING = "pending; the running worker's relay hands them over within seconds"


def add_parsers(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    group = commands.add_parser(
        "outbox", help="follow-up work: WeChat calls and messages caused by callbacks"
    ).add_subparsers(required=True)
    listing = group.add_parser("list", help="follow-ups, newest first")
    listing.add_argument("--status", choices=[status.value for status in OutboxStatus])
    listing.add_argument("--task", choices=[task.value for task in TaskName])
    listing.add_argument("--since", help="only the last 30m, 6h, 2d …")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(func=list_messages, needs_database=True)

    show = group.add_parser("show", help="one follow-up with its payload")
    show.add_argument("id", type=int)
    show.set_defaults(func=show_message, needs_database=True)

    replay = group.add_parser(
        "replay", help="hand failed follow-ups to the workers again (others are left alone)"
    )
    replay.add_argument("ids", type=int, nargs="*", help="outbox ids")
    replay.add_argument("--failed", action="store_true", help="every failed follow-up")
    replay.set_defaults(func=replay_messages, needs_database=True)


async def list_messages(args: argparse.Namespace, _settings: Settings) -> int:
    scope: dict[str, object] = {}
    if args.status:
        scope["status"] = args.status
    if args.task:
        scope["task"] = args.task
    if (moment := since(args.since)) is not None:
        scope["created_at__gte"] = moment
    for row in await OutboxMessage.filter(**scope).order_by("-id").limit(args.limit):
        print(
            f"{row.id:>8} {row.created_at:%Y-%m-%d %H:%M:%S} {row.task:<20} "
            f"{row.status.value:<8} {row.attempts:>3} {row.last_error or row.outcome or ''}"
        )
    return 0


async def show_message(args: argparse.Namespace, _settings: Settings) -> int:
    row = await OutboxMessage.get_or_none(id=args.id)
    if row is None:
        print(f"wxhub: no follow-up {args.id}", file=sys.stderr)
        return 1
    moments = ("created_at", "enqueued_at", "leased_at", "done_at")
    print(
        json.dumps(
            {"id": row.id, "task": row.task, "key": row.key, "status": row.status.value}
            | {"attempts": row.attempts, "last_error": row.last_error, "outcome": row.outcome}
            | {name: _iso(getattr(row, name)) for name in moments}
            | {"payload": row.payload},
            ensure_ascii=False,
            indent=2,
        )
    )
    return 0


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


async def replay_messages(args: argparse.Namespace, settings: Settings) -> int:
    ids = list(args.ids)
    if args.failed:
        failed = OutboxMessage.filter(status=OutboxStatus.FAILED).only("id")
        ids += [row.id for row in await failed]
    if not ids:
        print("wxhub: name outbox ids or --failed", file=sys.stderr)
        return 1
    queue = await create_queue_pool(settings) if settings.redis.url else None
    try:
        reset = await outbox.replay(ids, queue)
    finally:
        if queue is not None:
            await queue.aclose()
    print(f"{reset} follow-up(s) {_HANDED if queue is not None else _PENDING}")
    if skipped := len(set(ids)) - reset:
        print(f"{skipped} not failed (or unknown), left alone", file=sys.stderr)
    return 0 if reset else 1
