"""Wire formats: both safe XML parsers, render_xml, JSON objects, size caps, raw query strings."""

import pytest

from hub.errors import BodyTooLargeError, CallbackRejected, PayloadError
from hub.wechat.wire import (
    check_size,
    get_object_field,
    get_str_field,
    parse_body,
    parse_flat_xml,
    parse_json_object,
    parse_message,
    parse_utf8_json_object,
    parse_xml,
    query_values,
    render_xml,
    restore_plus,
)

MAX_BYTES = 64 * 1024


def assert_rejected(error: type[CallbackRejected], reason: str, function, *args, **kwargs):
    with pytest.raises(CallbackRejected) as caught:
        function(*args, **kwargs)
    assert type(caught.value) is error
    assert caught.value.reason == reason


# -- XML: no DOCTYPE, hence no entities, in either parser -----------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<xml><appid>&b;</appid></xml>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<xml><appid>&secret;</appid></xml>"""
DOCTYPE_BODIES = [
    BILLION_LAUGHS,
    EXTERNAL_ENTITY,
    b"<!DOCTYPE xml><xml><a>1</a></xml>",
    (
        b'<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b"<xml><Encrypt>&b;</Encrypt></xml>"
    ),
    b'<!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Encrypt>&e;</Encrypt></xml>',
    b'<!DOCTYPE xml SYSTEM "http://example.invalid/x.dtd"><xml><Encrypt>&e;</Encrypt></xml>',
]


@pytest.mark.parametrize(
    "parse",
    [lambda body: parse_body(body, max_bytes=MAX_BYTES), parse_flat_xml],
    ids=["push", "flat"],
)
@pytest.mark.parametrize(
    "body",
    DOCTYPE_BODIES,
    ids=[
        "billion_laughs",
        "external_entity",
        "doctype",
        "billion_laughs_no_prolog",
        "external_entity_no_prolog",
        "external_dtd",
    ],
)
def test_xml_with_doctype_or_entities_is_refused(body, parse):
    assert_rejected(PayloadError, "malformed_xml", parse, body)


# -- XML: pushes -----------------------------------------------------------------------------------


def test_repeated_xml_elements_become_lists() -> None:
    fields = parse_message(
        "<xml><SubscribeMsgPopupEvent><List><TemplateId>a</TemplateId></List>"
        "<List><TemplateId>b</TemplateId></List></SubscribeMsgPopupEvent></xml>"
    )

    assert fields["SubscribeMsgPopupEvent"]["List"] == [{"TemplateId": "a"}, {"TemplateId": "b"}]


def test_push_xml_values_are_stripped_and_an_empty_root_has_no_fields():
    assert parse_xml(b"<xml>\n  <a> x </a>\n</xml>") == {"a": "x"}
    assert parse_xml(b"<xml/>") == {}
    assert parse_xml(b"<root><a>1</a></root>", root="root") == {"a": "1"}


@pytest.mark.parametrize(
    "body", [b"<root><a>1</a></root>", b"<xml>text only</xml>", b"<xml><a>1</a>", b""]
)
def test_push_xml_that_is_not_an_xml_element_with_fields_is_malformed(body):
    assert_rejected(PayloadError, "malformed_xml", parse_xml, body)


# -- XML: flat documents (Pay v2) ------------------------------------------------------------------


def test_parse_xml_reads_cdata_and_text_values():
    body = b"<xml>\n<a><![CDATA[x <y> & z]]></a>\n<b>42</b><c></c><d>&amp;&#20013;</d></xml>"
    assert parse_flat_xml(body) == {"a": "x <y> & z", "b": "42", "c": "", "d": "&中"}


def test_flat_xml_keeps_values_verbatim_and_reads_empty_roots():
    body = b"<xml>\n <a> x </a>\n<b>\n</b><c/></xml>\n"
    assert parse_flat_xml(body) == {"a": " x ", "b": "\n", "c": ""}
    assert parse_flat_xml(b"<xml/>") == {}
    assert parse_flat_xml(b"<xml>\n</xml>") == {}
    assert parse_flat_xml(b"<root><a>1</a></root>", root="root") == {"a": "1"}


@pytest.mark.parametrize(
    "body",
    [
        b"<xml><a>&undefined;</a></xml>",
        b"<xml><a><b>nested</b></a></xml>",
        b"<xml><a>1</a><a>2</a></xml>",
        b"<root><a>1</a></root>",
        b"<xml>loose text<a>1</a></xml>",
        b"<xml><a>1</a>",
        b"",
        b"not xml",
        b"\xff\xfe<",
    ],
    ids=[
        "undefined_entity",
        "nested",
        "duplicate",
        "wrong_root",
        "loose_text",
        "unclosed",
        "empty",
        "text",
        "bad_bytes",
    ],
)
def test_parse_xml_rejects_unsafe_or_malformed_xml(body):
    assert_rejected(PayloadError, "malformed_xml", parse_flat_xml, body)


# -- render_xml ------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["plain", "a]]>b", "]]>", "<&>", "中文", ""])
def test_render_xml_round_trips_through_parse_xml(value):
    assert parse_flat_xml(render_xml({"field": value}).encode()) == {"field": value}


def test_render_xml_writes_integers_bare_under_the_given_root():
    rendered = render_xml({"TimeStamp": 1713424427, "Nonce": "415670741"}, root="root")
    assert rendered == (
        "<root><TimeStamp>1713424427</TimeStamp><Nonce><![CDATA[415670741]]></Nonce></root>"
    )


@pytest.mark.parametrize("name", ["", "1a", "a b", "a>", "x-y"])
def test_render_xml_refuses_names_that_are_not_v2_fields(name):
    with pytest.raises(ValueError, match="not an XML field name"):
        render_xml({name: "v"})
    with pytest.raises(ValueError, match="not an XML field name"):
        render_xml({}, root=name)


# -- JSON objects ----------------------------------------------------------------------------------


@pytest.mark.parametrize("parse", [parse_json_object, parse_utf8_json_object])
@pytest.mark.parametrize("data", [b"{", b"[]", b'"text"', b"", b"\xff\xfe", b"[" * 60_000])
def test_json_that_is_not_an_object_is_malformed(parse, data):
    assert_rejected(PayloadError, "malformed_json", parse, data)


@pytest.mark.parametrize("parse", [parse_json_object, parse_utf8_json_object])
def test_json_objects_parse_alike(parse):
    assert parse('{"a": [1, {"b": null}], "c": "中"}'.encode()) == {
        "a": [1, {"b": None}],
        "c": "中",
    }


def test_push_json_may_start_with_a_bom():
    assert parse_json_object("\ufeff{}") == {}
    assert parse_json_object(b"\xef\xbb\xbf{}") == {}


def test_string_fields_treat_null_as_absent():
    assert get_str_field({"a": "x"}, "a") == "x"
    assert get_str_field({"a": None}, "a", "") == ""
    assert_rejected(PayloadError, "missing_field", get_str_field, {"a": None}, "a")
    assert_rejected(PayloadError, "bad_field", get_str_field, {"a": 1}, "a", "")


def test_object_fields_must_be_objects():
    assert get_object_field({"a": {"b": 1}}, "a") == {"b": 1}
    assert_rejected(PayloadError, "missing_field", get_object_field, {"a": None}, "a")
    assert_rejected(PayloadError, "bad_field", get_object_field, {"a": "{}"}, "a")


# -- size caps and query strings -------------------------------------------------------------------


def test_check_size_allows_exactly_the_limit():
    check_size(b"x" * 100, 100)
    assert_rejected(BodyTooLargeError, "body_too_large", check_size, b"x" * 101, 100)


def test_query_values_keep_plus_signs_and_first_value() -> None:
    values = query_values("echostr=ab+cd%2Bef%3D%3D&nonce=1&nonce=2&flag")

    assert values == {"echostr": "ab+cd+ef==", "nonce": "1", "flag": ""}
    assert restore_plus("ab cd+ef==") == "ab+cd+ef=="
