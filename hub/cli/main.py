"""`wxhub`: the command line.

Exit status: 0 on success, 1 on a refused or failed command, 2 on invalid configuration or usage.
"""

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from hub import db, runtime
from hub.cli import admin, demo, inbox, membership, messages, outbox, simulate, simulator
from hub.errors import ConfigError, DomainError, StartupError
from hub.logs import configure_logging
from hub.settings import Settings, load_settings
from hub.vault import generate_data_key

Command = Callable[[argparse.Namespace, Settings], Awaitable[int]]

EXIT_FAILED = 1
EXIT_CONFIG = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wxhub",
        description="The hub between WeChat and chain-store brands. "
        "Configuration: config/*.toml and WXHUB_* environment variables (see README).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _server_parsers(commands)
    _database_parsers(commands)
    admin.add_parsers(commands)
    membership.add_parsers(commands)
    messages.add_parsers(commands)
    inbox.add_parsers(commands)
    outbox.add_parsers(commands)
    simulator.add_parsers(commands)
    simulate.add_parsers(commands)
    demo.add_parsers(commands)
    keygen = commands.add_parser("keygen", help="print a new data key for security.data_key")
    keygen.set_defaults(func=print_data_key, needs_settings=False)
    return parser


def _server_parsers(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    run = commands.add_parser(
        "run", help="everything in one process: migrate, embedded Redis, web and worker"
    )
    serve = commands.add_parser("serve", help="a web process (production)")
    for sub in (run, serve):
        sub.add_argument("--host", help="listen address (http.host)")
        sub.add_argument("--port", type=int, help="listen port (http.port)")
    run.add_argument("--data-dir", help="where embedded data lives (data_dir)")
    run.set_defaults(func=run_all)
    serve.set_defaults(func=serve_web)
    worker = commands.add_parser("worker", help="a worker process (production)")
    worker.set_defaults(func=run_worker)


def _database_parsers(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    migrate = commands.add_parser("migrate", help="apply database migrations")
    action = migrate.add_mutually_exclusive_group()
    action.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if migrations are unapplied or models have unwritten changes",
    )
    action.add_argument(
        "--rollback",
        action="store_true",
        help="unapply migrations (all, or down to --to, which stays applied)",
    )
    action.add_argument("--list", action="store_true", help="show applied and pending migrations")
    migrate.add_argument("--to", help="migration name to migrate or roll back to")
    migrate.set_defaults(func=migrate_database)
    make = commands.add_parser("makemigrations", help="write migrations for model changes (dev)")
    make.add_argument("--name", help="suffix for the migration file name")
    make.set_defaults(func=make_migrations)


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run_cli(argv))


def run_cli(argv: Sequence[str] | None = None) -> int:
    """Parse, load settings, run the command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if not getattr(args, "needs_settings", True):
            status: int = asyncio.run(args.func(args, None))
            return status
        settings = load_settings(**settings_overrides(args))
        configure_logging(settings.logging)
        return asyncio.run(execute(args, settings))
    except ConfigError as exc:
        print(f"wxhub: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except StartupError as exc:
        print(f"wxhub: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_FAILED


async def execute(args: argparse.Namespace, settings: Settings) -> int:
    """Run a parsed command; refusals by domain rules print a message and return 1."""
    command: Command = args.func
    try:
        if getattr(args, "needs_database", False):
            async with db.open_database(settings):
                await _require_migrated()
                return await command(args, settings)
        return await command(args, settings)
    except DomainError as exc:
        print(f"wxhub: {exc.message}", file=sys.stderr)
        return EXIT_FAILED


def settings_overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    http = {
        key: value for key in ("host", "port") if (value := getattr(args, key, None)) is not None
    }
    if http:
        overrides["http"] = http
    if data_dir := getattr(args, "data_dir", None):
        overrides["data_dir"] = data_dir
    return overrides


async def _require_migrated() -> None:
    if await db.unapplied_migrations():
        raise StartupError("the database is not migrated: run `wxhub migrate` first")


async def run_all(_args: argparse.Namespace, settings: Settings) -> int:
    await runtime.run_all(settings)
    return 0


async def serve_web(_args: argparse.Namespace, settings: Settings) -> int:
    await runtime.serve(settings)
    return 0


async def run_worker(_args: argparse.Namespace, settings: Settings) -> int:
    await runtime.work(settings)
    return 0


async def migrate_database(args: argparse.Namespace, settings: Settings) -> int:
    async with db.open_database(settings):
        if args.list:
            return await _list_migrations()
        if args.check:
            return await _check_migrations()
        try:
            await db.migrate(args.to, backward=args.rollback, progress=_progress)
        except ValueError as exc:
            print(f"wxhub: {exc}", file=sys.stderr)
            return EXIT_FAILED
    print("database is up to date" if not args.rollback else "rollback done")
    return 0


async def _list_migrations() -> int:
    for name in await db.applied_migrations():
        print(f"[x] {name}")
    for name in await db.unapplied_migrations():
        print(f"[ ] {name}")
    return 0


async def _check_migrations() -> int:
    unapplied = await db.unapplied_migrations()
    unwritten = await db.pending_model_changes()
    for name in unapplied:
        print(f"unapplied migration: {name}")
    for writer in unwritten:
        print(f"models changed without a migration (app {writer.app_label}): run makemigrations")
    return EXIT_FAILED if unapplied or unwritten else 0


async def make_migrations(args: argparse.Namespace, settings: Settings) -> int:
    async with db.open_database(settings):
        paths = await db.make_migrations(args.name)
    for path in paths:
        print(f"wrote {path}")
    if not paths:
        print("no model changes")
    return 0


def _progress(event: str, app_label: str, name: str) -> None:
    verbs = {"apply_done": "applied", "rollback_done": "rolled back"}
    if event in verbs:
        print(f"{verbs[event]} {app_label}.{name}")


async def print_data_key(_args: argparse.Namespace, _settings: Settings | None) -> int:
    print(generate_data_key())
    return 0
