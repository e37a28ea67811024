"""Membership programme commands: apply one from a TOML file, show the current one."""

import argparse
import json
import sys
import tomllib
from pathlib import Path

from hub.services import brands, programme
from hub.services.audit import Actor
from hub.settings import Settings


def add_parsers(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    group = commands.add_parser(
        "membership", help="a brand's membership programme: cards, levels, points, recharges"
    ).add_subparsers(required=True)
    apply = group.add_parser(
        "apply",
        help="set the brand's programme from a TOML file (config/membership.example.toml)",
    )
    apply.add_argument("file", type=Path)
    apply.add_argument("--brand", required=True)
    apply.set_defaults(func=apply_programme, needs_database=True)
    show = group.add_parser("show", help="print the brand's programme as JSON")
    show.add_argument("--brand", required=True)
    show.set_defaults(func=show_programme, needs_database=True)


async def apply_programme(args: argparse.Namespace, _settings: Settings) -> int:
    try:
        data = tomllib.loads(args.file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        print(f"wxhub: cannot read {args.file}: {exc}", file=sys.stderr)
        return 1
    spec = programme.parse_spec(data)
    brand = await brands.get_brand(args.brand)
    await programme.apply_programme(brand, spec, Actor.cli())
    levels = sum(len(card.levels) for card in spec.cards)
    print(
        f"membership of brand {brand.code}: {len(spec.cards)} card(s), {levels} level(s), "
        f"{len(spec.recharge_tiers)} recharge tier(s), {len(spec.store_bonuses)} store bonus(es)"
    )
    return 0


async def show_programme(args: argparse.Namespace, _settings: Settings) -> int:
    brand = await brands.get_brand(args.brand)
    spec = await programme.export_programme(brand)
    print(json.dumps(spec.model_dump(mode="json"), ensure_ascii=False, indent=2))
    return 0
