"""The GET handshake WeChat makes when a callback URL is saved (§3.2, §4.1, §5.1).

Mini-programs and shops send `echostr` in clear and expect it back verbatim; WeCom sends it
encrypted (with msg_signature) and expects the decrypted text. Recorded as a push without
retries, accepted only when the body is exactly the expected text.
"""

import secrets
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from hub.simulator.context import Simulator
from hub.simulator.delivery import Delivery, PreparedRequest
from hub.simulator.faults import PushFault
from hub.simulator.miniprogram_events import find_mini_program, mini_program_target
from hub.simulator.pushes import PushSpec, PushTarget, require_url, submit_push, with_query
from hub.simulator.replies import ControlError
from hub.simulator.shop_events import find_shop, shop_target
from hub.simulator.state import Source
from hub.simulator.wecom_events import find_corp, wecom_target
from hub.wechat.message_crypto import PushCrypto, compute_signature

EVENT = "url_verification"
_HTTP_OK = 200
_ECHO_DIGITS = 19


class CheckSource(StrEnum):
    MINI_PROGRAM = Source.MINI_PROGRAM.value
    CHANNELS = Source.CHANNELS.value
    WECOM = Source.WECOM.value


class UrlCheckAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: CheckSource
    account: str | None = None
    url: str | None = None
    # Sign with another token: a hub that checks must refuse.
    wrong_signature: bool = False
    # §3.9 [?]: leave "+" in the (base64) echostr unescaped, as WeChat might.
    unescaped_plus: bool = False
    wait: bool = True


def check_url(sim: Simulator, action: UrlCheckAction) -> list[Delivery]:
    """Make the handshake GET for one account.

    Raises:
        ControlError: unknown account; 409 no URL.
    """
    source = Source(action.source.value)
    target, account = _target(sim, source, action)
    echo = str(secrets.randbelow(10**_ECHO_DIGITS))
    timestamp, nonce = str(int(sim.clock())), str(secrets.randbelow(10**10))
    token = "WrongToken" if action.wrong_signature else target.token
    if target.wecom and target.aes_key is not None:
        encrypted = PushCrypto(token, target.aes_key, target.receive_id).encrypt(
            echo, timestamp=timestamp, nonce=nonce
        )
        query = {"msg_signature": encrypted.msg_signature, "echostr": encrypted.encrypt}
    else:
        query = {"signature": compute_signature(token, timestamp, nonce), "echostr": echo}
    query |= {"timestamp": timestamp, "nonce": nonce}
    url = with_query(target.url, query)
    if action.unescaped_plus:
        base, _, query_string = url.partition("?")
        url = f"{base}?{query_string.replace('%2B', '+')}"
    request = PreparedRequest("GET", url, {}, b"")
    expected = echo.encode()

    def accepts(status: int, body: bytes) -> bool:
        return status == _HTTP_OK and body == expected

    spec = PushSpec(source, account, EVENT, echo, (), lambda: request, accepts, plaintext=echo)
    return submit_push(sim, spec, PushFault())


def _target(sim: Simulator, source: Source, action: UrlCheckAction) -> tuple[PushTarget, str]:
    if source is Source.MINI_PROGRAM:
        app = find_mini_program(sim, action.account)
        url = require_url(sim, source, app.appid, action.url)
        return mini_program_target(app, url), app.appid
    if source is Source.CHANNELS:
        shop = find_shop(sim, action.account)
        return shop_target(shop, require_url(sim, source, shop.appid, action.url)), shop.appid
    if source is Source.WECOM:
        corp = find_corp(sim, action.account)
        return wecom_target(corp, require_url(sim, source, corp.corpid, action.url)), corp.corpid
    raise ControlError(400, f"{source} has no URL handshake")
