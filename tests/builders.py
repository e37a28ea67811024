"""Real-format WeChat callbacks signed and encrypted with test keys, and the brand they reach.

Each builder takes switches to break the signature, age the timestamp or aim at another
account, so tests state plainly what is wrong with a callback.
"""

import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from urllib.parse import urlencode

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from hub.models.account import ChannelsShop, MiniProgramApp, PayMerchant, PushFormat, WecomCorp
from hub.models.brand import Brand, Store
from hub.models.coupon import Coupon, CouponTemplate, IssueSource
from hub.models.order import Order
from hub.services import accounts, brands, coupon_templates, coupons, programme, settlement
from hub.services.audit import Actor
from hub.services.orders import PayTarget
from hub.services.settlement import PaymentResult
from hub.vault import Vault
from hub.wechat import pay_v2
from hub.wechat.message_crypto import PushCrypto
from hub.wechat.pay_v3_platform import (
    PlatformSigner,
    build_notification,
    encrypt_resource,
    sign_message,
)
from hub.wechat.wire import render_xml

MCHID = "1230000109"
APPID = "wx8888888888888888"
SHOP_APPID = "wx9999999999999999"
CORPID = "ww1234567890abcdef"
PUBLIC_KEY_ID = "PUB_KEY_ID_0112860886012025062700111588000000"
API_V3_KEY = "0123456789abcdefghijklmnopqrstuv"
API_V2_KEY = "192006250b4c09247ec02edce69f6a2d"
APP_SECRET = "0123456789abcdef0123456789abcdef"
PUSH_TOKEN = "Token123"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@cache
def merchant_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@cache
def platform_key() -> rsa.RSAPrivateKey:
    """WeChat Pay's key in public-key mode (PUB_KEY_ID_…), as the simulator would hold it."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass(frozen=True)
class HubBrand:
    brand: Brand
    store: Store


async def create_hub_brand(vault: Vault) -> HubBrand:
    """A brand with a store and every kind of WeChat account, configured as an operator would."""
    actor = Actor.cli()
    brand = await brands.create_brand("acme", "Acme Tea", actor)
    store = await brands.add_store(brand, "s001", "People's Square", actor)
    await accounts.set_account(
        PayMerchant,
        brand,
        accounts.PayCredentials(
            mchid=MCHID,
            appid=APPID,
            merchant_serial_no="5157F09EFDC096DE15EBE81A47057A72",
            private_key_pem=_pem(merchant_key()),
            api_v3_key=API_V3_KEY,
            api_v2_key=API_V2_KEY,
            platform_public_key_id=PUBLIC_KEY_ID,
            platform_public_key_pem=_public_pem(platform_key()),
        ),
        vault,
        actor,
    )
    await accounts.set_account(
        MiniProgramApp,
        brand,
        accounts.MiniProgramCredentials(
            appid=APPID,
            secret=APP_SECRET,
            original_id="gh_97417a04a28d",
            push_token=PUSH_TOKEN,
            push_aes_key=AES_KEY,
            push_format=PushFormat.JSON,
        ),
        vault,
        actor,
    )
    await accounts.set_account(
        ChannelsShop,
        brand,
        accounts.ChannelsCredentials(
            appid=SHOP_APPID,
            secret=APP_SECRET,
            push_token=PUSH_TOKEN,
            push_aes_key=AES_KEY,
        ),
        vault,
        actor,
    )
    await accounts.set_account(
        WecomCorp,
        brand,
        accounts.WecomCredentials(
            corpid=CORPID,
            secret=APP_SECRET,
            callback_token=PUSH_TOKEN,
            callback_aes_key=AES_KEY,
            agent_id=1000002,
        ),
        vault,
        actor,
    )
    return HubBrand(brand, store)


# -- WeChat Pay v3 --------------------------------------------------------------------------------


@dataclass
class PayNotice:
    """A Pay v3 notification; change fields, then call request() for headers and body."""

    event_type: str
    resource: dict[str, Any]
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    timestamp: int = field(default_factory=lambda: int(time.time()))
    api_v3_key: str = API_V3_KEY
    signer_key: rsa.RSAPrivateKey | None = None
    key_id: str = PUBLIC_KEY_ID
    signtest: bool = False

    def request(self) -> tuple[dict[str, str], bytes]:
        plaintext = json.dumps(self.resource).encode()
        original = "refund" if self.event_type.startswith("REFUND") else "transaction"
        encrypted = encrypt_resource(
            self.api_v3_key, plaintext, associated_data=original, original_type=original
        )
        body = build_notification(
            self.event_id, datetime.now(UTC), self.event_type, "支付成功", encrypted
        )
        signer = PlatformSigner(self.key_id, self.signer_key or platform_key())
        headers = sign_message(
            signer,
            body,
            timestamp=self.timestamp,
            nonce=secrets.token_hex(16),
            signtest=self.signtest,
        )
        return headers | {"Content-Type": "application/json"}, body


def transaction(out_trade_no: str, amount_fen: int, **changes: Any) -> dict[str, Any]:
    """A decrypted TRANSACTION.SUCCESS resource (protocols §1.5) for our test merchant."""
    resource: dict[str, Any] = {
        "appid": APPID,
        "mchid": MCHID,
        "out_trade_no": out_trade_no,
        "transaction_id": "4200000" + secrets.token_hex(12)[:25],
        "trade_type": "JSAPI",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "OTHERS",
        "attach": "",
        "success_time": "2026-11-23T10:00:00+08:00",
        "payer": {"openid": "o9AgO5Kd5ggOC-bXrbNODIiE3bGY"},
        "amount": {
            "total": amount_fen,
            "payer_total": amount_fen,
            "currency": "CNY",
            "payer_currency": "CNY",
        },
    }
    return resource | changes


def refund(
    out_trade_no: str, out_refund_no: str, refund_fen: int, total_fen: int, status: str = "SUCCESS"
) -> dict[str, Any]:
    return {
        "mchid": MCHID,
        "out_trade_no": out_trade_no,
        "transaction_id": "4200000000000000001",
        "out_refund_no": out_refund_no,
        "refund_id": "50300" + secrets.token_hex(8),
        "refund_status": status,
        "success_time": "2026-11-23T11:00:00+08:00",
        "user_received_account": "支付用户零钱",
        "amount": {
            "total": total_fen,
            "refund": refund_fen,
            "payer_total": total_fen,
            "payer_refund": refund_fen,
        },
    }


# -- WeChat Pay v2 --------------------------------------------------------------------------------


def v2_payment(
    out_trade_no: str, amount_fen: int, transaction_id: str = "", result_code: str = "SUCCESS"
) -> bytes:
    fields = {
        "return_code": "SUCCESS",
        "return_msg": "OK",
        "appid": APPID,
        "mch_id": MCHID,
        "nonce_str": secrets.token_hex(8),
        "result_code": result_code,
        "openid": "o9AgO5Kd5ggOC-bXrbNODIiE3bGY",
        "is_subscribe": "N",
        "trade_type": "JSAPI",
        "bank_type": "CMC",
        "total_fee": str(amount_fen),
        "cash_fee": str(amount_fen),
        "transaction_id": transaction_id or "4200000" + secrets.token_hex(10),
        "out_trade_no": out_trade_no,
        "time_end": "20261123100000",
    }
    return pay_v2.build_notification(fields, API_V2_KEY)


def v2_refund(out_trade_no: str, out_refund_no: str, refund_fen: int, total_fen: int) -> bytes:
    outer = {
        "return_code": "SUCCESS",
        "appid": APPID,
        "mch_id": MCHID,
        "nonce_str": secrets.token_hex(8),
    }
    inner = {
        "transaction_id": "4200000000000000001",
        "out_trade_no": out_trade_no,
        "refund_id": "50300" + secrets.token_hex(8),
        "out_refund_no": out_refund_no,
        "total_fee": str(total_fen),
        "refund_fee": str(refund_fen),
        "refund_status": "SUCCESS",
        "success_time": "2026-11-23 11:00:00",
    }
    return pay_v2.build_refund_notification(outer, inner, API_V2_KEY)


# -- message pushes -------------------------------------------------------------------------------


@dataclass
class Push:
    """A message push (secure mode); request() gives its query string and body."""

    fields: dict[str, Any]
    receive_id: str = APPID
    token: str = PUSH_TOKEN
    aes_key: str = AES_KEY
    xml: bool = False
    timestamp: int = field(default_factory=lambda: int(time.time()))

    def request(self) -> tuple[str, bytes]:
        crypto = PushCrypto(self.token, self.aes_key, self.receive_id)
        plaintext = (
            nested_xml(self.fields) if self.xml else json.dumps(self.fields, ensure_ascii=False)
        )
        encrypted = crypto.encrypt(
            plaintext, timestamp=str(self.timestamp), nonce=str(secrets.randbelow(10**9))
        )
        query = urlencode(
            {
                "msg_signature": encrypted.msg_signature,
                "timestamp": encrypted.timestamp,
                "nonce": encrypted.nonce,
                "encrypt_type": "aes",
            }
        )
        if self.xml:
            body = render_xml(
                {"ToUserName": self.fields.get("ToUserName", ""), "Encrypt": encrypted.encrypt}
            )
        else:
            body = json.dumps(
                {"ToUserName": self.fields.get("ToUserName", ""), "Encrypt": encrypted.encrypt}
            )
        return query, body.encode()


def nested_xml(fields: dict[str, Any], root: str = "xml") -> str:
    """WeChat-style XML with nested elements (subscription events nest their List items)."""
    parts = []
    for name, value in fields.items():
        if isinstance(value, dict):
            parts.append(nested_xml(value, name))
        elif isinstance(value, list):
            parts.extend(nested_xml(item, name) for item in value)
        else:
            parts.append(render_xml({name: value}, root="x")[3:-4])
    return f"<{root}>{''.join(parts)}</{root}>"


def subscribe_popup(
    openid: str,
    items: list[tuple[str, str]],
    *,
    as_object: bool = False,
    create_time: int | str | None = None,
) -> dict[str, Any]:
    """A subscribe_msg_popup_event in JSON, List as an array (or an object for one item)."""
    entries = [
        {"TemplateId": template, "SubscribeStatusString": status, "PopupScene": "0"}
        for template, status in items
    ]
    return {
        "ToUserName": "gh_97417a04a28d",
        "FromUserName": openid,
        "CreateTime": create_time if create_time is not None else int(time.time()),
        "MsgType": "event",
        "Event": "subscribe_msg_popup_event",
        "List": entries[0] if as_object else entries,
    }


def wecom_change(
    change_type: str, external_userid: str, userid: str = "guide01", **extra: Any
) -> dict[str, Any]:
    return {
        "ToUserName": CORPID,
        "FromUserName": "sys",
        "CreateTime": int(time.time()),
        "MsgType": "event",
        "Event": "change_external_contact",
        "ChangeType": change_type,
        "UserID": userid,
        "ExternalUserID": external_userid,
        **extra,
    }


def channels_order(event: str, order_id: str, openid: str = "o_shop_buyer") -> dict[str, Any]:
    return {
        "ToUserName": "gh_123456789abc",
        "FromUserName": openid,
        "CreateTime": int(time.time()),
        "MsgType": "event",
        "Event": event,
        "order_info": {"order_id": int(order_id), "pay_time": int(time.time())},
    }


# -- a membership programme ------------------------------------------------------------------

# Two free levels above the entry one (by lifetime spend, or by 12-month spend or invites), a
# paid card, two recharge tiers, and double points in a second store.
PROGRAMME: dict[str, Any] = {
    "policy": {"fen_per_point": 100, "points_valid_months": 12, "bonus_refundable": False},
    "cards": [
        {
            "code": "member",
            "name": "会员卡",
            "kind": "free",
            "default": True,
            "level_period_months": 12,
            "downgrade_at_period_end": True,
            "levels": [
                {"code": "regular", "name": "普通会员", "rank": 0},
                {
                    "code": "silver",
                    "name": "银卡",
                    "rank": 1,
                    "discount_percent": 5,
                    "points_multiplier_percent": 150,
                    "upgrade_gift_points": 100,
                    "cumulative_spend_fen": 100_000,
                },
                {
                    "code": "gold",
                    "name": "金卡",
                    "rank": 2,
                    "discount_percent": 10,
                    "points_multiplier_percent": 200,
                    "upgrade_gift_points": 300,
                    "rolling_spend_fen": 300_000,
                    "rolling_months": 12,
                    "min_invites": 5,
                },
            ],
        },
        {
            "code": "plus",
            "name": "PLUS 年卡",
            "kind": "paid",
            "price_fen": 19_900,
            "validity_days": 365,
            "levels": [
                {
                    "code": "plus",
                    "name": "PLUS",
                    "rank": 0,
                    "discount_percent": 12,
                    "points_multiplier_percent": 200,
                }
            ],
        },
    ],
    "store_bonuses": [{"store": "s002", "name": "开业双倍积分", "bonus_percent": 100}],
    "recharge_tiers": [
        {"pay_fen": 50_000, "bonus_fen": 5_000},
        {"pay_fen": 100_000, "bonus_fen": 20_000},
    ],
}


async def apply_programme(
    hub: HubBrand, *, levels: dict[str, dict[str, Any]] | None = None, **policy: Any
) -> Store:
    """Give the hub brand the test programme; returns store s002.

    `policy` overrides policy keys; `levels` adds or overrides keys of levels by their code
    (e.g. `{"silver": {"upgrade_coupons": ["welcome"]}}`).
    """
    actor = Actor.cli()
    bund = await Store.get_or_none(brand=hub.brand, code="s002") or await brands.add_store(
        hub.brand, "s002", "The Bund", actor
    )
    changes = levels or {}
    cards = [
        card | {"levels": [level | changes.get(level["code"], {}) for level in card["levels"]]}
        for card in PROGRAMME["cards"]
    ]
    spec = PROGRAMME | {"policy": PROGRAMME["policy"] | policy, "cards": cards}
    await programme.apply_programme(hub.brand, programme.parse_spec(spec), actor)
    return bund


# -- coupons ---------------------------------------------------------------------------------

# ¥10 off an order of at least ¥50, for 30 days from issue.
CASH_OFF: dict[str, Any] = {
    "name": "满50减10",
    "kind": "cash_off",
    "face_value_fen": 1_000,
    "threshold_fen": 5_000,
    "valid_days": 30,
}


async def create_coupon_template(brand: Brand, code: str, **fields: Any) -> CouponTemplate:
    """A coupon template of the brand: CASH_OFF, with `fields` changed (e.g. refund_rule)."""
    spec = coupon_templates.parse_template(CASH_OFF | {"code": code} | fields)
    template, _ = await coupon_templates.save_template(brand.id, spec, Actor.cli())
    return template


async def give_coupon(
    template: CouponTemplate, member_id: int, key: str = "", now: datetime | None = None
) -> Coupon:
    """Issue one coupon of the template to the member (as the open API would)."""
    issuance = coupons.Issuance(
        template.id, member_id, key or f"test:{template.code}:{member_id}", IssueSource.API
    )
    coupon, _ = await coupons.issue_coupon(issuance, Actor.cli(), now or datetime.now(UTC))
    return coupon


def pay_target(openid: str = "o_member") -> PayTarget:
    """WeChat Pay through the test merchant, the order payable for 15 minutes."""
    return PayTarget(MCHID, APPID, openid, datetime.now(UTC) + timedelta(minutes=15))


async def pay_order(hub: HubBrand, order: Order, openid: str = "o_member") -> str:
    """The payment notification of the order's WeChat part, settled as the callback would."""
    return await settlement.settle_payment(
        hub.brand.id,
        PaymentResult(
            mchid=MCHID,
            appid=APPID,
            out_trade_no=order.out_trade_no,
            transaction_id="4200" + order.out_trade_no[1:],
            amount_fen=order.wechat_fen,
            payer_fen=order.wechat_fen,
            paid_at=datetime.now(UTC),
            openid=openid,
        ),
    )
