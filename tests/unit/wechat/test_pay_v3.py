"""Pay v3 merchant side: official vectors, wechatpayv3 cross-checks, rejections, mutations."""

import base64
import dataclasses
import json
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict
from wechatpayv3.utils import rsa_sign as wechatpayv3_rsa_sign

from hub.errors import (
    BodyTooLargeError,
    CallbackRejected,
    DecryptionError,
    PayloadError,
    SignatureError,
    TimestampError,
)
from hub.wechat import pay_keys, pay_v3, pay_v3_platform
from hub.wechat.primitives import Certificate, rsa_verify
from tests.unit.wechat.samples import (
    API_V3_KEY,
    APPID,
    CERT_SIGNER,
    CERTIFICATE,
    MCHID,
    MERCHANT_KEY,
    MERCHANT_SERIAL,
    NONCE,
    NOW,
    OTHER_KEY,
    PLATFORM_KEY,
    PUBLIC_KEY_ID,
    PUBLIC_KEY_SIGNER,
    TRANSACTION,
    Refetch,
    assert_rejected,
    clock,
    envelope,
    one_character_changed,
    platform_keys,
    public_key_mode_client,
    read,
    resource,
    signed,
)

# -- official vectors (§1.2, §1.7) -----------------------------------------------------------------


def test_request_signing_message_reproduces_the_official_get_example():
    message = pay_v3.request_signing_message("GET", "/v3/certificates", 1554208460, NONCE, b"")
    assert message == b"GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n"


def test_authorization_header_signs_the_official_string_with_the_merchant_key():
    merchant = pay_v3.MerchantKey(MCHID, MERCHANT_SERIAL, MERCHANT_KEY)
    header = pay_v3.authorization_header(
        merchant, "GET", "/v3/certificates", b"", 1554208460, NONCE
    )
    assert header.startswith('WECHATPAY2-SHA256-RSA2048 mchid="1230000109",nonce_str="')
    auth = pay_v3_platform.parse_authorization(header)
    assert (auth.mchid, auth.nonce_str, auth.timestamp, auth.serial_no) == (
        MCHID,
        NONCE,
        "1554208460",
        MERCHANT_SERIAL,
    )
    official = b"GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n"
    rsa_verify(MERCHANT_KEY.public_key(), official, auth.signature)


def test_authorization_header_signs_the_exact_body_bytes():
    merchant = pay_v3.MerchantKey(MCHID, MERCHANT_SERIAL, MERCHANT_KEY)
    body = '{"mchid":"1230000109","description":"会员卡"}'.encode()
    header = pay_v3.authorization_header(
        merchant, "post", "/v3/pay/transactions/jsapi", body, NOW, NONCE
    )
    expected = f"POST\n/v3/pay/transactions/jsapi\n{NOW}\n{NONCE}\n".encode() + body + b"\n"
    rsa_verify(
        MERCHANT_KEY.public_key(), expected, pay_v3_platform.parse_authorization(header).signature
    )


def test_pay_sign_covers_the_four_official_sample_lines():
    signature = pay_v3.pay_sign(
        "wx8888888888888888",
        1414561699,
        "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        "wx201410272009395522657a690389285100",
        MERCHANT_KEY,
    )
    message = (
        b"wx8888888888888888\n1414561699\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\n"
        b"prepay_id=wx201410272009395522657a690389285100\n"
    )
    rsa_verify(MERCHANT_KEY.public_key(), message, signature)


def test_request_payment_params_are_what_wx_request_payment_takes():
    params = pay_v3.request_payment_params(
        APPID, "wx26112221580621e9b071c00d9e093b0000", MERCHANT_KEY, timestamp=NOW, nonce=NONCE
    )
    assert params == {
        "timeStamp": str(NOW),
        "nonceStr": NONCE,
        "package": "prepay_id=wx26112221580621e9b071c00d9e093b0000",
        "signType": "RSA",
        "paySign": pay_v3.pay_sign(
            APPID, NOW, NONCE, "wx26112221580621e9b071c00d9e093b0000", MERCHANT_KEY
        ),
    }


# -- cross-checks with wechatpayv3 -----------------------------------------------------------------


def test_wechatpayv3_pay_sign_equals_ours():
    lines = [APPID, "1414561699", NONCE, "prepay_id=wx201410272009395522657a690389285100"]
    theirs = public_key_mode_client().sign(lines)
    ours = pay_v3.pay_sign(
        APPID, 1414561699, NONCE, "wx201410272009395522657a690389285100", MERCHANT_KEY
    )
    # PKCS#1 v1.5 is deterministic, so equal inputs and key give equal signatures.
    assert theirs == ours


def test_we_accept_a_notification_signed_and_encrypted_without_our_code():
    nonce = "abcdefghijkl"
    sealed = AESGCM(API_V3_KEY.encode()).encrypt(
        nonce.encode(), json.dumps(TRANSACTION).encode(), b"transaction"
    )
    body = json.dumps(
        envelope(
            resource={
                "original_type": "transaction",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(sealed).decode(),
                "associated_data": "transaction",
                "nonce": nonce,
            }
        )
    )
    headers = {
        "Wechatpay-Timestamp": str(NOW),
        "Wechatpay-Nonce": NONCE,
        "Wechatpay-Signature": wechatpayv3_rsa_sign(PLATFORM_KEY, f"{NOW}\n{NONCE}\n{body}\n"),
        "Wechatpay-Serial": CERTIFICATE.serial_no,
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }
    assert read(headers, body.encode()).resource == TRANSACTION


# -- accepted notifications and responses ----------------------------------------------------------


def test_notification_reads_into_a_frozen_typed_result():
    headers, body = signed()
    notification = read(headers, body)
    assert notification.id == "EV-2018022511223320873"
    assert notification.created_at == datetime(2015, 5, 20, 5, 29, 35, tzinfo=UTC)
    assert notification.event_type == "TRANSACTION.SUCCESS"
    assert notification.resource_type == "encrypt-resource"
    assert notification.summary == "支付成功"
    assert notification.original_type == "transaction"
    assert notification.resource == TRANSACTION
    assert notification.signed_by == CERTIFICATE.serial_no
    with pytest.raises(dataclasses.FrozenInstanceError):
        notification.id = "other"  # type: ignore[misc, unused-ignore]
    with pytest.raises(TypeError):
        notification.resource["mchid"] = "other"  # type: ignore[index, unused-ignore]


@pytest.mark.parametrize(
    "shape",
    [
        lambda h: CIMultiDict({k.upper(): v for k, v in h.items()}),
        lambda h: {k.lower(): v for k, v in h.items()},
        lambda h: {k.swapcase(): v for k, v in h.items()},
    ],
    ids=["cimultidict", "lowercase_dict", "odd_case_dict"],
)
def test_headers_are_read_case_insensitively(shape):
    headers, body = signed()
    assert read(shape(headers), body).resource == TRANSACTION


def test_associated_data_may_be_empty():
    body = envelope(resource=resource(associated_data=""))
    assert read(*signed(body)).resource == TRANSACTION


def test_associated_data_may_be_null():
    body = envelope(resource=resource(associated_data="") | {"associated_data": None})
    assert read(*signed(body)).resource == TRANSACTION


def test_summary_and_original_type_may_be_absent():
    fields = envelope()
    del fields["summary"]
    del fields["resource"]["original_type"]
    notification = read(*signed(fields))
    assert (notification.summary, notification.original_type) == ("", "")


def test_timestamp_exactly_300_seconds_away_is_accepted():
    for timestamp in (NOW - 300, NOW + 300):
        assert read(*signed(timestamp=timestamp)).resource == TRANSACTION


@pytest.mark.parametrize("body", [b"", b'{"prepay_id":"wx26112221580621e9b071c00d9e093b0000"}'])
def test_api_responses_verify_including_an_empty_204(body):
    headers = pay_v3_platform.sign_message(PUBLIC_KEY_SIGNER, body, timestamp=NOW, nonce=NONCE)
    message = pay_v3.verify_message(headers, body, platform_keys(), clock=clock)
    assert message == pay_v3.VerifiedMessage(body, PUBLIC_KEY_ID, NOW, NONCE)


def test_an_empty_204_signature_does_not_cover_a_body():
    headers = pay_v3_platform.sign_message(PUBLIC_KEY_SIGNER, b"", timestamp=NOW, nonce=NONCE)
    with pytest.raises(SignatureError) as caught:
        pay_v3.verify_message(headers, b"{}", platform_keys(), clock=clock)
    assert caught.value.reason == "bad_signature"


# -- rejections: signature and timestamp -----------------------------------------------------------


def test_tampered_body_is_a_bad_signature():
    headers, body = signed()
    assert_rejected(SignatureError, "bad_signature", headers, one_character_changed(body))


def test_signature_by_another_key_under_a_known_serial_is_a_bad_signature():
    headers, body = signed(signer=pay_v3_platform.PlatformSigner(CERTIFICATE.serial_no, OTHER_KEY))
    assert_rejected(SignatureError, "bad_signature", headers, body)


def test_public_key_id_with_a_certificate_signature_is_a_bad_signature():
    headers, body = signed(signer=pay_v3_platform.PlatformSigner(PUBLIC_KEY_ID, PLATFORM_KEY))
    assert_rejected(SignatureError, "bad_signature", headers, body)


@pytest.mark.parametrize(
    ("timestamp", "reason"),
    [(NOW - 301, "stale_timestamp"), (NOW + 301, "future_timestamp")],
)
def test_timestamp_outside_the_window_is_rejected(timestamp, reason):
    assert_rejected(TimestampError, reason, *signed(timestamp=timestamp))


@pytest.mark.parametrize(
    "value", ["abc", "1.7e9", " 1717834061", "-1717834061", "١٧١٧٨٣٤٠٦١", "9" * 20]
)
def test_malformed_timestamp_is_rejected(value):
    headers, body = signed()
    headers["Wechatpay-Timestamp"] = value
    assert_rejected(TimestampError, "bad_timestamp", headers, body)


@pytest.mark.parametrize("name", pay_v3._SIGNED_HEADERS)
def test_missing_header_is_a_missing_signature(name):
    headers, body = signed()
    del headers[name]
    assert_rejected(SignatureError, "missing_signature", headers, body)


def test_signtest_probe_is_recognised_even_without_other_headers():
    _, body = signed()
    probe = pay_v3_platform.sign_message(
        CERT_SIGNER, body, timestamp=NOW, nonce=NONCE, signtest=True
    )
    assert probe["Wechatpay-Signature"].startswith("WECHATPAY/SIGNTEST/")
    assert_rejected(SignatureError, "signtest_probe", probe, body)
    del probe["Wechatpay-Serial"]
    assert_rejected(SignatureError, "signtest_probe", probe, body)


def test_other_signature_type_is_unsupported():
    headers, body = signed()
    headers["Wechatpay-Signature-Type"] = "WECHATPAY2-SM2-WITH-SM3"
    assert_rejected(SignatureError, "unsupported_signature_type", headers, body)


def test_oversized_body_is_rejected_before_verification():
    headers, body = signed()
    assert_rejected(BodyTooLargeError, "body_too_large", headers, body, max_bytes=len(body) - 1)
    huge = b"{" + b" " * pay_v3.MAX_NOTIFICATION_BYTES + b"}"
    assert_rejected(BodyTooLargeError, "body_too_large", {}, huge)


# -- rejections: envelope and resource -------------------------------------------------------------


@pytest.mark.parametrize("body", [b"{", b"[]", b'"text"', b"\xff\xfe", b"[" * 10000])
def test_malformed_json_that_is_validly_signed_is_malformed_json(body):
    assert_rejected(PayloadError, "malformed_json", *signed(body))


def test_malformed_json_without_a_valid_signature_is_a_bad_signature():
    headers, _ = signed()
    assert_rejected(SignatureError, "bad_signature", headers, b"{")


@pytest.mark.parametrize(
    "path",
    [
        ("id",),
        ("create_time",),
        ("event_type",),
        ("resource_type",),
        ("resource",),
        ("resource", "algorithm"),
        ("resource", "ciphertext"),
        ("resource", "nonce"),
    ],
    ids=".".join,
)
def test_missing_field_is_rejected(path):
    fields = envelope()
    holder = fields["resource"] if len(path) == 2 else fields
    del holder[path[-1]]
    assert_rejected(PayloadError, "missing_field", *signed(fields))


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"id": 42}, "bad_field"),
        ({"resource": "encrypted"}, "bad_field"),
        ({"create_time": "yesterday"}, "bad_field"),
        ({"create_time": "2015-05-20T13:29:35"}, "bad_field"),
        ({"create_time": "9999-12-31T23:59:59-23:59"}, "bad_field"),
        ({"event_type": None}, "missing_field"),
        ({"resource_type": "plain-resource"}, "unsupported_resource_type"),
        ({"resource": resource() | {"algorithm": "AEAD_SM4_GCM"}}, "unsupported_algorithm"),
    ],
)
def test_bad_envelope_fields_are_rejected(fields, reason):
    assert_rejected(PayloadError, reason, *signed(envelope(**fields)))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"ciphertext": "not base64!"}, "bad_base64"),
        ({"ciphertext": base64.b64encode(b"0123456789").decode()}, "truncated_ciphertext"),
        ({"nonce": "short"}, "bad_nonce"),
        ({"associated_data": "refund"}, "gcm_tag_mismatch"),
    ],
)
def test_undecryptable_resource_is_rejected(changes, reason):
    body = envelope(resource=resource() | changes)
    assert_rejected(DecryptionError, reason, *signed(body))


def test_wrong_apiv3_key_is_a_gcm_tag_mismatch():
    assert_rejected(DecryptionError, "gcm_tag_mismatch", *signed(), api_v3_key="X" * 32)


@pytest.mark.parametrize("plaintext", [b"not json", b"[1, 2]", b"\xff"])
def test_decrypted_resource_that_is_not_a_json_object_is_malformed_json(plaintext):
    body = envelope(resource=resource(plaintext))
    assert_rejected(PayloadError, "malformed_json", *signed(body))


# -- refetching verification -----------------------------------------------------------------------


async def test_verify_message_refetching_checks_api_responses_too():
    keys = pay_keys.PlatformKeys(refetch=Refetch([CERTIFICATE]))
    headers, body = signed(b"")
    message = await pay_v3.verify_message_refetching(headers, body, keys, clock=clock)
    assert message.serial == CERTIFICATE.serial_no


# -- /v3/certificates (§1.8) -----------------------------------------------------------------------


def certificates_response(
    certificates: list[Certificate],
    *,
    signer: pay_v3_platform.PlatformSigner = CERT_SIGNER,
    api_v3_key: str = API_V3_KEY,
) -> tuple[dict[str, str], bytes]:
    return signed(pay_v3_platform.build_certificates_body(certificates, api_v3_key), signer=signer)


def test_certificates_response_round_trips():
    headers, body = certificates_response([CERTIFICATE])
    entry = json.loads(body)["data"][0]
    assert entry["encrypt_certificate"]["associated_data"] == "certificate"
    assert "original_type" not in entry["encrypt_certificate"]
    assert entry["expire_time"] == "2040-01-01T08:00:00+08:00"
    certificates = pay_v3.read_certificates_response(headers, body, API_V3_KEY, clock=clock)
    assert [(cert.serial_no, cert.pem) for cert in certificates] == [
        (CERTIFICATE.serial_no, CERTIFICATE.pem)
    ]


def test_certificates_response_signed_by_a_key_it_does_not_hold_is_rejected():
    headers, body = certificates_response(
        [CERTIFICATE], signer=pay_v3_platform.PlatformSigner(CERTIFICATE.serial_no, OTHER_KEY)
    )
    with pytest.raises(SignatureError) as caught:
        pay_v3.read_certificates_response(headers, body, API_V3_KEY, clock=clock)
    assert caught.value.reason == "bad_signature"


def test_certificates_under_another_apiv3_key_are_a_gcm_tag_mismatch():
    headers, body = certificates_response([CERTIFICATE], api_v3_key="X" * 32)
    with pytest.raises(DecryptionError) as caught:
        pay_v3.read_certificates_response(headers, body, API_V3_KEY, clock=clock)
    assert caught.value.reason == "gcm_tag_mismatch"


# -- properties: no mutation of a signed notification verifies -------------------------------------


HEADERS, BODY = signed()


MUTATION_KEYS = platform_keys()


MUTATIONS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def mutated_bodies(draw: st.DrawFn) -> bytes:
    body = bytearray(BODY)
    kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "append"]))
    if kind == "flip":
        index = draw(st.integers(0, len(body) - 1))
        body[index] ^= draw(st.integers(1, 255))
    elif kind == "insert":
        body.insert(draw(st.integers(0, len(body))), draw(st.integers(0, 255)))
    elif kind == "delete":
        del body[draw(st.integers(0, len(body) - 1))]
    elif kind == "truncate":
        del body[draw(st.integers(0, len(body) - 1)) :]
    else:
        body += draw(st.binary(min_size=1, max_size=8))
    return bytes(body)


@st.composite
def mutated_headers(draw: st.DrawFn) -> dict[str, str]:
    headers = dict(HEADERS)
    name = draw(st.sampled_from(sorted(headers)))
    old = headers[name]
    kind = draw(st.sampled_from(["delete", "replace", "append", "drop", "swap"]))
    if kind == "delete":
        del headers[name]
        return headers
    if kind == "replace":
        new = draw(st.text(max_size=400))
    elif kind == "append":
        new = old + draw(st.text(min_size=1, max_size=4))
    elif kind == "drop":
        index = draw(st.integers(0, len(old) - 1))
        new = old[:index] + old[index + 1 :]
    else:
        index = draw(st.integers(0, len(old) - 1))
        new = old[:index] + draw(st.characters()) + old[index + 1 :]
    # A serial spelt differently (case, leading zeros) still names the same key: not a mutation.
    same = pay_keys.normalise_serial if name == "Wechatpay-Serial" else str
    assume(same(new) != same(old))
    headers[name] = new
    return headers


@MUTATIONS
@given(body=mutated_bodies())
def test_no_body_mutation_verifies(body):
    with pytest.raises(CallbackRejected):
        pay_v3.read_notification(HEADERS, body, MUTATION_KEYS, API_V3_KEY, clock=clock)


@MUTATIONS
@given(headers=mutated_headers())
def test_no_header_mutation_verifies(headers):
    with pytest.raises(CallbackRejected):
        pay_v3.read_notification(headers, BODY, MUTATION_KEYS, API_V3_KEY, clock=clock)


def test_the_unmutated_notification_verifies():
    assert pay_v3.read_notification(HEADERS, BODY, MUTATION_KEYS, API_V3_KEY, clock=clock)


# -- nonces ----------------------------------------------------------------------------------------


def test_generate_nonce_gives_32_uppercase_letters_or_digits_by_default():
    nonce = pay_v3.generate_nonce()
    assert len(nonce) == 32
    assert nonce.isalnum()
    assert nonce.isascii()
    assert nonce == nonce.upper()
    assert nonce != pay_v3.generate_nonce()
