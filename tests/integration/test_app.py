"""The web application's behaviour common to every endpoint: ids, errors, metrics, limits."""

import asyncio
import io
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from hub.embedded_redis import free_tcp_port
from hub.errors import AlreadyExistsError, InvalidValueError, NotFoundError
from hub.middleware import REQUEST_ID_HEADER
from hub.runtime import start_web
from hub.settings import Settings

Client = TestClient[web.Request, web.Application]
ClientFactory = Callable[[web.Application], Awaitable[Client]]


def raising(error: Exception) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(_request: web.Request) -> web.Response:
        raise error

    return handler


async def ask_a_redis_that_is_down(_request: web.Request) -> web.Response:
    """A real Redis client calling a port nobody listens on."""
    client = Redis(host="127.0.0.1", port=free_tcp_port(), socket_connect_timeout=1)
    try:
        await client.get("anything")
    finally:
        await client.aclose()
    return web.json_response({})


async def echo_length(request: web.Request) -> web.Response:
    return web.json_response({"length": len(await request.read())})


@pytest.fixture
async def test_client(app: web.Application, aiohttp_client: ClientFactory) -> Client:
    app.router.add_get("/boom", raising(RuntimeError("secret detail")))
    app.router.add_get("/missing", raising(NotFoundError("store_not_found", "no store 'x'")))
    app.router.add_get("/taken", raising(AlreadyExistsError("brand_exists", "taken")))
    app.router.add_get("/invalid", raising(InvalidValueError("amount", "must be positive")))
    app.router.add_get("/redis-down", ask_a_redis_that_is_down)
    app.router.add_post("/echo", echo_length)
    return await aiohttp_client(app)


async def test_request_id_is_echoed_or_created(test_client: Client) -> None:
    given = await test_client.get("/healthz", headers={REQUEST_ID_HEADER: "trace-42"})
    assert given.headers[REQUEST_ID_HEADER] == "trace-42"

    unsafe = await test_client.get("/healthz", headers={REQUEST_ID_HEADER: "bad id;drop"})
    assert unsafe.headers[REQUEST_ID_HEADER] != "bad id;drop"
    assert len(unsafe.headers[REQUEST_ID_HEADER]) == 16


async def test_unknown_path_is_a_json_404(test_client: Client) -> None:
    response = await test_client.get("/no/such/path")
    body = await response.json()
    assert response.status == 404
    assert body["reason"] == "not_found"
    assert body["request_id"] == response.headers[REQUEST_ID_HEADER]


async def test_wrong_method_is_a_json_405_with_allow(test_client: Client) -> None:
    response = await test_client.post("/healthz")
    assert response.status == 405
    assert (await response.json())["reason"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [
        ("/missing", 404, "store_not_found"),
        ("/taken", 409, "brand_exists"),
        ("/invalid", 400, "invalid_value"),
    ],
)
async def test_domain_refusals_become_4xx_with_their_reason(
    test_client: Client, path: str, status: int, reason: str
) -> None:
    response = await test_client.get(path)
    assert response.status == status
    assert (await response.json())["reason"] == reason


async def test_unexpected_failure_is_logged_and_hidden(
    test_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    response = await test_client.get("/boom")

    body = await response.json()
    assert response.status == 500
    assert body["reason"] == "internal_error"
    assert "secret detail" not in await response.text()
    assert any("unhandled error in GET /boom" in r.getMessage() for r in caplog.records)


async def test_an_unreachable_redis_is_a_503_to_retry_not_a_500(test_client: Client) -> None:
    response = await test_client.get("/redis-down")

    assert response.status == 503
    assert (await response.json())["reason"] == "temporarily_unavailable"
    assert response.headers["Retry-After"] == "5"


async def test_body_over_the_size_limit_is_a_json_413(
    test_client: Client, settings: Settings
) -> None:
    limit = settings.http.client_max_size_bytes

    small = await test_client.post("/echo", data=b"x" * 10)
    large = await test_client.post("/echo", data=io.BytesIO(b"x" * (limit + 1)))

    assert (await small.json())["length"] == 10
    assert large.status == 413
    assert (await large.json())["reason"] == "body_too_large"


async def test_metrics_count_requests_by_route_pattern(test_client: Client) -> None:
    await test_client.get("/healthz")
    await test_client.get("/no/such/path")

    text = await (await test_client.get("/metrics")).text()

    assert 'wxhub_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert 'route="<unmatched>",status="404"' in text
    assert "wxhub_http_request_duration_seconds_bucket" in text


async def test_stopping_drains_requests_in_flight(app: web.Application, settings: Settings) -> None:
    started = asyncio.Event()

    async def slow(_request: web.Request) -> web.Response:
        started.set()
        await asyncio.sleep(0.3)
        return web.Response(text="finished")

    app.router.add_get("/slow", slow)
    port = free_tcp_port()
    served = settings.model_copy(update={"http": settings.http.model_copy(update={"port": port})})
    runner = await start_web(app, served)
    async with aiohttp.ClientSession() as session:
        request = asyncio.create_task(session.get(f"http://127.0.0.1:{port}/slow"))
        await started.wait()
        await runner.cleanup()
        response = await request
        assert response.status == 200
        assert await response.text() == "finished"
