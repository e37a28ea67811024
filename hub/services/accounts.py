"""A brand's WeChat accounts and their credentials, sealed at rest.

`set_account` stores a whole credential set: it creates the account, or replaces the
credentials of the brand's existing account with the same appid/mchid/corpid.
"""

from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from tortoise.exceptions import IntegrityError
from tortoise.models import Model
from tortoise.transactions import in_transaction

from hub.errors import AlreadyExistsError, InvalidValueError
from hub.models.account import PushFormat
from hub.models.brand import Brand
from hub.services import audit
from hub.services.audit import Actor
from hub.vault import Vault
from hub.wechat import credentials as check

AccountT = TypeVar("AccountT", bound=Model)


def sealed_column(model: type[Model], field: str) -> str:
    """The vault column name of a sealed field, e.g. "pay_merchant.api_v3_key"."""
    return f"{model._meta.db_table}.{field.removesuffix('_sealed')}"  # noqa: SLF001


class Credentials(Protocol):
    """One account's credentials: validated, then split into public and secret columns."""

    def key(self) -> tuple[str, str]:
        """The identifying column and its value (e.g. ("appid", "wx…"))."""
        ...

    def public_columns(self) -> dict[str, Any]: ...

    def secret_columns(self) -> dict[str, str | None]:
        """Secrets by their `*_sealed` column name; None clears an optional secret."""
        ...


@dataclass(frozen=True)
class MiniProgramCredentials:
    appid: str
    secret: str
    original_id: str = ""
    push_token: str | None = None
    push_aes_key: str | None = None
    push_format: PushFormat = PushFormat.JSON

    def key(self) -> tuple[str, str]:
        return "appid", check.check_appid(self.appid)

    def public_columns(self) -> dict[str, Any]:
        original = check.check_original_id(self.original_id) if self.original_id else ""
        return {"original_id": original, "push_format": self.push_format}

    def secret_columns(self) -> dict[str, str | None]:
        if self.push_aes_key and not self.push_token:
            raise InvalidValueError("push_token", "is required when an EncodingAESKey is given")
        return {
            "secret_sealed": check.check_app_secret(self.secret),
            "push_token_sealed": _optional(check.check_push_token, self.push_token, "push_token"),
            "push_aes_key_sealed": _optional(
                check.check_encoding_aes_key, self.push_aes_key, "push_aes_key"
            ),
        }


@dataclass(frozen=True)
class PayCredentials:
    mchid: str
    appid: str
    merchant_serial_no: str
    private_key_pem: str
    api_v3_key: str
    api_v2_key: str | None = None
    platform_public_key_id: str | None = None
    platform_public_key_pem: str | None = None

    def key(self) -> tuple[str, str]:
        return "mchid", check.check_mchid(self.mchid)

    def public_columns(self) -> dict[str, Any]:
        if bool(self.platform_public_key_id) != bool(self.platform_public_key_pem):
            raise InvalidValueError(
                "platform_public_key", "give both the public key id and the public key, or neither"
            )
        return {
            "appid": check.check_appid(self.appid),
            "merchant_serial_no": check.check_serial(self.merchant_serial_no),
            "platform_public_key_id": _optional(
                check.check_public_key_id, self.platform_public_key_id, "platform_public_key_id"
            ),
            "platform_public_key_pem": _optional(
                check.check_rsa_public_key, self.platform_public_key_pem, "platform_public_key"
            ),
        }

    def secret_columns(self) -> dict[str, str | None]:
        return {
            "private_key_sealed": check.check_rsa_private_key(self.private_key_pem),
            "api_v3_key_sealed": check.check_pay_api_key(self.api_v3_key, "api_v3_key"),
            "api_v2_key_sealed": _optional(check.check_pay_api_key, self.api_v2_key, "api_v2_key"),
        }


@dataclass(frozen=True)
class ChannelsCredentials:
    appid: str
    secret: str
    push_token: str
    push_aes_key: str
    original_id: str = ""

    def key(self) -> tuple[str, str]:
        return "appid", check.check_appid(self.appid)

    def public_columns(self) -> dict[str, Any]:
        return {
            "original_id": check.check_original_id(self.original_id) if self.original_id else ""
        }

    def secret_columns(self) -> dict[str, str | None]:
        return {
            "secret_sealed": check.check_app_secret(self.secret),
            "push_token_sealed": check.check_push_token(self.push_token, "push_token"),
            "push_aes_key_sealed": check.check_encoding_aes_key(self.push_aes_key, "push_aes_key"),
        }


@dataclass(frozen=True)
class WecomCredentials:
    corpid: str
    secret: str
    callback_token: str
    callback_aes_key: str
    agent_id: int | None = None

    def key(self) -> tuple[str, str]:
        return "corpid", check.check_corpid(self.corpid)

    def public_columns(self) -> dict[str, Any]:
        if self.agent_id is not None and self.agent_id <= 0:
            raise InvalidValueError("agent_id", "must be a positive number")
        return {"agent_id": self.agent_id}

    def secret_columns(self) -> dict[str, str | None]:
        return {
            "secret_sealed": check.check_app_secret(self.secret),
            "callback_token_sealed": check.check_push_token(self.callback_token, "callback_token"),
            "callback_aes_key_sealed": check.check_encoding_aes_key(
                self.callback_aes_key, "callback_aes_key"
            ),
        }


def _optional(rule: Any, value: str | None, field: str) -> Any:
    return rule(value, field) if value else None


async def set_account(
    model: type[AccountT],
    brand: Brand,
    given: Credentials,
    vault: Vault,
    actor: Actor,
) -> AccountT:
    """Create the brand's account or replace its credentials.

    Raises:
        InvalidValueError: a credential has the wrong shape (the field is named).
        AlreadyExistsError: the appid/mchid/corpid belongs to another brand.
    """
    key_field, key_value = given.key()
    public = given.public_columns()
    sealed = {
        column: None if value is None else vault.seal(value, column=sealed_column(model, column))
        for column, value in given.secret_columns().items()
    }
    columns: dict[str, Any] = public | sealed
    shown = [key_field, *(name for name in public if not name.endswith("_pem"))]
    table = model._meta.db_table  # noqa: SLF001
    taken = AlreadyExistsError(
        "account_taken", f"{key_field} {key_value} is registered to another brand"
    )
    try:
        async with in_transaction():
            existing = await model.select_for_update().get_or_none(**{key_field: key_value})
            if existing is not None and existing.brand_id != brand.id:  # type: ignore[attr-defined]
                raise taken
            before = None if existing is None else _snapshot(existing, shown)
            if existing is None:
                account = await model.create(brand=brand, **(columns | {key_field: key_value}))
            else:
                account = existing
                account.update_from_dict(columns)
                await account.save()
            await audit.record(
                actor,
                f"account.set_{table}",
                table,
                key_value,
                brand_id=brand.id,
                before=before,
                after=_snapshot(account, shown),
            )
    except IntegrityError:
        # Another process registered the same identifier between our read and our insert.
        raise taken from None
    return account


def _snapshot(account: Model, shown: list[str]) -> dict[str, Any]:
    """What the audit log may keep: public columns, and only the names of the secrets set."""
    result: dict[str, Any] = {}
    for name in shown:
        value = getattr(account, name)
        result[name] = value.value if isinstance(value, PushFormat) else value
    result["secrets_set"] = sorted(
        name.removesuffix("_sealed")
        for name in account._meta.fields_map  # noqa: SLF001
        if name.endswith("_sealed") and getattr(account, name) is not None
    )
    return result
