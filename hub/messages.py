"""Rendering message templates: templates/messages/<name>.toml, one Jinja2 string per field.

Rendering is strict: a missing variable is an error, never an empty string in a customer's
message. A subscription message (a file with a `page` field) has one field per keyword of its
WeChat template, and each rendered value is checked against its keyword's rule (protocols §6.4)
before anything is sent, so WeChat's 47003 is caught here with the field named.
"""

import re
import string
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from jinja2 import Environment, StrictUndefined, Template

from hub.dates import BEIJING
from hub.errors import MessageValueError
from hub.resources import resource_dir

_ENVIRONMENT = Environment(undefined=StrictUndefined, autoescape=False)  # noqa: S701 - plain text

# The field of a subscription-message file that is the page to open, not a keyword.
PAGE_FIELD = "page"

# A keyword is named by its type and a number: thing1, character_string4, phone_number2.
_KEYWORD_NAME = re.compile(r"([a-z]+(?:_[a-z]+)*)([0-9]+)")
# Chinese characters: CJK Unified Ideographs and Extension A.
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?")
_LETTERS = re.compile(r"[A-Za-z]+")
_CLOCK = r"([01]?[0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?"
_DAY = r"[0-9]{4}(年[0-9]{1,2}月[0-9]{1,2}日|-[0-9]{1,2}-[0-9]{1,2}|/[0-9]{1,2}/[0-9]{1,2})"
_TIME = re.compile(rf"({_DAY}\s*)?{_CLOCK}")
_DATE = re.compile(rf"{_DAY}(\s*{_CLOCK})?")
_AMOUNT = re.compile(r"[¥￥$€£]?[0-9]{1,10}(\.[0-9]+)?元?")
_CAR_MIDDLE = re.compile(r"[A-Za-z0-9]*")
_CODE_CHARACTERS = frozenset(string.ascii_letters + string.digits + string.punctuation)
_PHONE_CHARACTERS = frozenset(string.digits + string.punctuation)
# time and date values may be ranges joined by "~" (2019年10月1日 15:01~2019年10月1日 16:00).
_RANGE = "~"
# Length limits of the keyword types (§6.4).
_MAX_THING = 20
_MAX_CODE = 32  # number, letter, character_string
_MAX_SYMBOL = 5
_MAX_PHONE = 17
_MAX_CAR = 8
_MAX_NAME_CHINESE = 10
_MAX_NAME_LATIN = 20
_MAX_PHRASE = 5


@cache
def _templates(name: str) -> dict[str, Template]:
    path = resource_dir("templates") / "messages" / f"{name}.toml"
    with path.open("rb") as handle:
        fields = tomllib.load(handle)
    return {field: _ENVIRONMENT.from_string(str(source)) for field, source in fields.items()}


def render_text(name: str, context: dict[str, Any]) -> dict[str, str]:
    """Every field of the named message template rendered with `context`.

    Raises:
        jinja2.UndefinedError: the template uses a variable the context lacks.
        FileNotFoundError: no such template.
    """
    return {field: template.render(context).strip() for field, template in _templates(name).items()}


@dataclass(frozen=True)
class SubscriptionContent:
    """A rendered subscription message: the page it opens and its keyword values."""

    page: str
    data: dict[str, str]


def is_subscription_message(name: str) -> bool:
    """Whether templates/messages/<name>.toml exists and is a subscription message."""
    if not re.fullmatch(r"[a-z0-9_]{1,64}", name):
        return False
    try:
        return PAGE_FIELD in _templates(name)
    except FileNotFoundError:
        return False


def keywords(name: str) -> list[str]:
    """The keywords the WeChat template of subscription message `name` must have.

    Raises:
        FileNotFoundError: no such template.
    """
    return [field for field in _templates(name) if field != PAGE_FIELD]


def render_subscription(name: str, context: dict[str, Any]) -> SubscriptionContent:
    """The named subscription message rendered with `context`, every value checked.

    Raises:
        MessageValueError: a value breaks its keyword's rule (the message must not be sent).
        jinja2.UndefinedError: the template uses a variable the context lacks.
        FileNotFoundError: no such template.
    """
    fields = render_text(name, context)
    page = fields.pop(PAGE_FIELD, "")
    for keyword, value in fields.items():
        problem = keyword_problem(keyword, value)
        if problem is not None:
            raise MessageValueError(name, keyword, problem)
    return SubscriptionContent(page=page, data=fields)


def keyword_problem(keyword: str, value: str) -> str | None:
    """Why WeChat would refuse `value` for `keyword` (47003), or None when it is acceptable.

    The keyword's type is its name without the number (§6.4). An `enum` value is checked by
    WeChat only: the allowed values belong to the template, not to the message.
    """
    match = _KEYWORD_NAME.fullmatch(keyword)
    rule = _RULES.get(match[1]) if match else None
    if rule is None:
        return "is not a keyword name of a known type (thing1, time2, phrase3 …)"
    if not value:
        return "is empty"
    return None if rule[0](value) else f"must be {rule[1]}: {value!r}"


def china_time(moment: datetime) -> str:
    """A moment as a time/date keyword shows it, in China time: 2026年11月23日 14:05."""
    local = moment.astimezone(BEIJING)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def _ranged(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        return all(pattern.fullmatch(part.strip()) for part in value.split(_RANGE))

    return check


def _car_number(value: str) -> bool:
    def end_ok(char: str) -> bool:
        return bool(_CJK.fullmatch(char)) or (char.isascii() and char.isalnum())

    middle = value[1:-1] if len(value) > 1 else ""
    return (
        len(value) <= _MAX_CAR
        and end_ok(value[0])
        and end_ok(value[-1])
        and bool(_CAR_MIDDLE.fullmatch(middle))
    )


def _name(value: str) -> bool:
    # Letters and symbols only: up to 20; anything Chinese (or mixed) counts as Chinese: 10.
    if all(char.isascii() and not char.isdigit() for char in value):
        return len(value) <= _MAX_NAME_LATIN
    return len(value) <= _MAX_NAME_CHINESE


def _symbols(value: str) -> bool:
    return all(not char.isalnum() and not char.isspace() for char in value)


def _phrase(value: str) -> bool:
    return len(value) <= _MAX_PHRASE and all(_CJK.fullmatch(char) for char in value)


# Keyword type → (check, the rule in words for the error).
_RULES: dict[str, tuple[Callable[[str], object], str]] = {
    "thing": (lambda v: len(v) <= _MAX_THING, "at most 20 characters"),
    "number": (
        lambda v: len(v) <= _MAX_CODE and _NUMBER.fullmatch(v),
        "at most 32 digits, decimals allowed",
    ),
    "letter": (lambda v: len(v) <= _MAX_CODE and _LETTERS.fullmatch(v), "at most 32 letters"),
    "symbol": (lambda v: len(v) <= _MAX_SYMBOL and _symbols(v), "at most 5 symbols"),
    "character_string": (
        lambda v: len(v) <= _MAX_CODE and set(v) <= _CODE_CHARACTERS,
        "at most 32 letters, digits or symbols",
    ),
    "time": (_ranged(_TIME), "a 24-hour time, optionally after a date (2019年10月1日 15:01)"),
    "date": (_ranged(_DATE), "a date, optionally with a time (2019年10月1日 15:01)"),
    "amount": (_AMOUNT.fullmatch, "a currency symbol and at most 10 digits (¥12.50)"),
    "phone_number": (
        lambda v: len(v) <= _MAX_PHONE and set(v) <= _PHONE_CHARACTERS,
        "at most 17 digits or symbols",
    ),
    "car_number": (_car_number, "a plate of at most 8 characters"),
    "name": (_name, "at most 10 Chinese characters or 20 letters"),
    "phrase": (_phrase, "at most 5 Chinese characters"),
    "enum": (bool, "one of the template's values"),
}
