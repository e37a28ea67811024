"""Reading requests into pydantic models: every failure a 4xx with a reason, never a 500."""

import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from hub.errors import InvalidValueError

M = TypeVar("M", bound=BaseModel)
_JSON = "application/json"


class Body(BaseModel):
    """A JSON request body: unknown fields refused, numbers strictly numbers (no "12" or 1.5)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Query(BaseModel):
    """Query parameters: strings converted to their types, unknown ones refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


async def read_body(request: web.Request, model: type[M]) -> M:
    """The JSON body as `model`.

    Raises:
        web.HTTPUnsupportedMediaType: not application/json.
        InvalidValueError: "malformed_json" or "invalid_request" naming the field.
    """
    return validate(model, await read_json(request))


async def read_json(request: web.Request) -> Any:
    """The JSON body as parsed, for a caller that validates it itself (an empty body is {}).

    Raises:
        web.HTTPUnsupportedMediaType: not application/json.
        InvalidValueError: "malformed_json".
    """
    if request.content_type != _JSON:
        raise web.HTTPUnsupportedMediaType(text=f"send {_JSON}")
    raw = await request.read()
    try:
        return json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidValueError("body", "is not valid JSON", reason="malformed_json") from None


def read_query(request: web.Request, model: type[M]) -> M:
    """The query string as `model`. Raises InvalidValueError naming the parameter."""
    return validate(model, dict(request.query))


def validate(model: type[M], data: Any) -> M:
    """Raises InvalidValueError ("invalid_request") naming the first bad field."""
    if not isinstance(data, dict):
        raise InvalidValueError("body", "must be a JSON object", reason="invalid_request")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "body"
        raise InvalidValueError(where, error["msg"], reason="invalid_request") from None


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps)


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
