"""Open API, store payment codes: the QR code of each store and its printable poster.

Also the store's public link page, which a plain payment QR code opens outside WeChat. What the
codes carry, and how a brand makes WeChat open its mini-program for them, is described in
hub/services/store_codes.py.
"""

import asyncio
import base64
import contextlib
import io
import logging
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from markupsafe import Markup
from PIL import Image
from pydantic import Field
from redis.exceptions import RedisError

from hub.api.auth import api_caller
from hub.api.bodies import Query, read_query
from hub.errors import DeliveryError, DomainError, NotFoundError, WeChatApiError
from hub.keys import accounts_key, redis_key, settings_key
from hub.models.account import MiniProgramApp
from hub.models.brand import Brand, Store, StoreStatus
from hub.services import store_codes

log = logging.getLogger(__name__)

# The width WeChat accepts for its code (protocols §6.5); our own QR is drawn at most that wide.
MIN_WIDTH = 280
MAX_WIDTH = 1280
DEFAULT_WIDTH = 430
# The poster prints the code 90 mm wide: WeChat's largest code is then about 360 dpi, sharp.
_POSTER_CODE_WIDTH = MAX_WIDTH
# WeChat's codes never expire (§6.5): a day spares it reprints and bounds what Redis holds.
_CODE_TTL_S = 24 * 3600
_CODE_CACHE_PREFIX = "wxhub:wxacode:"
# 41030: the page (or the whole mini-program) is not released. An operator must act; retrying
# cannot help, so this is not a 503.
_ERR_PAGE_NOT_RELEASED = 41030
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Our pages run no script and fetch nothing: styles are inline and images data: URIs.
_PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


class PngQuery(Query):
    width: int = Field(default=DEFAULT_WIDTH, ge=MIN_WIDTH, le=MAX_WIDTH)


class NoQuery(Query):
    """No parameters: any one given is refused (400), like an unknown one anywhere else."""


def add_routes(router: web.UrlDispatcher) -> None:
    """Register the codes and the poster under /api/v1 (API key), and the public link page."""
    store = "/api/v1/stores/{store_id}"
    router.add_get(f"{store}/payment-qr.png", show_payment_png)
    router.add_get(f"{store}/payment-qr.svg", show_payment_svg)
    router.add_get(f"{store}/poster", show_poster)
    router.add_get(f"{store_codes.LINK_PATH}/{{brand_code}}/{{store_id}}", show_link_page)


async def show_payment_png(request: web.Request) -> web.Response:
    """GET /api/v1/stores/{store_id}/payment-qr.png[?width=280..1280]: the store's payment code.

    WeChat's mini-program code (scene `s=<store id>`, page `membership.pay_page`) when the
    brand has a mini-program, kept in Redis for a day; else a QR code of the store's link.

    Raises:
        AuthenticationError: no or unknown API key (401).
        InvalidValueError: a bad or unknown parameter (400).
        NotFoundError: "store_not_found", also for another brand's store (404).
        DomainError: "miniprogram_page_invalid", WeChat refuses the page (422).
        DeliveryError: WeChat did not make the code (503).
    """
    caller = await api_caller(request)
    query = read_query(request, PngQuery)
    brand, store = await _brand_store(request, caller.brand_id)
    appid = await _miniprogram_appid(caller.brand_id)
    if appid is None:
        link = _store_link(request, brand, store)
        image = await asyncio.to_thread(store_codes.render_png, link, query.width)
    else:
        image = await _wechat_code(request, appid, store, query.width)
    return _download(image, "image/png", store, "png")


async def show_payment_svg(request: web.Request) -> web.Response:
    """GET /api/v1/stores/{store_id}/payment-qr.svg: a vector QR code of the store's link.

    Always the link, even for a brand with a mini-program: getwxacodeunlimit draws raster
    images only, which blur when a print shop enlarges them, while a vector code stays sharp at
    any size. WeChat opens the mini-program for the link once the brand registers its link
    rule (hub/services/store_codes.py).

    Raises:
        AuthenticationError, InvalidValueError, NotFoundError: as payment-qr.png.
    """
    caller = await api_caller(request)
    read_query(request, NoQuery)
    brand, store = await _brand_store(request, caller.brand_id)
    svg = await asyncio.to_thread(store_codes.render_svg, _store_link(request, brand, store))
    document = f'<?xml version="1.0" encoding="UTF-8"?>\n{svg}\n'
    return _download(document.encode(), "image/svg+xml", store, "svg")


async def show_poster(request: web.Request) -> web.Response:
    """GET /api/v1/stores/{store_id}/poster: a printable A5 page with the store's payment code.

    The code is the one payment-qr.png gives (inline, as a data: URI) when the brand has a
    mini-program, else the vector code of payment-qr.svg (inline SVG).

    Raises:
        AuthenticationError, InvalidValueError, NotFoundError, DomainError, DeliveryError:
            as payment-qr.png.
    """
    caller = await api_caller(request)
    read_query(request, NoQuery)
    brand, store = await _brand_store(request, caller.brand_id)
    appid = await _miniprogram_appid(caller.brand_id)
    context: dict[str, Any] = {
        "brand_name": brand.name,
        "store": store,
        "paused": store.status is StoreStatus.PAUSED,
        "qr_svg": None,
        "qr_data_uri": None,
    }
    if appid is None:
        svg = await asyncio.to_thread(store_codes.render_svg, _store_link(request, brand, store))
        # Our own drawing of a link made of the base URL, a brand code and a number.
        context["qr_svg"] = Markup(svg)  # noqa: S704 - generated by qrcode, holds no input
    else:
        image = await _wechat_code(request, appid, store, _POSTER_CODE_WIDTH)
        context["qr_data_uri"] = "data:image/png;base64," + base64.b64encode(image).decode()
    return _page("store_poster.html", request, context)


async def show_link_page(request: web.Request) -> web.Response:
    """GET /pay/{brand_code}/{store_id} (public): the store's link, opened outside WeChat.

    Shows the store's name and asks to scan with WeChat; nothing else about the store.

    Raises:
        NotFoundError: "store_not_found", no such store in that brand (404).
    """
    store_id = store_codes.parse_store_id(request.match_info["store_id"])
    store = (
        None
        if store_id is None
        else await Store.get_or_none(id=store_id, brand__code=request.match_info["brand_code"])
    )
    if store is None:
        raise NotFoundError("store_not_found", "no such store")
    return _page("store_link.html", request, {"store_name": store.name})


async def _brand_store(request: web.Request, brand_id: int) -> tuple[Brand, Store]:
    """The caller's brand, and the store of the URL, which must be the brand's."""
    store_id = store_codes.parse_store_id(request.match_info["store_id"])
    store = None if store_id is None else await Store.get_or_none(id=store_id, brand_id=brand_id)
    if store is None:
        raise NotFoundError("store_not_found", "no such store in your brand")
    return await Brand.get(id=brand_id), store


async def _miniprogram_appid(brand_id: int) -> str | None:
    """The brand's mini-program (its first, should it have several), or None."""
    app = await MiniProgramApp.filter(brand_id=brand_id).order_by("id").first()
    return None if app is None else app.appid


def _store_link(request: web.Request, brand: Brand, store: Store) -> str:
    base_url = request.app[settings_key].http.base_url
    return store_codes.store_link(base_url, brand.code, store.id)


async def _wechat_code(request: web.Request, appid: str, store: Store, width: int) -> bytes:
    """WeChat's mini-program code of the store as PNG, from Redis when made within a day.

    Raises:
        DomainError: "miniprogram_page_invalid", the page is not released (41030).
        DeliveryError: WeChat did not make the code.
    """
    page = request.app[settings_key].membership.pay_page
    scene = store_codes.store_scene(store.id)
    redis = request.app[redis_key]
    cache_key = f"{_CODE_CACHE_PREFIX}{appid}:{page}:{width}:{scene}"
    try:
        cached = await redis.get(cache_key)
    except RedisError:
        cached = None  # the cache is a saving, not a need: ask WeChat
    if cached is not None:
        return bytes(cached)
    accounts = request.app[accounts_key]
    account = await accounts.miniprogram(appid)
    if account is None:
        # Configured a moment ago: the account cache still remembers it as unknown.
        raise DeliveryError(f"mini-program {appid} is not loaded yet", retryable=True)
    try:
        image = await accounts.miniprogram_api(account).unlimited_code(
            scene, page=page, width=width
        )
    except WeChatApiError as exc:
        if exc.errcode != _ERR_PAGE_NOT_RELEASED:
            raise
        raise DomainError(
            "miniprogram_page_invalid",
            f"WeChat refuses page {page!r} of mini-program {appid}: release the mini-program "
            "with that page, or set membership.pay_page",
        ) from None
    png = await asyncio.to_thread(_as_png, image)
    with contextlib.suppress(RedisError):
        await redis.set(cache_key, png, ex=_CODE_TTL_S)
    log.info("mini-program code made", extra={"account": appid, "scene": scene, "width": width})
    return png


def _as_png(image: bytes) -> bytes:
    """WeChat's image as PNG: it answers JPEG at times (protocols §6.5), the route says .png.

    Raises:
        DeliveryError: the answer is not an image.
    """
    if image.startswith(_PNG_SIGNATURE):
        return image
    try:
        with Image.open(io.BytesIO(image), formats=["JPEG", "PNG", "GIF"]) as decoded:
            buffer = io.BytesIO()
            decoded.convert("RGB").save(buffer, format="PNG")
    except (OSError, Image.DecompressionBombError) as exc:
        raise DeliveryError(
            f"getwxacodeunlimit answered no image: {exc}", retryable=False
        ) from None
    return buffer.getvalue()


def _download(body: bytes, content_type: str, store: Store, extension: str) -> web.Response:
    response = web.Response(body=body, content_type=content_type)
    # Store codes are [a-z0-9_-] (hub.services.fields.check_code): safe in a header.
    filename = f"store-{store.code}-payment-qr.{extension}"
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


def _page(template: str, request: web.Request, context: dict[str, Any]) -> web.Response:
    response = aiohttp_jinja2.render_template(template, request, context)
    response.headers["Content-Security-Policy"] = _PAGE_POLICY
    return response
