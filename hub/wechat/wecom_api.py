"""WeCom (企业微信) customer-contact APIs (protocols §4.3).

Token, contacts, welcome messages, tags, "contact me" QR codes.
"""

from dataclasses import dataclass, field
from typing import Any

from hub.wechat.api import AuthorizedApi, Host, WeChatHttp
from hub.wechat.tokens import IssuedToken, TokenBroker

# externalcontact/get pages follow_user beyond 500 followers; stop after this many pages.
_MAX_PAGES = 100


def wecom_token_key(corpid: str, agent_id: int | None) -> str:
    """The broker key of a WeCom app: tokens are per corp and app (secret)."""
    return f"work:{corpid}:{agent_id if agent_id is not None else 'contact'}"


@dataclass(frozen=True)
class FollowUser:
    userid: str
    state: str | None
    createtime: int
    tag_ids: tuple[str, ...]


@dataclass(frozen=True)
class ExternalContact:
    external_userid: str
    name: str
    # 1: a WeChat user, 2: a WeCom user.
    type: int
    # Present only for WeChat users of a corp bound to an open-platform account.
    unionid: str | None
    follow_users: tuple[FollowUser, ...]


@dataclass(frozen=True)
class ContactWay:
    config_id: str
    qr_code: str | None


@dataclass(frozen=True)
class WelcomeMessage:
    welcome_code: str = field(repr=False)
    text: str | None = None
    # attachments as WeChat defines them: {"msgtype": "miniprogram", "miniprogram": {...}} …
    attachments: tuple[dict[str, Any], ...] = ()


class WecomApi(AuthorizedApi):
    """The customer-contact APIs of one WeCom corp."""

    def __init__(
        self,
        http: WeChatHttp,
        broker: TokenBroker,
        corpid: str,
        secret: str,
        agent_id: int | None = None,
    ) -> None:
        super().__init__(http, broker, Host.WORK, wecom_token_key(corpid, agent_id))
        self.corpid = corpid
        self._secret = secret

    async def fetch_token(self, force: bool) -> IssuedToken:  # noqa: ARG002 - no force here
        result = await self.http.call_json(
            "GET",
            Host.WORK,
            "/cgi-bin/gettoken",
            query={"corpid": self.corpid, "corpsecret": self._secret},
            idempotent=True,
        )
        return IssuedToken(str(result["access_token"]), int(result["expires_in"]))

    async def external_contact(self, external_userid: str) -> ExternalContact:
        """A customer and every staff member following them (all pages of follow_user).

        Raises:
            WeChatApiError: e.g. 84061 no such relationship, 40096 invalid external_userid.
            DeliveryError: WeChat could not be reached.
        """
        follow_users: list[FollowUser] = []
        cursor = ""
        for _ in range(_MAX_PAGES):
            query = {"external_userid": external_userid} | ({"cursor": cursor} if cursor else {})
            page = await self.call(
                "GET", "/cgi-bin/externalcontact/get", query=query, idempotent=True
            )
            follow_users.extend(_follow_user(item) for item in page.get("follow_user") or [])
            cursor = str(page.get("next_cursor") or "")
            if not cursor:
                break
        contact = page["external_contact"]
        return ExternalContact(
            external_userid=str(contact["external_userid"]),
            name=str(contact.get("name", "")),
            type=int(contact.get("type", 1)),
            unionid=str(contact["unionid"]) if contact.get("unionid") else None,
            follow_users=tuple(follow_users),
        )

    async def send_welcome_message(self, message: WelcomeMessage) -> None:
        """Send the welcome message of a new contact: once, within 20 s of the event.

        Raises:
            WeChatApiError: 41051 already welcomed or the customer chatted first (do not retry),
                41096 another app is sending right now (may retry).
            DeliveryError: WeChat could not be reached.
        """
        payload: dict[str, Any] = {"welcome_code": message.welcome_code}
        if message.text:
            payload["text"] = {"content": message.text}
        if message.attachments:
            payload["attachments"] = list(message.attachments)
        await self.call(
            "POST", "/cgi-bin/externalcontact/send_welcome_msg", payload=payload, idempotent=False
        )

    async def mark_tags(
        self, userid: str, external_userid: str, add: list[str], remove: list[str] | None = None
    ) -> None:
        """Add and remove corp tags on the customer as seen by staff `userid`.

        Raises:
            WeChatApiError: e.g. unknown tag or no such relationship.
            DeliveryError: WeChat could not be reached.
        """
        payload = {
            "userid": userid,
            "external_userid": external_userid,
            "add_tag": add,
            "remove_tag": remove or [],
        }
        await self.call(
            "POST", "/cgi-bin/externalcontact/mark_tag", payload=payload, idempotent=True
        )

    async def corp_tags(self) -> dict[str, str]:
        """The corp's tags: tag id → "group/tag name"."""
        result = await self.call(
            "POST", "/cgi-bin/externalcontact/get_corp_tag_list", payload={}, idempotent=True
        )
        return {
            str(tag["id"]): f"{group.get('group_name', '')}/{tag.get('name', '')}"
            for group in result.get("tag_group") or []
            for tag in group.get("tag") or []
        }

    async def add_contact_way(
        self, userid: str, state: str, *, remark: str = "", skip_verify: bool = True
    ) -> ContactWay:
        """A "contact me" QR code for one staff member.

        Its `state` (≤ 30 chars) comes back in add_external_contact events: it is how new
        contacts are attributed.

        Raises:
            WeChatApiError: e.g. the staff member cannot use customer contact.
            DeliveryError: WeChat could not be reached.
        """
        payload = {
            "type": 1,
            "scene": 2,
            "user": [userid],
            "state": state,
            "remark": remark,
            "skip_verify": skip_verify,
        }
        result = await self.call(
            "POST", "/cgi-bin/externalcontact/add_contact_way", payload=payload, idempotent=False
        )
        return ContactWay(str(result["config_id"]), result.get("qr_code"))


def _follow_user(item: dict[str, Any]) -> FollowUser:
    return FollowUser(
        userid=str(item["userid"]),
        state=item.get("state") or None,
        createtime=int(item.get("createtime", 0)),
        tag_ids=tuple(str(tag["tag_id"]) for tag in item.get("tags") or [] if tag.get("tag_id")),
    )
