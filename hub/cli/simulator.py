"""`wxhub simulator`: serve the local WeChat; `wxhub simulator inspect …`: show what it received.

The simulator serves WeChat's three hosts at one root, so all of the hub's `wechat.*_base_url`
settings can point at it. Without --world it uses the demo world kept under
`<data_dir>/simulator` (generated on first use).
"""

import argparse
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import ValidationError

from hub import runtime
from hub.errors import StartupError
from hub.settings import Settings
from hub.simulator.app import create_simulator_app
from hub.simulator.demo import demo_world
from hub.simulator.world import World, load_world
from hub.wechat.pay_v3_platform import BEIJING

EXIT_FAILED = 1
_PATHS = {
    "requests": "/_sim/requests",
    "messages": "/_sim/messages",
    "pushes": "/_sim/pushes",
    "state": "/_sim/state",
}
_INSPECT_TIMEOUT_S = 10.0


def add_parsers(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    simulator = commands.add_parser(
        "simulator", help="a local WeChat: api, qyapi and Pay hosts, pushes, a control API"
    )
    # Own dests: --host/--port of `run` and `serve` set http.*, these set simulator.*.
    simulator.add_argument(
        "--host", dest="simulator_host", metavar="HOST", help="listen address (simulator.host)"
    )
    simulator.add_argument(
        "--port",
        dest="simulator_port",
        metavar="PORT",
        type=int,
        help="listen port (simulator.port)",
    )
    simulator.add_argument(
        "--world",
        type=Path,
        metavar="FILE",
        help="World JSON file (default: the demo world under <data_dir>/simulator)",
    )
    simulator.set_defaults(func=serve_simulator)
    subcommands = simulator.add_subparsers(dest="simulator_command", metavar="SUBCOMMAND")
    inspect = subcommands.add_parser("inspect", help="print what a running simulator received")
    inspect.add_argument("what", choices=sorted(_PATHS))
    inspect.add_argument("--url", help="the simulator's URL (default: simulator.host and port)")
    inspect.add_argument("--limit", type=int, default=20, help="at most this many entries")
    inspect.set_defaults(func=inspect_simulator)


def simulator_url(args: argparse.Namespace, settings: Settings) -> str:
    host = getattr(args, "simulator_host", None) or settings.simulator.host
    port = getattr(args, "simulator_port", None)
    return f"http://{host}:{settings.simulator.port if port is None else port}"


def _load_world(args: argparse.Namespace, settings: Settings) -> World:
    try:
        if args.world is not None:
            return load_world(args.world)
        return demo_world(settings.data_dir / "simulator")
    except (OSError, ValidationError) as exc:
        where = args.world or settings.data_dir / "simulator"
        raise StartupError(f"cannot load the simulator world from {where}: {exc}") from None


async def serve_simulator(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the simulator until SIGINT or SIGTERM."""
    world = _load_world(args, settings)
    host = args.simulator_host or settings.simulator.host
    port = settings.simulator.port if args.simulator_port is None else args.simulator_port
    web_settings = settings.model_copy(
        update={"http": settings.http.model_copy(update={"host": host, "port": port})}
    )
    stop = runtime.stop_event()
    app = create_simulator_app(world, time_scale=settings.simulator.time_scale)
    runner = await runtime.start_web(app, web_settings)
    try:
        url = f"http://{host}:{port}"
        print(f"WeChat simulator at {url} (control API under {url}/_sim)", flush=True)
        print(
            f"point the hub at it: WXHUB_WECHAT__API_BASE_URL={url} "
            f"WXHUB_WECHAT__WORK_BASE_URL={url} WXHUB_WECHAT__PAY_BASE_URL={url}",
            flush=True,
        )
        await stop.wait()
    finally:
        await runner.cleanup()
    return 0


async def inspect_simulator(args: argparse.Namespace, settings: Settings) -> int:
    """Print requests, messages, pushes or state of a running simulator."""
    base = (args.url or simulator_url(args, settings)).rstrip("/")
    url = f"{base}{_PATHS[args.what]}"
    timeout = aiohttp.ClientTimeout(total=_INSPECT_TIMEOUT_S)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, params={"limit": str(args.limit)}) as response,
        ):
            response.raise_for_status()
            data: dict[str, Any] = await response.json()
    except (aiohttp.ClientError, TimeoutError) as exc:
        print(f"wxhub: cannot read {url}: {exc or type(exc).__name__}")
        return EXIT_FAILED
    for line in _FORMATTERS[args.what](data, args.limit):
        print(line)
    return 0


def _time(unix_s: float) -> str:
    return datetime.fromtimestamp(unix_s, BEIJING).strftime("%H:%M:%S")


def _format_requests(data: dict[str, Any], _limit: int) -> list[str]:
    lines = []
    for record in data["requests"]:
        outcome = record["code"] or (
            f"errcode {record['errcode']}" if record["errcode"] is not None else ""
        )
        lines.append(
            f"{_time(record['at'])}  {record['method']:4} {record['path']}  → {record['status']}"
            f" {outcome}  ({record['duration_ms']:.1f} ms)"
        )
    return lines or ["(no requests)"]


def _format_messages(data: dict[str, Any], limit: int) -> list[str]:
    lines = [
        f"{_time(m['sent_at'])}  subscribe {m['msgid']} → {m['openid']} {m['template_id']} "
        + json.dumps(m["data"], ensure_ascii=False)
        for m in data["subscribe"][-limit:]
    ]
    lines += [
        f"{_time(m['sent_at'])}  welcome {m['userid']} → {m['external_userid']}: "
        f"{m['text'] or ''} (+{len(m['attachments'])} attachments)"
        for m in data["welcome"][-limit:]
    ]
    return lines or ["(no messages)"]


def _format_pushes(data: dict[str, Any], _limit: int) -> list[str]:
    lines = []
    for push in data["pushes"]:
        copy = f" (copy of #{push['copy_of']})" if push["copy_of"] else ""
        notes = f" [{', '.join(push['notes'])}]" if push["notes"] else ""
        lines.append(
            f"#{push['id']} {push['source']} {push['account']} {push['event']} {push['key']}: "
            f"{push['status']} after {len(push['attempts'])} attempt(s){copy}{notes}"
        )
        lines += [
            f"    {attempt['number']:2}. {_time(attempt['started_at'])} "
            f"{attempt['status'] or attempt['error']} in {attempt['duration_ms']:.1f} ms "
            f"{attempt['body'][:60]!r}"
            for attempt in push["attempts"]
        ]
    return lines or ["(no pushes)"]


def _format_state(data: dict[str, Any], _limit: int) -> list[str]:
    return [json.dumps(data, ensure_ascii=False, indent=2)]


_FORMATTERS = {
    "requests": _format_requests,
    "messages": _format_messages,
    "pushes": _format_pushes,
    "state": _format_state,
}
