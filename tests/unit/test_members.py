"""Phone numbers are normalised to E.164 before sealing and indexing."""

import pytest

from hub.errors import InvalidValueError
from hub.services.members import normalize_phone


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("13800138000", "86", "+8613800138000"),
        ("138 0013 8000", "86", "+8613800138000"),
        ("138-0013-8000", 86, "+8613800138000"),
        ("+86 138 0013 8000", "86", "+8613800138000"),
        ("91234567", "852", "+85291234567"),
        ("+1 (415) 555-0100", "86", "+14155550100"),
    ],
)
def test_normalises_to_e164(raw: str, country: str, expected: str) -> None:
    assert normalize_phone(raw, country) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "abc", "1380013800", "23800138000", "+86 138", "+1234567890123456", "138001380001"],
)
def test_rejects_what_is_not_a_phone_number(raw: str) -> None:
    with pytest.raises(InvalidValueError):
        normalize_phone(raw)
