"""Staff tokens and the role/scope checks every staff action goes through (service level)."""

import json
import re

import pytest

from hub.errors import AuthenticationError, DomainError, NotFoundError, PermissionDeniedError
from hub.models.audit import ActorType, AuditLog
from hub.models.staff import Staff, StaffRole
from hub.services import api_keys
from hub.services.audit import Actor
from hub.services.staff_access import (
    Permission,
    authenticate_staff,
    authorize,
    authorize_token_issue,
    in_scope,
    issue_staff_token,
    permissions_of,
    staff_in_scope,
    stores_in_scope,
)
from tests.integration.staff_org import Org, create_org

# Who may do what does not depend on the database: SQLite is enough.
pytestmark = pytest.mark.sqlite_only

P = Permission
# The issue's table, written out here so that a change to the code's table fails a test.
CLERK = {P.LOOK_UP_MEMBER, P.REDEEM}
STORE_MANAGER = CLERK | {P.UNDO_REDEMPTION, P.VIEW_STORE, P.MANAGE_STAFF}
EXPECTED = {
    StaffRole.CLERK: CLERK,
    StaffRole.STORE_MANAGER: STORE_MANAGER,
    StaffRole.REGION_MANAGER: STORE_MANAGER,
    StaffRole.HQ_ADMIN: STORE_MANAGER
    | {P.MANAGE_TEMPLATES, P.ISSUE_COUPONS, P.VIEW_REPORTS, P.ADJUST_POINTS},
}
# Each role's member of the org and a store it acts in.
AT_HOME = {
    StaffRole.CLERK: ("clerk_s001", "s001"),
    StaffRole.STORE_MANAGER: ("manager_s001", "s001"),
    StaffRole.REGION_MANAGER: ("region_east", "s002"),
    StaffRole.HQ_ADMIN: ("hq", "s003"),
}
TOKEN_SHAPE = re.compile(r"wxt_[0-9a-f]{12}_[A-Za-z0-9_-]{32}")


@pytest.fixture
async def org(db: None) -> Org:
    return await create_org()


def reason_of(error: pytest.ExceptionInfo[DomainError]) -> str:
    return error.value.reason


def test_the_hq_admin_holds_every_permission_there_is() -> None:
    assert set(Permission) == EXPECTED[StaffRole.HQ_ADMIN]
    assert permissions_of(StaffRole.HQ_ADMIN) == list(Permission)


@pytest.mark.parametrize("role", list(StaffRole))
async def test_each_role_may_do_exactly_what_the_issue_gives_it_in_its_store(
    org: Org, role: StaffRole
) -> None:
    name, code = AT_HOME[role]
    staff, store = org.staff[name], org.stores[code]
    allowed, refused = set(), {}
    for permission in Permission:
        try:
            authorize(staff, permission, store)
            authorize(staff, permission)
            allowed.add(permission)
        except PermissionDeniedError as exc:
            refused[permission] = exc.reason

    assert allowed == EXPECTED[role]
    assert set(refused.values()) <= {"forbidden"}
    assert set(permissions_of(role)) == EXPECTED[role]


@pytest.mark.parametrize(
    ("name", "inside", "outside"),
    [
        ("clerk_s001", {"s001"}, {"s002", "s003", "s004"}),
        ("manager_s001", {"s001"}, {"s002", "s003", "s004"}),
        ("manager_s002", {"s002"}, {"s001", "s003", "s004"}),
        ("region_east", {"s001", "s002"}, {"s003", "s004"}),
        ("region_south", {"s003"}, {"s001", "s002", "s004"}),
        ("hq", {"s001", "s002", "s003", "s004"}, set()),
    ],
)
async def test_a_store_outside_the_staff_members_store_or_region_is_outside_scope(
    org: Org, name: str, inside: set[str], outside: set[str]
) -> None:
    staff = org.staff[name]

    for code in inside:
        authorize(staff, Permission.REDEEM, org.stores[code])
    for code in outside:
        with pytest.raises(PermissionDeniedError) as refused:
            authorize(staff, Permission.REDEEM, org.stores[code])
        assert reason_of(refused) == "outside_scope"
    assert {store.code for store in await stores_in_scope(staff)} == inside


@pytest.mark.parametrize("name", ["clerk_s001", "manager_s001", "region_east", "hq"])
async def test_another_brands_store_looks_missing_even_with_the_same_codes(
    org: Org, name: str
) -> None:
    staff = org.staff[name]

    with pytest.raises(NotFoundError) as missing:
        authorize(staff, Permission.REDEEM, org.other_store)

    assert reason_of(missing) == "store_not_found"
    assert not in_scope(staff, org.other_store)
    assert org.other_store.id not in {store.id for store in await stores_in_scope(staff)}


async def test_a_permission_the_role_lacks_is_forbidden_before_the_store_is_looked_at(
    org: Org,
) -> None:
    with pytest.raises(PermissionDeniedError) as refused:
        authorize(org.staff["clerk_s001"], Permission.VIEW_STORE, org.other_store)

    assert reason_of(refused) == "forbidden"


async def test_a_scoped_role_without_its_store_or_region_acts_nowhere(org: Org) -> None:
    # Not possible through add_staff; a row edited by hand must still not widen the scope.
    loose_region = await Staff.create(
        brand=org.brand, name="loose", role=StaffRole.REGION_MANAGER, region=None
    )
    loose_clerk = await Staff.create(brand=org.brand, name="loose", role=StaffRole.CLERK)

    for staff in (loose_region, loose_clerk):
        assert await stores_in_scope(staff) == []
        assert await staff_in_scope(staff) == []
        with pytest.raises(PermissionDeniedError) as refused:
            authorize(staff, Permission.REDEEM, org.stores["s004"])  # a store of no region
        assert reason_of(refused) == "outside_scope"


@pytest.mark.parametrize(
    ("name", "seen"),
    [
        ("manager_s001", {"clerk_s001", "manager_s001"}),
        (
            "region_east",
            {"clerk_s001", "manager_s001", "clerk_s002", "manager_s002", "region_east"},
        ),
        ("region_south", {"clerk_s003", "region_south"}),
        (
            "hq",
            {
                "clerk_s001",
                "manager_s001",
                "clerk_s002",
                "manager_s002",
                "clerk_s003",
                "region_east",
                "region_south",
                "hq",
            },
        ),
    ],
)
async def test_staff_in_scope_are_those_of_the_stores_in_scope(
    org: Org, name: str, seen: set[str]
) -> None:
    assert {person.name for person in await staff_in_scope(org.staff[name])} == seen


async def test_inactive_staff_may_do_nothing_and_get_no_token(org: Org) -> None:
    clerk = org.staff["clerk_s001"]
    issued = await issue_staff_token(clerk.id, org.brand.id, Actor.cli())
    await Staff.filter(id=clerk.id).update(active=False)
    await clerk.refresh_from_db()

    with pytest.raises(PermissionDeniedError) as refused:
        authorize(clerk, Permission.LOOK_UP_MEMBER)
    with pytest.raises(AuthenticationError) as unknown:
        await authenticate_staff(issued.plaintext)
    with pytest.raises(DomainError) as no_token:
        await issue_staff_token(clerk.id, org.brand.id, Actor.cli())

    assert reason_of(refused) == "staff_inactive"
    assert reason_of(unknown) == "invalid_staff_token"
    assert reason_of(no_token) == "staff_inactive"


async def test_a_new_token_replaces_the_old_one_and_is_stored_only_as_a_hash(org: Org) -> None:
    clerk = org.staff["clerk_s001"]

    first = await issue_staff_token(clerk.id, org.brand.id, Actor.cli())
    second = await issue_staff_token(clerk.id, org.brand.id, Actor.staff(org.staff["hq"].id))

    assert TOKEN_SHAPE.fullmatch(first.plaintext)
    assert TOKEN_SHAPE.fullmatch(second.plaintext)
    assert (await authenticate_staff(second.plaintext)).id == clerk.id
    with pytest.raises(AuthenticationError) as replaced:
        await authenticate_staff(first.plaintext)
    assert reason_of(replaced) == "invalid_staff_token"
    stored = await Staff.get(id=clerk.id)
    assert stored.token_hash == api_keys.hash_key(second.plaintext)
    assert stored.token_issued_at is not None


async def test_issuing_a_token_is_audited_without_the_token(org: Org) -> None:
    clerk, hq = org.staff["clerk_s001"], org.staff["hq"]

    first = await issue_staff_token(clerk.id, org.brand.id, Actor.cli())
    second = await issue_staff_token(clerk.id, org.brand.id, Actor.staff(hq.id))

    rows = await AuditLog.filter(action="staff.token_issued").order_by("id")
    assert [(row.actor_type, row.target_id, row.brand_id) for row in rows] == [
        (ActorType.CLI, str(clerk.id), org.brand.id),
        (ActorType.STAFF, str(clerk.id), org.brand.id),
    ]
    assert rows[1].actor_id == str(hq.id)
    assert rows[0].before == {"token_issued_at": None}
    assert rows[1].before == rows[0].after
    written = json.dumps([[row.before, row.after] for row in rows])
    hashes = [api_keys.hash_key(issued.plaintext) for issued in (first, second)]
    for secret in [first.plaintext, second.plaintext, *hashes]:
        assert secret[4:16] not in written


@pytest.mark.parametrize(
    "token",
    ["wxt_000000000000_unknown", "wxk_abc_an-api-key", "wxs_a-session-token", "something"],
)
async def test_unknown_tokens_and_other_kinds_of_token_are_refused(org: Org, token: str) -> None:
    with pytest.raises(AuthenticationError) as refused:
        await authenticate_staff(token)

    assert reason_of(refused) == "invalid_staff_token"


async def test_an_api_keys_plaintext_is_no_staff_token(org: Org) -> None:
    key = await api_keys.create_api_key(org.brand, "POS", Actor.cli())

    with pytest.raises(AuthenticationError):
        await authenticate_staff(key.plaintext)


@pytest.mark.parametrize("staff_id", [0, -1, 2**31, 2**63])
async def test_a_token_for_no_staff_id_is_staff_not_found(org: Org, staff_id: int) -> None:
    with pytest.raises(NotFoundError) as missing:
        await issue_staff_token(staff_id, org.brand.id, Actor.cli())

    assert reason_of(missing) == "staff_not_found"


async def test_a_token_for_another_brands_staff_is_staff_not_found(org: Org) -> None:
    with pytest.raises(NotFoundError) as missing:
        await issue_staff_token(org.other_staff["manager"].id, org.brand.id, Actor.cli())

    assert reason_of(missing) == "staff_not_found"
    assert (await Staff.get(id=org.other_staff["manager"].id)).token_hash is None


@pytest.mark.parametrize(
    ("issuer", "target", "reason"),
    [
        ("hq", "region_east", None),
        ("hq", "manager_s002", None),
        ("hq", "hq", None),
        ("manager_s001", "clerk_s001", None),
        ("manager_s001", "manager_s001", None),
        ("manager_s001", "clerk_s002", "outside_scope"),
        ("manager_s001", "manager_s002", "forbidden"),
        ("manager_s001", "region_east", "forbidden"),
        ("manager_s001", "hq", "forbidden"),
        ("region_east", "clerk_s002", None),
        ("region_east", "clerk_s003", "outside_scope"),
        ("region_east", "manager_s001", "forbidden"),
        ("region_east", "region_south", "forbidden"),
        ("clerk_s001", "clerk_s001", "forbidden"),
        ("clerk_s001", "clerk_s002", "forbidden"),
    ],
)
async def test_who_may_issue_a_token_for_whom(
    org: Org, issuer: str, target: str, reason: str | None
) -> None:
    check = authorize_token_issue(org.staff[issuer], org.staff[target])

    if reason is None:
        await check
        return
    with pytest.raises(PermissionDeniedError) as refused:
        await check
    assert reason_of(refused) == reason


@pytest.mark.parametrize("issuer", ["manager_s001", "region_east", "hq"])
async def test_another_brands_staff_cannot_be_given_a_token(org: Org, issuer: str) -> None:
    with pytest.raises(NotFoundError) as missing:
        await authorize_token_issue(org.staff[issuer], org.other_staff["manager"])

    assert reason_of(missing) == "staff_not_found"
