"""Store payment codes over HTTP: the plain QR code of a store's link, its poster, its page.

WeChat's mini-program code (brands with a mini-program) is in tests/e2e/workers/.
"""

import io
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import pytest
import qrcode
from aiohttp import web
from aiohttp.test_utils import TestClient
from PIL import Image

from hub.api.store_codes import _as_png
from hub.errors import DeliveryError
from hub.models.brand import Brand, Store, StoreStatus
from hub.services.api_keys import create_api_key
from hub.services.audit import Actor
from hub.services.brands import add_store, create_brand
from hub.settings import Settings
from hub.vault import load_vault
from tests.builders import create_hub_brand

Client = TestClient[web.Request, web.Application]
SVG = "{http://www.w3.org/2000/svg}"
ROUTES = ("payment-qr.png", "payment-qr.svg", "poster")


@dataclass(frozen=True)
class Caller:
    brand: Brand
    store: Store
    headers: dict[str, str]


async def caller_of(brand: Brand, store: Store) -> Caller:
    key = await create_api_key(brand, "pos", Actor.cli())
    return Caller(brand, store, {"Authorization": f"Bearer {key.plaintext}"})


@pytest.fixture
async def acme(db: None, settings: Settings) -> Caller:
    """The builder's brand: a store, and a mini-program (at the real WeChat: never called here)."""
    hub = await create_hub_brand(load_vault(settings))
    return await caller_of(hub.brand, hub.store)


@pytest.fixture
async def beta(db: None) -> Caller:
    """A brand without a mini-program: its codes are plain QR codes of the store's link."""
    brand = await create_brand("beta", "Beta Coffee", Actor.cli())
    store = await add_store(
        brand,
        "b01",
        "Beta Bund",
        Actor.cli(),
        address="中山东一路 1 号",
        opening_hours="Mon-Sun 08:00-20:00",
    )
    return await caller_of(brand, store)


def link_of(settings: Settings, brand: Brand, store: Store) -> str:
    """The link a store's plain code must carry, written out as docs/api.md states it."""
    return f"{settings.http.base_url}/pay/{brand.code}/{store.id}"


def qr_matrix(content: str) -> list[list[bool]]:
    """The modules (quiet zone included) of the QR code a scanner must read for `content`."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(content)
    code.make(fit=True)
    matrix: list[list[bool]] = code.get_matrix()
    return matrix


def png_modules(png: bytes, size: int) -> list[list[bool]]:
    """Read a QR PNG back into modules: the colour at the centre of each module's square."""
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        gray = image.convert("L")
    assert gray.width == gray.height
    assert gray.width % size == 0, "whole pixels per module"
    box, pixels = gray.width // size, gray.tobytes()

    def is_dark(x: int, y: int) -> bool:
        return pixels[(y * box + box // 2) * gray.width + x * box + box // 2] < 128

    return [[is_dark(x, y) for x in range(size)] for y in range(size)]


def svg_modules(svg: ET.Element) -> set[tuple[int, int]]:
    """The dark modules of our SVG code: one `Mx,y…z` square per module in its path."""
    path = svg.find(f"{SVG}path")
    assert path is not None
    return {(int(x), int(y)) for x, y in re.findall(r"M(\d+),(\d+)", path.get("d", ""))}


def dark(matrix: list[list[bool]]) -> set[tuple[int, int]]:
    return {(x, y) for y, row in enumerate(matrix) for x, on in enumerate(row) if on}


# -- who may ask ----------------------------------------------------------------------------------


async def test_codes_and_poster_need_an_api_key(client: Client, acme: Caller) -> None:
    for route in ROUTES:
        path = f"/api/v1/stores/{acme.store.id}/{route}"
        missing = await client.get(path)
        unknown = await client.get(path, headers={"Authorization": "Bearer wxk_0000_notakey"})

        assert missing.status == 401, route
        assert (await missing.json())["reason"] == "missing_token"
        assert unknown.status == 401, route
        assert (await unknown.json())["reason"] == "invalid_api_key"


async def test_another_brands_store_is_not_found(
    client: Client, acme: Caller, beta: Caller
) -> None:
    for route in ROUTES:
        answer = await client.get(f"/api/v1/stores/{beta.store.id}/{route}", headers=acme.headers)

        assert answer.status == 404, route
        assert (await answer.json())["reason"] == "store_not_found"


@pytest.mark.parametrize(
    "store_id",
    ["abc", "0", "-1", "1.0", "2147483648", "99999999999999999999999", "%D9%A3", "%C2%B2"],
)
async def test_ids_that_cannot_be_a_store_are_not_found(
    client: Client, acme: Caller, store_id: str
) -> None:
    for route in ROUTES:
        answer = await client.get(f"/api/v1/stores/{store_id}/{route}", headers=acme.headers)

        assert answer.status == 404, route
        assert (await answer.json())["reason"] == "store_not_found"


# -- the plain code -------------------------------------------------------------------------------


async def test_png_without_mini_program_is_a_qr_code_of_the_store_link(
    client: Client, beta: Caller, settings: Settings
) -> None:
    expected = qr_matrix(link_of(settings, beta.brand, beta.store))

    answer = await client.get(
        f"/api/v1/stores/{beta.store.id}/payment-qr.png?width=600", headers=beta.headers
    )

    assert answer.status == 200
    assert answer.content_type == "image/png"
    assert "store-b01-payment-qr.png" in answer.headers["Content-Disposition"]
    png = await answer.read()
    assert png_modules(png, len(expected)) == expected
    with Image.open(io.BytesIO(png)) as image:
        assert 600 - len(expected) < image.width <= 600


async def test_png_width_defaults_to_wechats_and_stays_within_its_limits(
    client: Client, beta: Caller
) -> None:
    path = f"/api/v1/stores/{beta.store.id}/payment-qr.png"

    default = await client.get(path, headers=beta.headers)
    with Image.open(io.BytesIO(await default.read())) as image:
        assert 380 < image.width <= 430
    for query in ("width=279", "width=1281", "width=abc", "width=", "size=300"):
        refused = await client.get(f"{path}?{query}", headers=beta.headers)

        assert refused.status == 400, query
        assert (await refused.json())["reason"] == "invalid_request"


async def test_svg_is_a_vector_qr_code_of_the_link_even_with_a_mini_program(
    client: Client, acme: Caller, settings: Settings
) -> None:
    expected = qr_matrix(link_of(settings, acme.brand, acme.store))

    answer = await client.get(
        f"/api/v1/stores/{acme.store.id}/payment-qr.svg", headers=acme.headers
    )

    assert answer.status == 200
    assert answer.content_type == "image/svg+xml"
    svg = ET.fromstring(await answer.read())  # noqa: S314 - our own answer under test
    assert svg.tag == f"{SVG}svg"
    assert svg.get("viewBox") == f"0 0 {len(expected)} {len(expected)}"
    assert svg_modules(svg) == dark(expected)
    refused = await client.get(
        f"/api/v1/stores/{acme.store.id}/payment-qr.svg?width=500", headers=acme.headers
    )
    assert refused.status == 400


# -- the poster -----------------------------------------------------------------------------------


async def test_poster_escapes_the_store_and_inlines_its_code(
    client: Client, beta: Caller, settings: Settings
) -> None:
    store = await add_store(
        beta.brand,
        "b02",
        '<script>alert("x")</script> & Co',
        Actor.cli(),
        address="<b>1 Road</b>",
        opening_hours="10:00-22:00",
    )

    answer = await client.get(f"/api/v1/stores/{store.id}/poster", headers=beta.headers)

    assert answer.status == 200
    assert answer.content_type == "text/html"
    assert "script-src" not in answer.headers["Content-Security-Policy"]
    html = await answer.text()
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in html
    assert "&lt;b&gt;1 Road&lt;/b&gt;" in html
    assert "10:00-22:00" in html
    assert "Beta Coffee" in html
    assert "暂停营业" not in html
    start, end = html.index("<svg"), html.index("</svg>") + len("</svg>")
    inline = ET.fromstring(html[start:end])  # noqa: S314 - our own answer under test
    assert svg_modules(inline) == dark(qr_matrix(link_of(settings, beta.brand, store)))


async def test_poster_of_a_paused_store_says_so(client: Client, beta: Caller) -> None:
    await Store.filter(id=beta.store.id).update(status=StoreStatus.PAUSED)

    answer = await client.get(f"/api/v1/stores/{beta.store.id}/poster", headers=beta.headers)

    assert answer.status == 200
    html = await answer.text()
    assert "暂停营业" in html
    assert "Beta Bund" in html


# -- the public link page -------------------------------------------------------------------------


async def test_link_page_is_public_and_shows_only_the_store_name(
    client: Client, beta: Caller, settings: Settings
) -> None:
    link = link_of(settings, beta.brand, beta.store)

    answer = await client.get(link.removeprefix(settings.http.base_url))

    assert answer.status == 200
    assert answer.content_type == "text/html"
    assert "Content-Security-Policy" in answer.headers
    html = await answer.text()
    assert "Beta Bund" in html
    assert "微信" in html
    for private in ("中山东一路", "08:00", "Beta Coffee"):
        assert private not in html


async def test_link_page_of_an_unknown_store_is_not_found(
    client: Client, acme: Caller, beta: Caller
) -> None:
    for path in (
        f"/pay/acme/{beta.store.id}",
        f"/pay/nobody/{beta.store.id}",
        "/pay/beta/abc",
        "/pay/beta/99999999999",
        "/pay/beta/0",
    ):
        answer = await client.get(path)

        assert answer.status == 404, path
        assert (await answer.json())["reason"] == "store_not_found"


# -- WeChat's image, whatever its format -----------------------------------------------------------


def test_wechat_jpeg_becomes_png_and_non_images_are_refused() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (300, 300), "white").save(buffer, format="JPEG")

    png = _as_png(buffer.getvalue())

    with Image.open(io.BytesIO(png)) as image:
        assert (image.format, image.size) == ("PNG", (300, 300))
    with pytest.raises(DeliveryError):
        _as_png(b'{"errcode": 0}')
