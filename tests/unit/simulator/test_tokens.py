"""Tokens as WeChat issues and checks them: legacy, stable (normal/forced), WeCom, on every API."""

import pytest

from hub.simulator.tokens import FORCE_PER_DAY, LEGACY_GRACE_S, ROTATE_BEFORE_S, TOKEN_TTL_S
from tests.unit.simulator.conftest import SimClient, simulator_of
from tests.unit.simulator.helpers import (
    api,
    control,
    mp_token,
    shop_token,
    stable_token,
    wecom_token,
)

PHONE_PATH = "/wxa/business/getuserphonenumber"


async def errcode_with(wechat: SimClient, token: str | None) -> int:
    """The errcode an API answers for `token` (an empty body gets past the token check)."""
    return int((await api(wechat, "POST", PHONE_PATH, token, json={}))["errcode"])


async def legacy_token(wechat: SimClient, world) -> str:
    app = world.mini_programs[0]
    params = {"grant_type": "client_credential", "appid": app.appid, "secret": app.secret}
    answer = await (await wechat.get("/cgi-bin/token", params=params)).json()
    assert answer["expires_in"] == TOKEN_TTL_S
    return str(answer["access_token"])


async def test_stable_token_normal_mode_returns_the_same_token(wechat, world):
    first = await stable_token(wechat, world)
    second = await stable_token(wechat, world)
    assert first["access_token"] == second["access_token"]
    assert len(first["access_token"]) > 100
    assert 0 < second["expires_in"] <= TOKEN_TTL_S


async def test_stable_token_rotates_five_minutes_before_expiry_and_keeps_the_old_one(wechat, world):
    old = (await stable_token(wechat, world))["access_token"]
    simulator_of(wechat).clock.advance(TOKEN_TTL_S - ROTATE_BEFORE_S + 1)
    new = (await stable_token(wechat, world))["access_token"]
    assert new != old
    # Old and new are both valid during the overlap.
    assert await errcode_with(wechat, old) == 40029
    assert await errcode_with(wechat, new) == 40029
    simulator_of(wechat).clock.advance(ROTATE_BEFORE_S)
    assert await errcode_with(wechat, old) == 42001


async def test_forced_refresh_makes_the_previous_token_stale(wechat, world):
    old = (await stable_token(wechat, world))["access_token"]
    new = (await stable_token(wechat, world, force=True))["access_token"]
    assert new != old
    assert await errcode_with(wechat, old) == 40001
    assert await errcode_with(wechat, new) == 40029  # past the token check: the code is missing


async def test_forced_refresh_needs_30_seconds_between_calls(wechat, world):
    await stable_token(wechat, world, force=True)
    assert (await stable_token(wechat, world, force=True))["errcode"] == 45009
    simulator_of(wechat).clock.advance(30)
    assert "access_token" in await stable_token(wechat, world, force=True)


async def test_forced_refresh_is_limited_to_20_a_day(wechat, world):
    clock = simulator_of(wechat).clock
    # Start of a Beijing day, so that the 20 refreshes (10 minutes) stay within it.
    clock.advance(-(clock() + 8 * 3600) % 86400 + 60)
    for _ in range(FORCE_PER_DAY):
        assert "access_token" in await stable_token(wechat, world, force=True)
        clock.advance(31)
    assert (await stable_token(wechat, world, force=True))["errcode"] == 45009
    clock.advance(86400)
    assert "access_token" in await stable_token(wechat, world, force=True)


async def test_legacy_token_replaces_the_previous_one_after_a_grace_period(wechat, world):
    first = await legacy_token(wechat, world)
    second = await legacy_token(wechat, world)
    assert first != second
    assert await errcode_with(wechat, first) == 40029
    simulator_of(wechat).clock.advance(LEGACY_GRACE_S)
    assert await errcode_with(wechat, first) == 40001
    assert await errcode_with(wechat, second) == 40029


async def test_legacy_and_stable_tokens_are_independent(wechat, world):
    stable = await mp_token(wechat, world)
    await legacy_token(wechat, world)
    await legacy_token(wechat, world)
    assert await errcode_with(wechat, stable) == 40029


@pytest.mark.parametrize(
    ("change", "errcode"),
    [
        ({"grant_type": "password"}, 40002),
        ({"appid": "wx0123456789abcdef"}, 40013),
        ({"secret": "not-the-secret"}, 40125),
    ],
)
async def test_token_endpoints_refuse_bad_credentials(wechat, world, change, errcode):
    app = world.mini_programs[0]
    payload = {"grant_type": "client_credential", "appid": app.appid, "secret": app.secret}
    stable = await (await wechat.post("/cgi-bin/stable_token", json=payload | change)).json()
    legacy = await (await wechat.get("/cgi-bin/token", params=payload | change)).json()
    assert stable["errcode"] == legacy["errcode"] == errcode
    assert "rid:" in stable["errmsg"]


async def test_token_check_answers_missing_unknown_and_expired(wechat, world):
    assert await errcode_with(wechat, None) == 41001
    assert await errcode_with(wechat, "not-a-token") == 40014
    token = await mp_token(wechat, world)
    simulator_of(wechat).clock.advance(TOKEN_TTL_S)
    assert await errcode_with(wechat, token) == 42001


async def test_control_api_revokes_and_expires_tokens(wechat, world):
    token = await mp_token(wechat, world)
    await control(wechat, "POST", "/_sim/tokens/revoke", {"token": token, "how": "expired"})
    assert await errcode_with(wechat, token) == 42001
    other = (await stable_token(wechat, world))["access_token"]
    assert other != token
    answer = await control(
        wechat, "POST", "/_sim/tokens/revoke", {"owner": world.mini_programs[0].appid}
    )
    assert answer["count"] == 2
    assert await errcode_with(wechat, other) == 40001


async def test_a_shop_token_does_not_open_mini_program_apis(wechat, world):
    assert await errcode_with(wechat, await shop_token(wechat, world)) == 48001


async def test_wecom_token_is_reused_while_valid_and_unknown_on_the_api_host(wechat, world):
    first = await wecom_token(wechat, world)
    assert first == await wecom_token(wechat, world)
    assert await errcode_with(wechat, first) == 40014
    simulator_of(wechat).clock.advance(TOKEN_TTL_S)
    assert await wecom_token(wechat, world) != first


async def test_wecom_gettoken_refuses_a_wrong_corp_or_secret(wechat, world):
    corp = world.corps[0]
    wrong_corp = await api(
        wechat, "GET", "/cgi-bin/gettoken", None, params={"corpid": "ww0", "corpsecret": "x"}
    )
    wrong_secret = await api(
        wechat, "GET", "/cgi-bin/gettoken", None, params={"corpid": corp.corpid, "corpsecret": "x"}
    )
    assert (wrong_corp["errcode"], wrong_secret["errcode"]) == (40013, 40001)


async def test_forced_errcodes_are_answered_on_token_endpoints(wechat, world):
    fault = {"endpoint": "/cgi-bin/stable_token", "errcode": -1, "times": 1}
    await control(wechat, "POST", "/_sim/faults/endpoints", fault)
    assert (await stable_token(wechat, world))["errcode"] == -1
    assert "access_token" in await stable_token(wechat, world)
