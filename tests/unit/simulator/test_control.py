"""The control and inspection API: request log (redacted), state, pushes, wake-ups, reset."""

import asyncio
import json

from tests.unit.simulator.conftest import SimClient, simulator_of
from tests.unit.simulator.helpers import api, control, create_order, mp_token, stable_token


async def test_the_request_log_keeps_requests_without_their_secrets(wechat, world):
    app = world.mini_programs[0]
    token = await mp_token(wechat, world)
    code = (await control(wechat, "POST", "/_sim/codes/login", {"user": "alice"}))["code"]
    await wechat.get(
        "/sns/jscode2session",
        params={
            "appid": app.appid,
            "secret": app.secret,
            "js_code": code,
            "grant_type": "authorization_code",
        },
    )
    await wechat.post("/wxa/business/getuserphonenumber", params={"access_token": token}, json={})
    await create_order(wechat, world, "L000001")
    log = (await control(wechat, "GET", "/_sim/requests"))["requests"]
    text = json.dumps(log, ensure_ascii=False)
    assert app.secret not in text
    assert token not in text
    assert code not in text
    stable, session, phone, order = log
    assert json.loads(stable["body"])["secret"] == "***"
    assert session["query"]["js_code"] == code[:6] + "…"
    assert (phone["path"], phone["errcode"]) == ("/wxa/business/getuserphonenumber", 40029)
    assert order["status"] == 200
    assert order["headers"]["Authorization"].startswith(f'mchid="{world.merchants[0].mchid}"')
    assert "signature" not in order["headers"]["Authorization"]
    only_pay = (await control(wechat, "GET", "/_sim/requests?path=/v3/&limit=5"))["requests"]
    assert [record["path"] for record in only_pay] == ["/v3/pay/transactions/jsapi"]


async def test_state_shows_tokens_shortened_and_everything_else(wechat, world):
    token = await mp_token(wechat, world)
    await create_order(wechat, world, "S000001")
    state = await control(wechat, "GET", "/_sim/state")
    assert [t["token"] for t in state["tokens"]] == [token[:6] + "…"]
    assert state["orders"][0]["out_trade_no"] == "S000001"
    assert {c["source"] for c in state["callbacks"]} == {
        "mini_program",
        "wechat_pay",
        "channels",
        "wecom",
    }


async def test_world_summary_has_identifiers_but_no_secrets(wechat, world):
    summary = await control(wechat, "GET", "/_sim/world")
    text = json.dumps(summary, ensure_ascii=False)
    assert summary["platform"]["public_key_id"] == world.platform.public_key_id
    assert summary["corps"][0]["staff"] == ["guide01", "guide02", "guide03"]
    for secret in (
        world.mini_programs[0].secret,
        world.merchants[0].api_v3_key,
        world.corps[0].secret,
        world.shops[0].push_aes_key,
    ):
        assert secret not in text
    assert "PRIVATE KEY" not in text


async def test_callback_registration_overrides_the_world(wechat, world, receiver):
    appid = world.mini_programs[0].appid
    registration = {"source": "mini_program", "account": appid, "url": receiver.url()}
    await control(wechat, "PUT", "/_sim/callbacks", registration)
    listed = (await control(wechat, "GET", "/_sim/callbacks"))["callbacks"]
    assert {
        "source": "mini_program",
        "account": appid,
        "url": receiver.url(),
        "registered": True,
    } in listed
    bad = await wechat.put("/_sim/callbacks", json=registration | {"url": "ftp://x"})
    assert bad.status == 400
    await control(wechat, "DELETE", "/_sim/callbacks")
    assert all(
        not entry["registered"]
        for entry in (await control(wechat, "GET", "/_sim/callbacks"))["callbacks"]
    )


async def test_deliver_now_skips_the_wait_before_the_next_attempt(start_simulator, world, receiver):
    # Real time: the first retry would wait 15 s.
    client = await start_simulator(time_scale=1)
    receiver.statuses = [500]
    await create_order(client, world, "W000001", notify_url=receiver.url())
    answer = await control(client, "POST", "/_sim/pay/orders/W000001/pay")
    push_id = answer["deliveries"][0]["id"]
    for _ in range(100):
        push = await control(client, "GET", f"/_sim/pushes/{push_id}")
        if push["next_attempt_at"] is not None:
            break
        await asyncio.sleep(0.01)
    assert push["status"] == "pending"
    await control(client, "POST", f"/_sim/pushes/{push_id}/deliver-now")
    waited = await control(client, "POST", f"/_sim/pushes/{push_id}/wait?timeout=5")
    assert waited["finished"] is True
    assert [a["status"] for a in waited["attempts"]] == [500, 200]
    listed = await control(client, "GET", "/_sim/pushes?source=wechat_pay")
    assert [p["id"] for p in listed["pushes"]] == [push_id]
    assert (await wechat_get_status(client, "/_sim/pushes/999999")) == 404


async def wechat_get_status(client: SimClient, path: str) -> int:
    return (await client.get(path)).status


async def test_reset_forgets_state_tokens_and_faults_but_keeps_callbacks(wechat, world, receiver):
    token = await mp_token(wechat, world)
    await control(
        wechat,
        "PUT",
        "/_sim/callbacks",
        {"source": "wecom", "account": world.corps[0].corpid, "url": receiver.url()},
    )
    await control(
        wechat, "POST", "/_sim/faults/endpoints", {"endpoint": "/cgi-bin/*", "errcode": -1}
    )
    await create_order(wechat, world, "Z000001")
    await control(wechat, "POST", "/_sim/reset")
    state = await control(wechat, "GET", "/_sim/state")
    assert state["orders"] == state["tokens"] == []
    assert state["faults"] == {"endpoints": [], "pushes": []}
    assert any(entry["registered"] for entry in state["callbacks"])
    assert "access_token" in await stable_token(wechat, world)
    forgotten = await api(wechat, "POST", "/wxa/business/getuserphonenumber", token, json={})
    assert forgotten["errcode"] == 40014


async def test_the_clock_can_be_advanced(wechat):
    before = simulator_of(wechat).clock()
    answer = await control(wechat, "POST", "/_sim/clock/advance", {"seconds": 3600})
    assert answer["offset_s"] == 3600
    assert answer["now"] >= before + 3600


async def test_endpoint_fault_rates_and_5xx(start_simulator, world):
    client = await start_simulator(seed=7)
    await control(
        client,
        "POST",
        "/_sim/faults/endpoints",
        {"endpoint": "/cgi-bin/stable_token", "status": 502, "rate": 0.5},
    )
    statuses = []
    for _ in range(40):
        app = world.mini_programs[0]
        response = await client.post(
            "/cgi-bin/stable_token",
            json={"grant_type": "client_credential", "appid": app.appid, "secret": app.secret},
        )
        statuses.append(response.status)
    assert 5 < statuses.count(502) < 35
    assert set(statuses) == {200, 502}
