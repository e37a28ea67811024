"""Message-push crypto: official vectors, wechatpy cross-checks, rejections, mutation properties."""

import base64
import json
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st
from wechatpy.crypto import WeChatCrypto as WechatpyMiniProgramCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WechatpyWeComCrypto

from hub.errors import (
    BodyTooLargeError,
    CallbackRejected,
    DecryptionError,
    InvalidValueError,
    PayloadError,
    ReceiverMismatchError,
    SignatureError,
    TimestampError,
)
from hub.wechat.message_crypto import PushCrypto, PushQuery, ReceiverCheck, compute_signature
from hub.wechat.wire import parse_body, render_xml

# §3.2-3.5: the mini-program documentation's account (EncodingAESKey 43 x "A" is the all-zero key).
MINI_TOKEN = "AAAAA"
ZERO_KEY = "A" * 43
MINI_APPID = "wxba5fad812f8e6fb9"
SECURE_TS = "1714112445"
SECURE_NONCE = "415670741"
SECURE_MSG_SIGNATURE = "046e02f8204d34f8ba5fa3b1db94908f3df2e9b3"
SECURE_ENCRYPT = (
    "+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLKJGQqcvZq"
    "zDpVzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrfMZuMcp3Fn2Pe"
    "de2IuQrKEYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgRtWygb3VIYnSeOBrebuf"
    "Alr7F9mFUPAJGj04="
)
SECURE_MSG = (
    '{"ToUserName":"gh_97417a04a28d","FromUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY",'
    '"CreateTime":1714112445,"MsgType":"event","Event":"debug_demo","debug_str":"hello world"}'
)

# §4.1: the official WeCom WXBizMsgCrypt sample.
WECOM_TOKEN = "QDG6eK"
WECOM_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
CORPID = "wx5823bf96d3bd56c7"
WECOM_POST_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj9"
    "11L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOd"
    "nLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+"
    "BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNel"
    "ZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)

# §3.7: wechatpy's tests/test_crypto.py account.
WPY_TOKEN = "123456"
WPY_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
WPY_ID = "wx49f0ab532d5d035a"

MAX_BYTES = 64 * 1024
PROPERTY = settings(max_examples=200, deadline=None)

E = TypeVar("E", bound=CallbackRejected)


def mini() -> PushCrypto:
    return PushCrypto.for_mini_program(MINI_TOKEN, ZERO_KEY, MINI_APPID)


def wecom() -> PushCrypto:
    return PushCrypto.for_wecom(WECOM_TOKEN, WECOM_KEY, CORPID)


def secure_query() -> PushQuery:
    return PushQuery(msg_signature=SECURE_MSG_SIGNATURE, timestamp=SECURE_TS, nonce=SECURE_NONCE)


def seal_raw(plaintext: bytes, token: str = MINI_TOKEN) -> tuple[str, str]:
    """Encrypt already-padded bytes with the zero key and sign them: (Encrypt, msg_signature)."""
    key = bytes(32)
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    encrypt = base64.b64encode(encryptor.update(plaintext) + encryptor.finalize()).decode()
    return encrypt, compute_signature(token, SECURE_TS, SECURE_NONCE, encrypt)


def layout(msg: bytes, receive_id: bytes = MINI_APPID.encode(), size: int | None = None) -> bytes:
    length = len(msg) if size is None else size
    return b"r" * 16 + length.to_bytes(4, "big") + msg + receive_id


def pkcs7(data: bytes) -> bytes:
    count = 32 - len(data) % 32
    return data + bytes([count]) * count


def rejected(kind: type[E], call: Callable[[], object]) -> E:
    with pytest.raises(kind) as caught:
        call()
    return caught.value


# -- official vectors -----------------------------------------------------------------------


def test_url_check_echoes_echostr_for_official_vector() -> None:
    crypto = PushCrypto.for_mini_program(MINI_TOKEN, None, MINI_APPID)
    query = PushQuery.from_query_string(
        "signature=f464b24fc39322e44b38aa78f5edd27bd1441696&echostr=4375120948345356249"
        "&timestamp=1714036504&nonce=1514711492"
    )

    assert compute_signature("AAAAA", "1714036504", "1514711492") == query.signature
    assert crypto.verify_url(query) == "4375120948345356249"


def test_secure_account_still_echoes_url_check_in_plain() -> None:
    query = PushQuery(
        signature="f464b24fc39322e44b38aa78f5edd27bd1441696",
        timestamp="1714036504",
        nonce="1514711492",
        echostr="4375120948345356249",
    )

    assert mini().verify_url(query) == "4375120948345356249"


def test_plain_json_push_verifies_official_signature() -> None:
    crypto = PushCrypto.for_mini_program(MINI_TOKEN, None, MINI_APPID)
    query = PushQuery(
        signature="899cf89e464efb63f54ddac96b0a0a235f53aa78",
        timestamp="1714037059",
        nonce="486452656",
    )
    body = b'{"ToUserName":"gh_97417a04a28d","MsgType":"event","Event":"debug_demo"}'

    push = crypto.open_push(body, query, max_bytes=MAX_BYTES)

    assert push.fields["Event"] == "debug_demo"
    assert push.encrypted is False
    assert push.receive_id is None


def test_secure_push_decrypts_official_vector_exactly() -> None:
    decrypted = mini().decrypt(SECURE_MSG_SIGNATURE, SECURE_TS, SECURE_NONCE, SECURE_ENCRYPT)

    assert decrypted.message == SECURE_MSG
    assert decrypted.receive_id == MINI_APPID
    assert decrypted.receiver_matches is True
    # The URL's plain `signature` of the same push covers token, timestamp and nonce only.
    mini().check_signature("6c5c811b55cc85e0e1b54100749188c20beb3f5d", SECURE_TS, SECURE_NONCE)


def test_secure_json_push_opens_to_the_decrypted_fields() -> None:
    body = json.dumps({"ToUserName": "gh_97417a04a28d", "Encrypt": SECURE_ENCRYPT}).encode()

    push = mini().open_push(body, secure_query(), max_bytes=MAX_BYTES)

    assert push.fields == json.loads(SECURE_MSG)
    assert push.encrypted is True
    assert push.receive_id == MINI_APPID


def test_encrypting_official_message_with_its_random_reproduces_the_vector() -> None:
    sealed = mini().encrypt(
        SECURE_MSG, timestamp=SECURE_TS, nonce=SECURE_NONCE, random_prefix=b"a8eedb185eb2fecf"
    )

    assert sealed.encrypt == SECURE_ENCRYPT
    assert sealed.msg_signature == SECURE_MSG_SIGNATURE


def test_encrypted_reply_matches_official_vector() -> None:
    sealed = mini().encrypt(
        '{"demo_resp":"good luck"}',
        timestamp="1713424427",
        nonce="415670741",
        random_prefix=b"707722b803182950",
    )

    assert sealed.encrypt == (
        "ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L32tmxSQ=="
    )
    assert sealed.msg_signature == "1b9339964ed2e271e7c7b6ff2b0ef902fc94dea1"
    assert json.loads(sealed.reply_json()) == {
        "Encrypt": sealed.encrypt,
        "MsgSignature": sealed.msg_signature,
        "TimeStamp": 1713424427,
        "Nonce": "415670741",
    }
    assert sealed.reply_xml() == (
        f"<xml><Encrypt><![CDATA[{sealed.encrypt}]]></Encrypt>"
        "<MsgSignature><![CDATA[1b9339964ed2e271e7c7b6ff2b0ef902fc94dea1]]></MsgSignature>"
        "<TimeStamp>1713424427</TimeStamp><Nonce><![CDATA[415670741]]></Nonce></xml>"
    )


def test_wechatpy_url_vector_decrypts_echostr() -> None:
    crypto = PushCrypto.for_wecom(WPY_TOKEN, WPY_KEY, WPY_ID)
    query = PushQuery(
        msg_signature="dd6b9c95b495b3f7e2901bfbc76c664930ffdb96",
        timestamp="1411443780",
        nonce="437374425",
        echostr="4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q==",
    )

    assert crypto.verify_wecom_url(query) == "5927782489442352469"


def test_wechatpy_encrypt_vector_is_reproduced() -> None:
    crypto = PushCrypto.for_wecom(WPY_TOKEN, WPY_KEY, WPY_ID)
    reply = (
        "<xml>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[test]]></Content>\n"
        "<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>\n"
        "<ToUserName><![CDATA[messense]]></ToUserName>\n<AgentID>1</AgentID>\n"
        "<CreateTime>1411525903</CreateTime>\n</xml>"
    )

    sealed = crypto.encrypt(
        reply, timestamp="1411525903", nonce="461056294", random_prefix=b"1234567890123456"
    )

    assert sealed.msg_signature == "407518b7649e86ef23978113f92d27afa9296533"
    assert sealed.encrypt == (
        "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGs"
        "L8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjP"
        "UL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurD"
        "XafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpat"
        "F9XiKzHo3"
    )


def test_wecom_url_check_vector_answers_decrypted_echostr() -> None:
    # The raw query keeps `+` unescaped, as §3.9 fears WeChat may send it.
    query = PushQuery.from_query_string(
        "msg_signature=5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3&timestamp=1409659589"
        "&nonce=263014780&echostr=P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4R"
        "Pcs8TgAE7OaBO+FZXvnaqQ=="
    )

    assert wecom().verify_wecom_url(query) == "1616140317555161061"


def test_wecom_push_vector_opens_to_text_message() -> None:
    body = render_xml({"ToUserName": CORPID, "Encrypt": WECOM_POST_ENCRYPT, "AgentID": 218})
    query = PushQuery(
        msg_signature="477715d11cdb4164915debcba66cb864d751f3e6",
        timestamp="1409659813",
        nonce="1372623149",
    )

    push = wecom().open_push(body.encode(), query, max_bytes=MAX_BYTES)

    assert push.fields["MsgType"] == "text"
    assert push.fields["Content"] == "hello"
    assert push.fields["FromUserName"] == "mycreate"
    assert push.fields["MsgId"] == "4561255354251345929"
    assert push.receive_id == CORPID


# -- cross-checks with wechatpy ---------------------------------------------------------------

MESSAGES = [
    SECURE_MSG,
    "<xml><ToUserName><![CDATA[gh_97417a04a28d]]></ToUserName><Content>门店 ✓</Content></xml>",
    "x" * 31,
    "y" * 1000,
]


@pytest.mark.parametrize("message", MESSAGES)
def test_wechatpy_mini_program_decrypts_what_we_encrypt(message: str) -> None:
    sealed = mini().encrypt(message)
    theirs = WechatpyMiniProgramCrypto(MINI_TOKEN, ZERO_KEY, MINI_APPID)

    plain = theirs.decrypt_message(
        {"Encrypt": sealed.encrypt}, sealed.msg_signature, sealed.timestamp, sealed.nonce
    )

    assert plain == message


@pytest.mark.parametrize("message", MESSAGES)
def test_we_decrypt_what_wechatpy_mini_program_encrypts(message: str) -> None:
    theirs = WechatpyMiniProgramCrypto(MINI_TOKEN, ZERO_KEY, MINI_APPID)
    envelope = parse_body(
        theirs.encrypt_message(message, "5550123", "1714112445").encode(), max_bytes=MAX_BYTES
    )

    decrypted = mini().decrypt(
        envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"], envelope["Encrypt"]
    )

    assert decrypted.message == message


@pytest.mark.parametrize("message", MESSAGES)
def test_wechatpy_wecom_decrypts_what_we_encrypt(message: str) -> None:
    sealed = wecom().encrypt(message)
    theirs = WechatpyWeComCrypto(WECOM_TOKEN, WECOM_KEY, CORPID)

    body = render_xml({"ToUserName": CORPID, "Encrypt": sealed.encrypt, "AgentID": 218})
    plain = theirs.decrypt_message(body, sealed.msg_signature, sealed.timestamp, sealed.nonce)

    assert plain == message
    assert (
        theirs.check_signature(sealed.msg_signature, sealed.timestamp, sealed.nonce, sealed.encrypt)
        == message
    )


def test_we_decrypt_what_wechatpy_wecom_encrypts() -> None:
    theirs = WechatpyWeComCrypto(WECOM_TOKEN, WECOM_KEY, CORPID)
    reply = "<xml><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好]]></Content></xml>"
    sealed = theirs.encrypt_message(reply, "1372623149", "1409659813")
    envelope = parse_body(sealed.encode(), max_bytes=MAX_BYTES)
    query = PushQuery(
        msg_signature=envelope["MsgSignature"],
        timestamp=envelope["TimeStamp"],
        nonce=envelope["Nonce"],
    )

    push = wecom().open_push(
        render_xml({"Encrypt": envelope["Encrypt"]}).encode(), query, max_bytes=MAX_BYTES
    )

    assert push.fields == {"MsgType": "text", "Content": "你好"}
    assert wecom().verify_wecom_url(replace(query, echostr=envelope["Encrypt"])) == reply


@given(st.text(max_size=600))
@PROPERTY
def test_any_text_round_trips_through_us_and_wechatpy(message: str) -> None:
    sealed = wecom().encrypt(message)
    theirs = WechatpyWeComCrypto(WECOM_TOKEN, WECOM_KEY, CORPID)
    decrypted = wecom().decrypt(
        sealed.msg_signature, sealed.timestamp, sealed.nonce, sealed.encrypt
    )

    assert decrypted.message == message
    assert (
        theirs.decrypt_message(
            {"Encrypt": sealed.encrypt}, sealed.msg_signature, sealed.timestamp, sealed.nonce
        )
        == message
    )


# -- rejections -----------------------------------------------------------------------------


def test_tampered_encrypt_is_rejected_before_decrypting() -> None:
    tampered = "B" + SECURE_ENCRYPT[1:]

    error = rejected(
        SignatureError,
        lambda: mini().decrypt(SECURE_MSG_SIGNATURE, SECURE_TS, SECURE_NONCE, tampered),
    )

    assert error.reason == "bad_signature"


def test_garbage_encrypt_with_bad_signature_reports_the_signature_not_the_ciphertext() -> None:
    error = rejected(
        SignatureError, lambda: mini().decrypt(SECURE_MSG_SIGNATURE, SECURE_TS, SECURE_NONCE, "%%")
    )

    assert error.reason == "bad_signature"


def test_wrong_token_is_rejected() -> None:
    other = PushCrypto.for_mini_program("BBBBB", ZERO_KEY, MINI_APPID)

    error = rejected(
        SignatureError,
        lambda: other.decrypt(SECURE_MSG_SIGNATURE, SECURE_TS, SECURE_NONCE, SECURE_ENCRYPT),
    )

    assert error.reason == "bad_signature"
    assert SECURE_MSG_SIGNATURE not in str(error)


def test_wrong_plain_signature_is_rejected() -> None:
    error = rejected(
        SignatureError, lambda: mini().check_signature("0" * 40, SECURE_TS, SECURE_NONCE)
    )

    assert error.reason == "bad_signature"


def test_non_ascii_signature_is_rejected_not_crashed() -> None:
    error = rejected(
        SignatureError, lambda: mini().check_signature("签名\udcff", SECURE_TS, SECURE_NONCE)
    )

    assert error.reason == "bad_signature"


@pytest.mark.parametrize(
    ("query", "kind", "reason"),
    [
        (PushQuery(timestamp=SECURE_TS, nonce=SECURE_NONCE), SignatureError, "missing_signature"),
        (
            PushQuery(msg_signature="", timestamp=SECURE_TS, nonce=SECURE_NONCE),
            SignatureError,
            "missing_signature",
        ),
        (
            PushQuery(msg_signature=SECURE_MSG_SIGNATURE, timestamp=SECURE_TS),
            SignatureError,
            "missing_nonce",
        ),
        (
            PushQuery(msg_signature=SECURE_MSG_SIGNATURE, nonce=SECURE_NONCE),
            TimestampError,
            "missing_timestamp",
        ),
    ],
)
def test_missing_query_parameters_are_rejected(
    query: PushQuery, kind: type[CallbackRejected], reason: str
) -> None:
    body = json.dumps({"Encrypt": SECURE_ENCRYPT}).encode()

    error = rejected(kind, lambda: mini().open_push(body, query, max_bytes=MAX_BYTES))

    assert error.reason == reason


def test_secure_account_refuses_a_plain_signed_push() -> None:
    query = PushQuery(
        signature="6c5c811b55cc85e0e1b54100749188c20beb3f5d",
        timestamp=SECURE_TS,
        nonce=SECURE_NONCE,
    )

    error = rejected(
        PayloadError, lambda: mini().open_push(b'{"MsgType":"event"}', query, max_bytes=MAX_BYTES)
    )

    assert error.reason == "missing_field"


def test_missing_echostr_is_rejected() -> None:
    query = PushQuery(
        signature="f464b24fc39322e44b38aa78f5edd27bd1441696",
        timestamp="1714036504",
        nonce="1514711492",
    )

    assert rejected(PayloadError, lambda: mini().verify_url(query)).reason == "missing_field"
    assert rejected(PayloadError, lambda: wecom().verify_wecom_url(query)).reason == "missing_field"


@pytest.mark.parametrize("encrypt", ["not base64!", "QUJD=QUJD", "密文密文"])
def test_non_base64_encrypt_is_rejected(encrypt: str) -> None:
    signature = compute_signature(MINI_TOKEN, SECURE_TS, SECURE_NONCE, encrypt)

    error = rejected(
        DecryptionError, lambda: mini().decrypt(signature, SECURE_TS, SECURE_NONCE, encrypt)
    )

    assert error.reason == "bad_base64"


@pytest.mark.parametrize("size", [0, 16, 200, 223])
def test_truncated_ciphertext_is_rejected(size: int) -> None:
    encrypt = base64.b64encode(base64.b64decode(SECURE_ENCRYPT)[:size]).decode()
    signature = compute_signature(MINI_TOKEN, SECURE_TS, SECURE_NONCE, encrypt)

    error = rejected(
        DecryptionError, lambda: mini().decrypt(signature, SECURE_TS, SECURE_NONCE, encrypt)
    )

    assert error.reason == "truncated_ciphertext"


BASE = layout(b"hello")  # 43 bytes: a valid PKCS#7 tail would be 21 bytes of 0x15


@pytest.mark.parametrize(
    "padded",
    [
        BASE + b"\x15" * 20 + b"\x00",  # pad byte 0
        BASE + b"\x21" * 21,  # pad byte 33
        BASE + b"\x15" * 19 + b"\x01\x15",  # one pad byte differs
        BASE + b"\x20" * 21,  # says 32 bytes of padding, but 11 of them are message bytes
    ],
    ids=["zero", "thirty-three", "inconsistent", "longer-than-padding"],
)
def test_invalid_pkcs7_padding_is_rejected(padded: bytes) -> None:
    assert len(padded) % 32 == 0
    encrypt, signature = seal_raw(padded)

    error = rejected(
        DecryptionError, lambda: mini().decrypt(signature, SECURE_TS, SECURE_NONCE, encrypt)
    )

    assert error.reason == "bad_padding"


def test_full_block_of_padding_is_accepted() -> None:
    plain = layout(b"x" * 26)
    assert len(plain) == 64
    encrypt, signature = seal_raw(plain + b"\x20" * 32)

    assert mini().decrypt(signature, SECURE_TS, SECURE_NONCE, encrypt).message == "x" * 26


@pytest.mark.parametrize("plain", [layout(b"hi", size=40), b"r" * 18])
def test_inconsistent_message_length_is_rejected(plain: bytes) -> None:
    encrypt, signature = seal_raw(pkcs7(plain))

    error = rejected(
        DecryptionError, lambda: mini().decrypt(signature, SECURE_TS, SECURE_NONCE, encrypt)
    )

    assert error.reason == "bad_length"


def test_message_that_is_not_utf8_is_rejected() -> None:
    encrypt, signature = seal_raw(pkcs7(layout(b"\xff\xfe")))

    error = rejected(
        DecryptionError, lambda: mini().decrypt(signature, SECURE_TS, SECURE_NONCE, encrypt)
    )

    assert error.reason == "bad_encoding"


def test_plain_mode_account_cannot_decrypt() -> None:
    plain = PushCrypto.for_mini_program(MINI_TOKEN, None, MINI_APPID)

    error = rejected(
        DecryptionError,
        lambda: plain.decrypt(SECURE_MSG_SIGNATURE, SECURE_TS, SECURE_NONCE, SECURE_ENCRYPT),
    )

    assert error.reason == "no_aes_key"


def test_wrong_receive_id_is_rejected_by_strict_accounts() -> None:
    other = PushCrypto.for_mini_program(MINI_TOKEN, ZERO_KEY, "wx0000000000000000")

    error = rejected(
        ReceiverMismatchError,
        lambda: other.decrypt(SECURE_MSG_SIGNATURE, SECURE_TS, SECURE_NONCE, SECURE_ENCRYPT),
    )

    assert error.reason == "wrong_receiver"


def test_channels_shop_reports_a_wrong_receive_id_instead_of_rejecting() -> None:
    shop = PushCrypto.for_channels_shop(MINI_TOKEN, ZERO_KEY, "wx0000000000000000")
    body = json.dumps({"ToUserName": "gh_97417a04a28d", "Encrypt": SECURE_ENCRYPT}).encode()

    push = shop.open_push(body, secure_query(), max_bytes=MAX_BYTES)

    assert shop.receiver_check is ReceiverCheck.REPORT
    assert push.receiver_matches is False
    assert push.receive_id == MINI_APPID
    assert push.fields["Event"] == "debug_demo"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<xml><Encrypt>abc</Encrypt>", "malformed_xml"),
        (b"<root><Encrypt>abc</Encrypt></root>", "malformed_xml"),
        (b"<xml>text only</xml>", "malformed_xml"),
        (b'{"Encrypt": "abc"', "malformed_json"),
        (b'["Encrypt"]', "malformed_json"),
        (b"", "malformed_json"),
        (b"[" * 60_000, "malformed_json"),
        (b'{"ToUserName": "gh_97417a04a28d"}', "missing_field"),
        (b"<xml><ToUserName>gh_97417a04a28d</ToUserName></xml>", "missing_field"),
        (b'{"Encrypt": 12}', "malformed_field"),
        (b"<xml><Encrypt>a</Encrypt><Encrypt>b</Encrypt></xml>", "malformed_field"),
    ],
)
def test_malformed_envelopes_are_rejected(body: bytes, reason: str) -> None:
    error = rejected(
        PayloadError, lambda: mini().open_push(body, secure_query(), max_bytes=MAX_BYTES)
    )

    assert error.reason == reason


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("not a document", "malformed_json"),
        ("<xml><a></xml>", "malformed_xml"),
        ('{"a": 1', "malformed_json"),
    ],
)
def test_malformed_decrypted_message_is_rejected(message: str, reason: str) -> None:
    sealed = mini().encrypt(message)
    body = json.dumps({"Encrypt": sealed.encrypt}).encode()
    query = PushQuery(
        msg_signature=sealed.msg_signature, timestamp=sealed.timestamp, nonce=sealed.nonce
    )

    error = rejected(PayloadError, lambda: mini().open_push(body, query, max_bytes=MAX_BYTES))

    assert error.reason == reason


def test_oversized_body_is_rejected_before_anything_else() -> None:
    body = b"{" + b" " * 100 + b"}"

    error = rejected(BodyTooLargeError, lambda: mini().open_push(body, PushQuery(), max_bytes=100))

    assert error.reason == "body_too_large"
    assert rejected(BodyTooLargeError, lambda: parse_body(body, max_bytes=100)).reason == (
        "body_too_large"
    )


@pytest.mark.parametrize(
    ("now", "reason"),
    [(1714112445 + 301, "stale_timestamp"), (1714112445 - 301, "future_timestamp")],
)
def test_timestamps_outside_the_window_are_rejected(now: int, reason: str) -> None:
    crypto = replace(mini(), max_age_s=300, clock=lambda: float(now))

    error = rejected(
        TimestampError,
        lambda: crypto.decrypt(SECURE_MSG_SIGNATURE, SECURE_TS, SECURE_NONCE, SECURE_ENCRYPT),
    )

    assert error.reason == reason


def test_timestamps_inside_the_window_are_accepted() -> None:
    crypto = replace(mini(), max_age_s=300, clock=lambda: 1714112445.0 + 300)

    decrypted = crypto.decrypt(SECURE_MSG_SIGNATURE, SECURE_TS, SECURE_NONCE, SECURE_ENCRYPT)

    assert decrypted.message == SECURE_MSG


@pytest.mark.parametrize(
    "timestamp", ["17141124a5", "-1714112445", " 1714112445", "\uff11\uff17\uff11\uff14"]
)
def test_malformed_timestamp_is_rejected_when_a_window_is_set(timestamp: str) -> None:
    crypto = replace(mini(), max_age_s=300, clock=lambda: 1714112445.0)
    signature = compute_signature(MINI_TOKEN, timestamp, SECURE_NONCE)

    error = rejected(
        TimestampError, lambda: crypto.check_signature(signature, timestamp, SECURE_NONCE)
    )

    assert error.reason == "bad_timestamp"


# -- bodies and configuration --------------------------------------------------------------


def test_compatible_mode_prefers_the_decrypted_fields() -> None:
    body = json.dumps(
        {
            "ToUserName": "gh_forged",
            "Event": "forged",
            "debug_str": "evil",
            "Encrypt": SECURE_ENCRYPT,
        }
    ).encode()

    push = mini().open_push(body, secure_query(), max_bytes=MAX_BYTES)

    assert push.fields == json.loads(SECURE_MSG)


def test_repr_hides_token_and_key() -> None:
    text = repr(wecom())

    assert WECOM_TOKEN not in text
    assert WECOM_KEY not in text


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: PushCrypto(MINI_TOKEN, "short", MINI_APPID), "encoding_aes_key"),
        (lambda: PushCrypto("", ZERO_KEY, MINI_APPID), "token"),
        (lambda: PushCrypto(MINI_TOKEN, ZERO_KEY, MINI_APPID, max_age_s=0), "max_age_s"),
        (lambda: mini().encrypt("x", random_prefix=b"short"), "random_prefix"),
        (lambda: mini().encrypt("x", timestamp="now"), "timestamp"),
        (lambda: PushCrypto(MINI_TOKEN, None, MINI_APPID).encrypt("x"), "encoding_aes_key"),
    ],
)
def test_misconfiguration_raises_invalid_value(make: Callable[[], object], field: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        make()

    assert caught.value.field == field


# -- properties -----------------------------------------------------------------------------


def mutations(original: bytes) -> st.SearchStrategy[bytes]:
    """Byte flips, truncations, insertions and deletions that change `original`."""
    n = len(original)
    flip = st.tuples(st.integers(0, n - 1), st.integers(1, 255)).map(
        lambda t: original[: t[0]] + bytes([original[t[0]] ^ t[1]]) + original[t[0] + 1 :]
    )
    truncate = st.integers(0, n - 1).map(lambda k: original[:k])
    insert = st.tuples(st.integers(0, n), st.binary(min_size=1, max_size=48)).map(
        lambda t: original[: t[0]] + t[1] + original[t[0] :]
    )
    delete = st.tuples(st.integers(0, n - 1), st.integers(1, 48)).map(
        lambda t: original[: t[0]] + original[t[0] + t[1] :]
    )
    return st.one_of(flip, truncate, insert, delete).filter(lambda m: m != original)


def latin1(strategy: st.SearchStrategy[bytes]) -> st.SearchStrategy[str]:
    return strategy.map(lambda b: b.decode("latin-1"))


@given(latin1(mutations(SECURE_ENCRYPT.encode())))
@PROPERTY
def test_mutated_encrypt_never_verifies(encrypt: str) -> None:
    with pytest.raises(SignatureError):
        mini().decrypt(SECURE_MSG_SIGNATURE, SECURE_TS, SECURE_NONCE, encrypt)


@given(latin1(mutations(SECURE_MSG_SIGNATURE.encode())))
@PROPERTY
def test_mutated_signature_never_verifies(signature: str) -> None:
    body = json.dumps({"Encrypt": SECURE_ENCRYPT}).encode()
    query = PushQuery(msg_signature=signature, timestamp=SECURE_TS, nonce=SECURE_NONCE)

    with pytest.raises(SignatureError):
        mini().open_push(body, query, max_bytes=MAX_BYTES)


@given(mutations(base64.b64decode(SECURE_ENCRYPT)))
@PROPERTY
def test_mutated_ciphertext_signed_with_the_token_fails_only_with_our_errors(raw: bytes) -> None:
    # A token holder (or the simulator) can sign anything: the AES layer must still fail cleanly.
    encrypt = base64.b64encode(raw).decode()
    signature = compute_signature(MINI_TOKEN, SECURE_TS, SECURE_NONCE, encrypt)

    try:
        decrypted = mini().decrypt(signature, SECURE_TS, SECURE_NONCE, encrypt)
    except CallbackRejected:
        return
    assert decrypted.message != SECURE_MSG


@given(st.binary(max_size=2048), st.text(max_size=200))
@PROPERTY
def test_arbitrary_requests_fail_only_with_our_errors(body: bytes, query_string: str) -> None:
    query = PushQuery.from_query_string(query_string)
    for crypto in (mini(), wecom(), PushCrypto.for_mini_program(MINI_TOKEN, None, MINI_APPID)):
        with pytest.raises(CallbackRejected):
            crypto.open_push(body, query, max_bytes=MAX_BYTES)
        with pytest.raises(CallbackRejected):
            crypto.verify_url(query)
        with pytest.raises(CallbackRejected):
            crypto.verify_wecom_url(query)
