"""Concurrent scans and issuances never use a coupon twice nor oversell a template.

Run on both databases; on PostgreSQL the transactions truly overlap (one pool connection each),
so the member and coupon row locks, the conditional stock UPDATE and the unique keys are what
these prove.
"""

import asyncio
from datetime import UTC, datetime

import pytest

from hub.errors import DomainError
from hub.models.brand import Store
from hub.models.coupon import Coupon, CouponStatus, CouponTemplate, IssueSource, Redemption
from hub.models.member import Member
from hub.services.audit import Actor
from hub.services.coupons import Issuance, issue_coupon
from hub.services.members import create_member
from hub.services.redemptions import Scan, redeem
from hub.settings import Settings
from hub.vault import Vault, load_vault
from tests import builders
from tests.builders import HubBrand
from tests.integration.coupon_kit import give, make_template, qr

ACTOR = Actor.cli()


@pytest.fixture
async def hub(db: None, settings: Settings) -> HubBrand:
    return await builders.create_hub_brand(load_vault(settings))


@pytest.fixture
def vault(settings: Settings) -> Vault:
    return load_vault(settings)


@pytest.fixture
async def member(hub: HubBrand, vault: Vault) -> Member:
    return await create_member(hub.brand, vault)


async def scan_at_till(vault: Vault, store: Store, coupon: Coupon, scan_id: str) -> str:
    """One till's scan: "redeemed", or the reason it was refused."""
    scan = Scan(qr(vault, coupon.id), scan_id, store, 5_000)
    try:
        await redeem(scan, None, ACTOR, vault, datetime.now(UTC))
    except DomainError as exc:
        return exc.reason
    return "redeemed"


async def test_twenty_tills_scanning_one_coupon_at_once_redeem_it_once(
    hub: HubBrand, vault: Vault, member: Member
) -> None:
    coupon = await give(await make_template(hub.brand, "ten-off"), member)

    outcomes = await asyncio.gather(
        *(scan_at_till(vault, hub.store, coupon, f"till-{n}") for n in range(20))
    )

    assert outcomes.count("redeemed") == 1
    assert set(outcomes) == {"redeemed", "coupon_used"}
    assert await Redemption.filter(coupon_id=coupon.id).count() == 1
    fresh = await Coupon.get(id=coupon.id)
    assert (fresh.status, fresh.uses_left) == (CouponStatus.USED, 0)


async def test_a_count_card_of_three_uses_scanned_ten_times_at_once_is_used_three_times(
    hub: HubBrand, vault: Vault, member: Member
) -> None:
    card = await give(await make_template(hub.brand, "wash", "count_card", uses=3), member)

    outcomes = await asyncio.gather(
        *(scan_at_till(vault, hub.store, card, f"wash-{n}") for n in range(10))
    )

    assert outcomes.count("redeemed") == 3
    assert outcomes.count("coupon_used") == 7
    assert await Redemption.filter(coupon_id=card.id).count() == 3
    fresh = await Coupon.get(id=card.id)
    assert (fresh.status, fresh.uses_left) == (CouponStatus.USED, 0)


@pytest.mark.parametrize(("kind", "uses_left"), [("cash_off", 0), ("count_card", 4)])
async def test_one_scan_id_sent_twenty_times_at_once_is_one_redemption(
    hub: HubBrand, vault: Vault, member: Member, kind: str, uses_left: int
) -> None:
    uses = {"uses": 5} if kind == "count_card" else {}
    coupon = await give(await make_template(hub.brand, "promo", kind, **uses), member)
    scan = Scan(qr(vault, coupon.id), "till-1-0001", hub.store, 5_000)

    results = await asyncio.gather(
        *(redeem(scan, None, ACTOR, vault, datetime.now(UTC)) for _ in range(20))
    )

    assert len({result.redemption.id for result in results}) == 1
    assert [result.created for result in results].count(True) == 1
    assert (await Coupon.get(id=coupon.id)).uses_left == uses_left


async def test_two_hundred_issuances_against_a_stock_of_fifty_issue_exactly_fifty(
    hub: HubBrand, vault: Vault
) -> None:
    template = await make_template(hub.brand, "launch", stock_total=50)
    members = [await create_member(hub.brand, vault) for _ in range(100)]

    async def issue(number: int) -> str:
        member = members[number % len(members)]
        issuance = Issuance(template.id, member.id, f"launch-{number}", IssueSource.API)
        try:
            await issue_coupon(issuance, ACTOR, datetime.now(UTC))
        except DomainError as exc:
            return exc.reason
        return "issued"

    outcomes = await asyncio.gather(*(issue(number) for number in range(200)))

    assert outcomes.count("issued") == 50
    assert set(outcomes) == {"issued", "out_of_stock"}
    assert await Coupon.filter(template_id=template.id).count() == 50
    assert (await CouponTemplate.get(id=template.id)).issued_count == 50


async def test_one_issue_key_sent_twenty_times_at_once_gives_one_coupon(
    hub: HubBrand, member: Member
) -> None:
    template = await make_template(hub.brand, "welcome", stock_total=10)
    issuance = Issuance(template.id, member.id, "crm-welcome-42", IssueSource.API)

    results = await asyncio.gather(
        *(issue_coupon(issuance, ACTOR, datetime.now(UTC)) for _ in range(20))
    )

    assert len({coupon.id for coupon, _ in results}) == 1
    assert [created for _, created in results].count(True) == 1
    assert await Coupon.filter(template_id=template.id).count() == 1
    assert (await CouponTemplate.get(id=template.id)).issued_count == 1


async def test_one_issue_key_for_twenty_members_at_once_gives_one_coupon_and_refuses_the_rest(
    hub: HubBrand, vault: Vault
) -> None:
    template = await make_template(hub.brand, "welcome")
    members = [await create_member(hub.brand, vault) for _ in range(20)]

    async def issue(member: Member) -> str:
        issuance = Issuance(template.id, member.id, "crm-shared-key", IssueSource.API)
        try:
            await issue_coupon(issuance, ACTOR, datetime.now(UTC))
        except DomainError as exc:
            return exc.reason
        return "issued"

    outcomes = await asyncio.gather(*(issue(member) for member in members))

    assert outcomes.count("issued") == 1
    assert set(outcomes) == {"issued", "issue_key_reused"}
    assert await Coupon.filter(template_id=template.id).count() == 1
    assert (await CouponTemplate.get(id=template.id)).issued_count == 1
