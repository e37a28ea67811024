"""The configuration of the simulated WeChat: accounts, keys, users, staff and templates.

A World is plain data (JSON-serialisable pydantic models): `load_world`/`save_world` read and
write it, demo.py generates one. Secrets are excluded from repr so they never reach a log.
"""

import functools
import hashlib
import os
import re
from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.wechat.primitives import Certificate, load_certificate

# Secret files (world.json, private keys) are readable by their owner only.
SECRET_FILE_MODE = 0o600
# A keyword name is its type followed by a number: thing1, character_string12.
_KEYWORD_NAME = re.compile(r"([a-z_]+?)(\d+)")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PushMode(StrEnum):
    """Message-push security mode of a mini-program (§3.1)."""

    PLAIN = "plain"
    COMPATIBLE = "compatible"
    SECURE = "secure"


class PushFormat(StrEnum):
    """Message-push data format of a mini-program (§3.1)."""

    JSON = "json"
    XML = "xml"


class KeyMode(StrEnum):
    """Which platform key signs a Pay response or notification (§1.1)."""

    CERTIFICATE = "certificate"
    PUBLIC_KEY = "public_key"


class ResponseKeyMode(StrEnum):
    """How a merchant's API responses are signed.

    BY_REQUEST follows §1.1 (public key only if the request named PUB_KEY_ID_…); PUBLIC_KEY is a
    merchant with no platform certificates at all (newer accounts) [?].
    """

    BY_REQUEST = "by_request"
    PUBLIC_KEY = "public_key"


class KeywordType(StrEnum):
    """Subscription-message keyword types (§6.4)."""

    THING = "thing"
    NUMBER = "number"
    LETTER = "letter"
    SYMBOL = "symbol"
    CHARACTER_STRING = "character_string"
    TIME = "time"
    DATE = "date"
    AMOUNT = "amount"
    PHONE_NUMBER = "phone_number"
    CAR_NUMBER = "car_number"
    NAME = "name"
    PHRASE = "phrase"
    ENUM = "enum"


class TemplateKind(StrEnum):
    """One-time templates grant one send per accept; long-term ones stay on until turned off."""

    ONE_TIME = "one_time"
    LONG_TERM = "long_term"


class Keyword(_Model):
    """One keyword of a template; its type is the name without the trailing number."""

    name: str
    enum_values: tuple[str, ...] = ()

    @property
    def type(self) -> KeywordType:
        return keyword_type(self.name)

    @model_validator(mode="after")
    def _check(self) -> Self:
        keyword_type(self.name)
        return self


def keyword_type(name: str) -> KeywordType:
    """The type of a keyword named like `thing1`.

    Raises:
        ValueError: the name does not start with a known type.
    """
    match = _KEYWORD_NAME.fullmatch(name)
    return KeywordType(match[1] if match else name)


class Template(_Model):
    """A subscription-message template added to one mini-program."""

    appid: str
    template_id: str
    title: str
    kind: TemplateKind = TemplateKind.ONE_TIME
    keywords: tuple[Keyword, ...]

    def keyword(self, name: str) -> Keyword | None:
        return next((keyword for keyword in self.keywords if keyword.name == name), None)


class MiniProgram(_Model):
    """A mini-program: API credentials and its message-push configuration (§3.1)."""

    appid: str
    secret: str = Field(repr=False)
    original_id: str
    name: str
    push_token: str = Field(repr=False)
    # None in plain mode.
    push_aes_key: str | None = Field(default=None, repr=False)
    push_mode: PushMode = PushMode.SECURE
    push_format: PushFormat = PushFormat.JSON
    # Released pages; getwxacodeunlimit with check_path and subscribe/send check against them.
    pages: tuple[str, ...] = ()
    # unionid is returned only when the app is bound to an open-platform account (§6.2).
    unionid_bound: bool = True
    # Where pushes go until the control API registers another URL.
    callback_url: str | None = None


class Merchant(_Model):
    """A WeChat Pay merchant as WeChat knows it: the public half of the merchant key, API keys."""

    mchid: str
    appid: str
    merchant_serial_no: str
    merchant_public_key_pem: str
    # The hub's signing key; the simulator never uses it, it is kept to seed the hub (demo).
    merchant_private_key_pem: str | None = Field(default=None, repr=False)
    api_v3_key: str = Field(repr=False)
    api_v2_key: str = Field(repr=False)
    response_key_mode: ResponseKeyMode = ResponseKeyMode.BY_REQUEST
    # Key that signs notifications unless a push says otherwise (a migration switches it, §1.1).
    notification_key_mode: KeyMode = KeyMode.CERTIFICATE
    callback_url: str | None = None


class Platform(_Model):
    """WeChat Pay's key pair, announced both as a certificate serial and as PUB_KEY_ID_… (§1.1)."""

    private_key_pem: str = Field(repr=False)
    certificate_pem: str
    public_key_pem: str
    public_key_id: str

    @property
    def certificate(self) -> Certificate:
        return _certificate(self.certificate_pem)

    @property
    def serial_no(self) -> str:
        return self.certificate.serial_no


@functools.lru_cache(maxsize=8)
def _certificate(pem: str) -> Certificate:
    return load_certificate(pem)


class Shop(_Model):
    """A Channels (微信小店) shop: API credentials and its secure-mode JSON push (§5.1)."""

    appid: str
    secret: str = Field(repr=False)
    original_id: str
    name: str
    push_token: str = Field(repr=False)
    push_aes_key: str = Field(repr=False)
    # The receive id inside the plaintext: presumably the shop appid [?]; None means the appid.
    receive_id: str | None = None
    # Aftersale events come from a fixed openid (§5.1).
    aftersale_openid: str = "o_aftersale_system_openid0"
    callback_url: str | None = None


class Staff(_Model):
    userid: str
    name: str


class Tag(_Model):
    id: str
    name: str


class TagGroup(_Model):
    group_id: str
    group_name: str
    tags: tuple[Tag, ...]


class Corp(_Model):
    """A WeCom corp: the customer-contact secret, callback crypto, staff and corp tags (§4)."""

    corpid: str
    secret: str = Field(repr=False)
    agent_id: int
    callback_token: str = Field(repr=False)
    callback_aes_key: str = Field(repr=False)
    staff: tuple[Staff, ...]
    tag_groups: tuple[TagGroup, ...] = ()
    # unionid appears in externalcontact/get only for corps bound to an open platform (§4.3).
    unionid_bound: bool = True
    callback_url: str | None = None

    def has_staff(self, userid: str) -> bool:
        return any(member.userid == userid for member in self.staff)

    def tag(self, tag_id: str) -> tuple[TagGroup, Tag] | None:
        for group in self.tag_groups:
            for tag in group.tags:
                if tag.id == tag_id:
                    return group, tag
        return None


class User(_Model):
    """A WeChat user: one openid per app (mini-program or shop), a unionid and a phone number."""

    key: str
    name: str
    unionid: str
    phone: str
    country_code: str = "86"
    gender: int = 0
    openids: dict[str, str] = Field(default_factory=dict)


class World(_Model):
    """Everything the simulated WeChat knows before the first request."""

    platform: Platform
    mini_programs: tuple[MiniProgram, ...] = ()
    merchants: tuple[Merchant, ...] = ()
    shops: tuple[Shop, ...] = ()
    corps: tuple[Corp, ...] = ()
    users: tuple[User, ...] = ()
    templates: tuple[Template, ...] = ()

    def mini_program(self, appid: str) -> MiniProgram | None:
        return next((app for app in self.mini_programs if app.appid == appid), None)

    def merchant(self, mchid: str) -> Merchant | None:
        return next((merchant for merchant in self.merchants if merchant.mchid == mchid), None)

    def shop(self, appid: str) -> Shop | None:
        return next((shop for shop in self.shops if shop.appid == appid), None)

    def corp(self, corpid: str) -> Corp | None:
        return next((corp for corp in self.corps if corp.corpid == corpid), None)

    def user(self, key: str) -> User | None:
        return next((user for user in self.users if user.key == key), None)

    def user_by_openid(self, appid: str, openid: str) -> User | None:
        return next((user for user in self.users if user.openids.get(appid) == openid), None)

    def user_by_external_userid(self, corpid: str, external_userid: str) -> User | None:
        return next(
            (user for user in self.users if external_userid_of(corpid, user) == external_userid),
            None,
        )

    def template(self, appid: str, template_id: str) -> Template | None:
        return next(
            (t for t in self.templates if t.appid == appid and t.template_id == template_id), None
        )


def external_userid_of(corpid: str, user: User) -> str:
    """The customer's external_userid in one corp: stable per (corp, user), like WeCom's."""
    digest = hashlib.sha256(f"{corpid}:{user.unionid}".encode()).hexdigest()
    return "wm" + digest[:30]


def load_world(path: Path) -> World:
    """Read a World from its JSON file.

    Raises:
        OSError: the file cannot be read.
        pydantic.ValidationError: the file is not a valid World.
    """
    return World.model_validate_json(path.read_bytes())


def save_world(world: World, path: Path) -> None:
    """Write a World as JSON, readable by its owner only (it holds secrets)."""
    write_secret_file(path, world.model_dump_json(indent=2))


def write_secret_file(path: Path, text: str) -> None:
    """Write `text` to `path` with mode 0600 (also when the file existed with another mode)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, SECRET_FILE_MODE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    path.chmod(SECRET_FILE_MODE)
