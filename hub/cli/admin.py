"""Brand set-up commands: brands, regions, stores, staff, WeChat accounts, API keys.

Each command writes through the domain services (so it is validated and audited as the CLI
operator) and prints what it did. Keys are read from files or stdin, never echoed.
"""

import argparse

from hub.cli.secret_input import SecretReader
from hub.dates import BEIJING
from hub.models.account import ChannelsShop, MiniProgramApp, PayMerchant, PushFormat, WecomCorp
from hub.models.brand import StoreStatus
from hub.models.staff import Staff, StaffRole
from hub.services import accounts, api_keys, brands, staff, staff_access
from hub.services.audit import Actor
from hub.settings import Settings
from hub.vault import load_vault


def add_parsers(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    _brand_parsers(commands)
    _store_parsers(commands)
    _account_parsers(commands)
    apikey = commands.add_parser("apikey", help="open-API keys").add_subparsers(required=True)
    create = apikey.add_parser("create", help="issue a key for a brand (printed once)")
    create.add_argument("--brand", required=True)
    create.add_argument("--name", required=True, help="what the key is for, e.g. 'POS'")
    create.set_defaults(func=create_api_key, needs_database=True)


def _brand_parsers(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    brand = commands.add_parser("brand", help="brands (tenants)").add_subparsers(required=True)
    create = brand.add_parser("create", help="create a brand")
    create.add_argument("code", help="short id: lowercase letters, digits, '-', '_'")
    create.add_argument("--name", required=True)
    create.set_defaults(func=create_brand, needs_database=True)

    region = commands.add_parser("region", help="regions of a brand").add_subparsers(required=True)
    add = region.add_parser("add", help="add a region")
    add.add_argument("code")
    add.add_argument("--brand", required=True)
    add.add_argument("--name", required=True)
    add.set_defaults(func=add_region, needs_database=True)


def _store_parsers(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    store = commands.add_parser("store", help="stores of a brand").add_subparsers(required=True)
    add = store.add_parser("add", help="add a store")
    add.add_argument("code")
    add.add_argument("--brand", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--region", help="region code")
    add.add_argument("--address", default="")
    add.add_argument("--hours", default="", help="opening hours as shown, e.g. '10:00-22:00'")
    add.add_argument("--paused", action="store_true", help="create it paused (not taking sales)")
    add.set_defaults(func=add_store, needs_database=True)

    people = commands.add_parser("staff", help="staff of a brand").add_subparsers(required=True)
    add = people.add_parser("add", help="add a staff member")
    add.add_argument("--brand", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--role", required=True, choices=[role.value for role in StaffRole])
    add.add_argument("--store", help="store code (clerk, store_manager)")
    add.add_argument("--region", help="region code (region_manager)")
    add.add_argument("--wecom-userid", help="the person's WeCom userid")
    add.set_defaults(func=add_staff, needs_database=True)
    token = people.add_parser(
        "token", help="issue a staff-API token (printed once; replaces their previous one)"
    )
    token.add_argument("staff_id", type=int, metavar="STAFF_ID")
    token.add_argument("--brand", required=True)
    token.set_defaults(func=issue_staff_token, needs_database=True)
    listing = people.add_parser("list", help="the brand's staff with role, scope and token date")
    listing.add_argument("--brand", required=True)
    listing.set_defaults(func=list_staff, needs_database=True)


def _account_parsers(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    account = commands.add_parser(
        "account", help="a brand's WeChat accounts; each set-* replaces the whole credential set"
    ).add_subparsers(required=True)
    from_file = "file holding it ('-' for stdin; prompted on a terminal if omitted)"

    mini = account.add_parser("set-miniprogram", help="the brand's mini-program")
    mini.add_argument("--brand", required=True)
    mini.add_argument("--appid", required=True)
    mini.add_argument("--original-id", default="", help="gh_… id (ToUserName of pushes)")
    mini.add_argument("--secret-file", help=f"AppSecret {from_file}")
    mini.add_argument("--push-token-file", help="message-push Token file")
    mini.add_argument("--push-aes-key-file", help="message-push EncodingAESKey file")
    mini.add_argument("--push-format", choices=[f.value for f in PushFormat], default="json")
    mini.set_defaults(func=set_miniprogram, needs_database=True)

    pay = account.add_parser("set-pay", help="the brand's WeChat Pay merchant (API v3)")
    pay.add_argument("--brand", required=True)
    pay.add_argument("--mchid", required=True)
    pay.add_argument("--appid", required=True, help="the mini-program appid bound to the merchant")
    pay.add_argument("--serial", required=True, help="merchant API certificate serial number")
    pay.add_argument("--private-key-file", help=f"merchant private key PEM {from_file}")
    pay.add_argument("--api-v3-key-file", help=f"APIv3 key {from_file}")
    pay.add_argument("--api-v2-key-file", help="legacy v2 API key file (v2 merchants only)")
    pay.add_argument("--public-key-id", help="WeChat Pay public key id (PUB_KEY_ID_…)")
    pay.add_argument("--public-key-file", help="WeChat Pay public key PEM file")
    pay.set_defaults(func=set_pay, needs_database=True)

    shop = account.add_parser("set-channels", help="the brand's Channels (视频号) shop")
    shop.add_argument("--brand", required=True)
    shop.add_argument("--appid", required=True)
    shop.add_argument("--original-id", default="")
    shop.add_argument("--secret-file", help=f"AppSecret {from_file}")
    shop.add_argument("--push-token-file", help=f"message-push Token {from_file}")
    shop.add_argument("--push-aes-key-file", help=f"EncodingAESKey {from_file}")
    shop.set_defaults(func=set_channels, needs_database=True)

    wecom = account.add_parser("set-wecom", help="the brand's WeCom corp (customer contact)")
    wecom.add_argument("--brand", required=True)
    wecom.add_argument("--corpid", required=True)
    wecom.add_argument("--agent-id", type=int)
    wecom.add_argument("--secret-file", help=f"customer-contact secret {from_file}")
    wecom.add_argument("--callback-token-file", help=f"callback Token {from_file}")
    wecom.add_argument("--callback-aes-key-file", help=f"callback EncodingAESKey {from_file}")
    wecom.set_defaults(func=set_wecom, needs_database=True)


async def create_brand(args: argparse.Namespace, _settings: Settings) -> int:
    brand = await brands.create_brand(args.code, args.name, Actor.cli())
    print(f"brand {brand.code} created (id {brand.id})")
    return 0


async def add_region(args: argparse.Namespace, _settings: Settings) -> int:
    brand = await brands.get_brand(args.brand)
    region = await brands.add_region(brand, args.code, args.name, Actor.cli())
    print(f"region {region.code} added to brand {brand.code} (id {region.id})")
    return 0


async def add_store(args: argparse.Namespace, _settings: Settings) -> int:
    brand = await brands.get_brand(args.brand)
    region = await brands.get_region(brand, args.region) if args.region else None
    store = await brands.add_store(
        brand,
        args.code,
        args.name,
        Actor.cli(),
        region=region,
        address=args.address,
        opening_hours=args.hours,
        status=StoreStatus.PAUSED if args.paused else StoreStatus.OPEN,
    )
    print(f"store {store.code} added to brand {brand.code} (id {store.id}, {store.status.value})")
    return 0


async def add_staff(args: argparse.Namespace, _settings: Settings) -> int:
    brand = await brands.get_brand(args.brand)
    store = await brands.get_store(brand, args.store) if args.store else None
    region = await brands.get_region(brand, args.region) if args.region else None
    member = await staff.add_staff(
        brand,
        args.name,
        StaffRole(args.role),
        Actor.cli(),
        store=store,
        region=region,
        wecom_userid=args.wecom_userid,
    )
    print(f"staff {member.name} added as {member.role.value} (id {member.id})")
    return 0


async def issue_staff_token(args: argparse.Namespace, _settings: Settings) -> int:
    brand = await brands.get_brand(args.brand)
    issued = await staff_access.issue_staff_token(args.staff_id, brand.id, Actor.cli())
    person = issued.staff
    print(
        f"staff token for {person.name} ({person.role.value}, id {person.id}), brand {brand.code}:"
    )
    print(issued.plaintext)
    print("Store it now: it is not shown again. Any previous token of theirs no longer works.")
    return 0


async def list_staff(args: argparse.Namespace, _settings: Settings) -> int:
    brand = await brands.get_brand(args.brand)
    people = await Staff.filter(brand=brand).order_by("id").prefetch_related("store", "region")
    for person in people:
        print(_staff_line(person))
    return 0


def _staff_line(person: Staff) -> str:
    """id, role, store or region code, active, when the token was issued (China time), name."""
    scope = person.store.code if person.store else person.region.code if person.region else "-"
    issued = person.token_issued_at
    shown = f"{issued.astimezone(BEIJING):%Y-%m-%d %H:%M}" if issued else "no token"
    state = "active" if person.active else "inactive"
    return (
        f"{person.id:>6} {person.role.value:<14} {scope:<12} {state:<8} {shown:<16} {person.name}"
    )


async def set_miniprogram(args: argparse.Namespace, settings: Settings) -> int:
    brand = await brands.get_brand(args.brand)
    read = SecretReader()
    given = accounts.MiniProgramCredentials(
        appid=args.appid,
        secret=read.required(args.secret_file, "secret"),
        original_id=args.original_id,
        push_token=read.optional(args.push_token_file, "push_token"),
        push_aes_key=read.optional(args.push_aes_key_file, "push_aes_key"),
        push_format=PushFormat(args.push_format),
    )
    app = await accounts.set_account(
        MiniProgramApp, brand, given, load_vault(settings), Actor.cli()
    )
    print(f"mini-program {app.appid} set for brand {brand.code}")
    return 0


async def set_pay(args: argparse.Namespace, settings: Settings) -> int:
    brand = await brands.get_brand(args.brand)
    read = SecretReader()
    given = accounts.PayCredentials(
        mchid=args.mchid,
        appid=args.appid,
        merchant_serial_no=args.serial,
        private_key_pem=read.required(args.private_key_file, "private_key"),
        api_v3_key=read.required(args.api_v3_key_file, "api_v3_key"),
        api_v2_key=read.optional(args.api_v2_key_file, "api_v2_key"),
        platform_public_key_id=args.public_key_id,
        platform_public_key_pem=read.optional(args.public_key_file, "public_key"),
    )
    merchant = await accounts.set_account(
        PayMerchant, brand, given, load_vault(settings), Actor.cli()
    )
    print(f"pay merchant {merchant.mchid} set for brand {brand.code}")
    return 0


async def set_channels(args: argparse.Namespace, settings: Settings) -> int:
    brand = await brands.get_brand(args.brand)
    read = SecretReader()
    given = accounts.ChannelsCredentials(
        appid=args.appid,
        secret=read.required(args.secret_file, "secret"),
        push_token=read.required(args.push_token_file, "push_token"),
        push_aes_key=read.required(args.push_aes_key_file, "push_aes_key"),
        original_id=args.original_id,
    )
    shop = await accounts.set_account(ChannelsShop, brand, given, load_vault(settings), Actor.cli())
    print(f"channels shop {shop.appid} set for brand {brand.code}")
    return 0


async def set_wecom(args: argparse.Namespace, settings: Settings) -> int:
    brand = await brands.get_brand(args.brand)
    read = SecretReader()
    given = accounts.WecomCredentials(
        corpid=args.corpid,
        secret=read.required(args.secret_file, "secret"),
        callback_token=read.required(args.callback_token_file, "callback_token"),
        callback_aes_key=read.required(args.callback_aes_key_file, "callback_aes_key"),
        agent_id=args.agent_id,
    )
    corp = await accounts.set_account(WecomCorp, brand, given, load_vault(settings), Actor.cli())
    print(f"wecom corp {corp.corpid} set for brand {brand.code}")
    return 0


async def create_api_key(args: argparse.Namespace, _settings: Settings) -> int:
    brand = await brands.get_brand(args.brand)
    issued = await api_keys.create_api_key(brand, args.name, Actor.cli())
    print(f"API key {issued.api_key.prefix} ({issued.api_key.name}) for brand {brand.code}:")
    print(issued.plaintext)
    print("Store it now: it is not shown again.")
    return 0
