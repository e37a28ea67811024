"""Recording who changed what: every write by a person, an API key or an operator."""

import getpass
import os
from dataclasses import dataclass
from typing import Any

from hub.models.audit import ActorType, AuditLog
from hub.request_id import current_request_id


@dataclass(frozen=True)
class Actor:
    """Who is acting: a staff member, an API key, an operator at the CLI, or the system."""

    type: ActorType
    id: str

    @classmethod
    def member(cls, member_id: int) -> "Actor":
        """A customer acting for themselves in the mini-program."""
        return cls(ActorType.MEMBER, str(member_id))

    @classmethod
    def staff(cls, staff_id: int) -> "Actor":
        """A person on the brand's staff, signed in with their staff token."""
        return cls(ActorType.STAFF, str(staff_id))

    @classmethod
    def api_key(cls, key_id: int) -> "Actor":
        return cls(ActorType.API_KEY, str(key_id))

    @classmethod
    def system(cls) -> "Actor":
        """The hub itself, applying a rule (an upgrade gift, a birthday coupon)."""
        return cls(ActorType.SYSTEM, "wxhub")

    @classmethod
    def cli(cls) -> "Actor":
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = f"uid:{os.getuid()}"
        return cls(ActorType.CLI, user)


async def record(  # noqa: PLR0913 - an audit row has this many parts
    actor: Actor,
    action: str,
    target_type: str,
    target_id: object,
    *,
    brand_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditLog:
    """Add an audit row; call inside the transaction that makes the change.

    `before` and `after` must already be free of secrets and phone numbers.
    """
    return await AuditLog.create(
        brand_id=brand_id,
        actor_type=actor.type,
        actor_id=actor.id,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        before=before,
        after=after,
        request_id=current_request_id(),
    )
