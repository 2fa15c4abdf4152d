import json
from datetime import UTC, date, datetime

import pytest

from kernel.calendar import (
    WorkingCalendar,
    at_local_time,
    end_of_day,
    last_local_day,
    load_calendar,
    local_date,
)


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return load_calendar()


class TestWorkingDays:
    def test_weekdays_work_and_weekends_do_not(self, cal):
        assert cal.is_working_day(date(2026, 3, 6))  # Friday
        assert not cal.is_working_day(date(2026, 3, 7))  # Saturday
        assert not cal.is_working_day(date(2026, 3, 8))  # Sunday

    def test_public_holidays_on_weekdays_are_off(self, cal):
        assert not cal.is_working_day(date(2026, 1, 1))  # 元旦, Thursday
        assert not cal.is_working_day(date(2026, 2, 23))  # 春节, Monday
        assert not cal.is_working_day(date(2026, 10, 7))  # 国庆, Wednesday
        assert cal.is_working_day(date(2026, 10, 8))

    def test_makeup_working_days_on_weekends_work(self, cal):
        assert cal.is_working_day(date(2026, 1, 4))  # Sunday 调休
        assert cal.is_working_day(date(2026, 2, 14))  # Saturday
        assert cal.is_working_day(date(2026, 9, 20))  # Sunday
        assert cal.is_working_day(date(2026, 10, 10))  # Saturday

    def test_bundled_2024_and_2025_schedules(self, cal):
        assert not cal.is_working_day(date(2024, 2, 16))  # 春节
        assert cal.is_working_day(date(2024, 2, 9))  # 除夕 2024 was only "encouraged" off
        assert cal.is_working_day(date(2024, 2, 18))  # Sunday 调休
        assert cal.is_working_day(date(2024, 10, 12))
        assert not cal.is_working_day(date(2024, 6, 10))  # 端午
        assert not cal.is_working_day(date(2025, 2, 4))  # 春节
        assert cal.is_working_day(date(2025, 1, 26))
        assert not cal.is_working_day(date(2025, 10, 8))  # 国庆 + 中秋
        assert cal.is_working_day(date(2025, 10, 11))

    def test_covered_years_and_weekend_fallback(self, cal):
        assert cal.covered_years == frozenset({2024, 2025, 2026})
        assert cal.covers(date(2026, 12, 31))
        assert not cal.covers(date(2030, 1, 1))
        # Without a schedule New Year's Day 2030 (a Tuesday) counts as a working day.
        assert cal.is_working_day(date(2030, 1, 1))
        assert not cal.is_working_day(date(2030, 1, 5))  # Saturday

    def test_next_working_day(self, cal):
        assert cal.next_working_day(date(2026, 3, 6)) == date(2026, 3, 6)
        assert cal.next_working_day(date(2026, 3, 7)) == date(2026, 3, 9)
        assert cal.next_working_day(date(2026, 2, 15)) == date(2026, 2, 24)


class TestPeriodEnd:
    def test_first_day_not_counted(self, cal):
        assert cal.period_end(date(2026, 3, 2), 17) == date(2026, 3, 19)
        assert cal.period_end(date(2026, 3, 2), 0) == date(2026, 3, 2)

    def test_end_on_weekend_rolls_to_monday(self, cal):
        assert cal.period_end(date(2026, 3, 2), 5) == date(2026, 3, 9)

    def test_end_in_national_day_rolls_past_the_holiday(self, cal):
        assert cal.period_end(date(2026, 9, 11), 20) == date(2026, 10, 8)

    def test_end_in_mid_autumn_rolls_past_holiday_and_weekend(self, cal):
        assert cal.period_end(date(2026, 9, 23), 3) == date(2026, 9, 28)

    def test_end_on_makeup_day_stays(self, cal):
        assert cal.period_end(date(2026, 9, 13), 7) == date(2026, 9, 20)

    def test_negative_days_refused(self, cal):
        with pytest.raises(ValueError):
            cal.period_end(date(2026, 3, 2), -1)

    def test_latest_period_start(self, cal):
        assert cal.latest_period_start(date(2026, 10, 12), 10) == date(2026, 10, 2)
        # Ending on a holiday: every later start would roll past it.
        assert cal.latest_period_start(date(2026, 10, 5), 10) == date(2026, 9, 20)


class TestAddWorkingDays:
    def test_skips_national_day_and_counts_makeup_saturday(self, cal):
        assert cal.add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)

    def test_ordinary_week(self, cal):
        assert cal.add_working_days(date(2026, 3, 5), 3) == date(2026, 3, 10)

    def test_zero_and_negative(self, cal):
        assert cal.add_working_days(date(2026, 3, 7), 0) == date(2026, 3, 7)
        with pytest.raises(ValueError):
            cal.add_working_days(date(2026, 3, 7), -1)


class TestValidation:
    def test_date_both_holiday_and_makeup_refused(self):
        with pytest.raises(ValueError, match="2026-01-03"):
            WorkingCalendar({date(2026, 1, 3)}, {date(2026, 1, 3)})

    def test_makeup_day_on_weekday_refused(self):
        with pytest.raises(ValueError, match="2026-10-09"):
            WorkingCalendar(set(), {date(2026, 10, 9)})

    def test_immutable(self, cal):
        with pytest.raises(AttributeError):
            cal.holidays = frozenset()


class TestLoadCalendar:
    def test_extra_file_merged(self, tmp_path):
        extra = tmp_path / "holidays-2027.json"
        extra.write_text(
            json.dumps({"holidays": ["2027-01-01"], "makeup_workdays": ["2027-01-02"]}),
            encoding="utf-8",
        )
        cal = load_calendar(extra)
        assert cal.covered_years == frozenset({2024, 2025, 2026, 2027})
        assert not cal.is_working_day(date(2027, 1, 1))  # Friday
        assert cal.is_working_day(date(2027, 1, 2))  # Saturday
        assert not cal.is_working_day(date(2026, 10, 1))  # bundled data kept
        assert cal.is_working_day(date(2026, 10, 10))

    def test_extra_file_overrides_bundled_date(self, tmp_path):
        extra = tmp_path / "amend.json"
        extra.write_text(
            json.dumps({"holidays": [], "makeup_workdays": ["2026-01-03"], "years": [2026]}),
            encoding="utf-8",
        )
        cal = load_calendar(extra)
        assert cal.is_working_day(date(2026, 1, 3))
        assert not cal.is_working_day(date(2026, 1, 2))

    def test_bad_extra_file_names_the_file(self, tmp_path):
        extra = tmp_path / "broken.json"
        extra.write_text(json.dumps({"holidays": ["2027-13-01"]}), encoding="utf-8")
        with pytest.raises(ValueError, match=r"broken\.json"):
            load_calendar(extra)


class TestLocalTime:
    def test_local_date_is_beijing_date(self):
        late_utc = datetime(2026, 9, 30, 17, 0, tzinfo=UTC)  # 01:00 on 1 October in Beijing
        assert local_date(late_utc) == date(2026, 10, 1)
        assert local_date(late_utc, "UTC") == date(2026, 9, 30)

    def test_naive_datetime_refused(self):
        with pytest.raises(ValueError):
            local_date(datetime(2026, 9, 30, 17, 0))

    def test_end_of_day_is_next_local_midnight_in_utc(self):
        assert end_of_day(date(2026, 10, 8), "Asia/Shanghai") == datetime(
            2026, 10, 8, 16, 0, tzinfo=UTC
        )

    def test_at_local_time(self):
        assert at_local_time(date(2026, 10, 8), 9, 30, "Asia/Shanghai") == datetime(
            2026, 10, 8, 1, 30, tzinfo=UTC
        )

    def test_last_local_day_puts_midnight_on_the_day_before(self):
        assert last_local_day(end_of_day(date(2026, 10, 8))) == date(2026, 10, 8)
        assert last_local_day(at_local_time(date(2026, 10, 8), 9, 30)) == date(2026, 10, 8)
