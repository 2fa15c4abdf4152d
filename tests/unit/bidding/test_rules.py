from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from bidding import rules as r
from kernel.calendar import WorkingCalendar, at_local_time, end_of_day, load_calendar
from kernel.errors import DomainError, InvalidInput

TZ = "Asia/Shanghai"
RULES = r.rules_for("open")


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return load_calendar()


def bj(y: int, m: int, d: int, hour: int = 10, minute: int = 0) -> datetime:
    """An instant given in Beijing wall time, as the UTC datetime the platform stores."""
    return at_local_time(date(y, m, d), hour, minute, TZ)


class TestTable:
    def test_statutory_values(self):
        assert RULES.min_issue_days == 5
        assert RULES.min_days_issue_to_deadline == 20
        assert RULES.clarification_min_days == 15
        assert RULES.objection_documents_min_days == 10
        assert RULES.objection_answer_days == 3
        assert RULES.min_bids == 3
        assert RULES.min_publicity_days == 3
        assert RULES.max_deposit_ratio == Decimal("0.02")
        assert RULES.report_due_days == 15
        assert RULES.contract_due_days == 30

    def test_open_and_invited_are_filled(self):
        assert r.rules_for("invited") == r.rules_for("open") == r.ProcedureRules()
        assert set(r.RULES) == {"open", "invited"}

    def test_unknown_method_refused(self):
        with pytest.raises(ValueError, match="negotiated"):
            r.rules_for("negotiated")

    def test_violations_are_domain_errors_citing_the_law(self):
        for cls in (
            r.IssuePeriodTooShort,
            r.DeadlineTooSoon,
            r.ClarificationNeedsPostponement,
            r.DepositTooHigh,
            r.DocumentsObjectionTooLate,
            r.PublicityTooShort,
            r.PublicityNotOver,
        ):
            assert issubclass(cls, r.RuleViolation)
            assert issubclass(cls, DomainError)
            assert cls.status_code in (400, 409)
            assert cls.basis.startswith("《招标投标法")


class TestIssuePeriod:
    def test_five_days_rolled_past_the_weekend_passes(self, cal):
        # Issued Monday 2 March; day 5 is Saturday 7 March, so the sale runs to Monday 9 March.
        r.check_issue_period(RULES, cal, bj(2026, 3, 2, 9), bj(2026, 3, 9, 17), TZ)

    def test_ending_on_the_friday_fails_and_names_the_date(self, cal):
        with pytest.raises(r.IssuePeriodTooShort) as exc:
            r.check_issue_period(RULES, cal, bj(2026, 3, 2, 9), bj(2026, 3, 6, 17), TZ)
        assert exc.value.status_code == 400
        zh = exc.value.message("zh-CN")
        assert "2026-03-09" in zh and "2026-03-02" in zh and "5 日" in zh
        assert "2026-03-09" in exc.value.message("en")

    def test_midnight_end_belongs_to_the_day_before(self, cal):
        with pytest.raises(r.IssuePeriodTooShort):
            r.check_issue_period(RULES, cal, bj(2026, 3, 2, 9), end_of_day(date(2026, 3, 8)), TZ)
        r.check_issue_period(RULES, cal, bj(2026, 3, 2, 9), end_of_day(date(2026, 3, 9)), TZ)


class TestDeadline:
    def test_earliest_deadline_rolls_past_national_day(self, cal):
        assert r.earliest_deadline(RULES, cal, bj(2026, 9, 11), TZ) == date(2026, 10, 8)

    def test_counts_from_the_beijing_issue_date(self, cal):
        # 17:30 UTC on 10 September is already 11 September in Beijing.
        issued = datetime(2026, 9, 10, 17, 30, tzinfo=UTC)
        assert r.earliest_deadline(RULES, cal, issued, TZ) == date(2026, 10, 8)
        assert r.earliest_deadline(RULES, cal, issued, "UTC") == date(2026, 9, 30)

    def test_deadline_on_earliest_day_passes(self, cal):
        r.check_deadline(RULES, cal, bj(2026, 9, 11), bj(2026, 10, 8, 9, 30), TZ)

    def test_twenty_days_ending_on_sunday_roll_to_monday(self, cal):
        r.check_deadline(RULES, cal, bj(2026, 3, 2), bj(2026, 3, 23, 9, 30), TZ)

    def test_twenty_days_ending_on_a_holiday_fails(self, cal):
        with pytest.raises(r.DeadlineTooSoon) as exc:
            r.check_deadline(RULES, cal, bj(2026, 9, 11), bj(2026, 10, 1, 9, 30), TZ)
        zh = exc.value.message("zh-CN")
        assert zh == (
            "投标截止时间须不早于 2026-10-08（自招标文件发出之日 2026-09-11 起不少于 20 日）"
        )
        assert "2026-10-08" in exc.value.message("en")

    def test_nineteen_days_fails(self, cal):
        with pytest.raises(r.DeadlineTooSoon, match="2026-03-23"):
            r.check_deadline(RULES, cal, bj(2026, 3, 2), bj(2026, 3, 20, 9, 30), TZ)


class TestClarification:
    deadline = bj(2026, 10, 12, 9, 30)  # Monday

    def test_exactly_fifteen_days_before_keeps_the_deadline(self, cal):
        assert (
            r.deadline_after_clarification(RULES, cal, bj(2026, 9, 27, 16), self.deadline, TZ)
            is None
        )
        r.check_clarification(RULES, cal, bj(2026, 9, 27, 16), self.deadline, TZ)

    def test_early_clarification_keeps_the_deadline(self, cal):
        assert r.deadline_after_clarification(RULES, cal, bj(2026, 9, 1), self.deadline, TZ) is None

    def test_late_clarification_moves_deadline_keeping_time_of_day(self, cal):
        moved = r.deadline_after_clarification(RULES, cal, bj(2026, 9, 28), self.deadline, TZ)
        assert moved == bj(2026, 10, 13, 9, 30)
        assert moved == datetime(2026, 10, 13, 1, 30, tzinfo=UTC)

    def test_period_ending_in_the_holiday_rolls_before_comparing(self, cal):
        deadline = bj(2026, 10, 9, 9, 30)  # Friday
        # 20 Sept + 15 = 5 Oct, inside 国庆: the period ends 8 Oct, before the deadline.
        assert r.deadline_after_clarification(RULES, cal, bj(2026, 9, 20), deadline, TZ) is None
        # 25 Sept + 15 = Saturday 10 Oct, a make-up working day: the deadline moves there.
        moved = r.deadline_after_clarification(RULES, cal, bj(2026, 9, 25), deadline, TZ)
        assert moved == bj(2026, 10, 10, 9, 30)

    def test_check_clarification_names_the_new_deadline(self, cal):
        with pytest.raises(r.ClarificationNeedsPostponement) as exc:
            r.check_clarification(RULES, cal, bj(2026, 9, 28), self.deadline, TZ)
        zh = exc.value.message("zh-CN")
        assert "2026-10-13 09:30" in zh and "2026-09-28" in zh and "15 日" in zh


class TestDeposit:
    def test_exactly_two_percent_passes(self):
        r.check_deposit(RULES, Decimal("20000.00"), Decimal("1000000.00"))

    def test_above_two_percent_fails_naming_the_maximum(self):
        with pytest.raises(r.DepositTooHigh) as exc:
            r.check_deposit(RULES, Decimal("20000.01"), Decimal("1000000.00"))
        assert exc.value.status_code == 400
        zh = exc.value.message("zh-CN")
        assert "20,000.00 元" in zh and "2%" in zh and "1,000,000.00" in zh
        assert "CNY 20,000.00" in exc.value.message("en")

    def test_maximum_is_rounded_down_to_the_fen(self):
        estimate = Decimal("1234567.89")  # 2% = 24,691.3578
        r.check_deposit(RULES, Decimal("24691.35"), estimate)
        with pytest.raises(r.DepositTooHigh, match=r"24,691\.35"):
            r.check_deposit(RULES, Decimal("24691.36"), estimate)

    def test_negative_deposit_is_invalid_input(self):
        with pytest.raises(InvalidInput):
            r.check_deposit(RULES, Decimal("-1"), Decimal("1000000"))


class TestDocumentsObjection:
    deadline = bj(2026, 10, 12, 9, 30)  # Monday

    def test_ten_days_before_passes(self, cal):
        r.check_documents_objection(RULES, cal, bj(2026, 10, 2, 23, 59), self.deadline, TZ)

    def test_nine_days_before_fails_naming_last_allowed_day(self, cal):
        with pytest.raises(r.DocumentsObjectionTooLate) as exc:
            r.check_documents_objection(RULES, cal, bj(2026, 10, 3, 0, 1), self.deadline, TZ)
        assert exc.value.status_code == 409
        zh = exc.value.message("zh-CN")
        assert "不晚于 2026-10-02" in zh and "2026-10-12" in zh and "10 日" in zh
        assert "by 2026-10-02" in exc.value.message("en")

    def test_answer_due_rolls_past_national_day(self, cal):
        # Raised Monday 28 Sept; day 3 is 1 October, so the answer is due by 24:00 on 8 October.
        due = r.objection_answer_due(RULES, cal, bj(2026, 9, 28), TZ)
        assert due == datetime(2026, 10, 8, 16, 0, tzinfo=UTC)

    def test_answer_due_in_an_ordinary_week(self, cal):
        due = r.objection_answer_due(RULES, cal, bj(2026, 3, 2), TZ)
        assert due == end_of_day(date(2026, 3, 5), TZ)


class TestBidCount:
    @pytest.mark.parametrize(("count", "fails"), [(0, True), (2, True), (3, False), (7, False)])
    def test_fewer_than_three_bids_fail(self, count, fails):
        assert r.lot_fails(RULES, count) is fails


class TestPublicity:
    starts = bj(2026, 9, 23, 10)  # Wednesday before 中秋

    def test_ends_at_rolls_past_mid_autumn(self, cal):
        # 23 Sept + 3 = Saturday 26 Sept (中秋 26-27 Sept off): last day Monday 28 Sept.
        ends = r.publicity_ends_at(RULES, cal, self.starts, TZ)
        assert ends == datetime(2026, 9, 28, 16, 0, tzinfo=UTC)

    def test_full_period_passes(self, cal):
        r.check_publicity(RULES, cal, self.starts, end_of_day(date(2026, 9, 28)), TZ)
        r.check_publicity(RULES, cal, self.starts, bj(2026, 9, 28, 17), TZ)

    def test_ending_in_the_holiday_fails(self, cal):
        with pytest.raises(r.PublicityTooShort) as exc:
            r.check_publicity(RULES, cal, self.starts, end_of_day(date(2026, 9, 26)), TZ)
        zh = exc.value.message("zh-CN")
        assert "2026-09-28" in zh and "2026-09-23" in zh and "3 日" in zh

    def test_not_over_names_the_end(self):
        ends = end_of_day(date(2026, 9, 28), TZ)
        with pytest.raises(r.PublicityNotOver) as exc:
            r.check_publicity_over(ends, bj(2026, 9, 28, 23, 59), TZ)
        assert "2026-09-28 24:00" in exc.value.message("zh-CN")
        assert exc.value.status_code == 409

    def test_over_at_the_end(self):
        ends = end_of_day(date(2026, 9, 28), TZ)
        r.check_publicity_over(ends, ends, TZ)

    def test_start_due_within_three_days_of_the_report(self, cal):
        # Report Friday 2 Oct (in 国庆): day 3 is 5 Oct, still off; due by 24:00 on 8 Oct.
        due = r.publicity_start_due_at(RULES, cal, bj(2026, 10, 2), TZ)
        assert due == end_of_day(date(2026, 10, 8), TZ)


class TestAfterAward:
    def test_report_due_fifteen_days_rolled_past_national_day(self, cal):
        due = r.report_due_at(RULES, cal, bj(2026, 9, 16), TZ)
        assert due == datetime(2026, 10, 8, 16, 0, tzinfo=UTC)

    def test_contract_due_thirty_days(self, cal):
        due = r.contract_due_at(RULES, cal, bj(2026, 3, 2), TZ)
        assert due == end_of_day(date(2026, 4, 1), TZ)
