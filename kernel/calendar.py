"""Working days in mainland China, and statutory periods counted the way the Civil Code counts.

The platform stores instants in UTC, but the Bidding Law counts days, and a day is a date on the
wall calendar of the trading centre (Beijing time). So every rule first turns its instants into
local dates (``local_date``), counts on dates (``WorkingCalendar.period_end``) and turns the
result back into a UTC instant (``end_of_day``, ``at_local_time``) for storage.

Which days are working days is not computable: the State Council publishes each year's public
holidays and make-up working days (调休) a few weeks before the year starts. The schedules we know
are bundled in ``holidays_cn.json``; a centre adds next year's by dropping in a file of the same
shape (``load_calendar(path)``). A year without data falls back to weekends only, and
``covered_years`` lets the UI warn that dates in such a year may move.

How "at least N days" and "within N days" are derived from ``period_end`` is written down in
docs/decisions/0002-counting-statutory-periods.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

BUNDLED_HOLIDAYS = Path(__file__).with_name("holidays_cn.json")
DEFAULT_TZ = "Asia/Shanghai"

_SATURDAY = 5


class WorkingCalendar:
    """Which local dates are working days, and the Civil Code's period arithmetic on them.

    Immutable, so one instance can be shared by every request of the process.
    """

    __slots__ = ("covered_years", "holidays", "makeup_workdays")

    holidays: frozenset[date]
    makeup_workdays: frozenset[date]
    covered_years: frozenset[int]

    def __init__(
        self,
        holidays: Iterable[date] = (),
        makeup_workdays: Iterable[date] = (),
        covered_years: Iterable[int] | None = None,
    ) -> None:
        holiday_set = frozenset(holidays)
        makeup_set = frozenset(makeup_workdays)
        both = sorted(holiday_set & makeup_set)
        if both:
            raise ValueError(f"dates both holiday and make-up working day: {_iso(both)}")
        # A make-up working day always replaces a weekend day; one on a weekday is a typo in the
        # data that would otherwise silently shift a statutory deadline.
        weekdays = sorted(d for d in makeup_set if d.weekday() < _SATURDAY)
        if weekdays:
            raise ValueError(f"make-up working days must fall on a weekend: {_iso(weekdays)}")
        object.__setattr__(self, "holidays", holiday_set)
        object.__setattr__(self, "makeup_workdays", makeup_set)
        years = {d.year for d in holiday_set} if covered_years is None else covered_years
        object.__setattr__(self, "covered_years", frozenset(years))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("WorkingCalendar is immutable")

    def __repr__(self) -> str:
        return (
            f"WorkingCalendar({len(self.holidays)} holidays, "
            f"{len(self.makeup_workdays)} make-up days, years={sorted(self.covered_years)})"
        )

    def covers(self, d: date) -> bool:
        """Whether the official schedule for ``d``'s year is known (else weekends only)."""
        return d.year in self.covered_years

    def is_working_day(self, d: date) -> bool:
        """A weekday that is not a public holiday, or a weekend day declared a make-up day."""
        if d in self.makeup_workdays:
            return True
        if d in self.holidays:
            return False
        return d.weekday() < _SATURDAY

    def next_working_day(self, d: date) -> date:
        """``d`` itself if it is a working day, else the first working day after it."""
        while not self.is_working_day(d):
            d += timedelta(days=1)
        return d

    def period_end(self, start: date, days: int) -> date:
        """Last day of a ``days``-day period starting on ``start`` (Civil Code arts. 201, 203).

        The day the period starts does not count, so it ends on ``start + days``; when that day
        is a weekend or public holiday the period ends on the next working day instead.
        """
        if days < 0:
            raise ValueError("a period cannot have a negative number of days")
        return self.next_working_day(start + timedelta(days=days))

    def latest_period_start(self, end: date, days: int) -> date:
        """Latest start date whose ``days``-day period still ends on or before ``end``.

        Used to tell a user the last day on which they could have acted. ``period_end`` never
        decreases as the start moves later, so walking back from ``end - days`` finds it.
        """
        start = end - timedelta(days=days)
        while self.period_end(start, days) > end:
            start -= timedelta(days=1)
        return start

    def add_working_days(self, start: date, n: int) -> date:
        """The ``n``-th working day after ``start``, for "within 3 working days"; n=0: ``start``."""
        if n < 0:
            raise ValueError("cannot add a negative number of working days")
        d = start
        while n:
            d += timedelta(days=1)
            if self.is_working_day(d):
                n -= 1
        return d

    def merged(self, other: WorkingCalendar) -> WorkingCalendar:
        """This calendar with ``other`` laid over it; ``other`` wins where the two disagree.

        A centre's own file may correct a bundled date, e.g. when a schedule is amended.
        """
        return WorkingCalendar(
            holidays=(self.holidays - other.makeup_workdays) | other.holidays,
            makeup_workdays=(self.makeup_workdays - other.holidays) | other.makeup_workdays,
            covered_years=self.covered_years | other.covered_years,
        )


def load_calendar(path: Path | None = None) -> WorkingCalendar:
    """The bundled State Council schedules, plus the file at ``path`` if given.

    The extra file has the bundled file's shape: {"holidays": [...], "makeup_workdays": [...]},
    ISO dates, and optionally "years": [...] naming the years it fully covers (by default, the
    years its holidays fall in).
    """
    calendar = _read_calendar(BUNDLED_HOLIDAYS)
    if path is not None:
        calendar = calendar.merged(_read_calendar(path))
    return calendar


def _read_calendar(path: Path) -> WorkingCalendar:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    try:
        years = data.get("years")
        return WorkingCalendar(
            holidays=_dates(data.get("holidays", []), "holidays"),
            makeup_workdays=_dates(data.get("makeup_workdays", []), "makeup_workdays"),
            covered_years=None if years is None else [int(y) for y in years],
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from exc


def _dates(values: Any, key: str) -> list[date]:
    if not isinstance(values, list):
        raise ValueError(f"{key!r} must be a list of ISO dates")
    return [date.fromisoformat(v) for v in values]


def _iso(dates: Iterable[date]) -> str:
    return ", ".join(d.isoformat() for d in dates)


def _aware(instant: datetime) -> datetime:
    # A naive datetime would be read in the server's zone and shift a deadline by hours.
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("expected a timezone-aware datetime")
    return instant


def local_date(instant: datetime, tz: str = DEFAULT_TZ) -> date:
    """The date on the wall calendar of ``tz`` at ``instant``: the day the law counts."""
    return _aware(instant).astimezone(ZoneInfo(tz)).date()


def last_local_day(end: datetime, tz: str = DEFAULT_TZ) -> date:
    """The last local date on which something that stops at ``end`` is still running.

    An end at local midnight is how ``end_of_day`` writes 24:00, so it belongs to the day before.
    """
    return local_date(_aware(end) - timedelta(microseconds=1), tz)


def end_of_day(d: date, tz: str = DEFAULT_TZ) -> datetime:
    """24:00 local of ``d`` as a UTC instant: a period's last day ends then (Civil Code art. 203).

    It is the first instant after the period, so "in time" means strictly before it.
    """
    return datetime.combine(d + timedelta(days=1), time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def at_local_time(d: date, hour: int, minute: int = 0, tz: str = DEFAULT_TZ) -> datetime:
    """The UTC instant of ``hour:minute`` local on ``d`` (e.g. an opening at 09:30 Beijing)."""
    return datetime.combine(d, time(hour, minute), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def format_instant(instant: datetime, tz: str = DEFAULT_TZ) -> str:
    """Local "YYYY-MM-DD HH:MM"; a local midnight reads "<day before> 24:00", because periods
    end at the next midnight and users read the last day of the period, not the day after."""
    local = instant.astimezone(ZoneInfo(tz))
    if local.time() == time.min:
        return f"{(local.date() - timedelta(days=1)).isoformat()} 24:00"
    return local.strftime("%Y-%m-%d %H:%M")
