"""Request id, access log and metrics for every request; the one place errors become answers.

Error answers are JSON: {"reason": "<snake_case code>", "message": "…", "request_id": "…"}.
"""

import logging
import time
from http import HTTPStatus

from aiohttp import web
from aiohttp.typedefs import Handler
from redis.exceptions import RedisError
from tortoise.exceptions import DBConnectionError

from hub.errors import (
    AlreadyExistsError,
    AuthenticationError,
    DeliveryError,
    DomainError,
    InvalidValueError,
    NotFoundError,
    PermissionDeniedError,
)
from hub.keys import metrics_key
from hub.request_id import accept_request_id, request_id_var

log = logging.getLogger(__name__)
access_log = logging.getLogger("hub.access")

REQUEST_ID_HEADER = "X-Request-ID"
_DOMAIN_STATUS: dict[type[DomainError], int] = {
    NotFoundError: 404,
    AlreadyExistsError: 409,
    InvalidValueError: 400,
    AuthenticationError: 401,
    PermissionDeniedError: 403,
}
# Routes are labelled by their pattern, so /callbacks/wechatpay/123 is one series, not many.
_UNMATCHED_ROUTE = "<unmatched>"


def error_response(status: int, reason: str, message: str) -> web.Response:
    return web.json_response(
        {"reason": reason, "message": message, "request_id": request_id_var.get()},
        status=status,
    )


@web.middleware
async def request_context_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give the request an id, then log and measure it once it is answered."""
    request_id = accept_request_id(request.headers.get(REQUEST_ID_HEADER))
    token = request_id_var.set(request_id)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers[REQUEST_ID_HEADER] = request_id
        return response
    finally:
        elapsed = time.perf_counter() - started
        _observe(request, status, elapsed)
        request_id_var.reset(token)


def _observe(request: web.Request, status: int, elapsed: float) -> None:
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else _UNMATCHED_ROUTE
    metrics = request.app[metrics_key]
    metrics.http_requests.labels(request.method, route, str(status)).inc()
    metrics.http_latency.labels(request.method, route).observe(elapsed)
    # The path only: query strings can carry tokens and signatures.
    access_log.info(
        "%s %s %d %.1fms",
        request.method,
        request.path,
        status,
        elapsed * 1000,
        extra={
            "method": request.method,
            "path": request.path,
            "status": status,
            "duration_ms": round(elapsed * 1000, 2),
            "remote": request.remote,
        },
    )


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn refusals into 4xx JSON answers and unexpected failures into a logged 500."""
    try:
        return await handler(request)
    except DomainError as exc:
        response = error_response(_status_of(exc), exc.reason, exc.message)
        if isinstance(exc, AuthenticationError):
            response.headers["WWW-Authenticate"] = 'Bearer realm="wxhub"'
        return response
    except DeliveryError as exc:
        # WeChat (or another outside service) failed us: the caller may try again shortly.
        log.warning("%s %s: outbound call failed: %s", request.method, request.path, exc)
        response = error_response(503, "wechat_unavailable", "WeChat did not answer; try again")
        response.headers["Retry-After"] = "5"
        return response
    except (RedisError, DBConnectionError) as exc:
        # Our own Redis or database is out of reach: nothing was done, the caller may retry.
        log.warning("%s %s: %s unavailable: %s", request.method, request.path, _part(exc), exc)
        response = error_response(
            503, "temporarily_unavailable", "a service wxhub needs is unavailable; try again"
        )
        response.headers["Retry-After"] = "5"
        return response
    except web.HTTPException as exc:
        if exc.status < HTTPStatus.BAD_REQUEST:
            raise
        return _http_error_response(exc)
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(500, "internal_error", "internal error; quote the request id")


def _part(exc: Exception) -> str:
    return "Redis" if isinstance(exc, RedisError) else "database"


def _status_of(exc: DomainError) -> int:
    for error_type, status in _DOMAIN_STATUS.items():
        if isinstance(exc, error_type):
            return status
    # Any other refusal by a domain rule: the request cannot be carried out as it stands.
    return HTTPStatus.UNPROCESSABLE_ENTITY


def _http_error_response(exc: web.HTTPException) -> web.Response:
    status = HTTPStatus(exc.status)
    reason = (
        "body_too_large"
        if exc.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
        else (status.phrase.lower().replace(" ", "_").replace("-", "_"))
    )
    response = error_response(exc.status, reason, exc.text or status.phrase)
    for header in ("Allow", "Retry-After"):
        if header in exc.headers:
            response.headers[header] = exc.headers[header]
    return response
