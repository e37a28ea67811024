"""Staff access: bearer tokens for store staff, and what each role may do in which stores.

Every staff action is checked by `authorize(staff, permission, store)`: the role must hold the
permission (ROLE_PERMISSIONS), and a store named must lie in the staff member's scope.

| Permission         | clerk | store_manager | region_manager | hq_admin |
|--------------------|-------|---------------|----------------|----------|
| look_up_member     | yes   | yes           | yes            | yes      |
| redeem             | yes   | yes           | yes            | yes      |
| undo_redemption    |       | yes           | yes            | yes      |
| view_store         |       | yes           | yes            | yes      |
| manage_staff       |       | yes           | yes            | yes      |
| manage_templates   |       |               |                | yes      |
| issue_coupons      |       |               |                | yes      |
| view_reports       |       |               |                | yes      |
| adjust_points      |       |               |                | yes      |

Scope: a clerk or store manager acts in their one store, a region manager in every store of
their region, a head-office admin in every store of the brand. Members belong to the brand, so
looking one up needs no store. Another brand's store is answered as missing (NotFoundError),
never as forbidden. Only a head-office admin issues tokens for managers; a store or region
manager issues them for the clerks of stores in their scope, and anyone with manage_staff for
themselves.
"""

import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import NamedTuple

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from hub.errors import AuthenticationError, DomainError, NotFoundError, PermissionDeniedError
from hub.models.brand import Store
from hub.models.staff import Staff, StaffRole
from hub.services import audit
from hub.services.api_keys import hash_key
from hub.services.audit import Actor
from hub.services.members import MAX_INT_ID

TOKEN_PREFIX = "wxt_"  # noqa: S105 - a public prefix, not a secret
# The shape of an API key: a 6-byte public part, then 24 random bytes (192 bits) of secret.
_ID_BYTES = 6
_SECRET_BYTES = 24


class Permission(StrEnum):
    LOOK_UP_MEMBER = "look_up_member"
    REDEEM = "redeem"
    UNDO_REDEMPTION = "undo_redemption"
    # A store's own data: its orders, figures and staff list.
    VIEW_STORE = "view_store"
    MANAGE_STAFF = "manage_staff"
    MANAGE_TEMPLATES = "manage_templates"
    ISSUE_COUPONS = "issue_coupons"
    # Brand-wide reports: the dashboard across stores, campaign results.
    VIEW_REPORTS = "view_reports"
    ADJUST_POINTS = "adjust_points"


_CLERK = frozenset({Permission.LOOK_UP_MEMBER, Permission.REDEEM})
_STORE_MANAGER = _CLERK | {
    Permission.UNDO_REDEMPTION,
    Permission.VIEW_STORE,
    Permission.MANAGE_STAFF,
}
ROLE_PERMISSIONS: Mapping[StaffRole, frozenset[Permission]] = {
    StaffRole.CLERK: _CLERK,
    StaffRole.STORE_MANAGER: _STORE_MANAGER,
    # A store manager's rights, in every store of the region (the scope differs, not the rights).
    StaffRole.REGION_MANAGER: _STORE_MANAGER,
    StaffRole.HQ_ADMIN: frozenset(Permission),
}


class IssuedStaffToken(NamedTuple):
    staff: Staff
    # The bearer token: shown once, stored only as its hash.
    plaintext: str


def permissions_of(role: StaffRole) -> list[Permission]:
    """The role's permissions, in the order Permission lists them."""
    held = ROLE_PERMISSIONS[role]
    return [permission for permission in Permission if permission in held]


async def find_staff(brand_id: int, staff_id: int) -> Staff:
    """A staff member of the brand, active or not.

    Raises:
        NotFoundError: "staff_not_found", also for another brand's staff.
    """
    staff = (
        await Staff.get_or_none(id=staff_id, brand_id=brand_id)
        if 1 <= staff_id <= MAX_INT_ID
        else None
    )
    if staff is None:
        raise NotFoundError("staff_not_found", f"no staff member {staff_id}")
    return staff


async def issue_staff_token(staff_id: int, brand_id: int, actor: Actor) -> IssuedStaffToken:
    """A new bearer token for the staff member; their previous token stops working.

    Raises:
        NotFoundError: "staff_not_found" (no such staff member in the brand).
        DomainError: "staff_inactive".
    """
    public_id = TOKEN_PREFIX + secrets.token_hex(_ID_BYTES)
    plaintext = f"{public_id}_{secrets.token_urlsafe(_SECRET_BYTES)}"
    now = datetime.now(UTC)
    async with in_transaction():
        staff = await find_staff(brand_id, staff_id)
        # Locked so that the audit row's "before" is the token this issue replaces.
        staff = await Staff.select_for_update().get(id=staff.id)
        if not staff.active:
            raise DomainError("staff_inactive", f"staff member {staff_id} is inactive")
        before = {"token_issued_at": _iso(staff.token_issued_at)}
        staff.token_hash = hash_key(plaintext)
        staff.token_issued_at = now
        await staff.save(update_fields=["token_hash", "token_issued_at"])
        # The token (and its hash) stay out of the audit log.
        await audit.record(
            actor,
            "staff.token_issued",
            "staff",
            staff.id,
            brand_id=brand_id,
            before=before,
            after={"token_issued_at": _iso(now)},
        )
    return IssuedStaffToken(staff, plaintext)


async def authenticate_staff(token: str) -> Staff:
    """The active staff member holding this token.

    Raises:
        AuthenticationError: "invalid_staff_token" (not a staff token, unknown, replaced, or
            its holder is inactive).
    """
    staff = (
        await Staff.get_or_none(token_hash=hash_key(token), active=True)
        if token.startswith(TOKEN_PREFIX)
        else None
    )
    if staff is None:
        raise AuthenticationError("invalid_staff_token", "unknown, replaced or inactive token")
    return staff


def authorize(staff: Staff, permission: Permission, store: Store | None = None) -> None:
    """Let the staff member do `permission` (in `store`, when the action is a store's).

    Raises:
        PermissionDeniedError: "staff_inactive", "forbidden" (the role lacks the permission)
            or "outside_scope" (a store of the brand outside their store or region).
        NotFoundError: "store_not_found" for another brand's store.
    """
    if not staff.active:
        raise PermissionDeniedError("staff_inactive", f"staff member {staff.id} is inactive")
    if permission not in ROLE_PERMISSIONS[staff.role]:
        raise PermissionDeniedError("forbidden", f"a {staff.role.value} may not {permission.value}")
    if store is None:
        return
    if store.brand_id != staff.brand_id:
        raise NotFoundError("store_not_found", f"no store {store.id}")
    if not in_scope(staff, store):
        raise PermissionDeniedError("outside_scope", f"store {store.code} is outside your scope")


def in_scope(staff: Staff, store: Store) -> bool:
    """Whether the store (of any brand) is one the staff member acts in."""
    if store.brand_id != staff.brand_id:
        return False
    if staff.role is StaffRole.HQ_ADMIN:
        return True
    if staff.role is StaffRole.REGION_MANAGER:
        # Both must be set: a store of no region is in no region manager's scope.
        return staff.region_id is not None and store.region_id == staff.region_id
    return staff.store_id is not None and store.id == staff.store_id


def stores_in_scope(staff: Staff) -> QuerySet[Store]:
    """The stores the staff member acts in (for listings)."""
    stores = Store.filter(brand_id=staff.brand_id)
    if staff.role is StaffRole.HQ_ADMIN:
        return stores
    if staff.role is StaffRole.REGION_MANAGER:
        # filter(region_id=None) would mean "stores of no region": never a scope.
        return (
            stores.filter(region_id=staff.region_id)
            if staff.region_id
            else stores.filter(id__in=[])
        )
    return stores.filter(id=staff.store_id) if staff.store_id else stores.filter(id__in=[])


def staff_in_scope(staff: Staff) -> QuerySet[Staff]:
    """The staff of the stores in scope; a region manager also sees their region's managers."""
    people = Staff.filter(brand_id=staff.brand_id)
    if staff.role is StaffRole.HQ_ADMIN:
        return people
    of_stores = Q(store_id__in=Subquery(stores_in_scope(staff).values("id")))
    if staff.role is StaffRole.REGION_MANAGER and staff.region_id is not None:
        return people.filter(of_stores | Q(region_id=staff.region_id))
    return people.filter(of_stores)


async def authorize_token_issue(issuer: Staff, target: Staff) -> None:
    """Let `issuer` issue a token for `target` (see the module docstring).

    Raises:
        PermissionDeniedError: "forbidden" (no manage_staff, or a manager's token asked for by
            another manager) or "outside_scope" (a clerk of a store outside their scope).
        NotFoundError: "staff_not_found" for another brand's staff.
    """
    authorize(issuer, Permission.MANAGE_STAFF)
    if target.brand_id != issuer.brand_id:
        raise NotFoundError("staff_not_found", f"no staff member {target.id}")
    if target.id == issuer.id or issuer.role is StaffRole.HQ_ADMIN:
        return
    if target.role is not StaffRole.CLERK:
        raise PermissionDeniedError(
            "forbidden", "only head office issues tokens for managers and admins"
        )
    store = await Store.get_or_none(id=target.store_id) if target.store_id else None
    if store is None or not in_scope(issuer, store):
        raise PermissionDeniedError("outside_scope", f"staff member {target.id} is outside scope")


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
