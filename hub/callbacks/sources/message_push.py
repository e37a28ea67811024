"""Message pushes of the mini-program, the Channels shop and WeCom (protocols §3-§5).

One crypto (WXBizMsgCrypt) for all three; what differs is how the account is found, how the
URL is verified (WeCom's echostr is encrypted) and what makes two pushes the same event.
"""

import json
import logging
from abc import abstractmethod
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from hub.accounts import Accounts, PushAccount
from hub.callbacks.envelope import Envelope
from hub.callbacks.intake import VerifiableIntake
from hub.errors import PayloadError, SignatureError, UnknownAccountError
from hub.models.inbox import CallbackSource
from hub.vault import Vault
from hub.wechat.message_crypto import PushCrypto, PushQuery

log = logging.getLogger(__name__)

# Subscription events wrap their items; JSON puts them under "List", an object for one item
# and an array for several, and some payloads use the wrapper's name (protocols §3.8).
SUBSCRIPTION_WRAPPERS = {
    "subscribe_msg_popup_event": "SubscribeMsgPopupEvent",
    "subscribe_msg_change_event": "SubscribeMsgChangeEvent",
    "subscribe_msg_sent_event": "SubscribeMsgSentEvent",
}


KEY_COLUMN = "inbox_callback.event_key"
# Fields that become keys or columns: short scalars (as WeChat sends them), never structures.
_KEY_FIELDS = {
    "ToUserName": 64,
    "FromUserName": 64,
    "CreateTime": 20,
    "MsgType": 32,
    "Event": 64,
    "MsgId": 32,
    "ChangeType": 64,
    "UserID": 64,
    "ExternalUserID": 64,
}


def check_fields(fields: dict[str, Any]) -> None:
    """Refuse what WeChat never sends: structured or oversized key fields, NUL characters.

    In plain mode the body is not signed (protocols §3.3), so anything can arrive here.

    Raises:
        PayloadError: "malformed_field" or "nul_character".
    """
    for name, limit in _KEY_FIELDS.items():
        value = fields.get(name)
        if value is not None and (not isinstance(value, str | int) or len(str(value)) > limit):
            raise PayloadError("malformed_field", f"{name} is not a short value")
    try:
        encoded = json.dumps(fields)
    except (ValueError, RecursionError):
        raise PayloadError("malformed_field", "the fields cannot be stored") from None
    if "\\u0000" in encoded:
        # A database text column cannot hold NUL (PostgreSQL refuses it).
        raise PayloadError("nul_character", "a field contains a NUL character")


def create_time(fields: dict[str, Any]) -> datetime:
    """CreateTime as an aware datetime; documented as a string, sent as a number (§3.8).

    Raises:
        PayloadError: missing or not a number of seconds.
    """
    value = fields.get("CreateTime")
    try:
        return datetime.fromtimestamp(int(str(value)), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise PayloadError("missing_field", "CreateTime is missing or malformed") from None


def event_name(fields: dict[str, Any]) -> str:
    """The event type: the Event of an event push, else the message type (text, image …)."""
    msg_type = str(fields.get("MsgType") or "")
    if msg_type == "event":
        event = fields.get("Event")
        if not isinstance(event, str) or not event:
            raise PayloadError("missing_field", "Event is missing")
        return event
    if not msg_type:
        raise PayloadError("missing_field", "MsgType is missing")
    return msg_type


def subscription_items(fields: dict[str, Any], event: str) -> list[dict[str, Any]]:
    """The items of a subscription event, always as a list."""
    wrapper = SUBSCRIPTION_WRAPPERS[event]
    container = fields.get(wrapper, fields)
    if isinstance(container, dict) and "List" in container:
        items = container["List"]
    else:
        items = container if isinstance(container, list) else fields.get("List", [])
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        return []
    return [item for item in items if isinstance(item, dict)]


def raw_query(request: web.Request) -> PushQuery:
    """The push's query parameters from the raw query string.

    aiohttp's decoded query turns an unescaped "+" into a space, which breaks base64 values
    such as echostr and signatures (protocols §3.9).
    """
    return PushQuery.from_query_string(request.rel_url.raw_query_string)


class PushIntake(VerifiableIntake):
    """GET (URL verification) and POST (events) of one kind of push account."""

    def __init__(
        self, lookup: Callable[[str], Awaitable[PushAccount | None]], vault: Vault
    ) -> None:
        self._lookup = lookup
        self._vault = vault

    async def account(self, request: web.Request) -> tuple[PushAccount, PushCrypto]:
        """The account the URL names, with its push crypto.

        Raises:
            UnknownAccountError: no such account.
            SignatureError: the account has no push Token, so nothing can be verified.
        """
        account = await self._lookup(request.match_info["account"])
        if account is None:
            raise UnknownAccountError("unknown_account")
        if account.crypto is None:
            raise SignatureError("push_not_configured")
        return account, account.crypto

    async def verify_url(self, request: web.Request) -> str:
        """The body that proves to WeChat that this URL is ours (the echostr, per source)."""
        _account, crypto = await self.account(request)
        return crypto.verify_url(raw_query(request))

    async def parse(self, request: web.Request, body: bytes) -> Envelope:
        account, crypto = await self.account(request)
        query = raw_query(request)
        push = crypto.open_push(body, query, max_bytes=self.max_bytes)
        fields = push.fields
        check_fields(fields)
        event = event_name(fields)
        payload = self.payload(event, fields)
        if not push.receiver_matches:
            # Only the Channels shop accepts a mismatch (its receive id is unconfirmed, §5.1):
            # kept with the event and logged, so the real value can be learned.
            payload["_receive_id"] = push.receive_id
            log.info(
                "%s push for %s carried receive id %r",
                self.source.value,
                account.account_id,
                push.receive_id,
            )
        return Envelope(
            source=self.source,
            account=account.account_id,
            brand_id=account.brand_id,
            event_type=event,
            # Push keys embed openids and external user ids: stored as a keyed hash instead.
            event_key=self._vault.blind_index(self.event_key(event, fields), column=KEY_COLUMN),
            occurred_at=create_time(fields),
            payload=payload,
        )

    def payload(self, event: str, fields: dict[str, Any]) -> dict[str, Any]:
        """The fields to keep, normalised where WeChat's formats vary."""
        if event in SUBSCRIPTION_WRAPPERS:
            return {**fields, "items": subscription_items(fields, event)}
        return dict(fields)

    @abstractmethod
    def event_key(self, event: str, fields: dict[str, Any]) -> str:
        """What makes two deliveries of this source the same event."""

    def success(self) -> web.Response:
        # "success" (or an empty body) needs no encryption (§3.6).
        return web.Response(text="success")

    def failure(self, status: int, reason: str) -> web.Response:
        return web.json_response({"reason": reason}, status=status)


def _default_key(event: str, fields: dict[str, Any]) -> str:
    # MsgId when present, else FromUserName + CreateTime + Event (§3.6).
    if fields.get("MsgId"):
        return f"msg:{fields['MsgId']}"
    return f"{fields.get('FromUserName', '')}:{fields.get('CreateTime', '')}:{event}"


class MiniProgramIntake(PushIntake):
    """GET|POST /callbacks/miniprogram/{appid}."""

    source = CallbackSource.MINIPROGRAM

    def __init__(self, accounts: Accounts, vault: Vault) -> None:
        super().__init__(accounts.miniprogram, vault)

    def event_key(self, event: str, fields: dict[str, Any]) -> str:
        return _default_key(event, fields)


class ChannelsIntake(PushIntake):
    """GET|POST /callbacks/channels/{appid}."""

    source = CallbackSource.CHANNELS

    def __init__(self, accounts: Accounts, vault: Vault) -> None:
        super().__init__(accounts.channels_shop, vault)

    def payload(self, event: str, fields: dict[str, Any]) -> dict[str, Any]:
        payload = super().payload(event, fields)
        # order_id exceeds 2^53 and has been seen both as a number and a string (§5.1).
        for section in ("order_info", "finder_shop_aftersale_status_update"):
            if isinstance(payload.get(section), dict):
                payload[section] = {
                    name: str(value) if name.endswith("order_id") else value
                    for name, value in payload[section].items()
                }
        return payload

    def event_key(self, event: str, fields: dict[str, Any]) -> str:
        aftersale = fields.get("finder_shop_aftersale_status_update")
        if isinstance(aftersale, dict) and aftersale.get("after_sale_order_id"):
            return f"aftersale:{aftersale['after_sale_order_id']}:{aftersale.get('status', '')}"
        order = fields.get("order_info")
        if isinstance(order, dict) and order.get("order_id"):
            return f"order:{order['order_id']}:{event}"
        return _default_key(event, fields)


class WecomIntake(PushIntake):
    """GET|POST /callbacks/wecom/{corpid}."""

    source = CallbackSource.WECOM

    def __init__(self, accounts: Accounts, vault: Vault) -> None:
        super().__init__(accounts.wecom, vault)

    async def verify_url(self, request: web.Request) -> str:
        # WeCom's echostr is encrypted: the answer is its decryption (§4.1).
        _account, crypto = await self.account(request)
        return crypto.verify_wecom_url(raw_query(request))

    def event_key(self, event: str, fields: dict[str, Any]) -> str:
        if event == "change_external_contact":
            # ChangeType + UserID + ExternalUserID + CreateTime (§4.1).
            parts = [
                fields.get(name, "")
                for name in ("ChangeType", "UserID", "ExternalUserID", "CreateTime")
            ]
            return "contact:" + ":".join(str(part) for part in parts)
        return _default_key(event, fields)
