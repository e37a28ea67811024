"""WeCom customer contacts: the link between a guide and a customer, and what it is worth."""

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from hub.models.brand import Brand, Store
from hub.models.member import Member
from hub.models.staff import Staff


class ContactStatus(StrEnum):
    # The customer added the guide without verification; the guide has not accepted yet.
    PENDING = "pending"
    ACTIVE = "active"
    ENDED = "ended"


class ContactLink(Model):
    """A guide (WeCom userid) and a customer (external_userid) connected in WeCom."""

    id = fields.BigIntField(primary_key=True)
    brand: fields.ForeignKeyRelation[Brand] = fields.ForeignKeyField(
        "hub.Brand", related_name="contact_links", on_delete=fields.RESTRICT
    )
    brand_id: int
    corpid = fields.CharField(max_length=32)
    userid = fields.CharField(max_length=64)
    external_userid = fields.CharField(max_length=64)
    # The staff member behind `userid`, when wxhub knows them.
    guide: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "hub.Staff", related_name="contact_links", null=True, on_delete=fields.SET_NULL
    )
    guide_id: int | None
    # Where the customer was won, from the "contact me" code's state.
    store: fields.ForeignKeyNullableRelation[Store] = fields.ForeignKeyField(
        "hub.Store", related_name="contact_links", null=True, on_delete=fields.SET_NULL
    )
    store_id: int | None
    state = fields.CharField(max_length=30, null=True)
    # The customer's unionid once WeCom told it: links the member, even one who joins later.
    unionid = fields.CharField(max_length=64, null=True)
    # Filled once the customer's unionid leads to a member.
    member: fields.ForeignKeyNullableRelation[Member] = fields.ForeignKeyField(
        "hub.Member", related_name="contact_links", null=True, on_delete=fields.SET_NULL
    )
    member_id: int | None
    status = fields.CharEnumField(ContactStatus, max_length=16)
    added_at = fields.DatetimeField()
    ended_at = fields.DatetimeField(null=True)
    # del_external_contact (the guide), del_follow_user (the customer), transfer: who ended it.
    end_reason = fields.CharField(max_length=32, null=True)
    # A transfer to this guide failed: customer_refused or customer_limit_exceed.
    transfer_failure = fields.CharField(max_length=32, null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "contact_link"
        unique_together = (("corpid", "userid", "external_userid"),)
        indexes = (("brand_id", "unionid"),)
