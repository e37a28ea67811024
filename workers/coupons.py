"""Coupon housekeeping on a schedule: expiry, and the birthday coupons of the day."""

import logging
from datetime import UTC, datetime
from typing import Any

from hub.services import birthdays, coupons

log = logging.getLogger(__name__)


async def expire_coupons(ctx: dict[str, Any]) -> int:
    """Cron: coupons past their validity become expired."""
    del ctx
    expired = await coupons.expire_coupons(datetime.now(UTC))
    if expired:
        log.info("expired %d coupon(s)", expired)
    return expired


async def give_birthday_coupons(ctx: dict[str, Any]) -> int:
    """Cron: today's birthday coupons (hourly, so a worker down at midnight catches up)."""
    del ctx
    given = await birthdays.give_birthday_coupons(datetime.now(UTC))
    if given:
        log.info("gave %d birthday coupon(s)", given)
    return given
