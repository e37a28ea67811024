"""How much our WeCom verify+decrypt costs beside the bare AES-256-CBC and sha1 it wraps.

Run with `python -m bench.wecom_crypto [--iterations N] [--repeats R]`; prints µs per operation.
"""

import argparse
import base64
import hashlib
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from hub.wechat.message_crypto import PushCrypto, PushQuery
from hub.wechat.wire import render_xml

# The official WeCom sample account (protocols §4.1).
TOKEN = "QDG6eK"  # noqa: S105 - the published sample, not a secret
ENCODING_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
CORPID = "wx5823bf96d3bd56c7"
SIZES = (300, 1024)


def text_message(size: int) -> str:
    """A WeCom text message whose XML is exactly `size` bytes."""
    fields: dict[str, str | int] = {
        "ToUserName": CORPID,
        "FromUserName": "mycreate",
        "CreateTime": 1409659813,
        "MsgType": "text",
        "Content": "",
        "MsgId": 4561255354251345929,
        "AgentID": 218,
    }
    filler = size - len(render_xml(fields).encode())
    return render_xml(fields | {"Content": "x" * filler})


def best_us(operation: Callable[[], object], iterations: int, repeats: int) -> float:
    """The fastest of `repeats` runs, in µs per call."""
    best = None
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for _ in range(iterations):
            operation()
        elapsed = time.perf_counter_ns() - start
        best = elapsed if best is None else min(best, elapsed)
    assert best is not None
    return best / iterations / 1000


def measure(size: int, iterations: int, repeats: int) -> dict[str, float]:
    crypto = PushCrypto.for_wecom(TOKEN, ENCODING_AES_KEY, CORPID)
    message = text_message(size)
    sealed = crypto.encrypt(message)
    query = PushQuery(
        msg_signature=sealed.msg_signature, timestamp=sealed.timestamp, nonce=sealed.nonce
    )
    body = render_xml({"ToUserName": CORPID, "Encrypt": sealed.encrypt, "AgentID": 218}).encode()
    raw = base64.b64decode(sealed.encrypt)
    key = base64.b64decode(ENCODING_AES_KEY + "=")
    cipher = Cipher(algorithms.AES(key), modes.CBC(key[:16]))
    parts = (TOKEN, sealed.timestamp, sealed.nonce, sealed.encrypt)

    def ours() -> str:
        return crypto.decrypt(
            sealed.msg_signature, sealed.timestamp, sealed.nonce, sealed.encrypt
        ).message

    def whole_push() -> object:
        return crypto.open_push(body, query, max_bytes=64 * 1024)

    def bare_aes() -> bytes:
        decryptor = cipher.decryptor()
        return decryptor.update(raw) + decryptor.finalize()

    def bare_sha1() -> str:
        return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324

    assert ours() == message
    assert bare_sha1() == sealed.msg_signature
    return {
        "ciphertext": len(raw),
        "ours": best_us(ours, iterations, repeats),
        "push": best_us(whole_push, iterations, repeats),
        "aes": best_us(bare_aes, iterations, repeats),
        "sha1": best_us(bare_sha1, iterations, repeats),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"WeCom message push, µs per operation (best of {args.repeats} x {args.iterations})")
    header = (
        f"{'plaintext':>9} {'cipher':>6} {'verify+decrypt':>14} {'bare AES':>9} {'bare sha1':>9} "
        f"{'ratio':>6} {'open_push':>9}"
    )
    print(header)
    print("-" * len(header))
    for size in SIZES:
        row = measure(size, args.iterations, args.repeats)
        ratio = row["ours"] / (row["aes"] + row["sha1"])
        print(
            f"{size:>7} B {row['ciphertext']:>4} B {row['ours']:>14.2f} {row['aes']:>9.2f} "
            f"{row['sha1']:>9.2f} {ratio:>5.2f}x {row['push']:>9.2f}"
        )
    print(
        "ratio = verify+decrypt / (bare AES + bare sha1); open_push adds XML parsing of both layers"
    )


if __name__ == "__main__":
    main()
