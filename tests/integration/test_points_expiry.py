"""Points expire lot by lot, oldest first, by the hourly job; what was spent is not expired."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from hub.models.member import Member
from hub.models.points import PointsEntry, PointsKind
from hub.services import points
from hub.services.audit import Actor
from hub.services.members import create_member
from hub.services.points import PointsRequest
from hub.settings import Settings
from hub.vault import Vault, load_vault
from tests import builders
from tests.builders import HubBrand

ACTOR = Actor.cli()


@pytest.fixture
def vault(settings: Settings) -> Vault:
    return load_vault(settings)


@pytest.fixture
async def hub(db: None, vault: Vault) -> HubBrand:
    hub = await builders.create_hub_brand(vault)
    await builders.apply_programme(hub)  # points are valid for 12 months
    return hub


async def earn(member: Member, points_: int, key: str, at: datetime) -> None:
    with time_machine.travel(at, tick=False):
        await points.adjust_points(member.id, PointsRequest(points_, key, "welcome"), ACTOR)


async def test_the_oldest_lot_expires_first_and_only_what_is_left_of_it(
    hub: HubBrand, vault: Vault
) -> None:
    member = await create_member(hub.brand, vault)
    start = datetime.now(UTC) - timedelta(days=400)
    await earn(member, 100, "old", start)
    await earn(member, 50, "new", start + timedelta(days=200))
    # Spending takes the oldest points first: 30 of the first lot are gone.
    await points.redeem_points(member.id, PointsRequest(30, "gift", "cup"), ACTOR)

    written = await points.expire_points(datetime.now(UTC))

    assert written == 1
    expiry = await PointsEntry.get(member_id=member.id, kind=PointsKind.EXPIRE)
    assert expiry.delta == -70
    assert expiry.balance_after == 50
    assert (await Member.get(id=member.id)).points_balance == 50
    # The second lot has 165 days left; a second run the same hour changes nothing.
    assert await points.expire_points(datetime.now(UTC)) == 0
    assert await PointsEntry.filter(member_id=member.id, kind=PointsKind.EXPIRE).count() == 1


async def test_a_backlog_larger_than_one_batch_is_expired_in_one_run(
    hub: HubBrand, vault: Vault
) -> None:
    members = [await create_member(hub.brand, vault) for _ in range(5)]
    long_ago = datetime.now(UTC) - timedelta(days=400)
    for number, member in enumerate(members):
        await earn(member, 10 + number, f"lot-{number}", long_ago)

    written = await points.expire_points(datetime.now(UTC), batch=2)

    assert written == 5
    fresh = await Member.filter(id__in=[member.id for member in members])
    assert [member.points_balance for member in fresh] == [0] * 5
    assert await PointsEntry.filter(remaining__gt=0).count() == 0
