"""Logging: one JSON object per line carrying the request id, and redaction of secrets.

Everything that may carry a secret, an openid or a phone number passes through `redact()`
before it reaches a log line.
"""

import logging
import re
import sys
from collections.abc import Mapping
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from hub.request_id import current_request_id
from hub.settings import LoggingSettings

REDACTED = "[redacted]"
# Names of headers, query parameters and fields whose values never reach a log line.
_SECRET_NAME = re.compile(
    r"secret|token|password|passwd|key|sign|authorization|cookie|phone|mobile|openid|unionid"
    r"|echostr|encrypt|credential|session",
    re.IGNORECASE,
)


class RequestIdFilter(logging.Filter):
    """Adds `request_id` (the request or job being handled) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


def redact(values: Mapping[str, Any]) -> dict[str, Any]:
    """A copy with the values of secret-looking names replaced (recursively for mappings)."""
    result: dict[str, Any] = {}
    for name, value in values.items():
        if _SECRET_NAME.search(str(name)):
            result[name] = REDACTED
        elif isinstance(value, Mapping):
            result[name] = redact(value)
        else:
            result[name] = value
    return result


def configure_logging(settings: LoggingSettings) -> None:
    """Send the root logger to stderr in the configured format and level."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if settings.format == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                datefmt="%Y-%m-%dT%H:%M:%S%z",
            )
        )
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s")
        )
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(settings.level)
    # aiohttp's own access log duplicates ours (hub.middleware logs each request once).
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
