"""The statutory time limits and thresholds of a tender, per procedure type, and their checks.

Sources: 招标投标法 (Bidding Law) arts. 24, 28, 46, 47 and its 实施条例 (Implementing
Regulations) arts. 16, 21, 22, 26, 44, 54. Periods are counted as the Civil Code counts them,
on local dates; docs/decisions/0002-counting-statutory-periods.md says exactly how:

- "at least N days from X to Y": the local date of Y is on or after ``cal.period_end(X, N)``;
- "within N days of X": before ``end_of_day(cal.period_end(X, N))``.

Every function is pure: the calendar and the time zone are passed in, so a test or a centre in
another zone sets them instead of patching globals. Checks raise a ``RuleViolation`` whose message
names the dates involved, because "too soon" alone leaves the user guessing what would do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import ClassVar, Final
from zoneinfo import ZoneInfo

from kernel.calendar import (
    WorkingCalendar,
    end_of_day,
    format_instant,
    last_local_day,
    local_date,
)
from kernel.errors import DomainError, InvalidInput


@dataclass(frozen=True)
class ProcedureRules:
    """The numbers the law sets for one procedure type; every period is in calendar days."""

    min_issue_days: int = 5  # 实施条例 16: documents on sale for at least 5 days
    min_days_issue_to_deadline: int = 20  # 招标投标法 24
    clarification_min_days: int = 15  # 实施条例 21: else the deadline moves
    objection_documents_min_days: int = 10  # 实施条例 22
    objection_answer_days: int = 3  # 实施条例 22 and 54
    min_bids: int = 3  # 招标投标法 28, 实施条例 44: fewer bids and the tender fails
    publicity_start_days: int = 3  # 实施条例 54: candidates published within 3 days of the report
    min_publicity_days: int = 3  # 实施条例 54
    max_deposit_ratio: Decimal = Decimal("0.02")  # 实施条例 26: of the estimated price
    report_due_days: int = 15  # 招标投标法 47: written report after the award
    contract_due_days: int = 30  # 招标投标法 46: contract after the award notice


# Open and invited tenders share every number in law today; the table exists so that a
# procedure type with other limits is a new row, not an `if` in each check.
RULES: Final[dict[str, ProcedureRules]] = {
    "open": ProcedureRules(),  # 公开招标
    "invited": ProcedureRules(),  # 邀请招标
}


def rules_for(method: str) -> ProcedureRules:
    """The rules for a procedure method value (``bidding.models.Method``)."""
    try:
        return RULES[method]
    except KeyError:
        raise ValueError(f"no statutory rules for procedure method {method!r}") from None


class RuleViolation(DomainError):
    """An action would break a statutory rule; ``basis`` cites the article for a supervisor."""

    status_code = 409
    code = "rule_violation"
    basis: ClassVar[str] = ""
    zh = "该操作不符合招标投标法律法规的规定"
    en = "This would break a statutory rule of the bidding law"


class IssuePeriodTooShort(RuleViolation):
    status_code = 400
    code = "issue_period_too_short"
    basis = "《招标投标法实施条例》第十六条"
    zh = "招标文件发售期不得少于 {days} 日：{issued} 开始发售的，发售截止不得早于 {earliest}"
    en = (
        "Tender documents must be on sale for at least {days} days: issued on {issued}, "
        "the sale may not end before {earliest}"
    )


class DeadlineTooSoon(RuleViolation):
    status_code = 400
    code = "deadline_too_soon"
    basis = "《招标投标法》第二十四条"
    zh = "投标截止时间须不早于 {earliest}（自招标文件发出之日 {issued} 起不少于 {days} 日）"
    en = (
        "The bid deadline must be on {earliest} or later "
        "(at least {days} days from the issue of the tender documents on {issued})"
    )


class ClarificationNeedsPostponement(RuleViolation):
    code = "clarification_needs_postponement"
    basis = "《招标投标法实施条例》第二十一条"
    zh = (
        "澄清或修改于 {clarified} 发出，距投标截止时间不足 {days} 日："
        "投标截止时间须顺延至 {new_deadline} 或以后"
    )
    en = (
        "A clarification or change sent on {clarified} leaves fewer than {days} days before "
        "the bid deadline: the deadline must move to {new_deadline} or later"
    )


class DepositTooHigh(RuleViolation):
    status_code = 400
    code = "deposit_too_high"
    basis = "《招标投标法实施条例》第二十六条"
    zh = "投标保证金不得超过估算价（{estimate} 元）的 {percent}%，即最多 {maximum} 元"
    en = (
        "The bid deposit may not exceed {percent}% of the estimated price "
        "(CNY {estimate}): at most CNY {maximum}"
    )


class DocumentsObjectionTooLate(RuleViolation):
    code = "documents_objection_too_late"
    basis = "《招标投标法实施条例》第二十二条"
    zh = (
        "对招标文件的异议应当在投标截止时间 {days} 日前提出，即不晚于 {latest}"
        "（投标截止日为 {deadline}）"
    )
    en = (
        "An objection to the tender documents must be raised at least {days} days before "
        "the bid deadline, i.e. by {latest} (the deadline is on {deadline})"
    )


class PublicityTooShort(RuleViolation):
    status_code = 400
    code = "publicity_too_short"
    basis = "《招标投标法实施条例》第五十四条"
    zh = "中标候选人公示期不得少于 {days} 日：{starts} 开始的公示不得早于 {earliest} 结束"
    en = (
        "Candidates must be published for at least {days} days: publicity starting on "
        "{starts} may not end before the end of {earliest}"
    )


class PublicityNotOver(RuleViolation):
    code = "publicity_not_over"
    basis = "《招标投标法实施条例》第五十四条"
    zh = "中标候选人公示期至 {ends} 届满，届满前不得进行下一步"
    en = "The candidate publicity runs until {ends}; the next step must wait until then"


def check_issue_period(
    rules: ProcedureRules,
    cal: WorkingCalendar,
    issued_at: datetime,
    issue_ends_at: datetime,
    tz: str,
) -> None:
    """Refuse a document sale that ends before ``min_issue_days`` have run."""
    issued = local_date(issued_at, tz)
    earliest = cal.period_end(issued, rules.min_issue_days)
    if last_local_day(issue_ends_at, tz) < earliest:
        raise IssuePeriodTooShort(
            days=rules.min_issue_days, issued=issued.isoformat(), earliest=earliest.isoformat()
        )


def earliest_deadline(
    rules: ProcedureRules, cal: WorkingCalendar, issued_at: datetime, tz: str
) -> date:
    """First local date the bid deadline may fall on, for documents issued at ``issued_at``."""
    return cal.period_end(local_date(issued_at, tz), rules.min_days_issue_to_deadline)


def check_deadline(
    rules: ProcedureRules,
    cal: WorkingCalendar,
    issued_at: datetime,
    deadline_at: datetime,
    tz: str,
) -> None:
    """Refuse a bid deadline fewer than ``min_days_issue_to_deadline`` days after the issue."""
    earliest = earliest_deadline(rules, cal, issued_at, tz)
    if last_local_day(deadline_at, tz) < earliest:
        raise DeadlineTooSoon(
            days=rules.min_days_issue_to_deadline,
            issued=local_date(issued_at, tz).isoformat(),
            earliest=earliest.isoformat(),
        )


def deadline_after_clarification(
    rules: ProcedureRules,
    cal: WorkingCalendar,
    clarified_at: datetime,
    deadline_at: datetime,
    tz: str,
) -> datetime | None:
    """None if the deadline may stay after a clarification at ``clarified_at``, else the new one.

    The new deadline keeps the old local time of day (openings are booked at a set hour) on the
    earliest date that leaves bidders ``clarification_min_days`` days.
    """
    earliest = cal.period_end(local_date(clarified_at, tz), rules.clarification_min_days)
    last_day = last_local_day(deadline_at, tz)
    if last_day >= earliest:
        return None
    return _shift_local_days(deadline_at, (earliest - last_day).days, tz)


def check_clarification(
    rules: ProcedureRules,
    cal: WorkingCalendar,
    clarified_at: datetime,
    deadline_at: datetime,
    tz: str,
) -> None:
    """Refuse a clarification sent too late for the deadline it is published with."""
    moved = deadline_after_clarification(rules, cal, clarified_at, deadline_at, tz)
    if moved is not None:
        raise ClarificationNeedsPostponement(
            days=rules.clarification_min_days,
            clarified=local_date(clarified_at, tz).isoformat(),
            new_deadline=format_instant(moved, tz),
        )


def check_deposit(rules: ProcedureRules, deposit: Decimal, estimate: Decimal) -> None:
    """Refuse a bid deposit above ``max_deposit_ratio`` of the estimated contract price."""
    if deposit < 0:
        raise InvalidInput("deposit", "must not be negative", "不得为负数")
    maximum = estimate * rules.max_deposit_ratio
    if deposit > maximum:
        # Rounded down to the fen, so the amount we name as the maximum is itself allowed.
        shown = maximum.quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        raise DepositTooHigh(
            percent=format((rules.max_deposit_ratio * 100).normalize(), "f"),
            maximum=_format_money(shown),
            estimate=_format_money(estimate),
        )


def check_documents_objection(
    rules: ProcedureRules,
    cal: WorkingCalendar,
    raised_at: datetime,
    deadline_at: datetime,
    tz: str,
) -> None:
    """Refuse an objection to the tender documents raised too close to the bid deadline."""
    days = rules.objection_documents_min_days
    deadline_day = last_local_day(deadline_at, tz)
    if cal.period_end(local_date(raised_at, tz), days) > deadline_day:
        raise DocumentsObjectionTooLate(
            days=days,
            latest=cal.latest_period_start(deadline_day, days).isoformat(),
            deadline=deadline_day.isoformat(),
        )


def objection_answer_due(
    rules: ProcedureRules, cal: WorkingCalendar, raised_at: datetime, tz: str
) -> datetime:
    """When the answer to an objection raised at ``raised_at`` is due (exclusive, UTC)."""
    return _due(cal, raised_at, rules.objection_answer_days, tz)


def lot_fails(rules: ProcedureRules, bid_count: int) -> bool:
    """Whether a lot with ``bid_count`` bids fails (流标) and must be tendered again."""
    return bid_count < rules.min_bids


def publicity_start_due_at(
    rules: ProcedureRules, cal: WorkingCalendar, evaluated_at: datetime, tz: str
) -> datetime:
    """By when the candidates must be published after the evaluation report (exclusive, UTC)."""
    return _due(cal, evaluated_at, rules.publicity_start_days, tz)


def publicity_ends_at(
    rules: ProcedureRules, cal: WorkingCalendar, starts_at: datetime, tz: str
) -> datetime:
    """Earliest end of a candidate publicity starting at ``starts_at``: 24:00 of its last day."""
    return _due(cal, starts_at, rules.min_publicity_days, tz)


def check_publicity(
    rules: ProcedureRules,
    cal: WorkingCalendar,
    starts_at: datetime,
    ends_at: datetime,
    tz: str,
) -> None:
    """Refuse a candidate publicity shorter than ``min_publicity_days``."""
    starts = local_date(starts_at, tz)
    earliest = cal.period_end(starts, rules.min_publicity_days)
    if last_local_day(ends_at, tz) < earliest:
        raise PublicityTooShort(
            days=rules.min_publicity_days, starts=starts.isoformat(), earliest=earliest.isoformat()
        )


def check_publicity_over(ends_at: datetime, now: datetime, tz: str) -> None:
    """Refuse the step after the publicity (the award) while the publicity is still running."""
    if now < ends_at:
        raise PublicityNotOver(ends=format_instant(ends_at, tz))


def report_due_at(
    rules: ProcedureRules, cal: WorkingCalendar, awarded_at: datetime, tz: str
) -> datetime:
    """By when the written report goes to the supervising authority (exclusive, UTC)."""
    return _due(cal, awarded_at, rules.report_due_days, tz)


def contract_due_at(
    rules: ProcedureRules, cal: WorkingCalendar, awarded_at: datetime, tz: str
) -> datetime:
    """By when the contract must be signed after the award notice (exclusive, UTC)."""
    return _due(cal, awarded_at, rules.contract_due_days, tz)


def _due(cal: WorkingCalendar, start_at: datetime, days: int, tz: str) -> datetime:
    return end_of_day(cal.period_end(local_date(start_at, tz), days), tz)


def _shift_local_days(instant: datetime, days: int, tz: str) -> datetime:
    # On the wall clock, not in UTC hours, so the time of day survives any offset change.
    zone = ZoneInfo(tz)
    local = instant.astimezone(zone)
    moved = datetime.combine(local.date() + timedelta(days=days), local.time(), tzinfo=zone)
    return moved.astimezone(UTC)


def _format_money(amount: Decimal) -> str:
    return f"{amount:,.2f}"
