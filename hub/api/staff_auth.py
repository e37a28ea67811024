"""Who is calling the staff API: the staff member whose token (`wxt_…`) is the Bearer token."""

from dataclasses import dataclass

from aiohttp import web

from hub.api.auth import bearer_token
from hub.models.staff import Staff
from hub.services.audit import Actor
from hub.services.staff_access import authenticate_staff


@dataclass(frozen=True)
class StaffCaller:
    staff: Staff

    @property
    def actor(self) -> Actor:
        return Actor.staff(self.staff.id)


async def staff_caller(request: web.Request) -> StaffCaller:
    """The active staff member signing a staff-API request.

    Raises:
        AuthenticationError: "missing_token", "malformed_token" or "invalid_staff_token" (not a
            `wxt_` token, unknown, replaced, or its holder is inactive).
    """
    return StaffCaller(await authenticate_staff(bearer_token(request)))
