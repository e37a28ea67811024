"""Operator commands for stored and refused callbacks: list, show, replay, stats."""

import argparse
import json
import re
import sys
from datetime import UTC, datetime, timedelta

from arq.connections import ArqRedis
from tortoise.functions import Count

from hub.callbacks import pipeline
from hub.callbacks.inbox import envelope_of
from hub.errors import InvalidValueError
from hub.models.inbox import CallbackSource, InboxCallback, InboxStatus, RejectedCallback
from hub.queue import create_queue_pool
from hub.routes import event_table
from hub.settings import Settings
from hub.vault import load_vault

_AGE = re.compile(r"([0-9]+)([mhd])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def add_parsers(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    inbox = commands.add_parser("inbox", help="stored and refused callbacks").add_subparsers(
        required=True
    )
    listing = inbox.add_parser("list", help="stored callbacks, newest first")
    _filters(listing)
    listing.add_argument("--status", choices=[status.value for status in InboxStatus])
    listing.set_defaults(func=list_callbacks, needs_database=True)

    show = inbox.add_parser("show", help="one stored callback with its payload")
    show.add_argument("id", type=int)
    show.set_defaults(func=show_callback, needs_database=True)

    replay = inbox.add_parser(
        "replay", help="process callbacks again now (done ones are left as they are)"
    )
    replay.add_argument("ids", type=int, nargs="*", help="inbox ids")
    replay.add_argument("--failed", action="store_true", help="every failed callback")
    replay.set_defaults(func=replay_callbacks, needs_database=True)

    stats = inbox.add_parser("stats", help="counts by source and status, refusals by reason")
    _filters(stats, limit=False)
    stats.set_defaults(func=callback_stats, needs_database=True)

    rejected = inbox.add_parser("rejected", help="refused callbacks, newest first")
    _filters(rejected)
    rejected.set_defaults(func=list_rejections, needs_database=True)


def _filters(parser: argparse.ArgumentParser, *, limit: bool = True) -> None:
    parser.add_argument("--source", choices=[source.value for source in CallbackSource])
    parser.add_argument("--since", help="only the last 30m, 6h, 2d …")
    if limit:
        parser.add_argument("--limit", type=int, default=50)


def since(value: str | None) -> datetime | None:
    """The moment `--since` names. Raises InvalidValueError for a malformed age."""
    if value is None:
        return None
    match = _AGE.fullmatch(value)
    if match is None:
        raise InvalidValueError("since", "must be a number followed by m, h or d (e.g. 6h)")
    return datetime.now(UTC) - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _scope(args: argparse.Namespace, time_field: str) -> dict[str, object]:
    scope: dict[str, object] = {}
    if args.source:
        scope["source"] = args.source
    if (moment := since(args.since)) is not None:
        scope[f"{time_field}__gte"] = moment
    return scope


async def list_callbacks(args: argparse.Namespace, _settings: Settings) -> int:
    scope = _scope(args, "received_at") | ({"status": args.status} if args.status else {})
    rows = await InboxCallback.filter(**scope).order_by("-id").limit(args.limit)
    for row in rows:
        print(
            f"{row.id:>8} {row.received_at:%Y-%m-%d %H:%M:%S} {row.source.value:<11} "
            f"{row.account:<18} {row.event_type:<32} {row.status.value:<8} "
            f"{row.outcome or row.last_error or ''}"
        )
    return 0


async def show_callback(args: argparse.Namespace, settings: Settings) -> int:
    row = await InboxCallback.get_or_none(id=args.id)
    if row is None:
        print(f"wxhub: no stored callback {args.id}", file=sys.stderr)
        return 1
    envelope = envelope_of(row, load_vault(settings))
    print(
        json.dumps(
            {
                "id": row.id,
                "source": row.source.value,
                "account": row.account,
                "event_type": row.event_type,
                "event_key": row.event_key,
                "occurred_at": row.occurred_at.isoformat(),
                "received_at": row.received_at.isoformat(),
                "status": row.status.value,
                "attempts": row.attempts,
                "outcome": row.outcome,
                "last_error": row.last_error,
                "payload": envelope.payload,
            },
            ensure_ascii=False,
            indent=2,
        )
    )
    return 0


async def replay_callbacks(args: argparse.Namespace, settings: Settings) -> int:
    ids = list(args.ids)
    if args.failed:
        ids += [row.id for row in await InboxCallback.filter(status=InboxStatus.FAILED).only("id")]
    if not ids:
        print("wxhub: name inbox ids or --failed", file=sys.stderr)
        return 1
    queue = await create_queue_pool(settings) if settings.redis.url else None
    failures = 0
    try:
        for inbox_id in ids:
            failures += await _replay_one(inbox_id, settings, queue)
    finally:
        if queue is not None:
            await queue.aclose()
    return 1 if failures else 0


async def _replay_one(inbox_id: int, settings: Settings, queue: ArqRedis | None) -> int:
    try:
        result = await pipeline.process(inbox_id, load_vault(settings), queue, event_table())
    except LookupError:
        print(f"{inbox_id}: no such callback", file=sys.stderr)
        return 1
    # An operator's replay reports the failure instead of scheduling more retries.
    except Exception as exc:  # noqa: BLE001
        await pipeline.record_failure(inbox_id, exc)
        print(f"{inbox_id}: failed again: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"{inbox_id}: {result.status.value} ({result.outcome})")
    return 0


async def callback_stats(args: argparse.Namespace, _settings: Settings) -> int:
    stored = (
        await InboxCallback.filter(**_scope(args, "received_at"))
        .annotate(count=Count("id"))
        .group_by("source", "status")
        .values("source", "status", "count")
    )
    for row in sorted(stored, key=lambda r: (str(r["source"]), str(r["status"]))):
        print(f"stored   {row['source']:<11} {row['status']:<8} {row['count']:>8}")
    refused = (
        await RejectedCallback.filter(**_scope(args, "received_at"))
        .annotate(count=Count("id"))
        .group_by("source", "reason")
        .values("source", "reason", "count")
    )
    for row in sorted(refused, key=lambda r: (str(r["source"]), str(r["reason"]))):
        print(f"refused  {row['source']:<11} {row['reason']:<24} {row['count']:>8}")
    return 0


async def list_rejections(args: argparse.Namespace, _settings: Settings) -> int:
    rows = (
        await RejectedCallback.filter(**_scope(args, "received_at"))
        .order_by("-id")
        .limit(args.limit)
    )
    for row in rows:
        print(
            f"{row.id:>8} {row.received_at:%Y-%m-%d %H:%M:%S} {row.source.value:<11} "
            f"{row.account:<18} {row.status_code} {row.reason:<24} {row.remote or ''}"
        )
    return 0
