"""The demo world: one brand's accounts, a few users and staff, four message templates.

Identifiers are fixed (so docs and demos can name them); secrets and RSA keys are random,
generated once and kept under a directory (`world.json` plus PEM files, mode 0600) so that
`wxhub demo` can seed the hub's database with the same credentials.
"""

import base64
import hashlib
import secrets
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.x509.oid import NameOID

from hub.simulator.world import (
    Corp,
    Keyword,
    Merchant,
    MiniProgram,
    Platform,
    Shop,
    Staff,
    Tag,
    TagGroup,
    Template,
    User,
    World,
    load_world,
    save_world,
    write_secret_file,
)

WORLD_FILE = "world.json"
DEMO_APPID = "wx5f3a9c0d2e7b4a61"
DEMO_SHOP_APPID = "wx8c1e6b2d4f9a0357"
DEMO_MCHID = "1900012345"
DEMO_CORPID = "ww3b7e1c9a5d2f8064"
DEMO_AGENT_ID = 1000002
# WeChat Pay issues RSA-2048 keys; the platform certificate is valid for 5 years (§1.1).
_RSA_BITS = 2048
_CERTIFICATE_DAYS = 5 * 365
_ALPHANUMERIC = string.ascii_letters + string.digits
_PAGES = (
    "pages/index/index",
    "pages/pay/pay",
    "pages/member/card",
    "pages/coupon/detail",
    "pages/store/store",
)
_USERS = (
    ("alice", "Alice 王", "13800000001", 2),
    ("bob", "Bob 李", "13800000002", 1),
    ("carol", "Carol 张", "13800000003", 2),
    ("dave", "Dave 陈", "13800000004", 1),
)


def demo_world(directory: Path) -> World:
    """The demo world kept in `directory`, generated and written there on first use.

    Raises:
        OSError: the directory or its files cannot be read or written.
        pydantic.ValidationError: an existing world.json is not a valid World.
    """
    path = directory / WORLD_FILE
    if path.exists():
        return load_world(path)
    world = generate_world()
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    save_world(world, path)
    _write_pem_files(world, directory)
    return world


def generate_world() -> World:
    """A fresh demo world (new secrets and keys) in memory."""
    platform_key = _rsa_key()
    merchant_key = _rsa_key()
    return World(
        platform=Platform(
            private_key_pem=_private_pem(platform_key),
            certificate_pem=_certificate_pem(platform_key),
            public_key_pem=_public_pem(platform_key),
            public_key_id="PUB_KEY_ID_" + "".join(secrets.choice(string.digits) for _ in range(34)),
        ),
        mini_programs=(_mini_program(),),
        merchants=(
            Merchant(
                mchid=DEMO_MCHID,
                appid=DEMO_APPID,
                merchant_serial_no=secrets.token_hex(20).upper(),
                merchant_public_key_pem=_public_pem(merchant_key),
                merchant_private_key_pem=_private_pem(merchant_key),
                api_v3_key=_random_text(32),
                api_v2_key=_random_text(32),
            ),
        ),
        shops=(
            Shop(
                appid=DEMO_SHOP_APPID,
                secret=secrets.token_hex(16),
                original_id="gh_8c1e6b2d4f9a",
                name="Demo Tea 小店",
                push_token=_random_text(32),
                push_aes_key=_random_text(43),
            ),
        ),
        corps=(_corp(),),
        users=tuple(_user(*fields) for fields in _USERS),
        templates=_templates(),
    )


def _mini_program() -> MiniProgram:
    return MiniProgram(
        appid=DEMO_APPID,
        secret=secrets.token_hex(16),
        original_id="gh_5f3a9c0d2e7b",
        name="Demo Tea 小程序",
        push_token=_random_text(32),
        push_aes_key=_random_text(43),
        pages=_PAGES,
    )


def _corp() -> Corp:
    return Corp(
        corpid=DEMO_CORPID,
        secret=_random_text(43),
        agent_id=DEMO_AGENT_ID,
        callback_token=_random_text(32),
        callback_aes_key=_random_text(43),
        staff=(
            Staff(userid="guide01", name="导购 01"),
            Staff(userid="guide02", name="导购 02"),
            Staff(userid="guide03", name="导购 03"),
        ),
        tag_groups=(
            TagGroup(
                group_id="etDemoGroupLevel000000000000001",
                group_name="会员等级",
                tags=(
                    Tag(id="etDemoTagRegular00000000000001", name="普通会员"),
                    Tag(id="etDemoTagVip000000000000000001", name="VIP"),
                    Tag(id="etDemoTagBlackCard000000000001", name="黑卡"),
                ),
            ),
            TagGroup(
                group_id="etDemoGroupSource00000000000001",
                group_name="来源",
                tags=(
                    Tag(id="etDemoTagStoreScan00000000001", name="门店扫码"),
                    Tag(id="etDemoTagMiniProgram000000001", name="小程序"),
                ),
            ),
        ),
    )


def _user(key: str, name: str, phone: str, gender: int) -> User:
    return User(
        key=key,
        name=name,
        unionid=_identifier("oU", key, "union"),
        phone=phone,
        gender=gender,
        openids={
            DEMO_APPID: _identifier("oM", key, DEMO_APPID),
            DEMO_SHOP_APPID: _identifier("oS", key, DEMO_SHOP_APPID),
        },
    )


def _templates() -> tuple[Template, ...]:
    def keywords(*names: str) -> tuple[Keyword, ...]:
        return tuple(Keyword(name=name) for name in names)

    return (
        Template(
            appid=DEMO_APPID,
            template_id="DemoPaymentReceipt00000000000000000000000001",
            title="支付成功通知",
            keywords=keywords("thing1", "amount2", "time3", "character_string4"),
        ),
        Template(
            appid=DEMO_APPID,
            template_id="DemoPointsChange000000000000000000000000001",
            title="积分变动提醒",
            keywords=keywords("thing1", "number2", "number3", "time4"),
        ),
        Template(
            appid=DEMO_APPID,
            template_id="DemoCouponArrival00000000000000000000000001",
            title="优惠券到账通知",
            keywords=keywords("thing1", "thing2", "date3", "phrase4"),
        ),
        Template(
            appid=DEMO_APPID,
            template_id="DemoLevelUpgrade000000000000000000000000001",
            title="会员升级通知",
            keywords=keywords("phrase1", "thing2", "time3"),
        ),
    )


def _identifier(prefix: str, *parts: str) -> str:
    """A stable 28-character openid/unionid-like id (WeChat's ids are 28 URL-safe characters)."""
    digest = hashlib.sha256(":".join(parts).encode()).digest()
    return prefix + base64.urlsafe_b64encode(digest).decode()[: 28 - len(prefix)]


def _random_text(length: int) -> str:
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


def _rsa_key() -> RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS)


def _private_pem(key: RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _public_pem(key: RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _certificate_pem(key: RSAPrivateKey) -> str:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Tenpay.com (simulated)"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA"),
        ]
    )
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=_CERTIFICATE_DAYS))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def _write_pem_files(world: World, directory: Path) -> None:
    """The keys as PEM files too, for tools that take a key file (all 0600, like world.json)."""
    platform = world.platform
    files = {
        "platform_private_key.pem": platform.private_key_pem,
        f"platform_certificate_{platform.serial_no}.pem": platform.certificate_pem,
        f"platform_public_key_{platform.public_key_id}.pem": platform.public_key_pem,
    }
    for merchant in world.merchants:
        files[f"merchant_{merchant.mchid}_public_key.pem"] = merchant.merchant_public_key_pem
        if merchant.merchant_private_key_pem:
            files[f"merchant_{merchant.mchid}_private_key.pem"] = merchant.merchant_private_key_pem
    for name, text in files.items():
        write_secret_file(directory / name, text)
