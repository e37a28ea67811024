"""Newest-first pages of a member's history: `?before_id=&limit=`."""

from typing import TypeVar

from pydantic import Field
from tortoise.models import Model
from tortoise.queryset import QuerySet

from hub.api.bodies import Query

PAGE_MAX = 100
M = TypeVar("M", bound=Model)


class Page(Query):
    before_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    limit: int = Field(default=20, ge=1, le=PAGE_MAX)


async def page_of(query: QuerySet[M], page: Page) -> list[M]:
    """Rows older than `before_id` (by id), newest first."""
    if page.before_id is not None:
        query = query.filter(id__lt=page.before_id)
    return await query.order_by("-id").limit(page.limit)
