"""What the hub does against the simulator, written out plainly for the tests."""

import functools
import json
import time
from typing import Any

from multidict import CIMultiDictProxy

from hub.simulator.world import World
from hub.wechat import pay_v3
from hub.wechat.pay_keys import PlatformKeys
from hub.wechat.primitives import load_private_key, load_public_key
from tests.unit.simulator.conftest import SimClient

PAY_PATH = "/v3/pay/transactions/jsapi"


async def control(client: SimClient, method: str, path: str, payload: Any = None) -> Any:
    """Call the control API and return its JSON answer (asserting success)."""
    response = await client.request(method, path, json=payload)
    body = await response.json()
    assert response.status == 200, body
    return body


async def control_status(client: SimClient, method: str, path: str, payload: Any = None) -> int:
    response = await client.request(method, path, json=payload)
    return response.status


async def api(client: SimClient, method: str, path: str, token: str | None, **kwargs: Any) -> Any:
    params = {"access_token": token} if token is not None else {}
    response = await client.request(
        method, path, params=params | kwargs.pop("params", {}), **kwargs
    )
    assert response.status == 200
    return await response.json()


async def stable_token(client: SimClient, world: World, force: bool = False) -> Any:
    app = world.mini_programs[0]
    payload = {
        "grant_type": "client_credential",
        "appid": app.appid,
        "secret": app.secret,
        "force_refresh": force,
    }
    response = await client.post("/cgi-bin/stable_token", json=payload)
    return await response.json()


async def mp_token(client: SimClient, world: World) -> str:
    return str((await stable_token(client, world))["access_token"])


async def shop_token(client: SimClient, world: World) -> str:
    shop = world.shops[0]
    payload = {"grant_type": "client_credential", "appid": shop.appid, "secret": shop.secret}
    response = await client.post("/cgi-bin/stable_token", json=payload)
    return str((await response.json())["access_token"])


async def wecom_token(client: SimClient, world: World) -> str:
    corp = world.corps[0]
    response = await client.get(
        "/cgi-bin/gettoken", params={"corpid": corp.corpid, "corpsecret": corp.secret}
    )
    return str((await response.json())["access_token"])


def openid(world: World, user: str = "alice") -> str:
    found = world.user(user)
    assert found is not None
    return found.openids[world.mini_programs[0].appid]


# -- Pay ----------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def private_key_of(pem: str):
    # Loading checks the RSA key, which takes tens of milliseconds: once per key.
    return load_private_key(pem)


def merchant_key(world: World) -> pay_v3.MerchantKey:
    merchant = world.merchants[0]
    assert merchant.merchant_private_key_pem is not None
    return pay_v3.MerchantKey(
        merchant.mchid,
        merchant.merchant_serial_no,
        private_key_of(merchant.merchant_private_key_pem),
    )


def platform_keys(world: World) -> PlatformKeys:
    """What the hub holds: the platform certificate and the public key (both modes)."""
    platform = world.platform
    return PlatformKeys(
        certificates=[platform.certificate],
        public_keys={platform.public_key_id: load_public_key(platform.public_key_pem)},
    )


async def pay(
    client: SimClient,
    world: World,
    method: str,
    path: str,
    payload: Any = None,
    *,
    serial: str | None = None,
    key: pay_v3.MerchantKey | None = None,
    timestamp: int | None = None,
    signed: bool = True,
) -> tuple[int, CIMultiDictProxy[str], bytes]:
    """A signed Pay v3 request as the hub makes it: the exact body bytes are signed."""
    body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode()
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    if signed:
        headers["Authorization"] = pay_v3.authorization_header(
            key or merchant_key(world),
            method,
            path,
            body,
            int(time.time()) if timestamp is None else timestamp,
            pay_v3.generate_nonce(),
        )
    if serial is not None:
        headers["Wechatpay-Serial"] = serial
    response = await client.request(method, path, data=body or None, headers=headers)
    return response.status, response.headers, await response.read()


def jsapi_order(
    world: World,
    out_trade_no: str,
    total_fen: int = 100,
    notify_url: str = "http://127.0.0.1:9/callbacks/wechat_pay/1",
    **extra: Any,
) -> dict[str, Any]:
    merchant = world.merchants[0]
    return {
        "appid": merchant.appid,
        "mchid": merchant.mchid,
        "description": "门店消费",
        "out_trade_no": out_trade_no,
        "notify_url": notify_url,
        "attach": "store=S001&guide=guide01",
        "amount": {"total": total_fen, "currency": "CNY"},
        "payer": {"openid": openid(world)},
    } | extra


async def create_order(client: SimClient, world: World, out_trade_no: str, **kwargs: Any) -> str:
    status, _, body = await pay(
        client, world, "POST", PAY_PATH, jsapi_order(world, out_trade_no, **kwargs)
    )
    assert status == 200, body
    return str(json.loads(body)["prepay_id"])
