"""Mini-program pushes (§3.8, §5.1): subscription events and any other event.

Popup, change and sent events, and any other (e.g. related_shop_order_submission), in the
app's push mode and format.

Answering the popup also changes what subscribe/send allows: accept grants one send of a
one-time template (or turns a long-term one on), a change event turns the template off.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hub.simulator.context import Simulator
from hub.simulator.delivery import MESSAGE_SCHEDULE_S, Delivery
from hub.simulator.faults import ListShape, PushFault
from hub.simulator.pushes import PushSpec, PushTarget, build_message_push, require_url, submit_push
from hub.simulator.replies import ControlError
from hub.simulator.state import Source
from hub.simulator.world import MiniProgram, PushFormat, TemplateKind

POPUP_EVENT = "subscribe_msg_popup_event"
CHANGE_EVENT = "subscribe_msg_change_event"
SENT_EVENT = "subscribe_msg_sent_event"
_WRAPPERS = {
    POPUP_EVENT: "SubscribeMsgPopupEvent",
    CHANGE_EVENT: "SubscribeMsgChangeEvent",
    SENT_EVENT: "SubscribeMsgSentEvent",
}


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid")

    appid: str | None = None
    # The user: a World user key, or an openid under the app.
    user: str | None = None
    openid: str | None = None
    url: str | None = None
    fault: PushFault | None = None
    wait: bool = False


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template_id: str
    # accept / reject; newer clients' acceptWithAudio, acceptWithAlert [?] count as accept.
    status: str = Field(default="accept", pattern=r"^(accept\w*|reject)$")


class PopupAction(_Action):
    """The user answers wx.requestSubscribeMessage."""

    answers: list[Answer] = Field(min_length=1)
    popup_scene: int = 0


class ChangeAction(_Action):
    """The user turns templates off in 服务通知 settings."""

    template_ids: list[str] = Field(min_length=1)


class SentAction(BaseModel):
    """The asynchronous delivery result of a sent message."""

    model_config = ConfigDict(extra="forbid")

    msgid: int
    error_code: int = 0
    error_status: str = "success"
    url: str | None = None
    fault: PushFault | None = None
    wait: bool = False


class EventAction(_Action):
    """Any other event: the common envelope plus `fields`."""

    event: str
    fields: dict[str, Any] = Field(default_factory=dict)


def find_mini_program(sim: Simulator, appid: str | None) -> MiniProgram:
    """The mini-program named, or the only one.

    Raises:
        ControlError: 404 unknown appid; 400 when several exist and none is named.
    """
    if appid is None:
        if len(sim.world.mini_programs) != 1:
            raise ControlError(400, "several mini-programs: name one with appid")
        return sim.world.mini_programs[0]
    app = sim.world.mini_program(appid)
    if app is None:
        raise ControlError(404, f"unknown mini-program {appid}")
    return app


def resolve_openid(sim: Simulator, appid: str, user: str | None, openid: str | None) -> str:
    """The openid under `appid` of a World user (by key) or as given.

    Raises:
        ControlError: 400 neither given; 404 unknown user or no openid under the app.
    """
    if openid is not None:
        return openid
    if user is None:
        raise ControlError(400, "name the user (user key or openid)")
    found = sim.world.user(user)
    if found is None or appid not in found.openids:
        raise ControlError(404, f"user {user} has no openid under {appid}")
    return found.openids[appid]


def answer_popup(sim: Simulator, action: PopupAction) -> list[Delivery]:
    """Record the answers and push subscribe_msg_popup_event.

    Raises:
        ControlError: as find_mini_program and resolve_openid; 404 unknown template.
    """
    app = find_mini_program(sim, action.appid)
    openid = resolve_openid(sim, app.appid, action.user, action.openid)
    items = []
    for answer in action.answers:
        template = sim.world.template(app.appid, answer.template_id)
        if template is None:
            raise ControlError(404, f"unknown template {answer.template_id}")
        subscription = sim.state.subscription(app.appid, openid, template.template_id)
        accepted = answer.status.startswith("accept")
        if accepted and template.kind is TemplateKind.ONE_TIME:
            subscription.grants += 1
        elif template.kind is TemplateKind.LONG_TERM:
            subscription.accepted = accepted
        subscription.switched_off = subscription.switched_off and not accepted
        items.append(
            {
                "TemplateId": template.template_id,
                "SubscribeStatusString": answer.status,
                "PopupScene": str(action.popup_scene),
            }
        )
    return _push_items(sim, app, openid, POPUP_EVENT, items, action)


def turn_off(sim: Simulator, action: ChangeAction) -> list[Delivery]:
    """Turn templates off for the user and push subscribe_msg_change_event.

    Raises:
        ControlError: as answer_popup.
    """
    app = find_mini_program(sim, action.appid)
    openid = resolve_openid(sim, app.appid, action.user, action.openid)
    for template_id in action.template_ids:
        if sim.world.template(app.appid, template_id) is None:
            raise ControlError(404, f"unknown template {template_id}")
        sim.state.subscription(app.appid, openid, template_id).switched_off = True
    items = [{"TemplateId": tid, "SubscribeStatusString": "reject"} for tid in action.template_ids]
    return _push_items(sim, app, openid, CHANGE_EVENT, items, action)


def report_sent(sim: Simulator, action: SentAction) -> list[Delivery]:
    """Push subscribe_msg_sent_event for a message sent through subscribe/send.

    Raises:
        ControlError: 404 no message with that msgid.
    """
    sent = next((m for m in sim.state.sent_messages if m.msgid == action.msgid), None)
    if sent is None:
        raise ControlError(404, f"no message with msgid {action.msgid}")
    app = find_mini_program(sim, sent.appid)
    item = {
        "TemplateId": sent.template_id,
        "MsgID": str(sent.msgid),
        "ErrorCode": str(action.error_code),
        "ErrorStatus": action.error_status,
    }
    request = _Action(url=action.url, fault=action.fault)
    return _push_items(sim, app, sent.openid, SENT_EVENT, [item], request)


def push_event(sim: Simulator, action: EventAction) -> list[Delivery]:
    """Push any event with the common envelope.

    Raises:
        ControlError: as answer_popup.
    """
    app = find_mini_program(sim, action.appid)
    openid = resolve_openid(sim, app.appid, action.user, action.openid)
    fault = sim.faults.take_push(Source.MINI_PROGRAM, action.event).merged(action.fault)
    fields = _envelope(sim, app, openid, action.event, fault) | action.fields
    return _submit(sim, app, openid, action.event, fields, fault=fault, url=action.url)


def _envelope(
    sim: Simulator, app: MiniProgram, openid: str, event: str, fault: PushFault
) -> dict[str, Any]:
    now = int(sim.clock())
    return {
        "ToUserName": app.original_id,
        "FromUserName": openid,
        # §3.8: documented as a string in JSON, sent as an integer.
        "CreateTime": str(now) if fault.create_time_as_string else now,
        "MsgType": "event",
        "Event": event,
    }


def _push_items(
    sim: Simulator,
    app: MiniProgram,
    openid: str,
    event: str,
    items: list[dict[str, str]],
    action: _Action,
) -> list[Delivery]:
    fault = sim.faults.take_push(Source.MINI_PROGRAM, event).merged(action.fault)
    fields = _envelope(sim, app, openid, event, fault)
    wrapper = _WRAPPERS[event]
    if app.push_format is PushFormat.XML:
        fields[wrapper] = {"List": items}
    else:
        # §3.8: an object for one item, an array for several; some payloads use the wrapper.
        shape = fault.list_shape or ListShape.AUTO
        value: object = items[0] if len(items) == 1 and shape is not ListShape.ARRAY else items
        fields[wrapper if shape is ListShape.WRAPPER else "List"] = value
    return _submit(sim, app, openid, event, fields, fault=fault, url=action.url)


def mini_program_target(app: MiniProgram, url: str) -> PushTarget:
    return PushTarget(
        url=url,
        token=app.push_token,
        aes_key=app.push_aes_key,
        receive_id=app.appid,
        to_user=app.original_id,
        mode=app.push_mode,
        format=app.push_format,
    )


def _submit(  # noqa: PLR0913 - a push has this many parts
    sim: Simulator,
    app: MiniProgram,
    openid: str,
    event: str,
    fields: dict[str, Any],
    *,
    fault: PushFault,
    url: str | None,
) -> list[Delivery]:
    target = mini_program_target(app, require_url(sim, Source.MINI_PROGRAM, app.appid, url))
    request = build_message_push(target, fields, fault, sim.clock(), {"openid": openid})
    key = f"{openid}:{event}:{fields['CreateTime']}"
    spec = PushSpec(
        Source.MINI_PROGRAM,
        app.appid,
        event,
        key,
        MESSAGE_SCHEDULE_S,
        lambda: request,
        plaintext=fields,
    )
    return submit_push(sim, spec, fault)
