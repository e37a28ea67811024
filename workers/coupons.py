"""Coupons on a schedule (expiry, reminders, birthdays) and the messages telling members of them."""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from hub import outbox
from hub.dates import beijing_day
from hub.errors import DeliveryError, WeChatApiError
from hub.messages import china_time, render_subscription
from hub.models.brand import Brand
from hub.models.coupon import Coupon, CouponStatus, CouponTemplate
from hub.models.member import MemberOpenid
from hub.models.outbox import OutboxMessage
from hub.models.subscription import MessageTemplate, SubscriptionGrant, SubscriptionMessage
from hub.services import birthdays, coupons
from hub.wechat.miniprogram_api import SubscribeMessage
from workers.context import WorkerDeps, deps
from workers.outbox_relay import carry_out

log = logging.getLogger(__name__)

# 43101: the user has no send left for the template (refused, or the one-time grant is used).
_NO_GRANT_LEFT = 43101
# A value breaks its keyword rule, bad template id, bad page, bad openid (protocols §6.4):
# sending the same message again fails the same way.
_MESSAGE_REFUSED = frozenset({47003, 40037, 41030, 40003})


async def expire_coupons(ctx: dict[str, Any]) -> int:
    """Cron: coupons past their validity become expired; coupons soon to be are reminded of."""
    worker = deps(ctx)
    now = datetime.now(UTC)
    expired = await coupons.expire_coupons(now)
    if expired:
        log.info("expired %d coupon(s)", expired)
    async with outbox.collecting() as reminders:
        queued = await coupons.queue_expiry_reminders(
            now, worker.settings.coupons.remind_days_before
        )
    if queued:
        log.info("queued %d coupon expiry reminder(s)", queued)
        await outbox.flush(reminders, worker.redis)
    return expired


async def give_birthday_coupons(ctx: dict[str, Any]) -> int:
    """Cron: today's birthday coupons (hourly, so a worker down at midnight catches up)."""
    async with outbox.collecting() as follow_ups:
        given = await birthdays.give_birthday_coupons(datetime.now(UTC))
    if given:
        log.info("gave %d birthday coupon(s)", given)
        await outbox.flush(follow_ups, deps(ctx).redis)
    return given


async def notify_coupon(ctx: dict[str, Any], outbox_id: int) -> str:
    """Outbox task: tell the member about a coupon by subscription message.

    Outcomes: "sent", "refused" (WeChat: no send left), "no_grant" (the member did not accept
    the template), "no_openid", "not_configured" (the brand set no active template for the
    message), "coupon_not_available", "app_removed"; a message WeChat refuses fails the row.
    """
    return await carry_out(ctx, outbox_id, _notify)


@dataclass(frozen=True)
class _Recipient:
    """Where the brand's message goes: its template, the member's openid, their grant."""

    config: MessageTemplate
    openid: str
    grant: SubscriptionGrant


async def _notify(worker: WorkerDeps, message: OutboxMessage) -> str:
    name = str(message.payload["message"])
    coupon = await Coupon.get(id=int(message.payload["coupon_id"]))
    now = datetime.now(UTC)
    if coupon.status is not CouponStatus.AVAILABLE or coupon.valid_until <= now:
        return "coupon_not_available"
    recipient = await _recipient(coupon, name)
    if isinstance(recipient, str):
        return recipient
    account = await worker.accounts.miniprogram(recipient.config.appid)
    if account is None:
        return "app_removed"
    content = render_subscription(name, await _context(coupon, now))
    request = SubscribeMessage(
        touser=recipient.openid,
        template_id=recipient.config.template_id,
        data=content.data,
        page=recipient.config.page or content.page or None,
    )
    try:
        msgid = await worker.accounts.miniprogram_api(account).send_subscribe_message(request)
    except WeChatApiError as exc:
        return await _refused(exc, recipient.grant)
    await _record_sent(recipient.grant, coupon.brand_id, str(msgid))
    return "sent"


async def _recipient(coupon: Coupon, name: str) -> _Recipient | str:
    """Who gets the message and under which template, or the outcome why nobody does."""
    config = await MessageTemplate.get_or_none(brand_id=coupon.brand_id, name=name)
    if config is None or not config.active:
        return "not_configured"
    identity = await MemberOpenid.get_or_none(member_id=coupon.member_id, appid=config.appid)
    if identity is None:
        return "no_openid"
    grant = await SubscriptionGrant.get_or_none(
        appid=config.appid, openid=identity.openid, template_id=config.template_id
    )
    if grant is None or grant.remaining <= 0:
        return "no_grant"  # the member did not accept the template (or used the send up)
    return _Recipient(config, identity.openid, grant)


async def _context(coupon: Coupon, now: datetime) -> dict[str, Any]:
    template = await CouponTemplate.get(id=coupon.template_id)
    brand = await Brand.get(id=coupon.brand_id)
    return {
        "coupon_id": coupon.id,
        "coupon_name": template.name,
        "brand_name": brand.name,
        "valid_from": china_time(coupon.valid_from),
        "valid_until": china_time(coupon.valid_until),
        "days_left": max(0, (beijing_day(coupon.valid_until) - beijing_day(now)).days),
    }


async def _refused(exc: WeChatApiError, grant: SubscriptionGrant) -> str:
    """43101 uses the grant up; a message WeChat finds wrong fails for good; else re-raise.

    Raises:
        DeliveryError: not retryable for the errcodes of _MESSAGE_REFUSED.
        WeChatApiError: any other errcode (retried when WeChat says it is passing).
    """
    if exc.errcode == _NO_GRANT_LEFT:
        # WeChat knows better than our count: the user has no send left for this template.
        await SubscriptionGrant.filter(id=grant.id).update(remaining=0)
        return "refused"
    if exc.errcode in _MESSAGE_REFUSED:
        raise DeliveryError(
            f"WeChat refused the message ({exc.errcode}): {exc.errmsg}", retryable=False
        ) from exc
    raise exc


async def _record_sent(grant: SubscriptionGrant, brand_id: int, msgid: str) -> None:
    async with in_transaction():
        # One send of the grant is spent; a concurrent send may have spent it first.
        await SubscriptionGrant.filter(id=grant.id, remaining__gt=0).update(
            remaining=F("remaining") - 1
        )
        try:
            async with in_transaction():
                await SubscriptionMessage.create(
                    brand_id=brand_id,
                    appid=grant.appid,
                    openid=grant.openid,
                    template_id=grant.template_id,
                    msgid=msgid,
                )
        except IntegrityError:
            pass  # WeChat's delivery report arrived first and recorded the message
