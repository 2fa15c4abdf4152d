"""Jinja2 set-up. Strings are written bilingually in place: ``t("招标公告", "Announcements")``.

See docs/decisions/0003-bilingual-strings.md for why there is no gettext catalogue.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.templating import Jinja2Templates

from kernel.calendar import format_instant
from kernel.http import actor_of, csrf_token, locale_of


def _context(request: Request) -> dict[str, Any]:
    locale = locale_of(request)

    def t(zh: str, en: str) -> str:
        return en if locale == "en" else zh

    return {
        "t": t,
        "locale": locale,
        "actor": actor_of(request),
        "csrf_token": csrf_token(request),
    }


def make_templates(directory: Path, tz: str) -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(directory), context_processors=[_context])
    zone = ZoneInfo(tz)

    def fmt_dt(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return value.astimezone(zone).strftime(fmt) if value else ""

    def fmt_date(value: datetime | None) -> str:
        return fmt_dt(value, "%Y-%m-%d")

    def fmt_dt_end(value: datetime | None) -> str:
        """The end of a period: local midnight reads "2026-03-09 24:00", not the next day."""
        return format_instant(value, tz) if value else ""

    def fmt_money(value: Decimal | float | int | None) -> str:
        return "" if value is None else f"¥{Decimal(value):,.2f}"

    env = templates.env
    env.filters["dt"] = fmt_dt
    env.filters["date"] = fmt_date
    env.filters["dt_end"] = fmt_dt_end
    env.filters["money"] = fmt_money
    env.globals["tz_name"] = tz
    return templates
