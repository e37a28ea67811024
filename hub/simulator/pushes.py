"""Outbound message pushes (§3, §4.1, §5.1): envelopes, crypto, copies and their submission.

Crypto is hub.wechat.message_crypto's PushCrypto; this module decides what goes where: the
query parameters, plain/compatible/secure bodies in XML or JSON, and the push faults that
bend them (wrong msg_signature, another receive id, a stale timestamp, a tampered body).
"""

import asyncio
import dataclasses
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from hub.simulator.context import Simulator
from hub.simulator.delivery import AcceptRule, Delivery, PreparedRequest, accept_http_200
from hub.simulator.faults import PushFault
from hub.simulator.replies import ControlError
from hub.simulator.state import Source
from hub.simulator.world import PushFormat, PushMode
from hub.wechat.message_crypto import PushCrypto, compute_signature

# A stale timestamp is 10 minutes old: beyond any sensible replay window (§1.3 uses 5 minutes).
STALE_BY_S = 600
# The receive id a wrong_receive_id fault puts in the ciphertext: nobody's appid.
FOREIGN_RECEIVE_ID = "wx0000000000000000"
_NONCE_DIGITS = 10


@dataclass(frozen=True)
class PushTarget:
    """Where a push goes and how it is wrapped: one account's push configuration."""

    url: str
    token: str
    # None: plain mode (mini-programs only).
    aes_key: str | None
    receive_id: str
    to_user: str
    mode: PushMode
    format: PushFormat
    # WeCom (§4.1): AgentID in the envelope; the query has msg_signature only, no `signature`.
    agent_id: int | None = None
    wecom: bool = False


def render_message_xml(fields: Mapping[str, Any], root: str = "xml") -> str:
    """An XML message as WeChat writes it: CDATA strings, bare numbers, nested objects.

    Lists become repeated elements (`<List>…</List><List>…</List>`, §3.8).
    """
    return f"<{root}>{_xml_children(fields)}</{root}>"


def _xml_children(fields: Mapping[str, Any]) -> str:
    return "".join(
        f"<{name}>{_xml_value(item)}</{name}>"
        for name, value in fields.items()
        for item in (value if isinstance(value, list) else [value])
    )


def _xml_value(value: object) -> str:
    if isinstance(value, Mapping):
        return _xml_children(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    text = str(value).replace("]]>", "]]]]><![CDATA[>")
    return f"<![CDATA[{text}]]>"


def _render(fields: Mapping[str, Any], fmt: PushFormat) -> str:
    if fmt is PushFormat.XML:
        return render_message_xml(fields)
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


def tamper(body: bytes) -> bytes:
    """`body` with one letter or digit past its middle changed (still well-formed, mostly)."""
    for index in range(len(body) // 2, len(body)):
        char = body[index : index + 1]
        if char.isalpha():
            return body[:index] + char.swapcase() + body[index + 1 :]
        if char.isdigit():
            return body[:index] + str((int(char) + 1) % 10).encode() + body[index + 1 :]
    return body + b" "


def with_query(url: str, query: Mapping[str, str]) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(query)


def build_message_push(
    target: PushTarget,
    fields: Mapping[str, Any],
    fault: PushFault,
    now: float,
    extra_query: Mapping[str, str] | None = None,
) -> PreparedRequest:
    """The POST carrying `fields` to `target` in its mode and format, bent by `fault`."""
    timestamp = str(int(now) - (STALE_BY_S if fault.stale_timestamp else 0))
    nonce = str(secrets.randbelow(10**_NONCE_DIGITS))
    message = _render(fields, target.format)
    query = {} if target.wecom else {"signature": compute_signature(target.token, timestamp, nonce)}
    query |= {"timestamp": timestamp, "nonce": nonce, **(extra_query or {})}
    if target.mode is PushMode.PLAIN or target.aes_key is None:
        body = message.encode()
    else:
        receive_id = FOREIGN_RECEIVE_ID if fault.wrong_receive_id else target.receive_id
        crypto = PushCrypto(target.token, target.aes_key, receive_id)
        encrypted = crypto.encrypt(message, timestamp=timestamp, nonce=nonce)
        envelope: dict[str, Any] = {"ToUserName": target.to_user}
        if target.agent_id is not None:
            envelope["AgentID"] = target.agent_id
        if target.mode is PushMode.COMPATIBLE:
            # Compatible mode: the plaintext fields beside Encrypt (§3.3).
            envelope |= dict(fields)
        envelope["Encrypt"] = encrypted.encrypt
        body = _render(envelope, target.format).encode()
        signature = encrypted.msg_signature
        if fault.wrong_msg_signature:
            signature = compute_signature(target.token, timestamp, nonce, "not-this-message")
        query |= (
            {"msg_signature": signature}
            if target.wecom
            else {
                "encrypt_type": "aes",
                "msg_signature": signature,
            }
        )
    if fault.tamper_body:
        body = tamper(body)
    content_type = "text/xml" if target.format is PushFormat.XML else "application/json"
    return PreparedRequest(
        "POST", with_query(target.url, query), {"Content-Type": content_type}, body
    )


@dataclass(frozen=True)
class PushSpec:
    """What a push is, for the delivery log, and how to make and judge each attempt."""

    source: Source
    account: str
    event: str
    key: str
    schedule_s: tuple[float, ...]
    prepare: Callable[[], PreparedRequest]
    accepts: AcceptRule = accept_http_200
    plaintext: Any = None


def require_url(sim: Simulator, source: Source, account: str, override: str | None) -> str:
    """The URL a push goes to: the action's own, else the registered one.

    Raises:
        ControlError: 409 when no URL is known for the account.
    """
    url = override or sim.callback_url(source, account)
    if url is None:
        raise ControlError(
            409, f"no callback URL for {source} {account}: register one (PUT /_sim/callbacks)"
        )
    return url


def submit_push(sim: Simulator, spec: PushSpec, fault: PushFault) -> list[Delivery]:
    """Start a push, plus the concurrent and later copies its fault asks for."""
    notes = sorted(fault.model_dump(exclude_defaults=True, exclude={"source", "event"}))
    first = Delivery(
        id=sim.state.next_id(),
        source=spec.source,
        account=spec.account,
        event=spec.event,
        key=spec.key,
        schedule_s=spec.schedule_s if fault.retry_schedule_s is None else fault.retry_schedule_s,
        prepare=spec.prepare,
        accepts=spec.accepts,
        created_at=sim.clock(),
        plaintext=spec.plaintext,
        first_delay_s=fault.delay_s,
        notes=notes,
    )
    deliveries = [sim.deliveries.submit(first)]
    deliveries += [sim.deliveries.submit(_copy(sim, first)) for _ in range(fault.concurrent)]
    previous = first
    for _ in range(fault.duplicates):
        copy = _copy(sim, first)
        deliveries.append(sim.deliveries.submit(copy, after=previous))
        previous = copy
    return deliveries


def _copy(sim: Simulator, original: Delivery) -> Delivery:
    return dataclasses.replace(
        original,
        id=sim.state.next_id(),
        copy_of=original.id,
        attempts=[],
        notes=list(original.notes),
        done=asyncio.Event(),
        wake=asyncio.Event(),
    )
