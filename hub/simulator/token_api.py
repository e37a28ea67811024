"""Token endpoints (cgi-bin/token, stable_token, WeCom gettoken) and the token check of APIs."""

from aiohttp import web

from hub.simulator.context import Simulator, simulator_key
from hub.simulator.replies import (
    ERR_API_UNAUTHORIZED,
    ERR_INVALID_APPID,
    ERR_INVALID_APPSECRET,
    ERR_INVALID_CREDENTIAL,
    ERR_INVALID_GRANT_TYPE,
    ApiError,
    api_ok,
    read_api_json,
)
from hub.simulator.tokens import AccessToken, Host
from hub.simulator.world import Corp, MiniProgram, Shop

routes = web.RouteTableDef()

GRANT_TYPE = "client_credential"


def _check_app(sim: Simulator, grant_type: object, appid: object, secret: object) -> str:
    if grant_type != GRANT_TYPE:
        raise ApiError(ERR_INVALID_GRANT_TYPE, "invalid grant_type")
    app = (
        (sim.world.mini_program(appid) or sim.world.shop(appid)) if isinstance(appid, str) else None
    )
    if app is None:
        raise ApiError(ERR_INVALID_APPID, "invalid appid")
    if secret != app.secret:
        raise ApiError(ERR_INVALID_APPSECRET, "invalid appsecret")
    return app.appid


def _token_answer(sim: Simulator, token: AccessToken) -> web.Response:
    return api_ok(access_token=token.token, expires_in=sim.tokens.expires_in(token))


@routes.get("/cgi-bin/token")
async def get_token(request: web.Request) -> web.Response:
    """§6.1 legacy token: a new token each call, replacing the previous one."""
    sim = request.app[simulator_key]
    query = request.query
    appid = _check_app(sim, query.get("grant_type"), query.get("appid"), query.get("secret"))
    return _token_answer(sim, sim.tokens.issue_legacy(appid))


@routes.post("/cgi-bin/stable_token")
async def get_stable_token(request: web.Request) -> web.Response:
    """§6.1 stable token: normal mode reuses the current token, force_refresh replaces it."""
    sim = request.app[simulator_key]
    body = await read_api_json(request)
    appid = _check_app(sim, body.get("grant_type"), body.get("appid"), body.get("secret"))
    force = body.get("force_refresh") is True
    return _token_answer(sim, sim.tokens.issue_stable(appid, force=force))


@routes.get("/cgi-bin/gettoken")
async def get_wecom_token(request: web.Request) -> web.Response:
    """§4.3 WeCom token: the same token while it is valid."""
    sim = request.app[simulator_key]
    corp = sim.world.corp(request.query.get("corpid", ""))
    if corp is None:
        raise ApiError(ERR_INVALID_APPID, "invalid corpid")
    if request.query.get("corpsecret") != corp.secret:
        raise ApiError(ERR_INVALID_CREDENTIAL, "invalid credential, corpsecret is invalid")
    return _token_answer(sim, sim.tokens.issue_wecom(corp.corpid))


# -- the token check of every API -------------------------------------------------------------


def _token(request: web.Request, host: Host) -> tuple[Simulator, AccessToken]:
    sim = request.app[simulator_key]
    return sim, sim.tokens.check(request.query.get("access_token"), host)


def _unauthorized() -> ApiError:
    return ApiError(ERR_API_UNAUTHORIZED, "api unauthorized")


def authorized_mini_program(request: web.Request) -> MiniProgram:
    """The mini-program whose access token the request carries.

    Raises:
        ApiError: a token error (41001/40014/40001/42001), or 48001 for another kind of app.
    """
    sim, token = _token(request, Host.API)
    app = sim.world.mini_program(token.owner)
    if app is None:
        raise _unauthorized()
    return app


def authorized_shop(request: web.Request) -> Shop:
    """The Channels shop whose access token the request carries.

    Raises:
        ApiError: as authorized_mini_program.
    """
    sim, token = _token(request, Host.API)
    shop = sim.world.shop(token.owner)
    if shop is None:
        raise _unauthorized()
    return shop


def authorized_corp(request: web.Request) -> Corp:
    """The WeCom corp whose access token the request carries.

    Raises:
        ApiError: as authorized_mini_program.
    """
    sim, token = _token(request, Host.WORK)
    corp = sim.world.corp(token.owner)
    if corp is None:
        raise _unauthorized()
    return corp
