"""Analyses of opened tenders, the flags and groups they found, and the supervisors' cases.

Status changes of a case happen only in collusion.services through the table CASE_MOVES.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class AnalysisStatus(StrEnum):
    QUEUED = "queued"  # asked for by the opening, not started
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # the error says why, the next request runs it again


class CaseStatus(StrEnum):
    OPEN = "open"  # 待核查
    UNDER_REVIEW = "under_review"  # 核查中
    DISMISSED = "dismissed"  # 已排除 (reason required)
    REFERRED = "referred"  # 已移送 (to the authority that investigates)


class Analysis(Model):
    """One run of every detector over one opened tender."""

    id = fields.IntField(primary_key=True)
    tender_id = fields.IntField(db_index=True)
    status = fields.CharEnumField(AnalysisStatus, max_length=16, default=AnalysisStatus.QUEUED)
    error = fields.TextField(default="")
    requested_at = fields.DatetimeField()
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    # What the pages need without asking bidding again: title, code, estimate, ceiling,
    # each bidder key with its name and price, the detectors that ran.
    facts: dict = fields.JSONField(default=dict)  # type: ignore[assignment]

    class Meta:
        table = "collusion_analysis"
        indexes = (("tender_id", "requested_at"),)


class StoredFlag(Model):
    """A Flag of a detector as found (collusion.base.Flag), kept with its evidence."""

    id = fields.IntField(primary_key=True)
    analysis: fields.ForeignKeyRelation[Analysis] = fields.ForeignKeyField(
        "collusion.Analysis", related_name="flags", on_delete=fields.CASCADE
    )
    detector = fields.CharField(max_length=40)
    lot = fields.IntField(default=1)  # tenders with several lots are analysed lot by lot
    bidders: list = fields.JSONField()  # type: ignore[assignment]
    score = fields.FloatField()
    strength = fields.CharField(max_length=16)
    evidence: dict = fields.JSONField(default=dict)  # type: ignore[assignment]
    summary = fields.TextField(default="")

    class Meta:
        table = "collusion_flag"


class Group(Model):
    """Bidders tied together by evidence: within one analysis, or across history."""

    id = fields.IntField(primary_key=True)
    analysis: fields.ForeignKeyNullableRelation[Analysis] = fields.ForeignKeyField(
        "collusion.Analysis", related_name="groups", null=True, on_delete=fields.CASCADE
    )
    scope = fields.CharField(max_length=16, default="tender")  # "tender" or "history"
    lot = fields.IntField(default=1)
    # SHA-256 prefix of the sorted bidder keys: the same ring has the same key everywhere.
    key = fields.CharField(max_length=32, db_index=True)
    bidders: list = fields.JSONField()  # type: ignore[assignment]
    score = fields.FloatField()
    detectors: list = fields.JSONField(default=list)  # type: ignore[assignment]
    created_at = fields.DatetimeField()

    class Meta:
        table = "collusion_group"


class Case(Model):
    """A supervisor case file on one tender or on one group across tenders."""

    id = fields.IntField(primary_key=True)
    tender_id = fields.IntField(null=True, unique=True)
    group_key = fields.CharField(max_length=32, null=True, unique=True)
    status = fields.CharEnumField(CaseStatus, max_length=16, default=CaseStatus.OPEN)
    reason = fields.TextField(default="")  # of the latest status change
    opened_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "collusion_case"


class CaseEvent(Model):
    """One status change of a case, with who, when and why: the history of the case."""

    id = fields.IntField(primary_key=True)
    case: fields.ForeignKeyRelation[Case] = fields.ForeignKeyField(
        "collusion.Case", related_name="events", on_delete=fields.CASCADE
    )
    from_status = fields.CharField(max_length=16, default="")
    to_status = fields.CharField(max_length=16)
    reason = fields.TextField(default="")
    actor_id = fields.IntField(null=True)
    actor_label = fields.CharField(max_length=200, default="")
    at = fields.DatetimeField()

    class Meta:
        table = "collusion_case_event"
