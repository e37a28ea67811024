"""Pay v3 keys: selection by serial, refetch on a miss, decrypting /v3/certificates."""

import asyncio
import json
from collections.abc import Mapping
from datetime import UTC, datetime

import pytest

from hub.errors import PayloadError, SignatureError
from hub.wechat import pay_keys, pay_v3, pay_v3_platform
from tests.unit.wechat.samples import (
    API_V3_KEY,
    CERT_SIGNER,
    CERTIFICATE,
    NOW,
    OTHER_KEY,
    PLATFORM_KEY,
    PUBLIC_KEY_ID,
    PUBLIC_KEY_SIGNER,
    TRANSACTION,
    Refetch,
    assert_rejected,
    read,
    self_signed,
    signed,
)

# -- key selection by Wechatpay-Serial (§1.1) ------------------------------------------------------


@pytest.mark.parametrize("signer", [CERT_SIGNER, PUBLIC_KEY_SIGNER], ids=["certificate", "pubkey"])
def test_both_key_modes_verify_at_once_during_a_migration(signer):
    headers, body = signed(signer=signer)
    assert read(headers, body).signed_by == signer.key_id


def test_serial_lookup_ignores_case_and_leading_zeros():
    headers, body = signed()
    headers["Wechatpay-Serial"] = "00" + CERTIFICATE.serial_no.lower()
    assert read(headers, body).resource == TRANSACTION


@pytest.mark.parametrize("serial", ["ABCDEF0123", "PUB_KEY_ID_0000000000000000", "not hex"])
def test_unknown_serial_is_rejected(serial):
    headers, body = signed(signer=pay_v3_platform.PlatformSigner(serial, PLATFORM_KEY))
    assert_rejected(SignatureError, "unknown_serial", headers, body)


def test_expired_certificate_is_rejected():
    expired = self_signed(PLATFORM_KEY, not_after=datetime(2021, 1, 1, tzinfo=UTC))
    headers, body = signed(signer=pay_v3_platform.PlatformSigner(expired.serial_no, PLATFORM_KEY))
    keys = pay_keys.PlatformKeys(certificates=[expired])
    assert_rejected(SignatureError, "expired_certificate", headers, body, keys=keys)


@pytest.mark.parametrize(
    ("serial", "expected"),
    [("00abc", "ABC"), ("ABC", "ABC"), (PUBLIC_KEY_ID, PUBLIC_KEY_ID), ("xyz", "xyz")],
)
def test_normalise_serial(serial, expected):
    assert pay_keys.normalise_serial(serial) == expected


# -- certificate refetch on a serial miss ----------------------------------------------------------


async def read_refetching(
    headers: Mapping[str, str], body: bytes, keys: pay_keys.PlatformKeys, now: int = NOW
) -> pay_v3.Notification:
    return await pay_v3.read_notification_refetching(
        headers, body, keys, API_V3_KEY, clock=lambda: now
    )


async def test_unknown_serial_refetches_certificates_once_and_then_verifies():
    refetch = Refetch([CERTIFICATE])
    keys = pay_keys.PlatformKeys(refetch=refetch)
    assert (await read_refetching(*signed(), keys)).resource == TRANSACTION
    assert (await read_refetching(*signed(), keys)).resource == TRANSACTION
    assert refetch.calls == 1
    assert keys.certificates == (CERTIFICATE,)


async def test_refetch_runs_at_most_once_per_interval():
    refetch = Refetch([])
    keys = pay_keys.PlatformKeys(refetch=refetch)
    later = NOW + pay_keys.REFETCH_INTERVAL_S
    for now in (NOW, NOW + 1, later):
        with pytest.raises(SignatureError) as caught:
            await read_refetching(*signed(timestamp=now), keys, now=now)
        assert caught.value.reason == "unknown_serial"
    assert refetch.calls == 2


async def test_concurrent_misses_share_one_refetch():
    refetch = Refetch([CERTIFICATE])
    keys = pay_keys.PlatformKeys(refetch=refetch)
    results = await asyncio.gather(*(read_refetching(*signed(), keys) for _ in range(5)))
    assert [result.resource for result in results] == [TRANSACTION] * 5
    assert refetch.calls == 1


async def test_public_key_id_miss_does_not_refetch():
    refetch = Refetch([CERTIFICATE])
    keys = pay_keys.PlatformKeys(refetch=refetch)
    with pytest.raises(SignatureError) as caught:
        await read_refetching(*signed(signer=PUBLIC_KEY_SIGNER), keys)
    assert caught.value.reason == "unknown_serial"
    assert refetch.calls == 0


async def test_bad_signature_under_a_known_serial_does_not_refetch():
    refetch = Refetch([CERTIFICATE])
    keys = pay_keys.PlatformKeys(certificates=[CERTIFICATE], refetch=refetch)
    headers, body = signed(signer=pay_v3_platform.PlatformSigner(CERTIFICATE.serial_no, OTHER_KEY))
    with pytest.raises(SignatureError) as caught:
        await read_refetching(headers, body, keys)
    assert caught.value.reason == "bad_signature"
    assert refetch.calls == 0


# -- decrypting /v3/certificates (§1.8) ------------------------------------------------------------


def test_certificate_entry_whose_serial_differs_from_its_certificate_is_rejected():
    data = json.loads(pay_v3_platform.build_certificates_body([CERTIFICATE], API_V3_KEY))
    data["data"][0]["serial_no"] = "ABCDEF"
    with pytest.raises(PayloadError) as caught:
        pay_keys.decrypt_certificates(json.dumps(data).encode(), API_V3_KEY)
    assert caught.value.reason == "serial_mismatch"


@pytest.mark.parametrize(
    ("body", "reason"),
    [(b"{}", "missing_field"), (b'{"data": [1]}', "bad_field"), (b"[", "malformed_json")],
)
def test_malformed_certificates_body_is_rejected(body, reason):
    with pytest.raises(PayloadError) as caught:
        pay_keys.decrypt_certificates(body, API_V3_KEY)
    assert caught.value.reason == reason


def test_certificates_entry_that_is_not_a_certificate_is_rejected():
    entry = {
        "serial_no": "ABC",
        "encrypt_certificate": pay_v3_platform.encrypt_resource(
            API_V3_KEY, b"not a certificate", associated_data="certificate"
        ),
    }
    with pytest.raises(PayloadError) as caught:
        pay_keys.decrypt_certificates(json.dumps({"data": [entry]}).encode(), API_V3_KEY)
    assert caught.value.reason == "bad_certificate"
