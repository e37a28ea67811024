"""Rules shared by several aggregates: short codes and display names."""

import re
from typing import Annotated

from pydantic import AfterValidator, Field

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


def _code_in_spec(value: str) -> str:
    try:
        return check_code(value)
    except InvalidValueError:
        msg = "must be 1-32 lowercase letters, digits, '-' or '_', starting with a letter or digit"
        raise ValueError(msg) from None


# A code in a pydantic document (a programme, a coupon template): checked, kept in lowercase.
Code = Annotated[str, Field(min_length=1, max_length=32), AfterValidator(_code_in_spec)]


def _name_in_spec(value: str) -> str:
    try:
        return check_name(value)
    except InvalidValueError as exc:
        raise ValueError(exc.message.split(": ", 1)[-1]) from None


# A display name in a pydantic document: spaces collapsed, 1-64 characters.
Name = Annotated[str, AfterValidator(_name_in_spec)]


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


def parse_id(value: str, largest: int) -> int | None:
    """The row id a path segment names: 1 to `largest` in ASCII digits, else None.

    The length is checked before int(): Python refuses to convert more than 4,300 digits.
    """
    if not value.isascii() or not value.isdigit() or len(value) > len(str(largest)):
        return None
    number = int(value)
    return number if 1 <= number <= largest else None
