"""Open API, reports: per-store and per-guide performance by China day (/api/v1, brand API key)."""

import re
from datetime import date
from typing import Any

from aiohttp import web
from pydantic import Field, field_validator

from hub.api.auth import api_caller
from hub.api.bodies import Query, json_response, read_query
from hub.errors import NotFoundError
from hub.models.brand import Store
from hub.models.staff import Staff
from hub.services.fields import parse_id
from hub.services.performance import Figures, Performance, guide_performance, store_performance

# Store and staff ids are 32-bit: a larger number is no id (and would overflow PostgreSQL's
# integer), so it is answered like an unknown one.
_ID_MAX = 2**31 - 1
_DAY_FORM = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class DayRange(Query):
    """?from=YYYY-MM-DD&to=YYYY-MM-DD, China days, both included."""

    first_day: date = Field(alias="from")
    last_day: date = Field(alias="to")

    @field_validator("first_day", "last_day", mode="before")
    @classmethod
    def _iso_day(cls, value: object) -> object:
        # pydantic alone would also take "0" (1970-01-01) or a datetime.
        if not isinstance(value, str) or not _DAY_FORM.fullmatch(value):
            raise ValueError("must be a day as YYYY-MM-DD")
        return value


def add_routes(router: web.UrlDispatcher) -> None:
    """Register this module's routes under /api/v1."""
    router.add_get("/api/v1/stores/{store_id}/performance", show_store_performance)
    router.add_get("/api/v1/staff/{staff_id}/performance", show_staff_performance)


async def show_store_performance(request: web.Request) -> web.Response:
    """GET /api/v1/stores/{store_id}/performance?from=…&to=…: the store's figures per day."""
    caller = await api_caller(request)
    store_id = _path_id(request, "store_id", "store_not_found")
    store = await Store.get_or_none(id=store_id, brand_id=caller.brand_id)
    if store is None:
        raise NotFoundError("store_not_found", f"no store {store_id}")
    days = read_query(request, DayRange)
    report = await store_performance(caller.brand_id, store.id, days.first_day, days.last_day)
    subject = {"id": store.id, "code": store.code, "name": store.name}
    return json_response({"store": subject, **_report_json(report)})


async def show_staff_performance(request: web.Request) -> web.Response:
    """GET /api/v1/staff/{staff_id}/performance?from=…&to=…: a guide's figures per day."""
    caller = await api_caller(request)
    staff_id = _path_id(request, "staff_id", "staff_not_found")
    staff = await Staff.get_or_none(id=staff_id, brand_id=caller.brand_id)
    if staff is None:
        raise NotFoundError("staff_not_found", f"no staff member {staff_id}")
    days = read_query(request, DayRange)
    report = await guide_performance(caller.brand_id, staff.id, days.first_day, days.last_day)
    subject = {
        "id": staff.id,
        "name": staff.name,
        "role": staff.role.value,
        "store_id": staff.store_id,
        "active": staff.active,
    }
    return json_response({"staff": subject, **_report_json(report)})


def _path_id(request: web.Request, name: str, reason: str) -> int:
    value = request.match_info[name]
    found = parse_id(value, _ID_MAX)
    if found is None:
        raise NotFoundError(reason, f"no {name.removesuffix('_id')} {value[:20]}")
    return found


def _report_json(report: Performance) -> dict[str, Any]:
    return {
        "from": report.first_day.isoformat(),
        "to": report.last_day.isoformat(),
        "days": [{"day": day.isoformat(), **_figures_json(f)} for day, f in report.days],
        "total": _figures_json(report.total),
    }


def _figures_json(figures: Figures) -> dict[str, Any]:
    return {
        "gmv_fen": figures.gmv_fen,
        "refunded_fen": figures.refunded_fen,
        "net_fen": figures.net_fen,
        "orders": figures.orders,
        "customers": figures.customers,
        "repeat_customers": figures.repeat_customers,
        "repeat_rate": figures.repeat_rate,
        "new_members": figures.new_members,
    }
