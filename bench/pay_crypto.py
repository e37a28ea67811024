"""Pay v3 notification cost: our full path beside the bare primitives, and the two libraries.

Run: python -m bench.pay_crypto
"""

import json
import os
import timeit
from collections.abc import Callable
from datetime import UTC, datetime

import pydantic_core
from Crypto.Cipher import AES
from Crypto.Hash import SHA256
from Crypto.PublicKey import RSA
from Crypto.Signature import pkcs1_15
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hub.wechat import pay_keys, pay_v3, pay_v3_platform
from hub.wechat.primitives import b64decode

API_V3_KEY = "0123456789abcdefghijklmnopqrstuv"
PUBLIC_KEY_ID = "PUB_KEY_ID_0112860886012025062700111588000000"
TIMESTAMP = 1_717_834_061
NONCE = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
# The target of the task: the full path within 1.5x of the sum of its two primitives.
TARGET_RATIO = 1.5

TRANSACTION = {
    "mchid": "1230000109",
    "appid": "wxd678efh567hg6787",
    "out_trade_no": "1217752501201407033233368018",
    "transaction_id": "4200000000000000000000000000",
    "trade_type": "JSAPI",
    "trade_state": "SUCCESS",
    "trade_state_desc": "支付成功",
    "bank_type": "CMC",
    "attach": "store=S001&guide=G042",
    "success_time": "2018-06-08T10:34:56+08:00",
    "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
    "amount": {"total": 100, "payer_total": 100, "currency": "CNY", "payer_currency": "CNY"},
}


def per_op_us(*functions: Callable[[], object], number: int = 1000, rounds: int = 9) -> list[float]:
    """Best run of each function, in microseconds per call.

    Rounds interleave the functions so that a noisy neighbour slows all of them alike.
    """
    best = [float("inf")] * len(functions)
    for _ in range(rounds):
        for index, function in enumerate(functions):
            seconds = timeit.timeit(function, number=number)
            best[index] = min(best[index], seconds / number * 1e6)
    return best


def signed_notification() -> tuple[dict[str, str], bytes, dict[str, str], rsa.RSAPublicKey]:
    """A realistic signed payment notification: headers, body, resource and the platform key."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    resource = pay_v3_platform.encrypt_resource(
        API_V3_KEY,
        json.dumps(TRANSACTION, ensure_ascii=False).encode(),
        associated_data="transaction",
        original_type="transaction",
    )
    body = pay_v3_platform.build_notification(
        "EV-2018022511223320873", datetime.now(UTC), "TRANSACTION.SUCCESS", "支付成功", resource
    )
    signer = pay_v3_platform.PlatformSigner(PUBLIC_KEY_ID, private_key)
    headers = pay_v3_platform.sign_message(signer, body, timestamp=TIMESTAMP, nonce=NONCE)
    return headers, body, resource, private_key.public_key()


def measure_notification() -> None:
    headers, body, resource, public_key = signed_notification()
    keys = pay_keys.PlatformKeys(public_keys={PUBLIC_KEY_ID: public_key})
    message = f"{TIMESTAMP}\n{NONCE}\n".encode() + body + b"\n"
    signature = b64decode(headers[pay_v3.HEADER_SIGNATURE])
    nonce, ciphertext = resource["nonce"].encode(), b64decode(resource["ciphertext"])

    def full() -> None:
        pay_v3.read_notification(headers, body, keys, API_V3_KEY, clock=lambda: TIMESTAMP)

    def bare_verify() -> None:
        public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())

    def bare_decrypt() -> bytes:
        return AESGCM(API_V3_KEY.encode()).decrypt(nonce, ciphertext, b"transaction")

    def floor() -> None:
        # The unavoidable work in order: code running right after an RSA operation runs on
        # cold CPU caches, which the two isolated primitives never show.
        bare_verify()
        pydantic_core.from_json(body)
        pydantic_core.from_json(bare_decrypt())

    full_us, verify_us, decrypt_us, floor_us = per_op_us(full, bare_verify, bare_decrypt, floor)
    ratio = full_us / (verify_us + decrypt_us)
    verdict = "within" if ratio <= TARGET_RATIO else "over"
    print(f"Pay v3 payment notification ({len(body)} B body, {len(ciphertext)} B ciphertext)")
    print(f"  full read_notification (verify, parse, decrypt)   {full_us:8.1f} µs/op")
    print(f"  bare RSA-2048 verify (cryptography)               {verify_us:8.1f} µs/op")
    print(f"  bare AES-256-GCM decrypt (cryptography)           {decrypt_us:8.1f} µs/op")
    print(f"  bare verify, 2 JSON parses, decrypt in sequence   {floor_us:8.1f} µs/op")
    print(f"  ratio full / (verify + decrypt)                   {ratio:8.2f}x ({verdict} 1.5x)")
    print(f"  ratio full / in-sequence floor                    {full_us / floor_us:8.2f}x")


def measure_libraries() -> None:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_key = private_key.public_key()
    message = os.urandom(1200)
    signature = private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    pem = public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    dome_key = RSA.import_key(pem)
    key, nonce, plaintext = os.urandom(32), os.urandom(12), os.urandom(1024)
    sealed = AESGCM(key).encrypt(nonce, plaintext, b"transaction")

    def dome_decrypt() -> None:
        cipher = AES.new(key, AES.MODE_GCM, nonce=nonce)
        cipher.update(b"transaction")
        cipher.decrypt_and_verify(sealed[:-16], sealed[-16:])

    rows = [
        (
            "RSA-2048 PKCS#1 v1.5 SHA-256 verify",
            lambda: public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256()),
            lambda: pkcs1_15.new(dome_key).verify(SHA256.new(message), signature),
        ),
        (
            "AES-256-GCM decrypt, 1 KB",
            lambda: AESGCM(key).decrypt(nonce, sealed, b"transaction"),
            dome_decrypt,
        ),
    ]
    print("Library comparison (µs/op)                 cryptography  pycryptodome")
    for name, ours, theirs in rows:
        ours_us, theirs_us = per_op_us(ours, theirs)
        print(f"  {name:40} {ours_us:12.1f}  {theirs_us:12.1f}")


if __name__ == "__main__":
    measure_notification()
    measure_libraries()
