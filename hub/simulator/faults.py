"""Failure injection (§7), armed through the control API: per endpoint or per push source.

An endpoint fault matches a route pattern (`/v3/pay/transactions/jsapi`) or a prefix ending in
`*` (`/cgi-bin/*`); a push fault matches a source and optionally one event. Each applies with
probability `rate` and at most `times` times (unlimited when absent), then disarms itself.
"""

import random
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.simulator.state import Source
from hub.simulator.world import KeyMode

# Pay v3 error codes for a forced status (§1.8).
PAY_CODES = {
    400: "PARAM_ERROR",
    401: "SIGN_ERROR",
    403: "NO_AUTH",
    404: "RESOURCE_NOT_EXISTS",
    429: "RATELIMIT_EXCEEDED",
    500: "SYSTEM_ERROR",
    502: "SERVICE_UNAVAILABLE",
    503: "SERVICE_UNAVAILABLE",
}
# The ids a wrong_appid / wrong_mchid fault puts inside a resource: nobody's.
FOREIGN_APPID = "wx0000000000000000"
FOREIGN_MCHID = "1000000000"
# More copies than this is a storm the control API does not need to offer.
_MAX_COPIES = 10


class _Fault(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rate: float = Field(default=1.0, ge=0, le=1)
    times: int | None = Field(default=None, ge=1)


class EndpointFault(_Fault):
    """What a WeChat endpoint does instead of (or besides) its normal answer."""

    endpoint: str = Field(min_length=1)
    # api/qyapi: answer this errcode (HTTP 200), e.g. 40001, 45009, -1, 43101.
    errcode: int | None = None
    errmsg: str = "simulated failure"
    # Any host: answer this HTTP status (Pay: with `code`, default from PAY_CODES).
    status: int | None = Field(default=None, ge=400, le=599)
    code: str | None = None
    # Wait this long before answering (real seconds; beyond the caller's timeout = a timeout).
    delay_s: float = Field(default=0.0, ge=0, le=120)
    # Pay responses: a signature that does not verify, or a Wechatpay-Serial nobody knows.
    bad_signature: bool = False
    unknown_serial: bool = False

    def matches(self, pattern: str) -> bool:
        if self.endpoint.endswith("*"):
            return pattern.startswith(self.endpoint[:-1])
        return pattern == self.endpoint


class ListShape(StrEnum):
    """How a JSON subscription event carries its items (§3.8)."""

    AUTO = "auto"  # an object for one item, an array for several (what WeChat does)
    ARRAY = "array"  # always an array
    WRAPPER = "wrapper"  # under the XML wrapper name (SubscribeMsgPopupEvent …) instead of List


class PushFault(_Fault):
    """How a push departs from a correct, single delivery."""

    source: Source | None = None
    event: str | None = None
    # Copies: `duplicates` more after the first is answered, `concurrent` more at the same time.
    duplicates: int = Field(default=0, ge=0, le=_MAX_COPIES)
    concurrent: int = Field(default=0, ge=0, le=_MAX_COPIES)
    # Hold the first attempt this long (WeChat seconds, scaled like the retries): out of order,
    # e.g. a payment notice arriving after its refund's. "deliver-now" releases it early.
    delay_s: float = Field(default=0.0, ge=0)
    # Another retry schedule (WeChat seconds) for this push: the message-push spacing is [?].
    retry_schedule_s: tuple[float, ...] | None = Field(default=None, max_length=20)
    # Crypto: one byte of the body changed after signing; a timestamp 10 minutes old.
    tamper_body: bool = False
    stale_timestamp: bool = False
    # Pay: resource under another APIv3 key (v2: another API key); a SIGNTEST probe signature;
    # the key that signs (certificate or public key).
    wrong_api_v3_key: bool = False
    signtest: bool = False
    sign_mode: KeyMode | None = None
    # Pay: the resource names another appid/mchid, or an amount off by this many fen.
    wrong_appid: bool = False
    wrong_mchid: bool = False
    amount_delta_fen: int = 0
    # Message pushes: a wrong msg_signature, another receive id inside the ciphertext.
    wrong_msg_signature: bool = False
    wrong_receive_id: bool = False
    # Subscription events: item shape and CreateTime as a JSON string.
    list_shape: ListShape | None = None
    create_time_as_string: bool = False
    # WeCom add_external_contact without WelcomeCode; shop order_id as a JSON string.
    omit_welcome_code: bool = False
    order_id_as_string: bool = False

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.event is not None and self.source is None:
            raise ValueError("event needs a source")
        return self

    def merged(self, override: "PushFault | None") -> "PushFault":
        """The fault with the fields `override` sets explicitly taking precedence."""
        if override is None:
            return self
        return self.model_copy(update=override.model_dump(exclude_unset=True))


F = TypeVar("F", bound=_Fault)


@dataclass
class _Armed(Generic[F]):
    fault: F
    remaining: int | None


class Faults:
    """The armed faults; `take_*` picks the first that matches and counts one use."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._endpoints: list[_Armed[EndpointFault]] = []
        self._pushes: list[_Armed[PushFault]] = []

    def add_endpoint(self, fault: EndpointFault) -> None:
        self._endpoints.append(_Armed(fault, fault.times))

    def add_push(self, fault: PushFault) -> None:
        self._pushes.append(_Armed(fault, fault.times))

    def clear(self) -> None:
        self._endpoints.clear()
        self._pushes.clear()

    def take_endpoint(self, pattern: str) -> EndpointFault | None:
        return self._take(self._endpoints, lambda fault: fault.matches(pattern))

    def take_push(self, source: Source, event: str) -> PushFault:
        """The armed fault for this push, or a fault that changes nothing."""

        def matches(fault: PushFault) -> bool:
            return fault.source in (None, source) and fault.event in (None, event)

        return self._take(self._pushes, matches) or PushFault()

    def describe(self) -> dict[str, Any]:
        return {
            "endpoints": [self._describe(armed) for armed in self._endpoints],
            "pushes": [self._describe(armed) for armed in self._pushes],
        }

    @staticmethod
    def _describe(armed: "_Armed[Any]") -> dict[str, Any]:
        fields: dict[str, Any] = armed.fault.model_dump(mode="json", exclude_defaults=True)
        return fields | {"remaining": armed.remaining}

    def _take(self, armed_faults: list[_Armed[F]], matches: Callable[[F], bool]) -> F | None:
        for armed in armed_faults:
            if not matches(armed.fault):
                continue
            if self._rng.random() >= armed.fault.rate:
                return None
            if armed.remaining is not None:
                armed.remaining -= 1
                if armed.remaining == 0:
                    armed_faults.remove(armed)
            return armed.fault
        return None


def random_key() -> str:
    """A random 32-character API key: the wrong key of a wrong_api_v3_key fault."""
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
