"""The brands' WeChat accounts as a running process uses them.

Credentials are opened once and cached for a short while (so updates made with
`wxhub account set-*` arrive within minutes); API clients are built on demand.
"""

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from hub.models.account import ChannelsShop, MiniProgramApp, PayMerchant, WecomCorp
from hub.services.accounts import sealed_column
from hub.settings import CallbackSettings
from hub.vault import Vault
from hub.wechat.api import WeChatHttp
from hub.wechat.channels_api import ChannelsShopApi
from hub.wechat.message_crypto import PushCrypto
from hub.wechat.miniprogram_api import MiniProgramApi
from hub.wechat.pay_api import PayApi
from hub.wechat.pay_keys import PlatformKeys
from hub.wechat.pay_v3 import MerchantKey
from hub.wechat.primitives import Certificate, load_private_key, load_public_key
from hub.wechat.tokens import TokenBroker
from hub.wechat.wecom_api import WecomApi

# How long opened credentials are reused before they are read again.
CACHE_TTL_S = 120.0
# Unknown ids are remembered too (a flood of made-up ids must not hit the database each time);
# the cache is emptied when it grows past this, so made-up ids cannot exhaust memory.
CACHE_MAX_ENTRIES = 10_000

T = TypeVar("T")


@dataclass(frozen=True)
class PayAccount:
    brand_id: int
    mchid: str
    appid: str
    merchant: MerchantKey = field(repr=False)
    api_v3_key: str = field(repr=False)
    api_v2_key: str | None = field(repr=False)
    public_key_id: str | None
    keys: PlatformKeys = field(repr=False)


@dataclass(frozen=True)
class PushAccount:
    """A mini-program, Channels shop or WeCom corp: its push crypto and API credentials."""

    brand_id: int
    account_id: str
    # None when no push Token is configured: such an account's pushes cannot be verified.
    crypto: PushCrypto | None = field(repr=False)
    secret: str = field(repr=False)
    agent_id: int | None = None


class _Cache(Generic[T]):
    def __init__(self, ttl_s: float) -> None:
        self._ttl_s = ttl_s
        self._entries: dict[str, tuple[float, T | None]] = {}

    def get(self, key: str) -> tuple[bool, T | None]:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def put(self, key: str, value: T | None) -> None:
        if len(self._entries) >= CACHE_MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self._ttl_s, value)


class Accounts:
    """Looks accounts up by the id WeChat addresses them with; builds their API clients."""

    def __init__(
        self,
        vault: Vault,
        http: WeChatHttp,
        broker: TokenBroker,
        *,
        push_windows: CallbackSettings,
        ttl_s: float = CACHE_TTL_S,
    ) -> None:
        self._vault = vault
        self._windows = push_windows
        self.http = http
        self.broker = broker
        self._pay: _Cache[PayAccount] = _Cache(ttl_s)
        self._push: _Cache[PushAccount] = _Cache(ttl_s)
        # Platform certificates outlive the credential cache: they are valid for years, and
        # downloading them again every few minutes would be waste.
        self._platform_keys: dict[str, PlatformKeys] = {}
        # Parsing an RSA key takes tens of milliseconds (cryptography checks it): a merchant's
        # key is parsed again only when it changes.
        self._private_keys: dict[str, RSAPrivateKey] = {}

    async def pay(self, mchid: str) -> PayAccount | None:
        found, account = self._pay.get(mchid)
        if not found:
            row = await PayMerchant.get_or_none(mchid=mchid)
            account = None if row is None else self._open_pay(row)
            self._pay.put(mchid, account)
        return account

    async def miniprogram(self, appid: str) -> PushAccount | None:
        return await self._push_account("mp", appid, self._open_miniprogram)

    async def channels_shop(self, appid: str) -> PushAccount | None:
        return await self._push_account("shop", appid, self._open_channels)

    async def wecom(self, corpid: str) -> PushAccount | None:
        return await self._push_account("work", corpid, self._open_wecom)

    def pay_api(self, account: PayAccount) -> PayApi:
        return PayApi(
            self.http,
            account.merchant,
            account.appid,
            account.api_v3_key,
            account.keys,
            public_key_id=account.public_key_id,
        )

    def miniprogram_api(self, account: PushAccount) -> MiniProgramApi:
        return MiniProgramApi(self.http, self.broker, account.account_id, account.secret)

    def channels_api(self, account: PushAccount) -> ChannelsShopApi:
        return ChannelsShopApi(self.http, self.broker, account.account_id, account.secret)

    def wecom_api(self, account: PushAccount) -> WecomApi:
        return WecomApi(
            self.http, self.broker, account.account_id, account.secret, account.agent_id
        )

    async def _push_account(self, kind: str, account_id: str, opener: Any) -> PushAccount | None:
        key = f"{kind}:{account_id}"
        found, account = self._push.get(key)
        if not found:
            account = await opener(account_id)
            self._push.put(key, account)
        return account

    def _secret(self, row: Any, field_name: str) -> str:
        return self._vault.open(
            bytes(getattr(row, field_name)), column=sealed_column(type(row), field_name)
        )

    def _optional_secret(self, row: Any, field_name: str) -> str | None:
        return None if getattr(row, field_name) is None else self._secret(row, field_name)

    def _open_pay(self, row: PayMerchant) -> PayAccount:
        public_keys = {}
        if row.platform_public_key_id and row.platform_public_key_pem:
            public_keys[row.platform_public_key_id] = load_public_key(row.platform_public_key_pem)
        previous = self._platform_keys.get(row.mchid)
        holder: dict[str, PayApi] = {}

        async def refetch() -> list[Certificate]:
            # The API client needs the keys and the keys' refetch needs the client: tie late.
            return await holder["api"].download_certificates()

        keys = PlatformKeys(
            certificates=previous.certificates if previous else (),
            public_keys=public_keys,
            refetch=refetch,
        )
        self._platform_keys[row.mchid] = keys
        account = PayAccount(
            brand_id=row.brand_id,
            mchid=row.mchid,
            appid=row.appid,
            merchant=MerchantKey(row.mchid, row.merchant_serial_no, self._private_key(row)),
            api_v3_key=self._secret(row, "api_v3_key_sealed"),
            api_v2_key=self._optional_secret(row, "api_v2_key_sealed"),
            public_key_id=row.platform_public_key_id,
            keys=keys,
        )
        holder["api"] = self.pay_api(account)
        return account

    def _private_key(self, row: PayMerchant) -> RSAPrivateKey:
        pem = self._secret(row, "private_key_sealed")
        fingerprint = hashlib.sha256(pem.encode()).hexdigest()
        if fingerprint not in self._private_keys:
            self._private_keys[fingerprint] = load_private_key(pem)
        return self._private_keys[fingerprint]

    async def _open_miniprogram(self, appid: str) -> PushAccount | None:
        row = await MiniProgramApp.get_or_none(appid=appid)
        if row is None:
            return None
        token = self._optional_secret(row, "push_token_sealed")
        crypto = None
        if token is not None:
            aes_key = self._optional_secret(row, "push_aes_key_sealed")
            crypto = PushCrypto.for_mini_program(
                token, aes_key, appid, max_age_s=self._windows.push_max_age_s
            )
        return PushAccount(row.brand_id, appid, crypto, self._secret(row, "secret_sealed"))

    async def _open_channels(self, appid: str) -> PushAccount | None:
        row = await ChannelsShop.get_or_none(appid=appid)
        if row is None:
            return None
        crypto = PushCrypto.for_channels_shop(
            self._secret(row, "push_token_sealed"),
            self._secret(row, "push_aes_key_sealed"),
            appid,
            max_age_s=self._windows.channels_push_max_age_s,
        )
        return PushAccount(row.brand_id, appid, crypto, self._secret(row, "secret_sealed"))

    async def _open_wecom(self, corpid: str) -> PushAccount | None:
        row = await WecomCorp.get_or_none(corpid=corpid)
        if row is None:
            return None
        crypto = PushCrypto.for_wecom(
            self._secret(row, "callback_token_sealed"),
            self._secret(row, "callback_aes_key_sealed"),
            corpid,
            max_age_s=self._windows.push_max_age_s,
        )
        return PushAccount(
            row.brand_id, corpid, crypto, self._secret(row, "secret_sealed"), row.agent_id
        )
