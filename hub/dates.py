"""Calendar arithmetic in China's time: days as customers and stores count them, months ahead."""

import calendar
from datetime import UTC, date, datetime, time, timedelta, timezone

# China Standard Time has been UTC+8 all year since 1991: a fixed offset needs no tz database.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


def add_months(moment: datetime, months: int) -> datetime:
    """The same day and time `months` later (the month's last day when it is shorter)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def beijing_day(moment: datetime) -> date:
    """The calendar day in China at `moment` (an aware datetime)."""
    return moment.astimezone(BEIJING).date()


def day_start_utc(day: date) -> datetime:
    """Midnight of a China calendar day, in UTC."""
    return datetime.combine(day, time(), BEIJING).astimezone(UTC)
