"""Subscription-message keyword rules (§6.4): which values each keyword type accepts.

Where the documentation is loose the simulator is lenient and says so: `amount` accepts a value
without a currency symbol (`88.00元` is seen working in the wild) [?], and `time`/`date` accept
`2019年10月1日`, `2019-10-01` and `2019/10/01` date forms.
"""

import re
import string
from collections.abc import Callable

from hub.simulator.world import Keyword, KeywordType

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
_RANGE = "~"

_MAX_THING = 20
_MAX_NUMBER = 32
_MAX_LETTER = 32
_MAX_SYMBOL = 5
_MAX_CHARACTER_STRING = 32
_MAX_PHONE = 17
_MAX_CAR = 8
_MAX_NAME_CHINESE = 10
_MAX_NAME_LATIN = 20
_MAX_PHRASE = 5


def _is_symbol(char: str) -> bool:
    return not char.isalnum() and not char.isspace()


def _thing(value: str) -> bool:
    return len(value) <= _MAX_THING


def _number(value: str) -> bool:
    return len(value) <= _MAX_NUMBER and bool(_NUMBER.fullmatch(value))


def _letter(value: str) -> bool:
    return len(value) <= _MAX_LETTER and bool(_LETTERS.fullmatch(value))


def _symbol(value: str) -> bool:
    return len(value) <= _MAX_SYMBOL and all(_is_symbol(char) for char in value)


def _character_string(value: str) -> bool:
    allowed = set(string.ascii_letters + string.digits + string.punctuation)
    return len(value) <= _MAX_CHARACTER_STRING and all(char in allowed for char in value)


def _ranged(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        return all(pattern.fullmatch(part.strip()) for part in value.split(_RANGE))

    return check


def _amount(value: str) -> bool:
    return bool(_AMOUNT.fullmatch(value))


def _phone_number(value: str) -> bool:
    allowed = set(string.digits + string.punctuation)
    return len(value) <= _MAX_PHONE and all(char in allowed for char in value)


def _car_number(value: str) -> bool:
    if len(value) > _MAX_CAR:
        return False

    def end_ok(char: str) -> bool:
        return bool(_CJK.fullmatch(char)) or (char.isascii() and char.isalnum())

    middle = value[1:-1] if len(value) > 1 else ""
    return end_ok(value[0]) and end_ok(value[-1]) and bool(_CAR_MIDDLE.fullmatch(middle))


def _name(value: str) -> bool:
    # Letters and symbols only: up to 20; anything Chinese (or mixed) counts as Chinese: 10.
    if all(char.isascii() and not char.isdigit() for char in value):
        return len(value) <= _MAX_NAME_LATIN
    return len(value) <= _MAX_NAME_CHINESE


def _phrase(value: str) -> bool:
    return len(value) <= _MAX_PHRASE and all(_CJK.fullmatch(char) for char in value)


_RULES: dict[KeywordType, Callable[[str], bool]] = {
    KeywordType.THING: _thing,
    KeywordType.NUMBER: _number,
    KeywordType.LETTER: _letter,
    KeywordType.SYMBOL: _symbol,
    KeywordType.CHARACTER_STRING: _character_string,
    KeywordType.TIME: _ranged(_TIME),
    KeywordType.DATE: _ranged(_DATE),
    KeywordType.AMOUNT: _amount,
    KeywordType.PHONE_NUMBER: _phone_number,
    KeywordType.CAR_NUMBER: _car_number,
    KeywordType.NAME: _name,
    KeywordType.PHRASE: _phrase,
}


def value_is_valid(keyword: Keyword, value: str) -> bool:
    """Whether WeChat would accept `value` for `keyword` (an empty value never is)."""
    if not value:
        return False
    if keyword.type is KeywordType.ENUM:
        return value in keyword.enum_values
    return _RULES[keyword.type](value)
