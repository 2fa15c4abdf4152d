"""Collusion services: analyses of opened tenders, supervisors' cases, their pages' data."""

from collusion.services.analysis import (
    MARK_KIND,
    analyse_tenders,
    case_link,
    combine_scores,
    request_analysis,
    run_analysis,
    run_queued,
)
from collusion.services.cases import CASE_MOVES, LABELS, change_status, needs_reason
from collusion.services.queries import case_view, group_report, group_view, overview, report
from collusion.services.snapshots import history_of, tender_snapshots

__all__ = [
    "CASE_MOVES",
    "LABELS",
    "MARK_KIND",
    "analyse_tenders",
    "case_link",
    "case_view",
    "change_status",
    "combine_scores",
    "group_report",
    "group_view",
    "history_of",
    "needs_reason",
    "overview",
    "report",
    "request_analysis",
    "run_analysis",
    "run_queued",
    "tender_snapshots",
]
