"""Members' birthdays and the birthday coupon their level gives, once a year.

A member sets their birthday once (a changeable birthday would be a coupon tap). On the day —
China's calendar; a 29 February birthday is kept on 28 February in other years — the hourly job
gives each member their level's `birthday_coupon`, keyed by member and year, so a job run many
times that day, or by many workers, gives it once.
"""

import calendar
from datetime import UTC, date, datetime

from tortoise.transactions import in_transaction

from hub.dates import beijing_day
from hub.errors import AlreadyExistsError, InvalidValueError
from hub.models.coupon import IssueSource
from hub.models.member import Member
from hub.services import audit, coupons
from hub.services.audit import Actor
from hub.services.member_locks import lock_member
from hub.services.programme import load_programme

_EARLIEST = date(1900, 1, 1)
_FEB, _LAST_FEB_DAY = 2, 28


async def set_birthday(member_id: int, birthday: date, actor: Actor) -> Member:
    """Set the member's birthday; the same day again changes nothing.

    Raises:
        InvalidValueError: a day in the future or before 1900.
        AlreadyExistsError: "birthday_already_set" (another day was set before).
    """
    if not _EARLIEST <= birthday <= beijing_day(datetime.now(UTC)):
        raise InvalidValueError("birthday", "must be a past day, from 1900-01-01")
    async with in_transaction():
        member = await lock_member(member_id)
        if member.birthday == birthday:
            return member
        if member.birthday is not None:
            raise AlreadyExistsError(
                "birthday_already_set", "the birthday is set already and cannot be changed"
            )
        member.birthday, member.birthday_mmdd = birthday, f"{birthday:%m%d}"
        await member.save(update_fields=["birthday", "birthday_mmdd", "updated_at"])
        await audit.record(
            actor,
            "member.set_birthday",
            "member",
            member.id,
            brand_id=member.brand_id,
            after={"birthday": birthday.isoformat()},
        )
    return member


def birthdays_on(day: date) -> list[str]:
    """The month-days whose birthday is kept on `day` (29 February on 28 February, if need be)."""
    days = [f"{day:%m%d}"]
    if (day.month, day.day) == (_FEB, _LAST_FEB_DAY) and not calendar.isleap(day.year):
        days.append("0229")
    return days


async def give_birthday_coupons(now: datetime, batch: int = 500) -> int:
    """Give today's birthday coupons (China's today); returns how many were given."""
    today = beijing_day(now)
    given, after = 0, 0
    while True:
        rows = await (
            Member.filter(birthday_mmdd__in=birthdays_on(today), merged_into_id=None, id__gt=after)
            .order_by("id")
            .limit(batch)
            .values("id")
        )
        for row in rows:
            given += await _give(int(row["id"]), today.year, now)
        if len(rows) < batch:
            return given
        after = int(rows[-1]["id"])


async def _give(member_id: int, year: int, now: datetime) -> int:
    async with in_transaction():
        member = await lock_member(member_id)
        level = (await load_programme(member.brand_id)).level(member.level_id)
        if level is None or level.birthday_coupon is None:
            return 0
        coupon = await coupons.give_coupon(
            member,
            level.birthday_coupon,
            f"birthday:{member.id}:{year}",
            IssueSource.BIRTHDAY,
            Actor.system(),
            now,
        )
    return int(coupon is not None)
