"""`wxhub staff token` and `wxhub staff list`: tokens printed once, staff shown without them."""

import pytest

from hub.cli.main import build_parser, execute
from hub.errors import AuthenticationError
from hub.models.audit import ActorType, AuditLog
from hub.models.staff import Staff
from hub.services.staff_access import authenticate_staff
from hub.settings import Settings
from tests.integration.staff_org import Org, create_org


async def wxhub(settings: Settings, *argv: str) -> int:
    return await execute(build_parser().parse_args(list(argv)), settings)


@pytest.fixture
async def org(db: None) -> Org:
    return await create_org()


async def test_staff_token_prints_a_working_token_once_and_replaces_the_last(
    org: Org, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    clerk = org.staff["clerk_s001"]

    assert await wxhub(settings, "staff", "token", str(clerk.id), "--brand", "acme") == 0
    first = capsys.readouterr().out.splitlines()[1]
    assert await wxhub(settings, "staff", "token", str(clerk.id), "--brand", "acme") == 0
    out = capsys.readouterr().out
    second = out.splitlines()[1]

    assert "clerk_s001" in out
    assert "not shown again" in out
    assert (await authenticate_staff(second)).id == clerk.id
    with pytest.raises(AuthenticationError):
        await authenticate_staff(first)
    rows = await AuditLog.filter(action="staff.token_issued")
    assert {(row.actor_type, row.target_id) for row in rows} == {(ActorType.CLI, str(clerk.id))}
    assert len(rows) == 2


@pytest.mark.parametrize(
    ("brand", "who", "message"),
    [
        ("acme", "other_manager", "no staff member"),
        ("other", "clerk_s001", "no staff member"),
        ("nobrand", "clerk_s001", "no brand"),
    ],
)
async def test_staff_token_refuses_staff_of_another_brand(
    org: Org,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    brand: str,
    who: str,
    message: str,
) -> None:
    people = org.staff | {"other_manager": org.other_staff["manager"]}

    status = await wxhub(settings, "staff", "token", str(people[who].id), "--brand", brand)

    assert status == 1
    assert message in capsys.readouterr().err
    assert not await Staff.exclude(token_hash=None).exists()


async def test_staff_token_refuses_inactive_staff(
    org: Org, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    clerk = org.staff["clerk_s001"]
    await Staff.filter(id=clerk.id).update(active=False)

    assert await wxhub(settings, "staff", "token", str(clerk.id), "--brand", "acme") == 1
    assert "inactive" in capsys.readouterr().err


async def test_staff_list_shows_role_scope_and_token_date_but_no_token(
    org: Org, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    hq = org.staff["hq"]
    assert await wxhub(settings, "staff", "token", str(hq.id), "--brand", "acme") == 0
    token = capsys.readouterr().out.splitlines()[1]

    assert await wxhub(settings, "staff", "list", "--brand", "acme") == 0
    lines = capsys.readouterr().out.splitlines()

    assert [line.split()[-1] for line in lines] == list(org.staff)
    clerk = next(line for line in lines if line.endswith("clerk_s001"))
    assert clerk.split()[1:5] == ["clerk", "s001", "active", "no"]
    assert next(line for line in lines if line.endswith("region_east")).split()[2] == "east"
    admin = next(line for line in lines if line.endswith(" hq")).split()
    assert admin[1:4] == ["hq_admin", "-", "active"]
    assert "no" not in admin
    assert token not in "\n".join(lines)
    assert "other_" not in "\n".join(lines)
