"""Members of a brand, their WeChat identities, mini-program sessions, and merges."""

from typing import Any

from tortoise import fields
from tortoise.models import Model

from hub.models.brand import Brand, Store
from hub.models.membership import CardType, Level
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
    # Since when the current guide looks after the member (new members per guide).
    guide_since = fields.DatetimeField(null=True)
    # The card held and its level (None until the brand has a membership programme).
    card_type: fields.ForeignKeyNullableRelation[CardType] = fields.ForeignKeyField(
        "hub.CardType", related_name="members", null=True, on_delete=fields.RESTRICT
    )
    card_type_id: int | None
    level: fields.ForeignKeyNullableRelation[Level] = fields.ForeignKeyField(
        "hub.Level", related_name="members", null=True, on_delete=fields.RESTRICT
    )
    level_id: int | None
    # The level is re-evaluated at this moment (the card's level period); None: never.
    level_valid_until = fields.DatetimeField(null=True)
    # A bought card ends here, and the member returns to the default free card.
    card_expires_at = fields.DatetimeField(null=True)
    # Set once by the member (birthday coupons). birthday_mmdd ("0520") finds today's birthdays.
    birthday = fields.DateField(null=True)
    birthday_mmdd = fields.CharField(max_length=4, null=True, db_index=True)
    # Changed only together with a points_entry row (hub.services.points).
    points_balance = fields.IntField(default=0)
    # Stored value, changed only together with a stored_value_entry row: what the member paid
    # in (principal) and what recharge tiers added (bonus, spent last).
    sv_principal_fen = fields.BigIntField(default=0)
    sv_bonus_fen = fields.BigIntField(default=0)
    # Paid minus refunded sales, in fen, over the member's whole history.
    total_spend_fen = fields.BigIntField(default=0)
    # Paid sales so far: an order numbered 2 or more is a repeat purchase.
    paid_orders_count = fields.IntField(default=0)
    # Who invited this member (by member code at first login), and how many they invited.
    invited_by: fields.ForeignKeyNullableRelation["Member"] = fields.ForeignKeyField(
        "hub.Member", related_name="invitees", null=True, on_delete=fields.SET_NULL
    )
    invited_by_id: int | None
    invite_count = fields.IntField(default=0)
    # Set when this member was merged into another: lookups lead to the survivor.
    merged_into: fields.ForeignKeyNullableRelation["Member"] = fields.ForeignKeyField(
        "hub.Member", related_name="merged_members", null=True, on_delete=fields.RESTRICT
    )
    merged_into_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "member"
        unique_together = (("brand", "code"), ("brand", "unionid"), ("brand", "phone_index"))
        indexes = (("home_store_id", "created_at"), ("guide_id", "guide_since"))


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


class MemberSession(Model):
    """A mini-program login: the bearer token (stored as its hash) and who it stands for."""

    id = fields.BigIntField(primary_key=True)
    # SHA-256 of the token; tokens are 256-bit random, so a fast hash is enough.
    token_hash = fields.CharField(max_length=64, unique=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "hub.Member", related_name="sessions", on_delete=fields.CASCADE
    )
    member_id: int
    brand_id = fields.IntField()
    appid = fields.CharField(max_length=32)
    openid = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()

    class Meta:
        table = "member_session"
        indexes = (("expires_at",),)


class MemberMerge(Model):
    """Two members found to be one person: the merged one's history moved to the survivor."""

    id = fields.IntField(primary_key=True)
    brand: fields.ForeignKeyRelation[Brand] = fields.ForeignKeyField(
        "hub.Brand", related_name="member_merges", on_delete=fields.RESTRICT
    )
    brand_id: int
    survivor: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "hub.Member", related_name="absorbed", on_delete=fields.RESTRICT
    )
    survivor_id: int
    # A member is merged away once: unique.
    merged: fields.OneToOneRelation[Member] = fields.OneToOneField(
        "hub.Member", related_name="merge", on_delete=fields.RESTRICT
    )
    merged_id: int
    # Why (e.g. "phone_bound") and how many rows of each kind moved.
    cause = fields.CharField(max_length=32)
    moved: dict[str, Any] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "member_merge"
