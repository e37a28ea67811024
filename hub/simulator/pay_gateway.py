"""The Pay v3 gate: check every merchant request's Authorization, sign every response (§1.2, §1.3).

Responses are signed with the platform key, announced as the certificate serial or as
PUB_KEY_ID_… according to the request's `Wechatpay-Serial` (§1.1, §1.9); error answers too.
"""

import functools
import secrets

from aiohttp import web
from aiohttp.typedefs import Handler
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from hub.errors import SignatureError, TimestampError
from hub.simulator.context import Simulator
from hub.simulator.faults import PAY_CODES, EndpointFault
from hub.simulator.replies import JSON_CONTENT_TYPE, PayError, pay_error_body, request_id
from hub.simulator.world import KeyMode, Merchant, Platform, ResponseKeyMode
from hub.wechat.pay_keys import normalise_serial
from hub.wechat.pay_v3 import HEADER_SERIAL, HEADER_SIGNATURE, generate_nonce
from hub.wechat.pay_v3_platform import (
    PlatformSigner,
    parse_authorization,
    sign_message,
    verify_authorization,
)
from hub.wechat.primitives import load_private_key, load_public_key, rsa_sign

merchant_key = web.RequestKey("merchant", Merchant)
PAY_PREFIX = "/v3/"
_SERIAL_BYTES = 20


@functools.lru_cache(maxsize=16)
def _private_key(pem: str) -> RSAPrivateKey:
    return load_private_key(pem)


@functools.lru_cache(maxsize=64)
def _public_key(pem: str) -> RSAPublicKey:
    return load_public_key(pem)


def platform_signer(platform: Platform, mode: KeyMode) -> PlatformSigner:
    """The platform key announced as its certificate serial or as its PUB_KEY_ID_…."""
    key_id = platform.public_key_id if mode is KeyMode.PUBLIC_KEY else platform.serial_no
    return PlatformSigner(key_id, _private_key(platform.private_key_pem))


def _sign_error(message: str, request: web.Request | None = None, auth_line: str = "") -> PayError:
    detail = None
    if request is not None:
        # A real SIGN_ERROR echoes the start of the string it checked (§1.2), to help debugging.
        detail = {
            "field": "signature",
            "location": "authorization",
            "sign_information": {
                "method": request.method,
                "url": request.raw_path,
                "truncated_sign_message": f"{request.method}\n{request.raw_path}\n{auth_line}",
            },
        }
    return PayError(401, "SIGN_ERROR", message, detail)


def authenticate(sim: Simulator, request: web.Request, body: bytes) -> Merchant:
    """The merchant whose valid Authorization the request carries.

    Raises:
        PayError: 401 SIGN_ERROR: missing or malformed header, unknown mchid or serial,
            stale timestamp, or a signature that does not verify.
    """
    header = request.headers.get("Authorization", "")
    try:
        auth = parse_authorization(header)
    except SignatureError:
        raise _sign_error("Authorization缺失或格式错误") from None
    merchant = sim.world.merchant(auth.mchid)
    if merchant is None:
        raise _sign_error("商户号不存在")
    if normalise_serial(auth.serial_no) != normalise_serial(merchant.merchant_serial_no):
        raise _sign_error("商户证书序列号有误")
    public_key = _public_key(merchant.merchant_public_key_pem)
    try:
        verify_authorization(
            header, public_key, request.method, request.raw_path, body, clock=sim.clock
        )
    except TimestampError:
        raise _sign_error("timestamp与当前时间相差过大", request, auth.timestamp) from None
    except SignatureError:
        raise _sign_error("签名错误", request, f"{auth.timestamp}\n{auth.nonce_str}\n") from None
    return merchant


def _error_response(error: PayError) -> web.Response:
    return web.Response(
        status=error.status, body=pay_error_body(error), content_type=JSON_CONTENT_TYPE
    )


def _forced_error(fault: EndpointFault) -> PayError:
    status = fault.status or 500
    return PayError(status, fault.code or PAY_CODES.get(status, "SYSTEM_ERROR"), fault.errmsg)


async def answer_pay(
    sim: Simulator, request: web.Request, handler: Handler, fault: EndpointFault | None
) -> web.StreamResponse:
    """Authenticate, run the endpoint, and sign whatever it answers."""
    merchant = None
    try:
        merchant = authenticate(sim, request, await request.read())
        request[merchant_key] = merchant
        if fault is not None and fault.status is not None:
            raise _forced_error(fault)
        response = await handler(request)
    except web.HTTPException as exc:
        # Unknown path or method: Pay answers its own JSON error, signed like any other.
        code = PAY_CODES.get(exc.status, "INVALID_REQUEST")
        response = _error_response(PayError(exc.status, code, exc.reason))
    except PayError as error:
        response = _error_response(error)
    if isinstance(response, web.Response):
        _sign(sim, request, response, merchant, fault)
    return response


def _response_mode(sim: Simulator, request: web.Request, merchant: Merchant | None) -> KeyMode:
    if merchant is not None and merchant.response_key_mode is ResponseKeyMode.PUBLIC_KEY:
        return KeyMode.PUBLIC_KEY
    if request.headers.get(HEADER_SERIAL) == sim.world.platform.public_key_id:
        return KeyMode.PUBLIC_KEY
    return KeyMode.CERTIFICATE


def _sign(
    sim: Simulator,
    request: web.Request,
    response: web.Response,
    merchant: Merchant | None,
    fault: EndpointFault | None,
) -> None:
    body = response.body if isinstance(response.body, bytes) else b""
    signer = platform_signer(sim.world.platform, _response_mode(sim, request, merchant))
    headers = sign_message(signer, body, timestamp=int(sim.clock()), nonce=generate_nonce())
    if fault is not None and fault.bad_signature:
        # A well-formed signature by the right key over other bytes.
        headers[HEADER_SIGNATURE] = rsa_sign(signer.private_key, body + b"tampered")
    if fault is not None and fault.unknown_serial:
        headers[HEADER_SERIAL] = secrets.token_hex(_SERIAL_BYTES).upper()
    response.headers.update(headers)
    response.headers["Request-ID"] = request_id()
