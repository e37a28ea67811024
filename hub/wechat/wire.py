"""WeChat's wire formats, no crypto: safe XML, JSON objects, size caps and raw query strings.

Every parser raises PayloadError with a reason code ("malformed_xml", "malformed_json", …).
"""

import json
import re
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any, NoReturn
from urllib.parse import unquote
from xml.parsers import expat

import pydantic_core
import xmltodict

from hub.errors import BodyTooLargeError, PayloadError

_BOM = "\ufeff"
# Element names we render; WeChat's field names are ASCII identifiers (coupon_id_0, MsgSignature).
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# The key under which xmltodict keeps the text of an element that also has children.
_TEXT_KEY = "#text"


def check_size(body: bytes, max_bytes: int) -> None:
    """Refuse a body longer than `max_bytes`; call it before any parsing.

    Raises:
        BodyTooLargeError: "body_too_large".
    """
    if len(body) > max_bytes:
        raise BodyTooLargeError("body_too_large", f"body of {len(body)} bytes, limit {max_bytes}")


def encode_utf8(text: str) -> bytes:
    """Encode text as UTF-8, passing lone surrogates through: headers and JSON may carry them."""
    return text.encode("utf-8", "surrogatepass")


# -- pushes: XML or JSON --------------------------------------------------------------------------


def parse_body(body: bytes, *, max_bytes: int) -> dict[str, Any]:
    """The fields of a push body (XML `<xml>…</xml>` or a JSON object), size-capped first.

    Raises:
        BodyTooLargeError: the body is longer than `max_bytes`.
        PayloadError: the body is not well-formed XML or a JSON object.
    """
    check_size(body, max_bytes)
    return parse_message(body)


def parse_message(data: str | bytes) -> dict[str, Any]:
    """The fields of an XML `<xml>` document or a JSON object, told apart by the first character.

    Raises:
        PayloadError: malformed XML (`malformed_xml`) or JSON (`malformed_json`).
    """
    if _looks_like_xml(data):
        return parse_xml(data)
    return parse_json_object(data)


def _looks_like_xml(data: str | bytes) -> bool:
    if isinstance(data, bytes):
        return data.removeprefix(_BOM.encode()).lstrip().startswith(b"<")
    return data.removeprefix(_BOM).lstrip().startswith("<")


# -- XML ------------------------------------------------------------------------------------------


def parse_xml(data: str | bytes, *, root: str = "xml") -> dict[str, Any]:
    """The fields of a `<root>` document: repeated elements become lists, nested ones dicts.

    Any DOCTYPE is refused, hence any entity definition; text is stripped of outer whitespace.

    Raises:
        PayloadError: "malformed_xml".
    """
    content = _parse_root(data, root, strip_whitespace=True)
    # An empty <xml/> parses to None.
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise PayloadError("malformed_xml", f"the document is not a <{root}> element with fields")
    return content


def parse_flat_xml(data: bytes, *, root: str = "xml") -> dict[str, str]:
    """The fields of a flat `<root><k>v</k>…</root>` document (Pay v2), values kept verbatim.

    Raises:
        PayloadError: "malformed_xml", also for a nested or repeated field or text beside fields.
    """
    content = _parse_root(data, root, strip_whitespace=False)
    if content is None or (isinstance(content, str) and not content.strip()):
        return {}
    # Whitespace between fields is kept under the text key; anything else there is loose text.
    if not isinstance(content, dict) or content.pop(_TEXT_KEY, "").strip():
        raise PayloadError("malformed_xml", f"the document is not a flat <{root}> element")
    # A nested field parses to a dict, a repeated one to a list, an empty one to None.
    if not all(value is None or isinstance(value, str) for value in content.values()):
        raise PayloadError("malformed_xml", f"the document is not a flat <{root}> element")
    return {name: value or "" for name, value in content.items()}


def _parse_root(data: str | bytes, root: str, *, strip_whitespace: bool) -> object:
    try:
        document = xmltodict.parse(
            data,
            expat=_EXPAT_WITHOUT_DTD,
            disable_entities=True,
            xml_attribs=False,
            strip_whitespace=strip_whitespace,
        )
    except (expat.ExpatError, ValueError):
        # ValueError: a DOCTYPE or entity declaration (refused), or text that cannot be encoded.
        raise PayloadError("malformed_xml", "the body is not well-formed XML") from None
    if list(document) != [root]:
        raise PayloadError("malformed_xml", f"the root element is not <{root}>")
    return document[root]


def _refuse_doctype(*_args: object) -> NoReturn:
    raise ValueError("DOCTYPE refused")


def _parser_without_dtd(
    encoding: str | None = None, namespace_separator: str | None = None
) -> expat.XMLParserType:
    parser = expat.ParserCreate(encoding, namespace_separator)
    parser.StartDoctypeDeclHandler = _refuse_doctype
    return parser


# xmltodict's documented hook for another expat. WeChat never sends a DOCTYPE, so any is refused:
# no internal entities (billion laughs) and no external ones (XXE), like defusedxml.
_EXPAT_WITHOUT_DTD = SimpleNamespace(ParserCreate=_parser_without_dtd)


def render_xml(fields: Mapping[str, str | int], *, root: str = "xml") -> str:
    """A flat `<root>` document as WeChat writes it: strings in CDATA, integers bare.

    Raises:
        ValueError: a name is not an XML-safe identifier (a programming error).
    """
    for name in (root, *fields):
        if not _FIELD_NAME.fullmatch(name):
            raise ValueError(f"not an XML field name: {name!r}")
    inner = "".join(f"<{name}>{_render_value(value)}</{name}>" for name, value in fields.items())
    return f"<{root}>{inner}</{root}>"


def _render_value(value: str | int) -> str:
    if isinstance(value, int):
        return str(value)
    # "]]>" cannot appear inside one CDATA section: close it and open another around the ">".
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


# -- JSON -----------------------------------------------------------------------------------------


def parse_json_object(data: str | bytes) -> dict[str, Any]:
    """A JSON object read by `json.loads`: any encoding it detects, a leading BOM skipped.

    Raises:
        PayloadError: "malformed_json".
    """
    if isinstance(data, str):
        data = data.removeprefix(_BOM)
    return _decode_object(json.loads, data)


def parse_utf8_json_object(data: bytes) -> dict[str, Any]:
    """A UTF-8 JSON object read by pydantic-core, which caps nesting itself (the Pay v3 path).

    Raises:
        PayloadError: "malformed_json".
    """
    # pydantic-core's parser is 3-4x faster than json.loads on notification-sized objects,
    # a third of the path's non-RSA time (bench/pay_crypto.py).
    return _decode_object(pydantic_core.from_json, data)


def _decode_object(decode: Callable[[Any], object], data: str | bytes) -> dict[str, Any]:
    try:
        value = decode(data)
    except (ValueError, RecursionError):
        # ValueError covers JSONDecodeError and undecodable bytes; RecursionError deep nesting.
        raise PayloadError("malformed_json", "the body is not JSON") from None
    if not isinstance(value, dict):
        raise PayloadError("malformed_json", "the body is not a JSON object")
    return value


def get_str_field(obj: Mapping[str, Any], name: str, default: str | None = None) -> str:
    """The string field `name` of a JSON object; null counts as absent, as WeChat's SDKs have it.

    Raises:
        PayloadError: "missing_field" (absent without a default) or "bad_field" (not a string).
    """
    value = obj.get(name)
    if value is None:
        value = default
    if value is None:
        raise PayloadError("missing_field", f"missing field: {name}")
    if not isinstance(value, str):
        raise PayloadError("bad_field", f"not a string: {name}")
    return value


def get_object_field(obj: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """The object field `name` of a JSON object.

    Raises:
        PayloadError: "missing_field" (absent or null) or "bad_field" (not an object).
    """
    value = obj.get(name)
    if value is None:
        raise PayloadError("missing_field", f"missing field: {name}")
    if not isinstance(value, dict):
        raise PayloadError("bad_field", f"not an object: {name}")
    return value


# -- query strings --------------------------------------------------------------------------------


def query_values(query_string: str) -> dict[str, str]:
    """The parameters of a raw query string, decoded with `unquote`, first value winning.

    `+` stays `+`: aiohttp/yarl turn it into a space, which breaks base64 `echostr` (§3.9).
    """
    values: dict[str, str] = {}
    for pair in query_string.split("&"):
        name, _, value = pair.partition("=")
        values.setdefault(unquote(name), unquote(value))
    return values


def restore_plus(value: str) -> str:
    """A query value already decoded as form data, with its spaces turned back into `+` (§3.9)."""
    return value.replace(" ", "+")
