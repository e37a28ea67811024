"""The inbox: every verified callback is stored (sealed) before WeChat gets an answer.

Uniqueness on (source, account, event key) is what turns WeChat's at-least-once delivery into
exactly-once processing: a second copy of an event fails to insert and is answered as a
duplicate, even when the copies arrive at the same moment at different processes.
"""

import json
import re
from dataclasses import dataclass
from typing import Any

from tortoise.exceptions import IntegrityError

from hub.callbacks.envelope import Envelope
from hub.logs import redact
from hub.models.inbox import CallbackSource, InboxCallback, RejectedCallback
from hub.vault import Vault

PAYLOAD_COLUMN = "inbox_callback.payload"
# Enough of a refused body to see what it was, little enough to keep the table small.
_EXCERPT_BYTES = 512
# Plain-text bodies (Pay v2 XML, plain-mode pushes) carry openids and perhaps phone numbers:
# tokens shaped like them are masked in what is kept.
_PERSONAL = re.compile(r"o[0-9A-Za-z_-]{20,}|[0-9]{11,}")


@dataclass(frozen=True)
class Recorded:
    inbox_id: int
    duplicate: bool


async def record(envelope: Envelope, vault: Vault) -> Recorded:
    """Store the callback (committed on return), or find the copy stored before.

    Raises:
        Exception: whatever the database raises when it cannot store: answer failure then.
    """
    sealed = vault.seal(json.dumps(envelope.payload, ensure_ascii=False), column=PAYLOAD_COLUMN)
    try:
        row = await InboxCallback.create(
            source=envelope.source,
            account=envelope.account,
            brand_id=envelope.brand_id,
            event_type=envelope.event_type,
            event_key=envelope.event_key,
            occurred_at=envelope.occurred_at,
            payload_sealed=sealed,
        )
    except IntegrityError:
        existing = await InboxCallback.get(
            source=envelope.source, account=envelope.account, event_key=envelope.event_key
        )
        return Recorded(existing.id, duplicate=True)
    return Recorded(row.id, duplicate=False)


def envelope_of(row: InboxCallback, vault: Vault) -> Envelope:
    """The envelope stored in an inbox row (its payload opened)."""
    payload: dict[str, Any] = json.loads(
        vault.open(bytes(row.payload_sealed), column=PAYLOAD_COLUMN)
    )
    return Envelope(
        source=row.source,
        account=row.account,
        brand_id=row.brand_id,
        event_type=row.event_type,
        event_key=row.event_key,
        occurred_at=row.occurred_at,
        payload=payload,
    )


@dataclass(frozen=True)
class Rejection:
    source: CallbackSource
    account: str
    reason: str
    status_code: int
    request_id: str | None
    remote: str | None
    headers: dict[str, str]
    body: bytes


def excerpt(body: bytes) -> str:
    """The start of a refused body as text, with personal data masked and NULs removed."""
    text = body[:_EXCERPT_BYTES].decode("utf-8", errors="replace").replace("\x00", "")
    return _PERSONAL.sub("[masked]", text)


async def record_rejection(rejection: Rejection) -> None:
    """Keep a refused callback's reason and a redacted, truncated view of it."""
    await RejectedCallback.create(
        source=rejection.source,
        account=rejection.account[:64],
        reason=rejection.reason[:64],
        status_code=rejection.status_code,
        request_id=rejection.request_id,
        remote=(rejection.remote or "")[:64] or None,
        headers=redact(rejection.headers),
        body_excerpt=excerpt(rejection.body),
        body_bytes=len(rejection.body),
    )
