"""A brand with a mini-program: its store codes are WeChat's mini-program codes, made once."""

import base64
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from markupsafe import escape

from hub.services.api_keys import create_api_key
from hub.services.audit import Actor
from hub.settings import Settings
from hub.simulator.world import World
from tests.e2e.clients.conftest import control
from tests.e2e.workers.conftest import HubClient, Seeded

WXACODE = "/wxa/getwxacodeunlimit"


@pytest.fixture
async def headers(seeded: Seeded) -> dict[str, str]:
    key = await create_api_key(seeded.brand, "pos", Actor.cli())
    return {"Authorization": f"Bearer {key.plaintext}"}


async def code_requests(simulator: TestServer) -> list[dict[str, Any]]:
    """The bodies of the hub's getwxacodeunlimit requests, oldest first."""
    log = await control(simulator, "GET", f"/_sim/requests?path={WXACODE}")
    return [json.loads(record["body"]) for record in log["requests"]]


async def test_png_is_wechats_code_for_the_store_scene_and_pay_page(
    seeded: Seeded,
    client: HubClient,
    simulator: TestServer,
    world: World,
    settings: Settings,
    headers: dict[str, str],
) -> None:
    path = f"/api/v1/stores/{seeded.store.id}/payment-qr.png"

    first = await client.get(path, headers=headers)
    second = await client.get(path, headers=headers)

    assert first.status == second.status == 200
    assert first.content_type == "image/png"
    image = await first.read()
    assert image.startswith(b"\x89PNG")
    assert await second.read() == image
    (asked,) = await code_requests(simulator)
    assert asked["scene"] == f"s={seeded.store.id}"
    assert asked["page"] == settings.membership.pay_page
    assert asked["page"] in world.mini_programs[0].pages
    assert asked["width"] == 430


async def test_each_width_is_made_once_and_the_poster_inlines_the_largest(
    seeded: Seeded, client: HubClient, simulator: TestServer, headers: dict[str, str]
) -> None:
    store = f"/api/v1/stores/{seeded.store.id}"

    small = await client.get(f"{store}/payment-qr.png?width=280", headers=headers)
    poster = await client.get(f"{store}/poster", headers=headers)
    large = await client.get(f"{store}/payment-qr.png?width=1280", headers=headers)
    again = await client.get(f"{store}/poster", headers=headers)

    assert [a.status for a in (small, poster, large, again)] == [200] * 4
    assert [body["width"] for body in await code_requests(simulator)] == [280, 1280]
    html = await poster.text()
    assert await again.text() == html
    data_uri = "data:image/png;base64," + base64.b64encode(await large.read()).decode()
    assert f'src="{data_uri}"' in html
    assert escape(seeded.store.name) in html
    assert escape(seeded.brand.name) in html
    assert "<svg" not in html


async def test_unreleased_page_is_a_422_and_busy_wechat_a_503_neither_cached(
    seeded: Seeded, client: HubClient, simulator: TestServer, headers: dict[str, str]
) -> None:
    path = f"/api/v1/stores/{seeded.store.id}/payment-qr.png"
    for errcode in (41030, 45009):
        await control(
            simulator,
            "POST",
            "/_sim/faults/endpoints",
            {"endpoint": WXACODE, "errcode": errcode, "times": 1},
        )
    unreleased = await client.get(path, headers=headers)
    busy = await client.get(path, headers=headers)
    made = await client.get(path, headers=headers)

    assert unreleased.status == 422
    assert (await unreleased.json())["reason"] == "miniprogram_page_invalid"
    assert busy.status == 503
    assert (await busy.json())["reason"] == "wechat_unavailable"
    assert made.status == 200
    assert len(await code_requests(simulator)) == 3
