"""Answer deadlines in working days: weekends and configured public holidays do not count."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from config import ConfigError, load_config
from webapp.workflow.deadlines import Holidays, add_working_days, is_working_day, working_days_left

VN = "Asia/Ho_Chi_Minh"
NONE = Holidays([])


def local(value: datetime) -> datetime:
    return value.astimezone(ZoneInfo(VN))


def vn(y: int, m: int, d: int, h: int = 9) -> datetime:
    return datetime(y, m, d, h, 0, tzinfo=ZoneInfo(VN)).astimezone(UTC)


@pytest.mark.parametrize(("start", "days", "due"), [
    (vn(2026, 11, 20), 5, date(2026, 11, 27)),   # Friday + 5 → next Friday
    (vn(2026, 11, 23), 5, date(2026, 11, 30)),   # Monday + 5 → next Monday
    (vn(2026, 11, 21), 1, date(2026, 11, 23)),   # Saturday + 1 → Monday
    (vn(2026, 11, 22), 2, date(2026, 11, 24)),   # Sunday + 2 → Tuesday
    (vn(2026, 11, 24), 0, date(2026, 11, 24)),   # 0 days → end of the same day
    (vn(2026, 11, 24), 10, date(2026, 12, 8)),   # two weekends skipped
])
def test_weekends_are_skipped(start, days, due):
    result = add_working_days(start, days, NONE, VN)
    assert local(result).date() == due
    assert (local(result).hour, local(result).minute, local(result).second) == (23, 59, 59)
    assert result.tzinfo == UTC


def test_the_local_day_counts_not_the_utc_day():
    # 18:00 UTC on Friday is 01:00 on Saturday in Vietnam: the count starts from Saturday.
    start = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
    assert local(add_working_days(start, 1, NONE, VN)).date() == date(2026, 11, 23)
    # 16:59 UTC on Friday is still Friday 23:59 in Vietnam.
    start = datetime(2026, 11, 20, 16, 59, tzinfo=UTC)
    assert local(add_working_days(start, 1, NONE, VN)).date() == date(2026, 11, 23)


def test_yearly_and_one_off_holidays_are_skipped():
    holidays = Holidays(["04-30", "05-01", "2027-02-08", "2027-02-09"])
    # Tue 28/4 + 3: Wed 29 (1), Thu 30 and Fri 1 holidays, weekend, Mon 4 (2), Tue 5 (3).
    assert local(add_working_days(vn(2026, 4, 28), 3, holidays, VN)).date() == date(2026, 5, 5)
    assert local(add_working_days(vn(2027, 4, 28), 3, holidays, VN)).date() == date(2027, 5, 4)  # every year
    # One-off dates (e.g. Tết) only in their year: Fri 5/2/2027 + 1 → Mon 8 and Tue 9 off → Wed 10.
    assert local(add_working_days(vn(2027, 2, 5), 1, holidays, VN)).date() == date(2027, 2, 10)
    assert local(add_working_days(vn(2028, 2, 4), 1, holidays, VN)).date() == date(2028, 2, 7)
    assert not is_working_day(date(2026, 4, 30), holidays)
    assert is_working_day(date(2026, 4, 29), holidays)
    assert not is_working_day(date(2026, 5, 2), holidays)  # a Saturday


def test_a_holiday_on_the_start_day_changes_nothing():
    holidays = Holidays(["11-20"])
    assert local(add_working_days(vn(2026, 11, 20), 1, holidays, VN)).date() == date(2026, 11, 23)


def test_working_days_left_counts_both_ways():
    due = add_working_days(vn(2026, 11, 20), 5, NONE, VN)  # Friday 27/11
    assert working_days_left(due, vn(2026, 11, 23), NONE, VN) == 4
    assert working_days_left(due, vn(2026, 11, 27), NONE, VN) == 0
    assert working_days_left(due, vn(2026, 12, 1), NONE, VN) == -2  # Mon 30, Tue 1


def test_holidays_setting_is_checked(monkeypatch, tmp_path):
    monkeypatch.setenv("PAKN_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("PAKN_HOLIDAYS", "01-01,2026-02-17")
    assert load_config()["HOLIDAYS"] == ["01-01", "2026-02-17"]
    monkeypatch.setenv("PAKN_HOLIDAYS", "01-01,31-12")
    with pytest.raises(ConfigError, match="HOLIDAYS"):
        load_config()
