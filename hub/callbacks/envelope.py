"""The envelope: one verified callback in a source-independent shape."""

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict

from hub.models.inbox import CallbackSource


class Envelope(BaseModel):
    """A verified, parsed callback, ready to be recorded and processed."""

    model_config = ConfigDict(frozen=True)

    source: CallbackSource
    # The account it was addressed to (appid, mchid or corpid) and the brand owning it.
    account: str
    brand_id: int
    # WeChat's literal event name, e.g. "TRANSACTION.SUCCESS", "change_external_contact".
    event_type: str
    # What makes two deliveries the same event (per source, see the protocol document).
    event_key: str
    occurred_at: AwareDatetime
    payload: dict[str, Any]
