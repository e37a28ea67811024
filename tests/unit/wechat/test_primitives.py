"""The crypto primitives: round trips, independent implementations, and typed failures."""

import base64
import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from Crypto.Cipher import AES
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from hub.errors import DecryptionError, InvalidValueError, PayloadError, SignatureError
from hub.wechat import primitives
from tests.unit.wechat.samples import certificate_pem, private_pem, public_pem

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
AES_KEY = b"0123456789abcdefghijklmnopqrstuv"
NONCE = b"abcdefghijkl"


# -- RSA ---------------------------------------------------------------------------------------


def test_rsa_signature_verifies_with_cryptography_directly():
    signature = primitives.rsa_sign(KEY, b"message\n")
    KEY.public_key().verify(
        base64.b64decode(signature), b"message\n", padding.PKCS1v15(), hashes.SHA256()
    )


def test_rsa_verify_accepts_a_signature_made_by_cryptography_directly():
    raw = KEY.sign(b"message\n", padding.PKCS1v15(), hashes.SHA256())
    primitives.rsa_verify(KEY.public_key(), b"message\n", base64.b64encode(raw).decode())


@pytest.mark.parametrize(
    ("message", "key"),
    [(b"message?", KEY), (b"message\n", OTHER_KEY)],
    ids=["changed_message", "other_key"],
)
def test_rsa_verify_rejects_a_mismatch_as_bad_signature(message, key):
    signature = primitives.rsa_sign(KEY, b"message\n")
    with pytest.raises(SignatureError) as caught:
        primitives.rsa_verify(key.public_key(), message, signature)
    assert caught.value.reason == "bad_signature"


@pytest.mark.parametrize("signature", ["", "not base64!", "QQ", "QQ==QQ==", "ÄQ==", "\ud800"])
def test_rsa_verify_rejects_non_base64_as_bad_signature(signature):
    with pytest.raises(SignatureError) as caught:
        primitives.rsa_verify(KEY.public_key(), b"message\n", signature)
    assert caught.value.reason == "bad_signature"


def test_rsa_verify_rejects_non_canonical_base64_of_a_valid_signature():
    signature = primitives.rsa_sign(KEY, b"message\n")
    # 256 bytes end in one byte + "==": the second-to-last character carries 4 spare bits.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    spare = alphabet[alphabet.index(signature[-3]) | 1]
    altered = signature[:-3] + spare + "=="
    assert altered != signature
    assert base64.b64decode(altered) == base64.b64decode(signature)
    with pytest.raises(SignatureError) as caught:
        primitives.rsa_verify(KEY.public_key(), b"message\n", altered)
    assert caught.value.reason == "bad_signature"


# -- AES-256-GCM --------------------------------------------------------------------------------


def test_gcm_round_trip_with_associated_data():
    sealed = primitives.aes_gcm_encrypt(AES_KEY, NONCE, b"plain", b"transaction")
    assert len(sealed) == len(b"plain") + primitives.GCM_TAG_BYTES
    assert primitives.aes_gcm_decrypt(AES_KEY, NONCE, sealed, b"transaction") == b"plain"


def test_gcm_decrypts_what_pycryptodome_encrypts():
    cipher = AES.new(AES_KEY, AES.MODE_GCM, nonce=NONCE)
    cipher.update(b"certificate")
    ciphertext, tag = cipher.encrypt_and_digest(b"-----BEGIN CERTIFICATE-----")
    plaintext = primitives.aes_gcm_decrypt(AES_KEY, NONCE, ciphertext + tag, b"certificate")
    assert plaintext == b"-----BEGIN CERTIFICATE-----"


@pytest.mark.parametrize(
    ("key", "associated_data", "flip"),
    [
        (b"X" * 32, b"transaction", None),
        (AES_KEY, b"refund", None),
        (AES_KEY, b"transaction", 0),
        (AES_KEY, b"transaction", -1),
    ],
    ids=["wrong_key", "wrong_associated_data", "tampered_ciphertext", "tampered_tag"],
)
def test_gcm_rejects_a_mismatch_as_tag_mismatch(key, associated_data, flip):
    sealed = bytearray(primitives.aes_gcm_encrypt(AES_KEY, NONCE, b"plain", b"transaction"))
    if flip is not None:
        sealed[flip] ^= 1
    with pytest.raises(DecryptionError) as caught:
        primitives.aes_gcm_decrypt(key, NONCE, bytes(sealed), associated_data)
    assert caught.value.reason == "gcm_tag_mismatch"


@pytest.mark.parametrize(
    ("key", "nonce", "data", "reason"),
    [
        (AES_KEY, NONCE, b"short", "truncated_ciphertext"),
        (AES_KEY, b"short", b"x" * 32, "bad_nonce"),
        (b"short", NONCE, b"x" * 32, "bad_key_length"),
    ],
)
def test_gcm_rejects_bad_parameters_with_their_reason(key, nonce, data, reason):
    with pytest.raises(DecryptionError) as caught:
        primitives.aes_gcm_decrypt(key, nonce, data, b"")
    assert caught.value.reason == reason


@pytest.mark.parametrize("text", ["not base64!", "QQ", "QQ==QQ==", "ÄQ==", "QUJD=QUJD", "密文"])
def test_b64decode_rejects_non_base64(text):
    with pytest.raises(DecryptionError) as caught:
        primitives.b64decode(text)
    assert caught.value.reason == "bad_base64"


@pytest.mark.parametrize("data", [b"", b"a", b"ab", b"abc", bytes(range(256))])
def test_b64encode_round_trips_with_the_standard_alphabet(data):
    text = primitives.b64encode(data)
    assert text == base64.b64encode(data).decode()
    assert primitives.b64decode(text) == data


# -- AES-256-ECB (v2 refunds) -------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 795])
def test_ecb_round_trip_pads_to_16_byte_blocks(size):
    plaintext = bytes(index % 256 for index in range(size))
    sealed = primitives.aes_ecb_encrypt(AES_KEY, plaintext)
    assert len(sealed) % 16 == 0
    assert len(sealed) - len(plaintext) in range(1, 17)
    assert primitives.aes_ecb_decrypt(AES_KEY, sealed) == plaintext


def test_ecb_accepts_pkcs7_padding_to_32_byte_blocks_as_wechatpy_writes():
    padded = b"x" * 5 + bytes([27]) * 27
    cipher = AES.new(AES_KEY, AES.MODE_ECB)
    assert primitives.aes_ecb_decrypt(AES_KEY, cipher.encrypt(padded)) == b"x" * 5


@pytest.mark.parametrize(
    "padded",
    [b"x" * 15 + b"\x00", b"x" * 15 + b"\x21", b"x" * 14 + b"\x01\x02", b"x" * 32 + b"\x30" * 16],
    ids=["zero", "over_32", "inconsistent", "over_block"],
)
def test_ecb_rejects_bad_padding(padded):
    cipher = AES.new(AES_KEY, AES.MODE_ECB)
    with pytest.raises(DecryptionError) as caught:
        primitives.aes_ecb_decrypt(AES_KEY, cipher.encrypt(padded))
    assert caught.value.reason == "bad_padding"


@pytest.mark.parametrize("data", [b"", b"x" * 15, b"x" * 33])
def test_ecb_rejects_partial_blocks_as_truncated(data):
    with pytest.raises(DecryptionError) as caught:
        primitives.aes_ecb_decrypt(AES_KEY, data)
    assert caught.value.reason == "truncated_ciphertext"


# -- AES-256-CBC (message push) ---------------------------------------------------------------


@pytest.mark.parametrize("size", [16, 32, 1088])
def test_cbc_agrees_with_pycryptodome_both_ways(size):
    iv = AES_KEY[:16]
    cipher = primitives.AesCbc(AES_KEY, iv)
    plaintext = bytes(index % 256 for index in range(size))
    sealed = cipher.encrypt(plaintext)
    assert sealed == AES.new(AES_KEY, AES.MODE_CBC, iv).encrypt(plaintext)
    assert cipher.decrypt(sealed) == plaintext
    assert cipher.decrypt(AES.new(AES_KEY, AES.MODE_CBC, iv).encrypt(plaintext)) == plaintext


def test_cbc_leaves_padding_to_the_caller():
    cipher = primitives.AesCbc(AES_KEY, NONCE + b"mnop")
    padded = primitives.pkcs7_pad(b"x" * 5, 32)
    assert cipher.decrypt(cipher.encrypt(padded)) == padded


@pytest.mark.parametrize("data", [b"x" * 15, b"x" * 33])
def test_cbc_rejects_partial_blocks_as_truncated(data):
    with pytest.raises(DecryptionError) as caught:
        primitives.AesCbc(AES_KEY, AES_KEY[:16]).decrypt(data)
    assert caught.value.reason == "truncated_ciphertext"


def test_cbc_rejects_a_key_that_is_not_aes_256():
    with pytest.raises(DecryptionError) as caught:
        primitives.AesCbc(b"short", AES_KEY[:16])
    assert caught.value.reason == "bad_key_length"


# -- PKCS#7 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("block", [16, 32])
@pytest.mark.parametrize("size", [0, 1, 15, 16, 31, 32, 33])
def test_pkcs7_pads_to_whole_blocks_and_strips_again(block, size):
    data = b"x" * size
    padded = primitives.pkcs7_pad(data, block)
    assert len(padded) % block == 0
    assert len(padded) - size in range(1, block + 1)
    assert primitives.pkcs7_unpad(padded, block) == data


@pytest.mark.parametrize(
    ("padded", "block"),
    [
        (b"x" * 15 + b"\x00", 32),
        (b"x" * 15 + b"\x21", 32),
        (b"x" * 15 + b"\x11", 16),
        (b"x" * 14 + b"\x01\x02", 32),
        (b"\x20" * 16, 32),
        (b"", 32),
    ],
    ids=["zero", "over_32", "over_16", "inconsistent", "longer_than_data", "empty"],
)
def test_pkcs7_unpad_rejects_bad_padding(padded, block):
    with pytest.raises(DecryptionError) as caught:
        primitives.pkcs7_unpad(padded, block)
    assert caught.value.reason == "bad_padding"


# -- digests ------------------------------------------------------------------------------------


def test_md5_hex_is_lowercase_hex():
    assert primitives.md5_hex(b"") == "d41d8cd98f00b204e9800998ecf8427e"


def test_sha1_hex_matches_fips_180_abc():
    assert primitives.sha1_hex(b"abc") == "a9993e364706816aba3e25717850c26c9cd0d89d"


def test_hmac_sha256_hex_matches_rfc_4231_case_2():
    digest = primitives.hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?")
    assert digest == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert digest == hmac.new(b"Jefe", b"what do ya want for nothing?", hashlib.sha256).hexdigest()


# -- PEM ----------------------------------------------------------------------------------------


def test_keys_load_from_pem():
    assert primitives.load_private_key(private_pem(KEY)).private_numbers() == KEY.private_numbers()
    loaded = primitives.load_public_key(public_pem(KEY.public_key()))
    assert loaded.public_numbers() == KEY.public_key().public_numbers()


@pytest.mark.parametrize("loader", [primitives.load_private_key, primitives.load_public_key])
@pytest.mark.parametrize(
    "pem", ["garbage", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"]
)
def test_key_loaders_reject_garbage_as_invalid_value(loader, pem):
    with pytest.raises(InvalidValueError):
        loader(pem)


def test_key_loaders_reject_non_rsa_keys():
    ec_key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(InvalidValueError):
        primitives.load_private_key(private_pem(ec_key))
    with pytest.raises(InvalidValueError):
        primitives.load_public_key(public_pem(ec_key.public_key()))


def test_certificate_loads_serial_as_uppercase_hex_and_validity():
    pem = certificate_pem(KEY, 0x5157F09EFDC096DE15EBE81A47057A7232F1B8E1)
    certificate = primitives.load_certificate(pem)
    assert certificate.serial_no == "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
    assert certificate.not_valid_before == datetime(2020, 1, 1, tzinfo=UTC)
    assert certificate.not_valid_after == datetime(2040, 1, 1, tzinfo=UTC)
    assert certificate.public_key.public_numbers() == KEY.public_key().public_numbers()
    assert certificate.pem == pem


def test_certificate_serial_drops_leading_zeros_like_wechat_sdks():
    certificate = primitives.load_certificate(certificate_pem(KEY, 0x0ABC))
    assert certificate.serial_no == "ABC"


@pytest.mark.parametrize(
    "pem", ["garbage", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"]
)
def test_certificate_loader_rejects_garbage_as_bad_certificate(pem):
    with pytest.raises(PayloadError) as caught:
        primitives.load_certificate(pem)
    assert caught.value.reason == "bad_certificate"


def test_certificate_loader_rejects_a_non_rsa_certificate():
    with pytest.raises(PayloadError) as caught:
        primitives.load_certificate(certificate_pem(ec.generate_private_key(ec.SECP256R1()), 7))
    assert caught.value.reason == "bad_certificate"
