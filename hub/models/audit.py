"""The audit log: every write made by a person, an API key or an operator's CLI command."""

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from hub.models.brand import Brand


class ActorType(StrEnum):
    STAFF = "staff"
    API_KEY = "api_key"
    # A customer acting for themselves in the mini-program (binding a phone merges members).
    MEMBER = "member"
    # An operator at the command line; actor_id is the operating-system user.
    CLI = "cli"
    SYSTEM = "system"


class AuditLog(Model):
    id = fields.BigIntField(primary_key=True)
    brand: fields.ForeignKeyNullableRelation[Brand] = fields.ForeignKeyField(
        "hub.Brand", related_name="audit_entries", null=True, on_delete=fields.RESTRICT
    )
    brand_id: int | None
    actor_type = fields.CharEnumField(ActorType, max_length=16)
    actor_id = fields.CharField(max_length=64)
    # Dotted verb, e.g. "store.create", "account.set_pay".
    action = fields.CharField(max_length=64)
    target_type = fields.CharField(max_length=32)
    target_id = fields.CharField(max_length=64)
    # Snapshots with secrets and phone numbers already redacted.
    before: dict[str, Any] | None = fields.JSONField(null=True)
    after: dict[str, Any] | None = fields.JSONField(null=True)
    request_id = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "audit_log"
        indexes = (("brand_id", "created_at"), ("target_type", "target_id"))
