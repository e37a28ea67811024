"""Open API, audit log: who changed what in the brand, newest first (/api/v1, brand API key)."""

import re
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import AwareDatetime, Field, field_validator
from tortoise.queryset import QuerySet

from hub.api.auth import api_caller
from hub.api.bodies import json_response, read_query
from hub.api.paging import Page, page_of
from hub.api.views import moment
from hub.errors import InvalidValueError
from hub.models.audit import ActorType, AuditLog

# RFC 3339 with an offset; pydantic alone would also take "1700000000" (a Unix time) or a day.
_MOMENT_FORM = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
# Actions are dotted lowercase names ("points.adjust"); a trailing * matches a prefix.
_ACTION_FORM = r"^[a-z0-9_.]*\*?$"


class AuditQuery(Page):
    """?action=&actor_type=&actor_id=&target_type=&target_id=&since=&until=, with paging."""

    action: str | None = Field(default=None, min_length=1, max_length=65, pattern=_ACTION_FORM)
    actor_type: ActorType | None = None
    actor_id: str | None = Field(default=None, min_length=1, max_length=64)
    target_type: str | None = Field(default=None, min_length=1, max_length=32)
    target_id: str | None = Field(default=None, min_length=1, max_length=64)
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None

    @field_validator("since", "until", mode="before")
    @classmethod
    def _rfc3339(cls, value: object) -> object:
        if not isinstance(value, str) or not _MOMENT_FORM.fullmatch(value):
            raise ValueError("must be RFC 3339 with an offset, e.g. 2026-11-23T14:05:00%2B08:00")
        return value

    @field_validator("since", "until")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        # Rows are stored in UTC; year 1 at +08:00 has no UTC form (OverflowError, not a 500).
        try:
            return None if value is None else value.astimezone(UTC)
        except OverflowError:
            raise ValueError("is out of range") from None


async def list_audit(request: web.Request) -> web.Response:
    """GET /api/v1/audit: the brand's audit rows matching the filters, newest first.

    Raises:
        InvalidValueError: "invalid_request" (a bad filter) or "range_reversed".
    """
    caller = await api_caller(request)
    query = read_query(request, AuditQuery)
    if query.since and query.until and query.until <= query.since:
        raise InvalidValueError("until", "must be after since", "range_reversed")
    rows = await page_of(_filtered(AuditLog.filter(brand_id=caller.brand_id), query), query)
    return json_response({"entries": [audit_json(row) for row in rows]})


def _filtered(rows: QuerySet[AuditLog], query: AuditQuery) -> QuerySet[AuditLog]:
    if query.action is not None:
        prefix = query.action.removesuffix("*")
        rows = (
            rows.filter(action__startswith=prefix)
            if query.action.endswith("*")
            else rows.filter(action=prefix)
        )
    exact = {
        "actor_type": query.actor_type,
        "actor_id": query.actor_id,
        "target_type": query.target_type,
        "target_id": query.target_id,
    }
    rows = rows.filter(**{name: value for name, value in exact.items() if value is not None})
    if query.since is not None:
        rows = rows.filter(created_at__gte=query.since)
    if query.until is not None:
        rows = rows.filter(created_at__lt=query.until)
    return rows


def audit_json(row: AuditLog) -> dict[str, Any]:
    return {
        "id": row.id,
        "actor_type": row.actor_type.value,
        "actor_id": row.actor_id,
        "action": row.action,
        "target_type": row.target_type,
        "target_id": row.target_id,
        "before": row.before,
        "after": row.after,
        "request_id": row.request_id,
        "created_at": moment(row.created_at),
    }
