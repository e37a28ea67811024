"""Pay v2: the official signature vector, wechatpy cross-checks, replies, refund req_info."""

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wechatpy.crypto import RefundCrypto, WeChatRefundCrypto
from wechatpy.pay import WeChatPay
from wechatpy.pay.utils import calculate_signature, calculate_signature_hmac

from hub.errors import (
    BodyTooLargeError,
    CallbackRejected,
    DecryptionError,
    PayloadError,
    SignatureError,
)
from hub.wechat import pay_v2
from hub.wechat.wire import parse_flat_xml, render_xml

# §2.1: the official vector.
OFFICIAL_PARAMS = {
    "appid": "wxd930ea5d5a258f4f",
    "mch_id": "10000100",
    "device_info": "1000",
    "body": "test",
    "nonce_str": "ibuaiVcKdpRxkhJA",
}
OFFICIAL_KEY = "192006250b4c09247ec02edce69f6a2d"
OFFICIAL_STRING = (
    "appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100"
    "&nonce_str=ibuaiVcKdpRxkhJA&key=192006250b4c09247ec02edce69f6a2d"
)
OFFICIAL_MD5 = "9A0A8659F005D6984697E2CA0A9CF3B7"
OFFICIAL_HMAC = "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"

# §2.3: wechatpy's refund vector (wechatpy/wechatpy tests/test_crypto.py,
# test_refund_notify_decrypt_message); the installed wheel ships no tests, so it is copied here.
REFUND_APPID = "wx4f4bc4dec97d474b"
REFUND_MCH_ID = "12345678"
REFUND_API_KEY = "OF4Ne3znh8KqL0V4NqmALQa0uXMYKcEk"
REFUND_REQ_INFO = (
    "51A27s9LxbaEv52nBOrqa0FCs3HVIM31Wc3BpNqSCP5MQlS8HL1Vl7mZ21043B7PZy7adtOZGtZv44lGl0U8JXlVFL4Lt"
    "xsw6+pACjZBB0Qi1LUDjFlP2IyTxYX4eC57kxnCphDdIyRkU67kOWW/HN/efggTUlaPJkoL5kVe9Y1MZF55IHR4lwGI7"
    "WtVLtxATX1tkAVZF+/ri0WlPXo9+GkqeB2/id6Ozw09Tqp8C/TKbmKBpRhTCRU2TzfQoLa6fjbgETFHJ795aEMyUZPQY"
    "bbsz6U9Rj9lUzEh8+Oc8KYTXa9zVk+nnFr82+yjffb3d36ylTe0y/VmYf90rf9cbiJQdM00zZ8Qa99SlMTs2wjOO4Mi4"
    "Btlg1PebsLF8TkqbSZkRJDGs61UunUB8Km1b/VeBxXuv4D3H7DiVZ9Fj7lq2j07zFDpxxlhhen7kZvMWWO3lrfFpA9c4"
    "eFOqfF9SxcU9nBmHfDD1g/dsrMl6+a71xQHJ/gn80fZOefUBv92ggqutsuJ4gd4OqkmO0XUs8e4XQyLpra+LvpmahsU5"
    "lBIZuQcMq3FHrqe8hXTfp3+3qym2wGfvPI75jx41VZwmBQy9izB1Id+A5lUeXC5QJy+ryDu/dWkhB+aMjkElaI/Epmcc"
    "/IEPaI73W6Hc58hNednOM536rPnn+GDc98PdGszpLTjmaZSu8dtqwPaym66yRqFQowzFoBbooik57iHUFBCeWya7XcXYL"
    "9WKhRF3uIZM+Kfv9/Zs2pF+w9/EJpltuzPpT1GP2VTMSHz45zwphFlS2lX8wHyZ+k9n2dptzQqpOCPedt5iQAmAe1oNQ"
    "MxNdPDH9g68x9UzWD1kfK/dPO+3NPAh0XG+io4x15fIknNf7JLjpAuWicMMzCdwC4hhqeYOzQ+pC9f2xJXi5YViNKIZY"
    "69oO8eoHYRitLZrHLgx3oB2zimmqX6BI+DMklKAzAqqgGmbFxcVTvxZB6cMCx+H7TTWXnjAG+6A3SrCcxg0l5+UB93pk"
    "AYR7SVJ+VaZoiBqlqnZvb7IM17n9XaaFntlzvbbFCIa7OnOQb5Lvw="
)
REFUND_XML = f"""
<xml>
<return_code>SUCCESS</return_code>
<appid><![CDATA[{REFUND_APPID}]]></appid>
<mch_id><![CDATA[{REFUND_MCH_ID}]]></mch_id>
<nonce_str><![CDATA[c1c237efc87ee8dfcb3f9124b63a4d94]]></nonce_str>
<req_info><![CDATA[{REFUND_REQ_INFO}]]></req_info>
</xml>""".encode()

API_KEY = "192006250b4c09247ec02edce69f6a2d"
PAYMENT = {
    "return_code": "SUCCESS",
    "return_msg": "OK",
    "appid": "wx2421b1c4370ec43b",
    "mch_id": "10000100",
    "nonce_str": "5d2b6c2a8db53831f7eda20af46e531c",
    "result_code": "SUCCESS",
    "openid": "oUpF8uMEb4qRXf22hE3X68TekukE",
    "is_subscribe": "Y",
    "trade_type": "JSAPI",
    "bank_type": "CFT",
    "total_fee": "1",
    "cash_fee": "1",
    "transaction_id": "1004400740201409030005092168",
    "out_trade_no": "1409811653",
    "attach": "支付测试",
    "time_end": "20140903131540",
}


def assert_rejected(error: type[CallbackRejected], reason: str, function, *args, **kwargs):
    with pytest.raises(CallbackRejected) as caught:
        function(*args, **kwargs)
    assert type(caught.value) is error
    assert caught.value.reason == reason


# -- signatures (§2.1) ---------------------------------------------------------------------------


def test_signing_string_reproduces_the_official_vector():
    assert pay_v2.build_signing_string(OFFICIAL_PARAMS, OFFICIAL_KEY) == OFFICIAL_STRING


def test_md5_signature_reproduces_the_official_vector():
    assert pay_v2.sign(OFFICIAL_PARAMS, OFFICIAL_KEY) == OFFICIAL_MD5


def test_hmac_signature_reproduces_the_official_vector():
    signature = pay_v2.sign(OFFICIAL_PARAMS, OFFICIAL_KEY, pay_v2.SignType.HMAC_SHA256)
    assert signature == OFFICIAL_HMAC


def test_empty_values_and_sign_are_left_out_of_the_signing_string():
    params = OFFICIAL_PARAMS | {"attach": "", "sign": "ANYTHING"}
    assert pay_v2.build_signing_string(params, OFFICIAL_KEY) == OFFICIAL_STRING


def test_wechatpy_agrees_on_the_official_vector():
    assert calculate_signature(OFFICIAL_PARAMS, OFFICIAL_KEY) == OFFICIAL_MD5
    assert calculate_signature_hmac(OFFICIAL_PARAMS, OFFICIAL_KEY) == OFFICIAL_HMAC


FIELD_NAMES = st.from_regex(r"[a-z_][a-z0-9_]{0,15}", fullmatch=True).filter(lambda k: k != "sign")
FIELD_VALUES = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)


@settings(max_examples=200, deadline=None)
@given(params=st.dictionaries(FIELD_NAMES, FIELD_VALUES, max_size=12))
def test_wechatpy_agrees_on_any_fields(params):
    assert pay_v2.sign(params, API_KEY) == calculate_signature(params, API_KEY)
    assert pay_v2.sign(params, API_KEY, pay_v2.SignType.HMAC_SHA256) == calculate_signature_hmac(
        params, API_KEY
    )


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, pay_v2.SignType.MD5),
        ({"sign_type": "MD5"}, pay_v2.SignType.MD5),
        ({"sign_type": "HMAC-SHA256"}, pay_v2.SignType.HMAC_SHA256),
        ({"sign": OFFICIAL_HMAC}, pay_v2.SignType.HMAC_SHA256),
        ({"sign": OFFICIAL_MD5}, pay_v2.SignType.MD5),
    ],
)
def test_sign_type_comes_from_sign_type_or_the_signature_length(extra, expected):
    assert pay_v2.detect_sign_type(OFFICIAL_PARAMS | extra) is expected


@pytest.mark.parametrize("signature", [OFFICIAL_MD5, OFFICIAL_HMAC])
def test_verify_accepts_md5_and_hmac_signatures(signature):
    pay_v2.verify(OFFICIAL_PARAMS | {"sign": signature}, OFFICIAL_KEY)


def test_verify_accepts_hmac_named_by_sign_type():
    params = OFFICIAL_PARAMS | {"sign_type": "HMAC-SHA256"}
    params["sign"] = pay_v2.sign(params, OFFICIAL_KEY, pay_v2.SignType.HMAC_SHA256)
    pay_v2.verify(params, OFFICIAL_KEY)


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        (OFFICIAL_PARAMS, "missing_signature"),
        (OFFICIAL_PARAMS | {"sign": ""}, "missing_signature"),
        (OFFICIAL_PARAMS | {"sign": OFFICIAL_MD5.lower()}, "bad_signature"),
        (OFFICIAL_PARAMS | {"sign": OFFICIAL_MD5, "body": "tesT"}, "bad_signature"),
        (OFFICIAL_PARAMS | {"sign": OFFICIAL_MD5, "sign_type": "HMAC-SHA256"}, "bad_signature"),
        (OFFICIAL_PARAMS | {"sign": "签名" * 16}, "bad_signature"),
        (OFFICIAL_PARAMS | {"sign": "\ud800"}, "bad_signature"),
    ],
    ids=["absent", "empty", "lowercase", "tampered", "wrong_type", "non_ascii", "surrogate"],
)
def test_verify_rejects_bad_signatures(params, reason):
    assert_rejected(SignatureError, reason, pay_v2.verify, params, OFFICIAL_KEY)


def test_verify_rejects_a_signature_made_with_another_key():
    params = OFFICIAL_PARAMS | {"sign": pay_v2.sign(OFFICIAL_PARAMS, "X" * 32)}
    assert_rejected(SignatureError, "bad_signature", pay_v2.verify, params, OFFICIAL_KEY)


# -- replies and size cap (§2.2) ----------------------------------------------------------------


def test_success_reply_is_the_exact_documented_bytes():
    assert pay_v2.SUCCESS_REPLY == (
        b"<xml><return_code><![CDATA[SUCCESS]]></return_code>"
        b"<return_msg><![CDATA[OK]]></return_msg></xml>"
    )


def test_failure_reply_carries_fail_and_the_message():
    reply = pay_v2.render_failure_reply("签名失败")
    assert parse_flat_xml(reply) == {"return_code": "FAIL", "return_msg": "签名失败"}


@pytest.mark.parametrize("read", [pay_v2.read_notification, pay_v2.read_refund_notification])
def test_an_oversized_body_is_rejected_before_parsing(read):
    body = b"<xml><a>" + b"x" * pay_v2.MAX_NOTIFICATION_BYTES + b"</a></xml>"
    assert_rejected(BodyTooLargeError, "body_too_large", read, body, API_KEY)
    assert_rejected(BodyTooLargeError, "body_too_large", read, b"<xml/>", API_KEY, max_bytes=5)


# -- payment notifications (§2.2) ----------------------------------------------------------------


@pytest.mark.parametrize("sign_type", list(pay_v2.SignType))
def test_built_notification_reads_back(sign_type):
    body = pay_v2.build_notification(PAYMENT, API_KEY, sign_type)
    fields = pay_v2.read_notification(body, API_KEY)
    assert fields == PAYMENT | {"sign": pay_v2.sign(PAYMENT, API_KEY, sign_type)}


def test_wechatpy_accepts_our_md5_notification():
    body = pay_v2.build_notification(PAYMENT, API_KEY)
    result = WeChatPay(
        appid=PAYMENT["appid"], api_key=API_KEY, mch_id="10000100"
    ).parse_payment_result(body)
    assert result["out_trade_no"] == "1409811653"
    assert result["total_fee"] == 1


def test_notification_with_a_changed_field_is_a_bad_signature():
    body = pay_v2.build_notification(PAYMENT, API_KEY).replace(b"1409811653", b"1409811654")
    assert_rejected(SignatureError, "bad_signature", pay_v2.read_notification, body, API_KEY)


def test_notification_with_an_added_field_is_a_bad_signature():
    body = pay_v2.build_notification(PAYMENT, API_KEY).replace(
        b"</xml>", b"<coupon_fee>1</coupon_fee></xml>"
    )
    assert_rejected(SignatureError, "bad_signature", pay_v2.read_notification, body, API_KEY)


def test_notification_without_sign_is_a_missing_signature():
    body = render_xml(PAYMENT).encode()
    assert_rejected(SignatureError, "missing_signature", pay_v2.read_notification, body, API_KEY)


def test_notification_that_is_not_xml_is_malformed():
    assert_rejected(PayloadError, "malformed_xml", pay_v2.read_notification, b"{}", API_KEY)


# -- refund notifications (§2.3) -----------------------------------------------------------------


def test_wechatpy_refund_vector_decrypts():
    refund = pay_v2.decrypt_refund_info(REFUND_REQ_INFO, REFUND_API_KEY)
    assert refund["out_refund_no"] == "1234"
    assert refund["out_trade_no"] == "2020010418301551404339261814"
    assert refund["transaction_id"] == "4200000483202001042069747825"
    assert refund["refund_id"] == "50300103182020010413419046597"
    assert refund["refund_recv_accout"] == "招商银行信用卡8915"


def test_wechatpy_refund_vector_reads_as_a_notification():
    notification = pay_v2.read_refund_notification(REFUND_XML, REFUND_API_KEY)
    assert notification.fields["appid"] == REFUND_APPID
    assert notification.fields["mch_id"] == REFUND_MCH_ID
    assert notification.refund["refund_status"] == "SUCCESS"


def test_wechatpy_decrypts_our_refund_notification():
    refund = {"out_refund_no": "R-1", "refund_id": "50300103182020010413419046597"}
    fields = {"return_code": "SUCCESS", "appid": REFUND_APPID, "mch_id": REFUND_MCH_ID}
    body = pay_v2.build_refund_notification(fields, refund, REFUND_API_KEY)
    decrypted = WeChatRefundCrypto(REFUND_API_KEY).decrypt_message(
        body, REFUND_APPID, REFUND_MCH_ID
    )
    assert dict(decrypted) == refund
    assert pay_v2.read_refund_notification(body, REFUND_API_KEY).refund == refund


@pytest.mark.parametrize("size", [1, 5, 16, 27, 40])
def test_we_decrypt_what_wechatpy_encrypts_with_its_32_byte_padding(size):
    inner = render_xml({"out_refund_no": "x" * size}, root="root").encode()
    req_info = RefundCrypto(WeChatRefundCrypto(REFUND_API_KEY).key).encrypt(inner).decode()
    refund = pay_v2.decrypt_refund_info(req_info, REFUND_API_KEY)
    assert refund == {"out_refund_no": "x" * size}


def test_refund_under_another_api_key_does_not_decrypt():
    assert_rejected(
        DecryptionError, "bad_padding", pay_v2.decrypt_refund_info, REFUND_REQ_INFO, "X" * 32
    )


@pytest.mark.parametrize(
    ("req_info", "reason"),
    [
        ("not base64!", "bad_base64"),
        (base64.b64encode(b"x" * 20).decode(), "truncated_ciphertext"),
        ("", "truncated_ciphertext"),
    ],
)
def test_undecryptable_req_info_is_rejected(req_info, reason):
    assert_rejected(DecryptionError, reason, pay_v2.decrypt_refund_info, req_info, REFUND_API_KEY)


def test_refund_plaintext_that_is_not_the_expected_xml_is_malformed():
    inner = render_xml({"a": "1"}, root="xml").encode()
    wrong_root = RefundCrypto(WeChatRefundCrypto(REFUND_API_KEY).key).encrypt(inner).decode()
    assert_rejected(
        PayloadError, "malformed_xml", pay_v2.decrypt_refund_info, wrong_root, REFUND_API_KEY
    )


def test_refund_notification_without_req_info_is_a_missing_field():
    body = render_xml({"return_code": "FAIL", "return_msg": "ERROR"}).encode()
    assert_rejected(
        PayloadError, "missing_field", pay_v2.read_refund_notification, body, REFUND_API_KEY
    )
