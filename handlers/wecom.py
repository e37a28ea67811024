"""WeCom callbacks: GET|POST /callbacks/wecom/{corpid} (customer-contact changes)."""

from aiohttp import web

from hub.callbacks.envelope import Envelope
from hub.callbacks.intake import receive, receive_verification
from hub.callbacks.pipeline import EVENTS
from hub.keys import intakes_key
from hub.models.inbox import CallbackSource
from hub.services import contacts


async def verify_url(request: web.Request) -> web.Response:
    return await receive_verification(request, request.app[intakes_key].wecom)


async def push(request: web.Request) -> web.Response:
    return await receive(request, request.app[intakes_key].wecom)


@EVENTS.on(CallbackSource.WECOM, "change_external_contact")
async def on_change_external_contact(envelope: Envelope) -> str:
    fields = envelope.payload
    event = contacts.ContactEvent(
        brand_id=envelope.brand_id,
        corpid=envelope.account,
        userid=str(fields.get("UserID", "")),
        external_userid=str(fields.get("ExternalUserID", "")),
        occurred_at=envelope.occurred_at,
        event_key=envelope.event_key,
    )
    change = fields.get("ChangeType")
    if change in {"add_external_contact", "add_half_external_contact"}:
        return await contacts.contact_added(
            event,
            state=fields.get("State") or None,
            welcome_code=fields.get("WelcomeCode"),
            half=change == "add_half_external_contact",
        )
    if change == "del_external_contact":
        by_transfer = fields.get("Source") == "DELETE_BY_TRANSFER"
        return await contacts.contact_ended(
            event, "transferred" if by_transfer else "deleted_by_guide"
        )
    if change == "del_follow_user":
        return await contacts.contact_ended(event, "deleted_by_customer")
    if change == "edit_external_contact":
        return await contacts.contact_edited(event)
    if change == "transfer_fail":
        return await contacts.transfer_failed(event, str(fields.get("FailReason", "")))
    return "ignored"
