"""A brand with regions, stores and staff of every role, and a second brand with the same codes."""

from dataclasses import dataclass

from hub.models.brand import Brand, Store
from hub.models.staff import Staff, StaffRole
from hub.services import brands
from hub.services.audit import Actor
from hub.services.staff import add_staff


@dataclass(frozen=True)
class Org:
    brand: Brand
    # s001, s002 in region east; s003 in region south; s004 in no region.
    stores: dict[str, Store]
    # clerk_s001, manager_s001, clerk_s002, manager_s002, clerk_s003, region_east,
    # region_south, hq.
    staff: dict[str, Staff]
    # Brand "other": region east, store s001, its store manager and admin (same codes as acme's).
    other_brand: Brand
    other_store: Store
    other_staff: dict[str, Staff]


async def create_org() -> Org:
    actor = Actor.cli()
    brand = await brands.create_brand("acme", "Acme Tea", actor)
    east = await brands.add_region(brand, "east", "East China", actor)
    south = await brands.add_region(brand, "south", "South China", actor)
    stores = {
        "s001": await brands.add_store(brand, "s001", "People's Square", actor, region=east),
        "s002": await brands.add_store(brand, "s002", "The Bund", actor, region=east),
        "s003": await brands.add_store(brand, "s003", "Tianhe", actor, region=south),
        "s004": await brands.add_store(brand, "s004", "Airport", actor),
    }
    at_store = {
        "clerk_s001": (StaffRole.CLERK, "s001"),
        "manager_s001": (StaffRole.STORE_MANAGER, "s001"),
        "clerk_s002": (StaffRole.CLERK, "s002"),
        "manager_s002": (StaffRole.STORE_MANAGER, "s002"),
        "clerk_s003": (StaffRole.CLERK, "s003"),
    }
    staff = {
        name: await add_staff(brand, name, role, actor, store=stores[code])
        for name, (role, code) in at_store.items()
    }
    staff["region_east"] = await add_staff(
        brand, "region_east", StaffRole.REGION_MANAGER, actor, region=east
    )
    staff["region_south"] = await add_staff(
        brand, "region_south", StaffRole.REGION_MANAGER, actor, region=south
    )
    staff["hq"] = await add_staff(brand, "hq", StaffRole.HQ_ADMIN, actor)

    other = await brands.create_brand("other", "Other Tea", actor)
    other_east = await brands.add_region(other, "east", "East", actor)
    other_store = await brands.add_store(other, "s001", "Elsewhere", actor, region=other_east)
    other_staff = {
        "manager": await add_staff(
            other, "other_manager", StaffRole.STORE_MANAGER, actor, store=other_store
        ),
        "hq": await add_staff(other, "other_hq", StaffRole.HQ_ADMIN, actor),
    }
    return Org(brand, stores, staff, other, other_store, other_staff)
