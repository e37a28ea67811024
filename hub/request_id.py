"""The id of the request (or job) being handled, carried through logs and audit rows."""

import re
import secrets
from contextvars import ContextVar

# A caller-supplied X-Request-ID is kept only if it looks like an id (no log injection).
_VALID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

request_id_var: ContextVar[str | None] = ContextVar("wxhub_request_id", default=None)


def new_request_id() -> str:
    return secrets.token_hex(8)


def accept_request_id(candidate: str | None) -> str:
    """The caller's id when it is well formed, else a fresh one."""
    if candidate and _VALID.fullmatch(candidate):
        return candidate
    return new_request_id()


def current_request_id() -> str | None:
    return request_id_var.get()
