"""Mini-program APIs: code2Session, phone numbers, subscribe/send (every §6.4 rule), wxacode."""

import io

import pytest
from PIL import Image

from hub.simulator.world import Keyword, Template, TemplateKind, World
from tests.unit.simulator.conftest import SimClient, StartSimulator, simulator_of
from tests.unit.simulator.helpers import api, control, mp_token, openid

SEND_PATH = "/cgi-bin/message/subscribe/send"
CODE_PATH = "/wxa/getwxacodeunlimit"
ALL_TYPES_ID = "AllKeywordTypes000000000000000000000000001"
LONG_TERM_ID = "LongTermTemplate000000000000000000000000001"
VALID = {
    "thing1": "门店消费",
    "number2": "100",
    "letter3": "VIP",
    "symbol4": "★",
    "character_string5": "NO.20240101-001",
    "time6": "2019年10月1日 15:01",
    "date7": "2019年10月1日",
    "amount8": "¥100.00",
    "phone_number9": "+86-0766-66888866",
    "car_number10": "粤A12345",
    "name11": "张三",
    "phrase12": "已到账",
    "enum13": "待付款",
}


@pytest.fixture(scope="module")
def rich_world(world: World) -> World:
    """The demo world plus a template with every keyword type and a long-term template."""
    appid = world.mini_programs[0].appid
    keywords = tuple(
        Keyword(name=name, enum_values=("待付款", "已完成") if name == "enum13" else ())
        for name in VALID
    )
    extra = (
        Template(appid=appid, template_id=ALL_TYPES_ID, title="全部类型", keywords=keywords),
        Template(
            appid=appid,
            template_id=LONG_TERM_ID,
            title="长期订阅",
            kind=TemplateKind.LONG_TERM,
            keywords=(Keyword(name="thing1"),),
        ),
    )
    return world.model_copy(update={"templates": world.templates + extra})


@pytest.fixture
async def rich(start_simulator: StartSimulator, rich_world: World) -> SimClient:
    return await start_simulator(rich_world)


def grant(client: SimClient, world: World, template_id: str, count: int = 1) -> None:
    """Grant sends directly in state (the popup flow itself is tested with a receiver)."""
    state = simulator_of(client).state
    state.subscription(world.mini_programs[0].appid, openid(world), template_id).grants += count


async def send(
    client: SimClient,
    world: World,
    template_id: str,
    data: dict[str, str],
    extra: dict[str, str] | None = None,
):
    token = await mp_token(client, world)
    payload = {
        "touser": openid(world),
        "template_id": template_id,
        "data": {name: {"value": value} for name, value in data.items()},
    } | (extra or {})
    return await api(client, "POST", SEND_PATH, token, json=payload)


# -- code2Session and phone numbers -----------------------------------------------------------


async def login_code(client: SimClient, user: str = "alice") -> str:
    return str((await control(client, "POST", "/_sim/codes/login", {"user": user}))["code"])


def session_params(world: World, code: str, **change: str) -> dict[str, str]:
    app = world.mini_programs[0]
    return {
        "appid": app.appid,
        "secret": app.secret,
        "js_code": code,
        "grant_type": "authorization_code",
    } | change


async def test_code_to_session_returns_openid_unionid_and_a_session_key(wechat, world):
    code = await login_code(wechat)
    answer = await api(
        wechat, "GET", "/sns/jscode2session", None, params=session_params(world, code)
    )
    alice = world.user("alice")
    assert answer["openid"] == openid(world)
    assert answer["unionid"] == alice.unionid
    assert len(answer["session_key"]) == 24
    assert "errcode" not in answer


async def test_login_codes_are_single_use_and_live_five_minutes(wechat, world):
    code = await login_code(wechat)
    params = session_params(world, code)
    await api(wechat, "GET", "/sns/jscode2session", None, params=params)
    again = await api(wechat, "GET", "/sns/jscode2session", None, params=params)
    assert again["errcode"] == 40163
    late = await login_code(wechat)
    simulator_of(wechat).clock.advance(301)
    expired = await api(
        wechat, "GET", "/sns/jscode2session", None, params=session_params(world, late)
    )
    assert expired["errcode"] == 40029


@pytest.mark.parametrize(
    ("change", "errcode"),
    [
        ({"js_code": "made-up"}, 40029),
        ({"secret": "wrong"}, 40125),
        ({"appid": "wx0123456789abcdef"}, 40013),
        ({"grant_type": "client_credential"}, 40002),
    ],
)
async def test_code_to_session_errors(wechat, world, change, errcode):
    params = session_params(world, await login_code(wechat), **change)
    assert (await api(wechat, "GET", "/sns/jscode2session", None, params=params))[
        "errcode"
    ] == errcode


async def test_unionid_is_absent_for_an_app_without_open_platform(start_simulator, world):
    app = world.mini_programs[0].model_copy(update={"unionid_bound": False})
    client = await start_simulator(world.model_copy(update={"mini_programs": (app,)}))
    params = session_params(world, await login_code(client))
    assert "unionid" not in await api(client, "GET", "/sns/jscode2session", None, params=params)


async def test_phone_number_code_gives_the_users_phone_once(wechat, world):
    minted = await control(wechat, "POST", "/_sim/codes/phone", {"user": "alice"})
    token = await mp_token(wechat, world)
    path = "/wxa/business/getuserphonenumber"
    answer = await api(wechat, "POST", path, token, json={"code": minted["code"]})
    info = answer["phone_info"]
    assert answer["errcode"] == 0
    assert info["phoneNumber"] == info["purePhoneNumber"] == world.user("alice").phone
    assert info["watermark"]["appid"] == world.mini_programs[0].appid
    assert (await api(wechat, "POST", path, token, json={"code": minted["code"]}))[
        "errcode"
    ] == 40029


# -- subscribe/send ----------------------------------------------------------------------------


async def test_a_one_time_grant_allows_exactly_one_send(rich, rich_world):
    grant(rich, rich_world, ALL_TYPES_ID)
    first = await send(
        rich, rich_world, ALL_TYPES_ID, VALID, {"page": "pages/index/index?from=msg"}
    )
    second = await send(rich, rich_world, ALL_TYPES_ID, VALID)
    assert first["errcode"] == 0
    assert first["msgid"] > 10**17
    assert second["errcode"] == 43101
    messages = await control(rich, "GET", "/_sim/messages")
    assert [m["msgid"] for m in messages["subscribe"]] == [first["msgid"]]
    assert messages["subscribe"][0]["data"] == VALID


@pytest.mark.parametrize(
    ("keyword", "value", "valid"),
    [
        ("thing1", "二" * 20, True),
        ("thing1", "x" * 21, False),
        ("number2", "3.14", True),
        ("number2", "-5", False),
        ("number2", "1a", False),
        ("number2", "1" * 33, False),
        ("letter3", "abcXYZ", True),
        ("letter3", "abc1", False),
        ("letter3", "中", False),
        ("symbol4", "!@#", True),
        ("symbol4", "!!!!!!", False),
        ("symbol4", "a!", False),
        ("character_string5", "A-1_b|2", True),
        ("character_string5", "订单1", False),
        ("character_string5", "a b", False),
        ("character_string5", "x" * 33, False),
        ("time6", "15:01", True),
        ("time6", "2019-10-01 15:01~2019-10-02 16:00", True),
        ("time6", "2019年10月1日", False),
        ("time6", "25:00", False),
        ("time6", "下午三点", False),
        ("date7", "2019-10-01 15:01", True),
        ("date7", "2019年10月1日~2019年10月7日", True),
        ("date7", "15:01", False),
        ("date7", "明天", False),
        ("amount8", "100元", True),
        ("amount8", "￥88.5元", True),
        ("amount8", "100.00美元", False),
        ("amount8", "¥12345678901", False),
        ("amount8", "¥-1", False),
        ("phone_number9", "13800000000", True),
        ("phone_number9", "138 0000", False),
        ("phone_number9", "1" * 18, False),
        ("phone_number9", "电话", False),
        ("car_number10", "粤A1234学", True),
        ("car_number10", "粤A-1234", False),
        ("car_number10", "粤A12345678", False),
        ("name11", "Tom Smith", True),
        ("name11", "张三Tom", True),
        ("name11", "张" * 11, False),
        ("name11", "Tom" * 7, False),
        ("phrase12", "待使用", True),
        ("phrase12", "VIP", False),
        ("phrase12", "待使用优惠券", False),
        ("enum13", "已完成", True),
        ("enum13", "其他", False),
        ("thing1", "", False),
    ],
)
async def test_each_keyword_rule(rich, rich_world, keyword, value, valid):
    grant(rich, rich_world, ALL_TYPES_ID)
    answer = await send(rich, rich_world, ALL_TYPES_ID, VALID | {keyword: value})
    if valid:
        assert answer["errcode"] == 0, answer
        return
    assert answer["errcode"] == 47003
    assert f"data.{keyword}.value" in answer["errmsg"]
    # A refused message does not spend the grant.
    assert (await send(rich, rich_world, ALL_TYPES_ID, VALID))["errcode"] == 0


async def test_data_must_name_exactly_the_templates_keywords(rich, rich_world):
    grant(rich, rich_world, ALL_TYPES_ID)
    missing = {k: v for k, v in VALID.items() if k != "amount8"}
    assert (
        "data.amount8.value is empty"
        in (await send(rich, rich_world, ALL_TYPES_ID, missing))["errmsg"]
    )
    unknown = await send(rich, rich_world, ALL_TYPES_ID, VALID | {"thing99": "x"})
    assert unknown["errcode"] == 47003
    assert "data.thing99" in unknown["errmsg"]


@pytest.mark.parametrize(
    ("change", "errcode"),
    [
        ({"template_id": "unknown-template"}, 40037),
        ({"touser": "oUnknownOpenid000000000000000"}, 40003),
        ({"page": "pages/missing/missing"}, 41030),
        ({"miniprogram_state": "beta"}, 47003),
        ({"lang": "fr_FR"}, 47003),
    ],
)
async def test_subscribe_send_errors(rich, rich_world, change, errcode):
    grant(rich, rich_world, ALL_TYPES_ID)
    answer = await send(rich, rich_world, ALL_TYPES_ID, VALID, change)
    assert answer["errcode"] == errcode


async def test_long_term_templates_send_until_turned_off(rich, rich_world, receiver):
    appid = rich_world.mini_programs[0].appid
    await control(
        rich,
        "PUT",
        "/_sim/callbacks",
        {"source": "mini_program", "account": appid, "url": receiver.url()},
    )
    assert (await send(rich, rich_world, LONG_TERM_ID, {"thing1": "x"}))["errcode"] == 43101
    answers = [{"template_id": LONG_TERM_ID, "status": "accept"}]
    await control(rich, "POST", "/_sim/mp/subscriptions", {"user": "alice", "answers": answers})
    for _ in range(3):
        assert (await send(rich, rich_world, LONG_TERM_ID, {"thing1": "x"}))["errcode"] == 0
    await control(
        rich,
        "POST",
        "/_sim/mp/subscriptions/off",
        {"user": "alice", "template_ids": [LONG_TERM_ID], "wait": True},
    )
    assert (await send(rich, rich_world, LONG_TERM_ID, {"thing1": "x"}))["errcode"] == 43101


async def test_popup_accepts_grant_one_send_each_and_reject_grants_none(wechat, world, receiver):
    appid, template_id = world.mini_programs[0].appid, world.templates[1].template_id
    await control(
        wechat,
        "PUT",
        "/_sim/callbacks",
        {"source": "mini_program", "account": appid, "url": receiver.url()},
    )
    accept = {"user": "alice", "answers": [{"template_id": template_id}], "wait": True}
    await control(wechat, "POST", "/_sim/mp/subscriptions", accept)
    await control(wechat, "POST", "/_sim/mp/subscriptions", accept)
    reject = {"user": "alice", "answers": [{"template_id": template_id, "status": "reject"}]}
    await control(wechat, "POST", "/_sim/mp/subscriptions", reject)
    data = {"thing1": "消费", "number2": "10", "number3": "110", "time4": "12:00"}
    results = [(await send(wechat, world, template_id, data))["errcode"] for _ in range(3)]
    assert results == [0, 0, 43101]


# -- getwxacodeunlimit -------------------------------------------------------------------------


async def code_response(client: SimClient, world: World, payload: dict[str, object]):
    token = await mp_token(client, world)
    return await client.post(CODE_PATH, params={"access_token": token}, json=payload)


async def test_unlimited_code_is_a_decodable_png(wechat, world):
    response = await code_response(
        wechat, world, {"scene": "s=S001&g=guide01", "width": 430, "page": "pages/pay/pay"}
    )
    assert response.status == 200
    assert response.content_type == "image/png"
    image = Image.open(io.BytesIO(await response.read()))
    image.load()
    assert image.format == "PNG"
    assert 280 <= image.width <= 430


@pytest.mark.parametrize(
    ("payload", "errcode"),
    [
        ({"scene": "门店1"}, 40169),
        ({"scene": "a" * 33}, 40169),
        ({"scene": "a%20b"}, 40169),
        ({"scene": ""}, 40169),
        ({"scene": "s=1", "page": "pages/unreleased/page"}, 41030),
        ({"scene": "s=1", "page": "/pages/pay/pay"}, 41030),
        ({"scene": "s=1", "page": "pages/pay/pay?x=1"}, 41030),
        ({"scene": "s=1", "env_version": "beta"}, 40097),
    ],
)
async def test_unlimited_code_errors_are_json(wechat, world, payload, errcode):
    response = await code_response(wechat, world, payload)
    assert response.content_type == "application/json"
    assert (await response.json())["errcode"] == errcode


async def test_unlimited_code_without_check_path_allows_unreleased_pages(wechat, world):
    payload = {"scene": "s=1", "page": "pages/unreleased/page", "check_path": False}
    assert (await code_response(wechat, world, payload)).content_type == "image/png"


async def test_unlimited_code_forced_quota_error_is_json(wechat, world):
    await control(
        wechat,
        "POST",
        "/_sim/faults/endpoints",
        {"endpoint": CODE_PATH, "errcode": 45009, "times": 1},
    )
    first = await code_response(wechat, world, {"scene": "s=1"})
    assert first.content_type == "application/json"
    assert (await first.json())["errcode"] == 45009
    assert (await code_response(wechat, world, {"scene": "s=1"})).content_type == "image/png"
