"""Membership housekeeping on a schedule: unpaid orders, points expiry, level periods, sessions."""

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.services import levels, orders, points, sessions

log = logging.getLogger(__name__)

# WeChat stops accepting a payment at its deadline; a little later the order is closed, so a
# payment made in the last second is settled, not refused.
CLOSE_GRACE = timedelta(minutes=2)


async def close_unpaid_orders(ctx: dict[str, Any]) -> int:
    """Cron: close orders past their payment deadline and give back stored value they held."""
    del ctx
    closed = await orders.close_expired_orders(datetime.now(UTC), CLOSE_GRACE)
    if closed:
        log.info("closed %d unpaid order(s)", closed)
    return closed


async def expire_points(ctx: dict[str, Any]) -> int:
    """Cron: expire the points left in lots past their date (oldest first)."""
    del ctx
    expired = await points.expire_points(datetime.now(UTC))
    if expired:
        log.info("expired %d points lot(s)", expired)
    return expired


async def review_levels(ctx: dict[str, Any]) -> int:
    """Cron: end bought cards past their date and level periods that are over."""
    del ctx
    changed = await levels.review_due(datetime.now(UTC))
    if changed:
        log.info("reviewed %d member level(s)", changed)
    return changed


async def forget_sessions(ctx: dict[str, Any]) -> int:
    """Cron: delete mini-program sessions past their expiry."""
    del ctx
    return await sessions.close_expired_sessions(datetime.now(UTC))
