"""`wxhub demo`: seed a demo brand whose accounts share the simulator's keys (idempotent).

The brand, its regions, stores, staff, WeChat accounts, members and a few unpaid orders come
from the demo World under `<data_dir>/simulator` (generated on first use), so callbacks from
`wxhub simulate` and from the simulator verify at once. `wxhub run` seeds it by itself when the
simulator is enabled and the database has no brand.
"""

import argparse
import sys

from pydantic import ValidationError

from hub.services.audit import Actor
from hub.settings import Settings
from hub.simulator import seed
from hub.simulator.demo import demo_world
from hub.vault import load_vault

EXIT_FAILED = 1


def add_parsers(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    demo = commands.add_parser(
        "demo", help="seed a demo brand from the simulator's demo World (safe to run again)"
    )
    demo.set_defaults(func=seed_demo, needs_database=True)


async def seed_demo(_args: argparse.Namespace, settings: Settings) -> int:
    """Seed what is missing of the demo brand, say what changed and what to try next."""
    directory = settings.data_dir / "simulator"
    try:
        world = demo_world(directory)
    except (OSError, ValidationError) as exc:
        print(f"wxhub: cannot load the demo World from {directory}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    report = await seed.seed_demo(world, load_vault(settings), Actor.cli())
    if not report.changed:
        print(f"demo brand {seed.DEMO_BRAND!r} is already seeded: nothing changed")
    else:
        print(f"demo brand {seed.DEMO_BRAND!r} seeded from the World in {directory}:")
    for what in report.created:
        print(f"  created {what}")
    for what in report.updated:
        print(f"  updated {what} to the World's keys")
    for line in await seed.try_next(world):
        print(line)
    return 0
