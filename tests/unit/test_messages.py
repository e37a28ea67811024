"""Subscription messages are rendered strictly and their values checked against WeChat's keyword
rules (protocols §6.4) before anything is sent."""

from datetime import UTC, datetime
from typing import Any

import pytest
from jinja2 import UndefinedError

from hub.errors import MessageValueError
from hub.messages import (
    china_time,
    is_subscription_message,
    keyword_problem,
    keywords,
    render_subscription,
)


def coupon_context(**changes: Any) -> dict[str, Any]:
    until = datetime(2026, 11, 23, 6, 5, tzinfo=UTC)
    return {
        "coupon_id": 42,
        "coupon_name": "满50减10",
        "brand_name": "Acme Tea",
        "valid_from": china_time(datetime(2026, 11, 1, tzinfo=UTC)),
        "valid_until": china_time(until),
        "days_left": 3,
    } | changes


def test_china_time_is_the_form_time_and_date_keywords_take() -> None:
    assert china_time(datetime(2026, 11, 23, 6, 5, tzinfo=UTC)) == "2026年11月23日 14:05"
    assert china_time(datetime(2026, 1, 1, 16, 0, tzinfo=UTC)) == "2026年1月2日 00:00"


def test_coupon_issued_renders_its_page_and_every_keyword() -> None:
    content = render_subscription("coupon_issued", coupon_context())

    assert content.page == "pages/coupon/detail?id=42"
    assert content.data == {
        "thing1": "满50减10",
        "thing2": "到店出示或小程序下单时使用",
        "date3": "2026年11月23日 14:05",
        "phrase4": "已到账",
    }
    assert keywords("coupon_issued") == ["thing1", "thing2", "date3", "phrase4"]


def test_a_long_coupon_name_is_cut_to_fit_a_thing_keyword() -> None:
    content = render_subscription("coupon_issued", coupon_context(coupon_name="很长的名字" * 10))

    assert len(content.data["thing1"]) == 20
    assert content.data["thing1"].endswith("…")


@pytest.mark.parametrize(("days_left", "when"), [(3, "3天后过期"), (0, "今天过期")])
def test_coupon_expiring_says_when(days_left: int, when: str) -> None:
    content = render_subscription("coupon_expiring", coupon_context(days_left=days_left))

    assert content.data["thing1"] == "满50减10"
    assert content.data["date2"] == "2026年11月23日 14:05"
    assert content.data["thing3"].startswith(when)
    assert content.data["thing3"].endswith("记得使用")


def test_a_missing_variable_is_an_error_not_an_empty_value() -> None:
    context = coupon_context()
    del context["valid_until"]

    with pytest.raises(UndefinedError):
        render_subscription("coupon_issued", context)


def test_a_value_breaking_its_rule_is_refused_before_sending_with_the_keyword_named() -> None:
    with pytest.raises(MessageValueError) as refused:
        render_subscription("coupon_issued", coupon_context(valid_until="next week"))

    assert refused.value.keyword == "date3"
    assert refused.value.retryable is False
    assert "date3" in str(refused.value)


def test_only_files_with_a_page_are_subscription_messages() -> None:
    assert is_subscription_message("coupon_issued")
    assert is_subscription_message("coupon_expiring")
    assert not is_subscription_message("contact_welcome")
    assert not is_subscription_message("missing")
    assert not is_subscription_message("../coupon_issued")


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("thing1", "二十个字以内的任何内容 any 123!"),
        ("number2", "12.50"),
        ("letter3", "ABCdef"),
        ("symbol4", "%-+"),
        ("character_string5", "ORDER-2026_001#A"),
        ("time6", "15:01"),
        ("time6", "2019年10月1日 15:01"),
        ("time6", "2019年10月1日 15:01 ~ 2019年10月1日 16:00"),
        ("date7", "2019年10月1日"),
        ("date7", "2019-10-01 15:01"),
        ("amount8", "¥12.50"),
        ("amount8", "88.00元"),
        ("phone_number9", "+86-0766-66888866"),
        ("car_number10", "粤A12345"),
        ("name11", "王小明"),
        ("name11", "Alice Wong"),
        ("phrase12", "已到账"),
        ("enum13", "whatever WeChat allows"),
    ],
)
def test_values_within_their_keyword_rule_pass(keyword: str, value: str) -> None:
    assert keyword_problem(keyword, value) is None


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("thing1", "这是一个超过了二十个字的很长很长很长的内容"),
        ("thing1", ""),
        ("number2", "12a"),
        ("number2", "1" * 33),
        ("letter3", "abc1"),
        ("symbol4", "%%%%%%"),
        ("symbol4", "a"),
        ("character_string5", "中文编号"),
        ("character_string5", "A" * 33),
        ("time6", "明天"),
        ("time6", "25:00"),
        ("date7", "15:01"),
        ("amount8", "12345678901元"),
        ("phone_number9", "call 110"),
        ("car_number10", "粤A1234567"),
        ("name11", "王小明王小明王小明王小明"),
        ("phrase12", "OK"),
        ("phrase12", "超过五个汉字"),
        ("colour1", "red"),  # no such keyword type
        ("thing", "no number"),
    ],
)
def test_values_breaking_their_keyword_rule_are_named(keyword: str, value: str) -> None:
    assert keyword_problem(keyword, value) is not None
