"""Answer deadlines in working days: weekends and the configured public holidays do not count."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


class Holidays:
    """Dates from the HOLIDAYS setting: 'MM-DD' repeats every year, 'YYYY-MM-DD' is one day."""

    def __init__(self, items: Iterable[str]) -> None:
        self.yearly: set[tuple[int, int]] = set()
        self.dates: set[date] = set()
        for item in items:
            text = item.strip()
            if len(text) == 10:
                self.dates.add(date.fromisoformat(text))
            elif text:
                month, day = text.split("-")
                self.yearly.add((int(month), int(day)))

    def __contains__(self, day: date) -> bool:
        return day in self.dates or (day.month, day.day) in self.yearly


def is_working_day(day: date, holidays: Holidays) -> bool:
    return day.weekday() < 5 and day not in holidays


def add_working_days(start: datetime, days: int, holidays: Holidays, tz: str) -> datetime:
    """The end (23:59:59 local) of the ``days``-th working day after the local day of ``start``.

    The day of ``start`` itself does not count: a report assigned on Friday with 5 days is due
    at the end of the next Friday (or later, when holidays fall in between). ``days`` = 0 means
    the end of the same day. The result is in UTC.
    """
    zone = ZoneInfo(tz)
    day = start.astimezone(zone).date()
    left = days
    while left > 0:
        day += timedelta(days=1)
        if is_working_day(day, holidays):
            left -= 1
    return datetime.combine(day, time(23, 59, 59), zone).astimezone(UTC)


def working_days_left(deadline: datetime, moment: datetime, holidays: Holidays, tz: str) -> int:
    """Working days from the local day of ``moment`` to the deadline's day (negative when late)."""
    zone = ZoneInfo(tz)
    today, due = moment.astimezone(zone).date(), deadline.astimezone(zone).date()
    step = 1 if due >= today else -1
    count, day = 0, today
    while day != due:
        day += timedelta(days=step)
        if is_working_day(day, holidays):
            count += step
    return count
