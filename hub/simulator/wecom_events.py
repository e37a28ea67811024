"""WeCom change_external_contact pushes (§4.1, §4.2) and the relationships they imply.

"Customer scans contact way C" and the other ChangeTypes, encrypted XML as WeCom sends them.
"""

import secrets
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from hub.simulator.context import Simulator
from hub.simulator.delivery import MESSAGE_SCHEDULE_S, Delivery
from hub.simulator.faults import PushFault
from hub.simulator.pushes import PushSpec, PushTarget, build_message_push, require_url, submit_push
from hub.simulator.replies import ControlError
from hub.simulator.state import Relationship, Source, WelcomeCode
from hub.simulator.world import Corp, PushFormat, PushMode, external_userid_of

EVENT = "change_external_contact"


class ChangeType(StrEnum):
    ADD_EXTERNAL_CONTACT = "add_external_contact"
    EDIT_EXTERNAL_CONTACT = "edit_external_contact"
    ADD_HALF_EXTERNAL_CONTACT = "add_half_external_contact"
    DEL_EXTERNAL_CONTACT = "del_external_contact"
    DEL_FOLLOW_USER = "del_follow_user"
    TRANSFER_FAIL = "transfer_fail"


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid")

    corpid: str | None = None
    url: str | None = None
    fault: PushFault | None = None
    wait: bool = False


class ScanAction(_Action):
    """A customer (World user key) scans contact way `config_id` and adds its staff member."""

    config_id: str
    user: str
    # For a multi-person way: which staff member; default the first.
    userid: str | None = None
    # False: no WelcomeCode (a console welcome message is configured, §4.2).
    welcome_code: bool = True
    # add_half_external_contact: added without verification, not yet accepted.
    half: bool = False


class ChangeAction(_Action):
    """Any other change: edit, delete (either side), failed transfer."""

    change_type: ChangeType
    userid: str
    user: str | None = None
    external_userid: str | None = None
    source: str | None = None
    fail_reason: str = "customer_refused"


@dataclass(frozen=True)
class ScanResult:
    relationship: Relationship
    welcome_code: WelcomeCode | None
    deliveries: list[Delivery]


def find_corp(sim: Simulator, corpid: str | None) -> Corp:
    """The corp named, or the only one.

    Raises:
        ControlError: 404 unknown corpid; 400 when several exist and none is named.
    """
    if corpid is None:
        if len(sim.world.corps) != 1:
            raise ControlError(400, "several corps: name one with corpid")
        return sim.world.corps[0]
    corp = sim.world.corp(corpid)
    if corp is None:
        raise ControlError(404, f"unknown corp {corpid}")
    return corp


def scan_contact_way(sim: Simulator, action: ScanAction) -> ScanResult:
    """Create the relationship, issue a welcome code and push add_external_contact.

    Raises:
        ControlError: 404 unknown corp, contact way, user or staff member of the way.
    """
    corp = find_corp(sim, action.corpid)
    way = sim.state.contact_ways.get(action.config_id)
    user = sim.world.user(action.user)
    if way is None or way.corpid != corp.corpid:
        raise ControlError(404, f"no contact way {action.config_id} in {corp.corpid}")
    if user is None:
        raise ControlError(404, f"unknown user {action.user}")
    userid = action.userid or (way.users[0] if way.users else "")
    if userid not in way.users:
        raise ControlError(404, f"staff {userid} is not on contact way {way.config_id}")
    now = sim.clock()
    relationship = Relationship(
        corpid=corp.corpid,
        userid=userid,
        external_userid=external_userid_of(corp.corpid, user),
        user_key=user.key,
        state=way.state,
        createtime=int(now),
    )
    sim.state.relationships[(corp.corpid, userid, relationship.external_userid)] = relationship
    change = (
        ChangeType.ADD_HALF_EXTERNAL_CONTACT if action.half else ChangeType.ADD_EXTERNAL_CONTACT
    )
    fault = sim.faults.take_push(Source.WECOM, change.value).merged(action.fault)
    fields = _envelope(corp, change, userid, relationship.external_userid, now)
    fields["State"] = way.state
    code = None
    if action.welcome_code and not fault.omit_welcome_code:
        code = WelcomeCode(
            code=secrets.token_urlsafe(32),
            corpid=corp.corpid,
            userid=userid,
            external_userid=relationship.external_userid,
            issued_at=now,
        )
        sim.state.welcome_codes[code.code] = code
        fields["WelcomeCode"] = code.code
    deliveries = _submit(sim, corp, fields, fault, action.url)
    return ScanResult(relationship, code, deliveries)


def change_contact(sim: Simulator, action: ChangeAction) -> list[Delivery]:
    """Push a non-add change; the deletes end the relationship.

    Raises:
        ControlError: 400 an add (use a scan) or no customer named; 404 no such relationship.
    """
    corp = find_corp(sim, action.corpid)
    if action.change_type in (
        ChangeType.ADD_EXTERNAL_CONTACT,
        ChangeType.ADD_HALF_EXTERNAL_CONTACT,
    ):
        raise ControlError(400, "adds come from scanning a contact way (POST /_sim/wecom/scans)")
    external_userid = _external_userid(sim, corp, action)
    key = (corp.corpid, action.userid, external_userid)
    if action.change_type is not ChangeType.TRANSFER_FAIL and key not in sim.state.relationships:
        raise ControlError(404, f"{action.userid} has no customer {external_userid}")
    if action.change_type in (ChangeType.DEL_EXTERNAL_CONTACT, ChangeType.DEL_FOLLOW_USER):
        del sim.state.relationships[key]
    fault = sim.faults.take_push(Source.WECOM, action.change_type.value).merged(action.fault)
    fields = _envelope(corp, action.change_type, action.userid, external_userid, sim.clock())
    if action.change_type is ChangeType.DEL_EXTERNAL_CONTACT and action.source:
        fields["Source"] = action.source
    if action.change_type is ChangeType.TRANSFER_FAIL:
        fields["FailReason"] = action.fail_reason
    return _submit(sim, corp, fields, fault, action.url)


def _external_userid(sim: Simulator, corp: Corp, action: ChangeAction) -> str:
    if action.external_userid is not None:
        return action.external_userid
    user = sim.world.user(action.user) if action.user is not None else None
    if user is None:
        raise ControlError(400, "name the customer (user key or external_userid)")
    return external_userid_of(corp.corpid, user)


def _envelope(
    corp: Corp, change: ChangeType, userid: str, external_userid: str, now: float
) -> dict[str, str | int]:
    return {
        "ToUserName": corp.corpid,
        "FromUserName": "sys",
        "CreateTime": int(now),
        "MsgType": "event",
        "Event": EVENT,
        "ChangeType": change.value,
        "UserID": userid,
        "ExternalUserID": external_userid,
    }


def wecom_target(corp: Corp, url: str) -> PushTarget:
    return PushTarget(
        url=url,
        token=corp.callback_token,
        aes_key=corp.callback_aes_key,
        receive_id=corp.corpid,
        to_user=corp.corpid,
        mode=PushMode.SECURE,
        format=PushFormat.XML,
        agent_id=corp.agent_id,
        wecom=True,
    )


def _submit(
    sim: Simulator, corp: Corp, fields: dict[str, str | int], fault: PushFault, url: str | None
) -> list[Delivery]:
    target = wecom_target(corp, require_url(sim, Source.WECOM, corp.corpid, url))
    request = build_message_push(target, fields, fault, sim.clock())
    change = str(fields["ChangeType"])
    key = f"{change}:{fields['UserID']}:{fields['ExternalUserID']}:{fields['CreateTime']}"
    spec = PushSpec(
        Source.WECOM,
        corp.corpid,
        change,
        key,
        MESSAGE_SCHEDULE_S,
        lambda: request,
        plaintext=fields,
    )
    return submit_push(sim, spec, fault)
