"""Mini-program message push: GET|POST /callbacks/miniprogram/{appid}."""

from aiohttp import web

from hub.callbacks.envelope import Envelope
from hub.callbacks.intake import receive, receive_verification
from hub.callbacks.pipeline import EVENTS
from hub.keys import intakes_key
from hub.models.inbox import CallbackSource
from hub.services import subscriptions


async def verify_url(request: web.Request) -> web.Response:
    return await receive_verification(request, request.app[intakes_key].miniprogram)


async def push(request: web.Request) -> web.Response:
    return await receive(request, request.app[intakes_key].miniprogram)


def _user(envelope: Envelope) -> tuple[str, str]:
    return envelope.account, str(envelope.payload.get("FromUserName", ""))


@EVENTS.on(CallbackSource.MINIPROGRAM, "subscribe_msg_popup_event")
async def on_subscribe_popup(envelope: Envelope) -> str:
    appid, openid = _user(envelope)
    answers = [
        subscriptions.PopupAnswer(
            str(item.get("TemplateId", "")), str(item.get("SubscribeStatusString", ""))
        )
        for item in envelope.payload["items"]
        if item.get("TemplateId")
    ]
    return await subscriptions.record_popup(envelope.brand_id, appid, openid, answers)


@EVENTS.on(CallbackSource.MINIPROGRAM, "subscribe_msg_change_event")
async def on_subscribe_change(envelope: Envelope) -> str:
    appid, openid = _user(envelope)
    # Only turning a template off is pushed (protocols §3.8).
    turned_off = [
        str(item["TemplateId"])
        for item in envelope.payload["items"]
        if item.get("TemplateId") and item.get("SubscribeStatusString") == "reject"
    ]
    return await subscriptions.record_turned_off(envelope.brand_id, appid, openid, turned_off)


def _error_code(value: object) -> int:
    # Numbers may come as strings (§3.8); anything else is an error WeChat did not name (-1).
    text = str(value).strip()
    return int(text) if text.lstrip("-").isdigit() else -1


@EVENTS.on(CallbackSource.MINIPROGRAM, "subscribe_msg_sent_event")
async def on_subscribe_sent(envelope: Envelope) -> str:
    appid, openid = _user(envelope)
    reports = [
        subscriptions.SentReport(
            template_id=str(item.get("TemplateId", "")),
            msgid=str(item["MsgID"]),
            error_code=_error_code(item.get("ErrorCode", 0)),
            error_status=str(item.get("ErrorStatus", "")),
        )
        for item in envelope.payload["items"]
        if item.get("MsgID")
    ]
    return await subscriptions.record_sent(
        envelope.brand_id, appid, openid, reports, envelope.occurred_at
    )
