"""Refusals of the collusion pages, in Chinese and English (kernel.errors.DomainError)."""

from __future__ import annotations

from kernel.errors import DomainError, NotFound


class CaseNotFound(NotFound):
    code = "case_not_found"
    zh = "没有该项目或该组的串标分析"
    en = "No collusion analysis for this tender or group"


class MoveNotAllowed(DomainError):
    status_code = 409
    code = "case_move_not_allowed"
    zh = "案卷状态不能从“{from_zh}”改为“{to_zh}”"
    en = "A case cannot go from {from_} to {to}"


class ReasonRequired(DomainError):
    status_code = 400
    code = "reason_required"
    zh = "请填写理由（排除、移送或重新打开案卷须说明理由）"
    en = "Give a reason (dismissing, referring or reopening a case needs one)"
