"""Which WeChat subscription template each of a brand's messages is sent with.

The message (its keywords and page) is a file under templates/messages/; the template id it is
sent under is the brand's, because each mini-program adds library templates under its own ids.
"""

import re
from dataclasses import dataclass
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from hub import messages
from hub.errors import InvalidValueError, NotFoundError
from hub.models.account import MiniProgramApp
from hub.models.brand import Brand
from hub.models.subscription import MessageTemplate
from hub.services import audit
from hub.services.audit import Actor
from hub.services.fields import check_text

# WeChat's template ids are 43 URL-safe characters; the column allows some slack.
_TEMPLATE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_PAGE_MAX = 255


@dataclass(frozen=True)
class MessageSetting:
    """What `wxhub message set` asks for: the message, its template id, page and state."""

    name: str
    template_id: str
    # Empty: the page of the message's file.
    page: str = ""
    active: bool = True
    # The mini-program; None: the brand's only one.
    appid: str | None = None


async def set_message_template(
    brand: Brand, given: MessageSetting, actor: Actor
) -> MessageTemplate:
    """Record (or replace) the template the brand's message is sent with; audited.

    Raises:
        InvalidValueError: unknown message, malformed template id or page, the appid is not
            the brand's, or the brand has several mini-programs and none is named.
        NotFoundError: "miniprogram_not_found" (the brand has none).
    """
    if not messages.is_subscription_message(given.name):
        raise InvalidValueError("name", f"no subscription message {given.name!r}")
    template_id = given.template_id.strip()
    if not _TEMPLATE_ID.fullmatch(template_id):
        raise InvalidValueError("template_id", "must be 1-64 letters, digits, '-' or '_'")
    page = check_text(given.page, "page", _PAGE_MAX).lstrip("/")
    appid = await _appid(brand, given.appid)
    columns = {"appid": appid, "template_id": template_id, "page": page, "active": given.active}
    try:
        async with in_transaction():
            return await _save(brand, given.name, columns, actor)
    except IntegrityError:
        # The same message set concurrently: the other one's row now exists, update it.
        async with in_transaction():
            return await _save(brand, given.name, columns, actor)


async def _save(brand: Brand, name: str, columns: dict[str, Any], actor: Actor) -> MessageTemplate:
    row = await MessageTemplate.select_for_update().get_or_none(brand=brand, name=name)
    before = None if row is None else snapshot(row)
    if row is None:
        row = await MessageTemplate.create(brand=brand, name=name, **columns)
    else:
        row.update_from_dict(columns)
        await row.save()
    await audit.record(
        actor,
        "message_template.set",
        "message_template",
        row.id,
        brand_id=brand.id,
        before=before,
        after=snapshot(row),
    )
    return row


async def _appid(brand: Brand, appid: str | None) -> str:
    apps = [app.appid for app in await MiniProgramApp.filter(brand=brand).order_by("id")]
    if not apps:
        raise NotFoundError("miniprogram_not_found", f"brand {brand.code} has no mini-program")
    if appid is None:
        if len(apps) > 1:
            raise InvalidValueError("appid", "the brand has several mini-programs: name one")
        return apps[0]
    if appid not in apps:
        raise InvalidValueError("appid", f"{appid} is not a mini-program of brand {brand.code}")
    return appid


async def list_message_templates(brand: Brand) -> list[MessageTemplate]:
    """The brand's configured messages, by name."""
    return await MessageTemplate.filter(brand=brand).order_by("name")


def snapshot(row: MessageTemplate) -> dict[str, Any]:
    """The audit form of a message configuration."""
    return {
        "name": row.name,
        "appid": row.appid,
        "template_id": row.template_id,
        "page": row.page,
        "active": row.active,
    }
