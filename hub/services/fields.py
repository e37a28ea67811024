"""Rules shared by several aggregates: short codes and display names."""

import re

from hub.errors import InvalidValueError

_CODE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_MAX_NAME = 64


def check_code(value: str, field: str = "code") -> str:
    """A short identifier chosen by people: lowercase letters, digits, '-' and '_'."""
    value = value.strip().lower()
    if not _CODE.fullmatch(value):
        raise InvalidValueError(
            field,
            "must be 1-32 lowercase letters, digits, '-' or '_', starting with a letter or digit",
        )
    return value


def check_name(value: str, field: str = "name", max_length: int = _MAX_NAME) -> str:
    value = " ".join(value.split())
    if not value:
        raise InvalidValueError(field, "must not be empty")
    if len(value) > max_length:
        raise InvalidValueError(field, f"must be at most {max_length} characters")
    return value


def check_text(value: str, field: str, max_length: int) -> str:
    value = value.strip()
    if len(value) > max_length:
        raise InvalidValueError(field, f"must be at most {max_length} characters")
    return value
