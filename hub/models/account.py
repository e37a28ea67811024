"""A brand's WeChat accounts: mini-program, Pay merchant, Channels shop, WeCom corp.

Every secret is stored sealed by hub.vault (`*_sealed` columns, opened with the column name
given in `SEALED_COLUMNS`); public identifiers (appid, mchid, corpid, serials, public keys)
are plain so callbacks can be routed by them.
"""

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from hub.models.brand import Brand


class PushFormat(StrEnum):
    """Data format chosen for a mini-program's message push."""

    JSON = "json"
    XML = "xml"


class MiniProgramApp(Model):
    id = fields.IntField(primary_key=True)
    brand: fields.ForeignKeyRelation[Brand] = fields.ForeignKeyField(
        "hub.Brand", related_name="miniprogram_apps", on_delete=fields.RESTRICT
    )
    brand_id: int
    appid = fields.CharField(max_length=32, unique=True)
    # The gh_… original id, sent as ToUserName in message pushes.
    original_id = fields.CharField(max_length=32, default="")
    secret_sealed = fields.BinaryField()
    # Message push: Token (signature secret) and EncodingAESKey (absent in plain mode).
    push_token_sealed = fields.BinaryField(null=True)
    push_aes_key_sealed = fields.BinaryField(null=True)
    push_format = fields.CharEnumField(PushFormat, max_length=8, default=PushFormat.JSON)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "miniprogram_app"


class PayMerchant(Model):
    id = fields.IntField(primary_key=True)
    brand: fields.ForeignKeyRelation[Brand] = fields.ForeignKeyField(
        "hub.Brand", related_name="pay_merchants", on_delete=fields.RESTRICT
    )
    brand_id: int
    mchid = fields.CharField(max_length=32, unique=True)
    # The mini-program appid bound to this merchant (payments are made under it).
    appid = fields.CharField(max_length=32)
    # Serial of the merchant API certificate, sent in every Authorization header.
    merchant_serial_no = fields.CharField(max_length=64)
    private_key_sealed = fields.BinaryField()
    api_v3_key_sealed = fields.BinaryField()
    # Legacy v2 API key, only for merchants still on v2 notifications.
    api_v2_key_sealed = fields.BinaryField(null=True)
    # WeChat Pay public-key mode (PUB_KEY_ID_…); absent while only platform certificates are used.
    platform_public_key_id = fields.CharField(max_length=64, null=True)
    platform_public_key_pem = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "pay_merchant"


class ChannelsShop(Model):
    id = fields.IntField(primary_key=True)
    brand: fields.ForeignKeyRelation[Brand] = fields.ForeignKeyField(
        "hub.Brand", related_name="channels_shops", on_delete=fields.RESTRICT
    )
    brand_id: int
    appid = fields.CharField(max_length=32, unique=True)
    original_id = fields.CharField(max_length=32, default="")
    secret_sealed = fields.BinaryField()
    # Shop message push is secure mode only: Token and EncodingAESKey are both required.
    push_token_sealed = fields.BinaryField()
    push_aes_key_sealed = fields.BinaryField()
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "channels_shop"


class WecomCorp(Model):
    id = fields.IntField(primary_key=True)
    brand: fields.ForeignKeyRelation[Brand] = fields.ForeignKeyField(
        "hub.Brand", related_name="wecom_corps", on_delete=fields.RESTRICT
    )
    brand_id: int
    corpid = fields.CharField(max_length=32, unique=True)
    agent_id = fields.IntField(null=True)
    # The customer-contact (客户联系) secret, used for externalcontact APIs.
    secret_sealed = fields.BinaryField()
    callback_token_sealed = fields.BinaryField()
    callback_aes_key_sealed = fields.BinaryField()
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "wecom_corp"
