"""Logging: JSON lines with the request id; secrets never reach a line."""

import json
import logging

import pytest

from hub.logs import REDACTED, configure_logging, redact
from hub.request_id import accept_request_id, request_id_var
from hub.settings import LoggingSettings


def test_redact_hides_secret_names_recursively() -> None:
    redacted = redact(
        {
            "Wechatpay-Signature": "abc",
            "Authorization": "WECHATPAY2 …",
            "phone_number": "13800138000",
            "openid": "o9AgO5",
            "nested": {"access_token": "t", "path": "/x"},
            "status": 200,
        }
    )
    assert redacted == {
        "Wechatpay-Signature": REDACTED,
        "Authorization": REDACTED,
        "phone_number": REDACTED,
        "openid": REDACTED,
        "nested": {"access_token": REDACTED, "path": "/x"},
        "status": 200,
    }


def test_json_lines_carry_the_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        configure_logging(LoggingSettings(level="INFO", format="json"))
        token = request_id_var.set("req-123")
        try:
            logging.getLogger("hub.test").info("hello %s", "world", extra={"inbox_id": 7})
        finally:
            request_id_var.reset(token)
        line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    assert line["message"] == "hello world"
    assert line["request_id"] == "req-123"
    assert line["level"] == "INFO"
    assert line["logger"] == "hub.test"
    assert line["inbox_id"] == 7


def test_caller_request_ids_are_kept_only_when_well_formed() -> None:
    assert accept_request_id("abc-123_X.y:z") == "abc-123_X.y:z"
    for bad in (None, "", "has space", "new\nline", "x" * 65):
        replaced = accept_request_id(bad)
        assert replaced != bad
        assert len(replaced) == 16
