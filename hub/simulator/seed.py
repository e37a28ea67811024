"""The demo brand, seeded from the simulator's World: what `wxhub demo` and `wxhub run` add.

Everything is written through the domain services (validated, sealed and audited as the given
actor) and looked up first, so seeding twice changes nothing. The accounts carry the World's
own credentials, so the hub verifies the simulator's pushes, and the emitter's, as they come.
"""

import itertools
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hub.accounts import Accounts
from hub.models.account import ChannelsShop, MiniProgramApp, PayMerchant, PushFormat, WecomCorp
from hub.models.brand import Brand, Region, Store
from hub.models.coupon import CouponTemplate, IssueSource
from hub.models.member import Member, MemberOpenid
from hub.models.membership import CardType
from hub.models.order import Order, OrderStatus
from hub.models.staff import Staff, StaffRole
from hub.resources import resource_dir
from hub.services import (
    accounts,
    brands,
    coupon_templates,
    coupons,
    members,
    orders,
    programme,
    staff,
)
from hub.services.accounts import Credentials, sealed_column
from hub.services.audit import Actor
from hub.simulator.hub_urls import hub_callback_url
from hub.simulator.state import Source
from hub.simulator.world import KeyMode, ResponseKeyMode, User, World
from hub.vault import Vault
from hub.wechat.pay_api import JsapiOrder

DEMO_BRAND = "demo"
_BRAND_NAME = "Demo Tea"
_REGIONS = (("east", "East China"), ("south", "South China"))
# Stores by code, with their name and region.
_STORES = (
    ("s001", "People's Square", "east"),
    ("s002", "Jing'an Temple", "east"),
    ("s003", "Tianhe Road", "south"),
)
# The World's WeCom staff, in order: their role and store in the brand.
_GUIDES = ((StaffRole.CLERK, "s001"), (StaffRole.STORE_MANAGER, "s002"), (StaffRole.CLERK, "s003"))
# Managers have no WeCom userid: the World's staff are the guides above.
_MANAGERS = (
    ("East China manager", StaffRole.REGION_MANAGER, "east"),
    ("Head-office admin", StaffRole.HQ_ADMIN, None),
)
# (user key, store, amount in fen, description): unpaid orders to pay with `wxhub simulate`.
_ORDERS = (
    ("alice", "s001", 8_800, "Demo Tea: two milk teas (demo order 1)"),
    ("bob", "s002", 3_650, "Demo Tea: a jasmine latte (demo order 2)"),
    ("carol", "s003", 12_800, "Demo Tea: a gift box (demo order 3)"),
)
_FEN_PER_YUAN = 100
# Every demo member holds one: ¥10 off an order of ¥50 or more, for 30 days.
_WELCOME_COUPON: dict[str, Any] = {
    "code": "welcome",
    "name": "¥10 off ¥50",
    "kind": "cash_off",
    "face_value_fen": 1_000,
    "threshold_fen": 5_000,
    "valid_days": 30,
    "stock_total": 10_000,
    "per_member_limit": 1,
}


@dataclass
class SeedReport:
    """What seeding created or brought up to date (empty: nothing changed)."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


@dataclass(frozen=True)
class DemoOrder:
    order: Order
    user: str
    store: str


async def seed_demo(world: World, vault: Vault, actor: Actor) -> SeedReport:
    """Create what is missing of the demo brand; existing parts are left as they are.

    Raises:
        AlreadyExistsError: an account of the World belongs to another brand.
        InvalidValueError: the World holds a credential of the wrong shape.
    """
    report = SeedReport()
    brand = await Brand.get_or_none(code=DEMO_BRAND)
    if brand is None:
        brand = await brands.create_brand(DEMO_BRAND, _BRAND_NAME, actor)
        report.created.append(f"brand {DEMO_BRAND}")
    regions = {code: await _region(brand, code, name, actor, report) for code, name in _REGIONS}
    stores = {
        code: await _store(brand, code, name, regions[region], actor, report)
        for code, name, region in _STORES
    }
    await _staff(brand, world, stores, regions, actor, report)
    await _accounts(brand, world, vault, actor, report)
    await _programme(brand, actor, report)
    homes = itertools.cycle(stores.values())
    people = {
        user.key: await _member(brand, user, vault, next(homes), report) for user in world.users
    }
    await _orders(brand, world, stores, people, report)
    await _coupons(brand, people, actor, report)
    return report


async def _coupons(
    brand: Brand, people: dict[str, Member], actor: Actor, report: SeedReport
) -> None:
    """A welcome coupon template, and one coupon of it for every demo member."""
    template = await CouponTemplate.get_or_none(brand=brand, code=_WELCOME_COUPON["code"])
    if template is None:
        spec = coupon_templates.parse_template(_WELCOME_COUPON)
        template, _ = await coupon_templates.save_template(brand.id, spec, actor)
        report.created.append(f"coupon template {template.code}")
    now = datetime.now(UTC)
    for key, member in people.items():
        issuance = coupons.Issuance(
            template.id, member.id, f"demo:{template.code}:{member.id}", IssueSource.CLI
        )
        _, created = await coupons.issue_coupon(issuance, actor, now)
        if created:
            report.created.append(f"coupon {template.code} for member {key}")


async def _programme(brand: Brand, actor: Actor, report: SeedReport) -> None:
    """The example programme of config/, unless the brand has one (a marketer's edits stay)."""
    if await CardType.exists(brand=brand):
        return
    path = resource_dir("config") / "membership.example.toml"
    spec = programme.parse_spec(tomllib.loads(path.read_text(encoding="utf-8")))
    await programme.apply_programme(brand, spec, actor)
    report.created.append("membership programme (config/membership.example.toml)")


async def _region(brand: Brand, code: str, name: str, actor: Actor, report: SeedReport) -> Region:
    region = await Region.get_or_none(brand=brand, code=code)
    if region is None:
        region = await brands.add_region(brand, code, name, actor)
        report.created.append(f"region {code}")
    return region


async def _store(
    brand: Brand, code: str, name: str, region: Region, actor: Actor, report: SeedReport
) -> Store:
    store = await Store.get_or_none(brand=brand, code=code)
    if store is None:
        store = await brands.add_store(brand, code, name, actor, region=region)
        report.created.append(f"store {code}")
    return store


async def _staff(
    brand: Brand,
    world: World,
    stores: dict[str, Store],
    regions: dict[str, Region],
    actor: Actor,
    report: SeedReport,
) -> None:
    corp_staff = world.corps[0].staff if world.corps else ()
    for person, (role, store) in zip(corp_staff, _GUIDES, strict=False):
        if not await Staff.exists(brand=brand, wecom_userid=person.userid):
            await staff.add_staff(
                brand, person.name, role, actor, store=stores[store], wecom_userid=person.userid
            )
            report.created.append(f"{role.value} {person.userid}")
    for name, role, region in _MANAGERS:
        if not await Staff.exists(brand=brand, name=name, role=role):
            scope = regions[region] if region else None
            await staff.add_staff(brand, name, role, actor, region=scope)
            report.created.append(f"{role.value} {name!r}")


async def _accounts(
    brand: Brand, world: World, vault: Vault, actor: Actor, report: SeedReport
) -> None:
    for model, given in _credentials(world):
        await _account(model, given, brand, vault, actor, report)


def _credentials(world: World) -> list[tuple[type[Any], Credentials]]:
    """The World's first mini-program, merchant, shop and corp as the hub stores them."""
    found: list[tuple[type[Any], Credentials]] = []
    if world.mini_programs:
        app = world.mini_programs[0]
        found.append(
            (
                MiniProgramApp,
                accounts.MiniProgramCredentials(
                    appid=app.appid,
                    secret=app.secret,
                    original_id=app.original_id,
                    push_token=app.push_token,
                    push_aes_key=app.push_aes_key,
                    push_format=PushFormat(app.push_format.value),
                ),
            )
        )
    merchant = world.merchants[0] if world.merchants else None
    if merchant is not None and merchant.merchant_private_key_pem is not None:
        # The key the World signs with. Certificate mode: the hub downloads the platform
        # certificate from /v3/certificates. Public-key mode: the PUB_KEY_ID_ key is stored.
        public = (
            merchant.notification_key_mode is KeyMode.PUBLIC_KEY
            or merchant.response_key_mode is ResponseKeyMode.PUBLIC_KEY
        )
        given = accounts.PayCredentials(
            mchid=merchant.mchid,
            appid=merchant.appid,
            merchant_serial_no=merchant.merchant_serial_no,
            private_key_pem=merchant.merchant_private_key_pem,
            api_v3_key=merchant.api_v3_key,
            api_v2_key=merchant.api_v2_key,
            platform_public_key_id=world.platform.public_key_id if public else None,
            platform_public_key_pem=world.platform.public_key_pem if public else None,
        )
        found.append((PayMerchant, given))
    if world.shops:
        shop = world.shops[0]
        found.append(
            (
                ChannelsShop,
                accounts.ChannelsCredentials(
                    appid=shop.appid,
                    secret=shop.secret,
                    push_token=shop.push_token,
                    push_aes_key=shop.push_aes_key,
                    original_id=shop.original_id,
                ),
            )
        )
    if world.corps:
        corp = world.corps[0]
        given_corp = accounts.WecomCredentials(
            corpid=corp.corpid,
            secret=corp.secret,
            callback_token=corp.callback_token,
            callback_aes_key=corp.callback_aes_key,
            agent_id=corp.agent_id,
        )
        found.append((WecomCorp, given_corp))
    return found


async def _account(
    model: type[Any],
    given: Credentials,
    brand: Brand,
    vault: Vault,
    actor: Actor,
    report: SeedReport,
) -> None:
    key_field, key_value = given.key()
    existing = await model.get_or_none(**{key_field: key_value})
    if existing is not None and existing.brand_id == brand.id and _same(existing, given, vault):
        return
    await accounts.set_account(model, brand, given, vault, actor)
    table = model._meta.db_table  # noqa: SLF001
    (report.created if existing is None else report.updated).append(f"{table} {key_value}")


def _same(row: Any, given: Credentials, vault: Vault) -> bool:
    """Whether the stored account holds exactly these credentials (a regenerated World differs)."""
    if any(getattr(row, name) != value for name, value in given.public_columns().items()):
        return False
    for column, value in given.secret_columns().items():
        sealed = getattr(row, column)
        if sealed is None or value is None:
            if sealed is not value:
                return False
        elif vault.open(bytes(sealed), column=sealed_column(type(row), column)) != value:
            return False
    return True


async def _member(
    brand: Brand, user: User, vault: Vault, home: Store, report: SeedReport
) -> Member:
    member = await Member.get_or_none(brand=brand, unionid=user.unionid)
    created = member is None
    if member is None:
        phone = f"+{user.country_code}{user.phone}"
        member = await members.create_member(
            brand, vault, phone=phone, unionid=user.unionid, home_store=home
        )
    brand_apps = {app.appid for app in await MiniProgramApp.filter(brand=brand)}
    brand_apps |= {shop.appid for shop in await ChannelsShop.filter(brand=brand)}
    added = 0
    for appid, openid in user.openids.items():
        if appid in brand_apps and not await MemberOpenid.exists(appid=appid, openid=openid):
            await MemberOpenid.create(member=member, appid=appid, openid=openid)
            added += 1
    if created:
        report.created.append(f"member {user.key} ({member.code}) with {added} openid(s)")
    elif added:
        report.created.append(f"{added} openid(s) of member {user.key}")
    return member


async def _orders(
    brand: Brand,
    world: World,
    stores: dict[str, Store],
    people: dict[str, Member],
    report: SeedReport,
) -> None:
    if not world.merchants:
        return
    merchant = world.merchants[0]
    for user, store, amount_fen, description in _ORDERS:
        if user not in people or await Order.exists(brand=brand, description=description):
            continue
        order = await orders.create_order(
            stores[store],
            amount_fen,
            mchid=merchant.mchid,
            appid=merchant.appid,
            member=people[user],
            description=description,
        )
        report.created.append(f"order {order.out_trade_no} ({yuan(amount_fen)} yuan, {user})")


async def demo_orders() -> list[DemoOrder]:
    """The demo brand's orders, in the order they were planned."""
    found = []
    for user, store, _amount, description in _ORDERS:
        order = await Order.get_or_none(brand__code=DEMO_BRAND, description=description)
        if order is not None:
            found.append(DemoOrder(order, user, store))
    return found


async def announce_demo_orders(registry: Accounts, hub_url: str) -> int:
    """Create the unpaid demo orders at WeChat Pay, as a checkout would; returns how many.

    The simulator then knows them, so its "user pays order X" reaches the hub.

    Raises:
        DeliveryError: WeChat Pay (the simulator) refused or could not be reached.
    """
    count = 0
    for demo in await demo_orders():
        order = demo.order
        account = await registry.pay(order.mchid)
        identity = await MemberOpenid.get_or_none(member_id=order.member_id, appid=order.appid)
        if order.status is not OrderStatus.CREATED or account is None or identity is None:
            continue
        await registry.pay_api(account).jsapi_prepay(
            JsapiOrder(
                out_trade_no=order.out_trade_no,
                description=order.description,
                amount_fen=order.amount_fen,
                payer_openid=identity.openid,
                notify_url=hub_callback_url(hub_url, Source.WECHAT_PAY, order.mchid),
            )
        )
        count += 1
    return count


def yuan(amount_fen: int) -> str:
    """An amount in fen as the command line takes it: 8800 → "88.00"."""
    return f"{amount_fen // _FEN_PER_YUAN}.{amount_fen % _FEN_PER_YUAN:02d}"


async def try_next(world: World, simulator_url: str | None = None) -> list[str]:
    """What to try once the demo is seeded: commands to copy into another terminal.

    With `simulator_url` (a simulator that knows the demo orders), its control API too.
    """
    lines = ["Try next, in another terminal (after `. .venv/bin/activate`):"]
    orders_found = await demo_orders()
    for demo in orders_found:
        order = demo.order
        if order.status is OrderStatus.CREATED:
            lines.append(
                f"  wxhub simulate pay --order {order.out_trade_no} "
                f"--amount {yuan(order.amount_fen)} --user {demo.user}"
            )
    if orders_found and all(d.order.status is not OrderStatus.CREATED for d in orders_found):
        lines.append("  (the demo orders are paid: `wxhub inbox list` shows their callbacks)")
    lines += _other_callbacks(world)
    clerk = await Staff.filter(brand__code=DEMO_BRAND, role=StaffRole.CLERK).order_by("id").first()
    if clerk is not None:
        lines.append(
            f"  wxhub staff token {clerk.id} --brand {DEMO_BRAND}"
            "    # a clerk's token for the staff API (coupon redemption)"
        )
    lines += [
        "  wxhub inbox list",
        "  wxhub inbox stats",
        "  wxhub simulator inspect pushes      # what the simulator sent the hub",
        "  wxhub simulator inspect requests    # what the hub asked WeChat",
    ]
    unpaid = [d.order for d in orders_found if d.order.status is OrderStatus.CREATED]
    if simulator_url is not None and unpaid:
        lines.append(
            f"  curl -X POST {simulator_url}/_sim/pay/orders/{unpaid[0].out_trade_no}/pay"
            "    # the simulator's own 'user pays order X'"
        )
    return lines


def _other_callbacks(world: World) -> list[str]:
    # Callbacks without follow-ups at WeChat: the simulator need not know what they name.
    user = world.users[0].key if world.users else None
    template = world.templates[0].template_id if world.templates else None
    if template is None or user is None:
        return []
    return [f"  wxhub simulate subscribe-popup --user {user} --accept {template}"]
