"""Members of a brand and the WeChat identities (openid per app) that lead to them."""

from tortoise import fields
from tortoise.models import Model

from hub.models.brand import Brand, Store
from hub.models.staff import Staff


class Member(Model):
    """One customer of one brand, the same in every store.

    The phone number is stored sealed (`phone_sealed`) and found through `phone_index`, a keyed
    hash (see hub.vault); the plain number is never stored.
    """

    id = fields.IntField(primary_key=True)
    brand: fields.ForeignKeyRelation[Brand] = fields.ForeignKeyField(
        "hub.Brand", related_name="members", on_delete=fields.RESTRICT
    )
    brand_id: int
    # Shown in the mini-program as a barcode and typed by clerks; unique within the brand.
    code = fields.CharField(max_length=16)
    # Present when the brand's apps are bound to one open-platform account.
    unionid = fields.CharField(max_length=64, null=True)
    phone_sealed = fields.BinaryField(null=True)
    phone_index = fields.CharField(max_length=64, null=True)
    home_store: fields.ForeignKeyNullableRelation[Store] = fields.ForeignKeyField(
        "hub.Store", related_name="home_members", null=True, on_delete=fields.SET_NULL
    )
    home_store_id: int | None
    guide: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "hub.Staff", related_name="guided_members", null=True, on_delete=fields.SET_NULL
    )
    guide_id: int | None
    # Changed only together with a points_entry row (hub.services.points).
    points_balance = fields.IntField(default=0)
    # Paid minus refunded, in fen, over the member's whole history.
    total_spend_fen = fields.BigIntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "member"
        unique_together = (("brand", "code"), ("brand", "unionid"), ("brand", "phone_index"))


class MemberOpenid(Model):
    """The openid a member has under one WeChat app (mini-program, Channels shop)."""

    id = fields.IntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "hub.Member", related_name="openids", on_delete=fields.CASCADE
    )
    member_id: int
    appid = fields.CharField(max_length=32)
    openid = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "member_openid"
        # An openid belongs to one person, and a person has one openid per app.
        unique_together = (("appid", "openid"), ("member", "appid"))
