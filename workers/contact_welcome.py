"""What follows a new WeCom contact: the welcome message, and finding the member behind it."""

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.errors import WeChatApiError
from hub.messages import render_text
from hub.models.brand import Store
from hub.models.contact import ContactLink
from hub.models.outbox import OutboxMessage
from hub.models.staff import Staff
from hub.services import contacts
from hub.wechat.wecom_api import WelcomeMessage
from workers.context import WorkerDeps
from workers.outbox_relay import carry_out

log = logging.getLogger(__name__)

# WeCom accepts the welcome message within 20 s of the event, once (protocols §4.3).
WELCOME_WINDOW = timedelta(seconds=20)
# 41051: already welcomed, or the customer spoke first: never retried.
_ALREADY_WELCOMED = 41051
# The window allows one quick second try at most.
WELCOME_MAX_TRIES = 2


async def welcome_contact(ctx: dict[str, Any], outbox_id: int) -> str:
    """Outbox task: send the guide's welcome message to a new contact."""
    return await carry_out(ctx, outbox_id, _welcome, max_tries=WELCOME_MAX_TRIES)


async def link_contact_member(ctx: dict[str, Any], outbox_id: int) -> str:
    """Outbox task: learn the contact's unionid and link the member and their guide."""
    return await carry_out(ctx, outbox_id, _link_member)


async def _welcome(worker: WorkerDeps, message: OutboxMessage) -> str:
    event_at = datetime.fromisoformat(str(message.payload["event_at"]))
    if datetime.now(UTC) - event_at > WELCOME_WINDOW:
        return "window_passed"
    link = await ContactLink.get(id=int(message.payload["link_id"]))
    corp = await worker.accounts.wecom(link.corpid)
    if corp is None:
        return "corp_removed"
    guide = await Staff.get_or_none(id=link.guide_id) if link.guide_id else None
    store = await Store.get_or_none(id=guide.store_id) if guide and guide.store_id else None
    text = render_text(
        "contact_welcome",
        {
            "guide_name": guide.name if guide else "",
            "store_name": store.name if store else "",
        },
    )["text"]
    try:
        await worker.accounts.wecom_api(corp).send_welcome_message(
            WelcomeMessage(welcome_code=str(message.payload["welcome_code"]), text=text)
        )
    except WeChatApiError as exc:
        if exc.errcode == _ALREADY_WELCOMED:
            return "already_welcomed"
        raise
    return "welcomed"


async def _link_member(worker: WorkerDeps, message: OutboxMessage) -> str:
    link = await ContactLink.get(id=int(message.payload["link_id"]))
    corp = await worker.accounts.wecom(link.corpid)
    if corp is None:
        return "corp_removed"
    contact = await worker.accounts.wecom_api(corp).external_contact(link.external_userid)
    if contact.unionid is None:
        return "no_unionid"
    return await contacts.attach_member(link.id, contact.unionid, datetime.now(UTC))
