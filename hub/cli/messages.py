"""Subscription-message commands: which WeChat template each of a brand's messages uses."""

import argparse

from hub import messages
from hub.services import brands, message_templates
from hub.services.audit import Actor
from hub.settings import Settings


def add_parsers(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    group = commands.add_parser(
        "message", help="a brand's subscription messages (templates/messages/*.toml)"
    ).add_subparsers(required=True)
    set_ = group.add_parser(
        "set", help="send message NAME with the brand's WeChat template (replaces the setting)"
    )
    set_.add_argument("name", metavar="NAME", help="the message, e.g. coupon_issued")
    set_.add_argument("--brand", required=True)
    set_.add_argument("--template-id", required=True, help="the template's id in the mini-program")
    set_.add_argument("--page", default="", help="page to open (default: the message's page)")
    set_.add_argument("--appid", help="the mini-program (default: the brand's only one)")
    set_.add_argument("--inactive", action="store_true", help="keep the setting but send nothing")
    set_.set_defaults(func=set_message, needs_database=True)
    listing = group.add_parser("list", help="the brand's messages and their templates")
    listing.add_argument("--brand", required=True)
    listing.set_defaults(func=list_messages, needs_database=True)


async def set_message(args: argparse.Namespace, _settings: Settings) -> int:
    brand = await brands.get_brand(args.brand)
    given = message_templates.MessageSetting(
        name=args.name,
        template_id=args.template_id,
        page=args.page,
        active=not args.inactive,
        appid=args.appid,
    )
    row = await message_templates.set_message_template(brand, given, Actor.cli())
    state = "active" if row.active else "inactive"
    print(f"message {row.name} of brand {brand.code}: template {row.template_id} ({state})")
    print(f"the template must have the keywords: {' '.join(messages.keywords(row.name))}")
    return 0


async def list_messages(args: argparse.Namespace, _settings: Settings) -> int:
    brand = await brands.get_brand(args.brand)
    for row in await message_templates.list_message_templates(brand):
        state = "active" if row.active else "inactive"
        page = row.page or "(message's page)"
        print(f"{row.name:<20} {state:<8} {row.appid:<20} {row.template_id:<44} {page}")
    return 0
