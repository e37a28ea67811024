"""Subscription-message consent and delivery, as the mini-program's push events report them.

Each "accept" in the popup grants one send of a one-time template; turning a template off in
服务通知 settings takes every grant back. Delivery reports match messages by WeChat's msgid.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from hub import db
from hub.models.member import MemberOpenid
from hub.models.subscription import (
    DeliveryStatus,
    GrantStatus,
    SubscriptionGrant,
    SubscriptionMessage,
)


@dataclass(frozen=True)
class PopupAnswer:
    template_id: str
    # WeChat's status string: "accept", "reject", or newer accept variants (acceptWithAudio…).
    status: str

    @property
    def accepted(self) -> bool:
        # Any status starting with "accept" grants a send (protocols §3.8).
        return self.status.startswith("accept")


@dataclass(frozen=True)
class SentReport:
    template_id: str
    msgid: str
    error_code: int
    error_status: str


async def record_popup(brand_id: int, appid: str, openid: str, answers: list[PopupAnswer]) -> str:
    """Apply the user's popup answers; returns "granted:N" (N accepted templates)."""
    accepted = 0
    async with db.atomic():
        for answer in answers:
            grant = await _grant_for_update(brand_id, appid, openid, answer.template_id)
            if answer.accepted:
                grant.remaining += 1
                grant.status = GrantStatus.ACCEPTED
                accepted += 1
            elif grant.remaining == 0:
                grant.status = GrantStatus.REJECTED
            await grant.save()
    return f"granted:{accepted}"


async def record_turned_off(brand_id: int, appid: str, openid: str, template_ids: list[str]) -> str:
    """The user turned templates off: no more sends until they accept again."""
    async with db.atomic():
        for template_id in template_ids:
            grant = await _grant_for_update(brand_id, appid, openid, template_id)
            grant.remaining = 0
            grant.status = GrantStatus.REJECTED
            await grant.save()
    return f"turned_off:{len(template_ids)}"


async def record_sent(
    brand_id: int, appid: str, openid: str, reports: list[SentReport], reported_at: datetime
) -> str:
    """Record WeChat's delivery reports on the messages they name (by msgid)."""
    async with db.atomic():
        for report in reports:
            status = DeliveryStatus.DELIVERED if report.error_code == 0 else DeliveryStatus.FAILED
            updated = await SubscriptionMessage.filter(appid=appid, msgid=report.msgid).update(
                status=status,
                error_code=report.error_code,
                error_status=report.error_status,
                reported_at=reported_at,
            )
            if not updated:
                # Sent before wxhub kept a record of it (or by another system): keep the report.
                await SubscriptionMessage.create(
                    brand_id=brand_id,
                    appid=appid,
                    openid=openid,
                    template_id=report.template_id,
                    msgid=report.msgid,
                    status=status,
                    error_code=report.error_code,
                    error_status=report.error_status,
                    reported_at=reported_at,
                )
    return f"reported:{len(reports)}"


async def _grant_for_update(
    brand_id: int, appid: str, openid: str, template_id: str
) -> SubscriptionGrant:
    key: dict[str, Any] = {"appid": appid, "openid": openid, "template_id": template_id}
    grant = await SubscriptionGrant.select_for_update().get_or_none(**key)
    if grant is not None:
        return grant
    identity = await MemberOpenid.get_or_none(appid=appid, openid=openid)
    try:
        async with in_transaction():
            return await SubscriptionGrant.create(
                brand_id=brand_id,
                member_id=identity.member_id if identity else None,
                status=GrantStatus.REJECTED,
                remaining=0,
                **key,
            )
    except IntegrityError:
        # Another event for the same user and template created it first.
        return await SubscriptionGrant.select_for_update().get(**key)
