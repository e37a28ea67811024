"""Brand set-up from the command line: what it writes, what it refuses, what it never shows."""

import hashlib
import io
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from hub.cli.main import build_parser, execute
from hub.errors import StartupError
from hub.models.account import MiniProgramApp, PayMerchant, WecomCorp
from hub.models.api_key import ApiKey
from hub.models.audit import ActorType, AuditLog
from hub.models.brand import Brand, Region, Store, StoreStatus
from hub.models.staff import Staff, StaffRole
from hub.services.accounts import sealed_column
from hub.settings import Settings
from hub.vault import load_vault
from tests.conftest import make_settings

APP_SECRET = "0123456789abcdef0123456789abcdef"
API_V3_KEY = "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


async def wxhub(settings: Settings, *argv: str) -> int:
    return await execute(build_parser().parse_args(list(argv)), settings)


@pytest.fixture(scope="module")
def private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture
def secret_files(tmp_path: Path, private_key_pem: str) -> dict[str, str]:
    contents = {
        "secret": APP_SECRET,
        "api_v3_key": API_V3_KEY,
        "private_key": private_key_pem,
        "token": "Token123",
        "aes_key": AES_KEY,
    }
    files = {}
    for name, content in contents.items():
        path = tmp_path / name
        path.write_text(content + "\n")
        files[name] = str(path)
    return files


async def brand_with_store(settings: Settings) -> None:
    assert await wxhub(settings, "brand", "create", "acme", "--name", "Acme Tea") == 0
    assert await wxhub(settings, "region", "add", "east", "--brand", "acme", "--name", "East") == 0
    assert (
        await wxhub(
            settings,
            "store",
            "add",
            "s001",
            "--brand",
            "acme",
            "--name",
            "People's Square",
            "--region",
            "east",
            "--address",
            "1 Nanjing Rd",
            "--hours",
            "10:00-22:00",
        )
        == 0
    )


async def test_brand_region_store_are_created_and_audited(
    db: None, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    await brand_with_store(settings)

    assert "brand acme created" in capsys.readouterr().out
    brand = await Brand.get(code="acme")
    store = await Store.get(brand=brand, code="s001").prefetch_related("region")
    assert brand.name == "Acme Tea"
    assert store.region is not None
    assert store.region.code == "east"
    assert store.status is StoreStatus.OPEN
    assert store.opening_hours == "10:00-22:00"
    actions = [entry.action for entry in await AuditLog.filter(brand=brand).order_by("id")]
    assert actions == ["brand.create", "region.create", "store.create"]
    entry = await AuditLog.get(action="store.create")
    assert entry.actor_type is ActorType.CLI
    assert entry.after is not None
    assert entry.after["region"] == "east"


async def test_duplicates_are_refused_with_a_clear_message(
    db: None, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    await brand_with_store(settings)

    assert await wxhub(settings, "brand", "create", "ACME", "--name", "Again") == 1
    assert "brand 'acme' exists already" in capsys.readouterr().err
    assert await wxhub(settings, "store", "add", "s001", "--brand", "acme", "--name", "X") == 1
    assert "store 's001' exists already" in capsys.readouterr().err
    assert await Brand.all().count() == 1
    assert await Store.all().count() == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["brand", "create", "Bad Code", "--name", "X"], "code: must be"),
        (["brand", "create", "ok", "--name", "   "], "name: must not be empty"),
        (["store", "add", "s2", "--brand", "nope", "--name", "X"], "no brand 'nope'"),
        (
            ["store", "add", "s2", "--brand", "acme", "--name", "X", "--region", "west"],
            "has no region 'west'",
        ),
        (
            ["staff", "add", "--brand", "acme", "--name", "Li", "--role", "clerk"],
            "a clerk belongs to exactly one store",
        ),
        (
            [
                "staff",
                "add",
                "--brand",
                "acme",
                "--name",
                "Li",
                "--role",
                "region_manager",
                "--store",
                "s001",
            ],
            "a region_manager belongs to exactly one region",
        ),
        (
            [
                "staff",
                "add",
                "--brand",
                "acme",
                "--name",
                "Li",
                "--role",
                "hq_admin",
                "--region",
                "east",
            ],
            "an hq_admin acts for the whole brand",
        ),
    ],
)
async def test_invalid_values_are_refused_and_change_nothing(
    db: None,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    await brand_with_store(settings)
    audit_rows = await AuditLog.all().count()

    assert await wxhub(settings, *argv) == 1

    assert message in capsys.readouterr().err
    assert await AuditLog.all().count() == audit_rows
    assert await Staff.all().count() == 0


async def test_staff_of_each_role_in_its_scope(db: None, settings: Settings) -> None:
    await brand_with_store(settings)
    common = ["staff", "add", "--brand", "acme"]

    assert (
        await wxhub(
            settings,
            *common,
            "--name",
            "Li",
            "--role",
            "clerk",
            "--store",
            "s001",
            "--wecom-userid",
            "li",
        )
        == 0
    )
    assert (
        await wxhub(
            settings, *common, "--name", "Zhou", "--role", "store_manager", "--store", "s001"
        )
        == 0
    )
    assert (
        await wxhub(
            settings, *common, "--name", "Wu", "--role", "region_manager", "--region", "east"
        )
        == 0
    )
    assert await wxhub(settings, *common, "--name", "Chen", "--role", "hq_admin") == 0
    assert (
        await wxhub(
            settings,
            *common,
            "--name",
            "Li 2",
            "--role",
            "clerk",
            "--store",
            "s001",
            "--wecom-userid",
            "li",
        )
        == 1
    )

    roles = {staff.name: staff for staff in await Staff.all()}
    assert roles["Li"].role is StaffRole.CLERK
    assert roles["Li"].wecom_userid == "li"
    assert roles["Wu"].region_id == (await Region.get(code="east")).id
    assert roles["Chen"].store_id is None
    assert len(roles) == 4


async def test_pay_account_secrets_are_sealed_and_never_audited(
    db: None, settings: Settings, secret_files: dict[str, str], private_key_pem: str
) -> None:
    await brand_with_store(settings)

    status = await wxhub(
        settings,
        "account",
        "set-pay",
        "--brand",
        "acme",
        "--mchid",
        "1230000109",
        "--appid",
        "wx8888888888888888",
        "--serial",
        "5157f09efdc096de15ebe81a47057a72",
        "--private-key-file",
        secret_files["private_key"],
        "--api-v3-key-file",
        secret_files["api_v3_key"],
    )

    assert status == 0
    merchant = await PayMerchant.get(mchid="1230000109")
    vault = load_vault(settings)
    assert merchant.merchant_serial_no == "5157F09EFDC096DE15EBE81A47057A72"
    assert API_V3_KEY.encode() not in bytes(merchant.api_v3_key_sealed)
    column = sealed_column(PayMerchant, "api_v3_key_sealed")
    assert vault.open(bytes(merchant.api_v3_key_sealed), column=column) == API_V3_KEY
    opened_key = vault.open(
        bytes(merchant.private_key_sealed), column=sealed_column(PayMerchant, "private_key")
    )
    assert opened_key == private_key_pem.strip() + "\n"
    audit = await AuditLog.get(action="account.set_pay_merchant")
    logged = json.dumps([audit.before, audit.after])
    assert API_V3_KEY not in logged
    assert "PRIVATE KEY" not in logged
    assert audit.after is not None
    assert audit.after["secrets_set"] == ["api_v3_key", "private_key"]


async def test_setting_an_account_again_replaces_its_credentials(
    db: None, settings: Settings, secret_files: dict[str, str], tmp_path: Path
) -> None:
    await brand_with_store(settings)
    set_mini = ["account", "set-miniprogram", "--brand", "acme", "--appid", "wx1234567890abcdef"]
    assert await wxhub(settings, *set_mini, "--secret-file", secret_files["secret"]) == 0
    new_secret = tmp_path / "new_secret"
    new_secret.write_text("ffffffffffffffffffffffffffffffff")

    assert (
        await wxhub(
            settings,
            *set_mini,
            "--secret-file",
            str(new_secret),
            "--push-token-file",
            secret_files["token"],
            "--push-aes-key-file",
            secret_files["aes_key"],
            "--original-id",
            "gh_97417a04a28d",
            "--push-format",
            "xml",
        )
        == 0
    )

    app = await MiniProgramApp.get(appid="wx1234567890abcdef")
    vault = load_vault(settings)
    column = sealed_column(MiniProgramApp, "secret_sealed")
    assert vault.open(bytes(app.secret_sealed), column=column) == "ffffffffffffffffffffffffffffffff"
    assert app.push_format.value == "xml"
    assert await MiniProgramApp.all().count() == 1
    audit = await AuditLog.filter(action="account.set_miniprogram_app").order_by("-id").first()
    assert audit is not None
    assert audit.before is not None
    assert audit.before["secrets_set"] == ["secret"]
    assert audit.after is not None
    assert audit.after["secrets_set"] == ["push_aes_key", "push_token", "secret"]


async def test_an_account_of_another_brand_is_refused(
    db: None, settings: Settings, secret_files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    await brand_with_store(settings)
    assert await wxhub(settings, "brand", "create", "other", "--name", "Other") == 0
    set_mini = [
        "account",
        "set-miniprogram",
        "--appid",
        "wx1234567890abcdef",
        "--secret-file",
        secret_files["secret"],
    ]
    assert await wxhub(settings, *set_mini, "--brand", "acme") == 0

    assert await wxhub(settings, *set_mini, "--brand", "other") == 1

    assert "registered to another brand" in capsys.readouterr().err
    app = await MiniProgramApp.get(appid="wx1234567890abcdef")
    assert app.brand_id == (await Brand.get(code="acme")).id


async def test_secrets_can_come_from_stdin_once(
    db: None,
    settings: Settings,
    secret_files: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await brand_with_store(settings)
    wecom = [
        "account",
        "set-wecom",
        "--brand",
        "acme",
        "--corpid",
        "ww1234567890abcdef",
        "--agent-id",
        "1000002",
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO(APP_SECRET + "\n"))

    assert (
        await wxhub(
            settings,
            *wecom,
            "--secret-file",
            "-",
            "--callback-token-file",
            secret_files["token"],
            "--callback-aes-key-file",
            secret_files["aes_key"],
        )
        == 0
    )
    corp = await WecomCorp.get(corpid="ww1234567890abcdef")
    assert corp.agent_id == 1000002
    assert APP_SECRET not in capsys.readouterr().out

    monkeypatch.setattr("sys.stdin", io.StringIO(APP_SECRET))
    assert (
        await wxhub(
            settings,
            *wecom,
            "--secret-file",
            "-",
            "--callback-token-file",
            "-",
            "--callback-aes-key-file",
            secret_files["aes_key"],
        )
        == 1
    )
    assert "stdin already provides secret" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--appid", "wx12", "appid: must be 'wx' followed by 16 hex digits"),
        ("--mchid", "12ab", "mchid: must be 8 to 12 digits"),
        ("--serial", "xyz", "serial_no: must be a hexadecimal certificate serial"),
    ],
)
async def test_malformed_credentials_are_refused(
    db: None,
    settings: Settings,
    secret_files: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    flag: str,
    value: str,
    message: str,
) -> None:
    await brand_with_store(settings)
    argv = {
        "--mchid": "1230000109",
        "--appid": "wx8888888888888888",
        "--serial": "5157F09EFDC096DE15EBE81A47057A72",
    } | {flag: value}

    status = await wxhub(
        settings,
        "account",
        "set-pay",
        "--brand",
        "acme",
        *[x for kv in argv.items() for x in kv],
        "--private-key-file",
        secret_files["private_key"],
        "--api-v3-key-file",
        secret_files["api_v3_key"],
    )

    assert status == 1
    assert message in capsys.readouterr().err
    assert await PayMerchant.all().count() == 0


async def test_short_api_v3_key_and_bad_private_key_are_refused(
    db: None,
    settings: Settings,
    secret_files: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await brand_with_store(settings)
    short_key = tmp_path / "short"
    short_key.write_text("too-short")
    not_a_key = tmp_path / "not_a_key"
    not_a_key.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    base = [
        "account",
        "set-pay",
        "--brand",
        "acme",
        "--mchid",
        "1230000109",
        "--appid",
        "wx8888888888888888",
        "--serial",
        "5157F09EFDC096DE",
    ]

    assert (
        await wxhub(
            settings,
            *base,
            "--private-key-file",
            secret_files["private_key"],
            "--api-v3-key-file",
            str(short_key),
        )
        == 1
    )
    assert "api_v3_key: must be exactly 32" in capsys.readouterr().err
    assert (
        await wxhub(
            settings,
            *base,
            "--private-key-file",
            str(not_a_key),
            "--api-v3-key-file",
            secret_files["api_v3_key"],
        )
        == 1
    )
    assert "private_key: must be an unencrypted PEM private key" in capsys.readouterr().err
    assert await PayMerchant.all().count() == 0


async def test_api_key_is_shown_once_and_stored_as_a_hash(
    db: None, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    await brand_with_store(settings)
    capsys.readouterr()

    assert await wxhub(settings, "apikey", "create", "--brand", "acme", "--name", "POS") == 0

    printed = capsys.readouterr().out.splitlines()[1]
    assert printed.startswith("wxk_")
    stored = await ApiKey.get(name="POS")
    assert stored.key_hash == hashlib.sha256(printed.encode()).hexdigest()
    assert printed.startswith(stored.prefix + "_")
    audit = await AuditLog.get(action="api_key.create")
    assert printed not in json.dumps(audit.after)


async def test_commands_refuse_an_unmigrated_database(tmp_path: Path, redis_url: str) -> None:
    settings = make_settings(tmp_path, f"sqlite://{tmp_path / 'empty.sqlite3'}", redis_url)
    with pytest.raises(StartupError, match="wxhub migrate"):
        await wxhub(settings, "brand", "create", "acme", "--name", "Acme")
