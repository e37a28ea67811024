"""Brands and their organisation: regions and stores."""

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from hub.errors import AlreadyExistsError, NotFoundError
from hub.models.brand import Brand, Region, Store, StoreStatus
from hub.services import audit
from hub.services.audit import Actor
from hub.services.fields import check_code, check_name, check_text


async def create_brand(code: str, name: str, actor: Actor) -> Brand:
    """Create a brand (the tenant).

    Raises:
        InvalidValueError: bad code or name.
        AlreadyExistsError: the code is taken.
    """
    code, name = check_code(code), check_name(name)
    try:
        async with in_transaction():
            brand = await Brand.create(code=code, name=name)
            await audit.record(
                actor, "brand.create", "brand", brand.id, brand_id=brand.id, after=snapshot(brand)
            )
    except IntegrityError:
        raise AlreadyExistsError("brand_exists", f"brand {code!r} exists already") from None
    return brand


async def get_brand(code: str) -> Brand:
    """Raises NotFoundError for an unknown code."""
    brand = await Brand.get_or_none(code=code.strip().lower())
    if brand is None:
        raise NotFoundError("brand_not_found", f"no brand {code!r}")
    return brand


async def add_region(brand: Brand, code: str, name: str, actor: Actor) -> Region:
    """Raises InvalidValueError, or AlreadyExistsError when the brand has the code already."""
    code, name = check_code(code), check_name(name)
    try:
        async with in_transaction():
            region = await Region.create(brand=brand, code=code, name=name)
            await audit.record(
                actor,
                "region.create",
                "region",
                region.id,
                brand_id=brand.id,
                after={"code": code, "name": name},
            )
    except IntegrityError:
        raise AlreadyExistsError("region_exists", f"region {code!r} exists already") from None
    return region


async def get_region(brand: Brand, code: str) -> Region:
    """Raises NotFoundError when the brand has no such region."""
    region = await Region.get_or_none(brand=brand, code=code.strip().lower())
    if region is None:
        raise NotFoundError("region_not_found", f"brand {brand.code!r} has no region {code!r}")
    return region


async def add_store(  # noqa: PLR0913 - a store has this many attributes
    brand: Brand,
    code: str,
    name: str,
    actor: Actor,
    *,
    region: Region | None = None,
    address: str = "",
    opening_hours: str = "",
    status: StoreStatus = StoreStatus.OPEN,
) -> Store:
    """Raises InvalidValueError, or AlreadyExistsError when the brand has the code already."""
    code, name = check_code(code), check_name(name)
    address = check_text(address, "address", 255)
    opening_hours = check_text(opening_hours, "opening_hours", 128)
    try:
        async with in_transaction():
            store = await Store.create(
                brand=brand,
                region=region,
                code=code,
                name=name,
                address=address,
                opening_hours=opening_hours,
                status=status,
            )
            await audit.record(
                actor,
                "store.create",
                "store",
                store.id,
                brand_id=brand.id,
                after=store_snapshot(store, region),
            )
    except IntegrityError:
        raise AlreadyExistsError("store_exists", f"store {code!r} exists already") from None
    return store


async def get_store(brand: Brand, code: str) -> Store:
    """Raises NotFoundError when the brand has no such store."""
    store = await Store.get_or_none(brand=brand, code=code.strip().lower())
    if store is None:
        raise NotFoundError("store_not_found", f"brand {brand.code!r} has no store {code!r}")
    return store


def snapshot(brand: Brand) -> dict[str, object]:
    return {"code": brand.code, "name": brand.name}


def store_snapshot(store: Store, region: Region | None) -> dict[str, object]:
    return {
        "code": store.code,
        "name": store.name,
        "region": region.code if region else None,
        "address": store.address,
        "opening_hours": store.opening_hours,
        "status": store.status.value,
    }
