"""Staff members: their role and the store or region their role is scoped to."""

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from hub.errors import AlreadyExistsError, InvalidValueError
from hub.models.brand import Brand, Region, Store
from hub.models.staff import Staff, StaffRole
from hub.services import audit
from hub.services.audit import Actor
from hub.services.fields import check_name, check_text

# Which scope each role needs: clerks and store managers act in one store, region managers in
# one region, head-office admins in the whole brand.
_STORE_ROLES = frozenset({StaffRole.CLERK, StaffRole.STORE_MANAGER})


def check_scope(role: StaffRole, store: Store | None, region: Region | None) -> None:
    """Raises InvalidValueError when the store/region given does not fit the role."""
    if role in _STORE_ROLES:
        if store is None or region is not None:
            raise InvalidValueError("store", f"a {role.value} belongs to exactly one store")
    elif role is StaffRole.REGION_MANAGER:
        if region is None or store is not None:
            raise InvalidValueError("region", "a region_manager belongs to exactly one region")
    elif store is not None or region is not None:
        raise InvalidValueError("role", "an hq_admin acts for the whole brand: no store or region")


async def add_staff(  # noqa: PLR0913 - a staff member has this many attributes
    brand: Brand,
    name: str,
    role: StaffRole,
    actor: Actor,
    *,
    store: Store | None = None,
    region: Region | None = None,
    wecom_userid: str | None = None,
) -> Staff:
    """Add a staff member.

    Raises:
        InvalidValueError: bad name, or a scope that does not fit the role.
        AlreadyExistsError: the WeCom userid is already someone else's in this brand.
    """
    name = check_name(name)
    check_scope(role, store, region)
    userid = check_text(wecom_userid or "", "wecom_userid", 64) or None
    try:
        async with in_transaction():
            staff = await Staff.create(
                brand=brand, name=name, role=role, store=store, region=region, wecom_userid=userid
            )
            await audit.record(
                actor,
                "staff.create",
                "staff",
                staff.id,
                brand_id=brand.id,
                after={
                    "name": name,
                    "role": role.value,
                    "store": store.code if store else None,
                    "region": region.code if region else None,
                    "wecom_userid": userid,
                },
            )
    except IntegrityError:
        raise AlreadyExistsError(
            "staff_exists", f"WeCom userid {userid!r} already belongs to a staff member"
        ) from None
    return staff
