"""Audit rows. Written only through kernel.audit.chain.record, never updated or deleted."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model


class AuditEvent(Model):
    id = fields.BigIntField(primary_key=True)
    # Position in the chain, 1, 2, 3, ... with no gaps: a gap is a removed row.
    seq = fields.BigIntField(unique=True)
    at = fields.DatetimeField()
    actor_id = fields.IntField(null=True)
    actor_label = fields.CharField(max_length=200, default="")
    action = fields.CharField(max_length=100, db_index=True)  # "domain:subject:action"
    object_type = fields.CharField(max_length=50)
    object_id = fields.CharField(max_length=64)
    # Which tender/case the event belongs to, e.g. "tender:42", for filtering views.
    scope = fields.CharField(max_length=64, default="", db_index=True)
    # A sealed event reveals who registered, downloaded, paid or bid: views withhold it until
    # the scope's opening. It stays in the log and in the chain regardless.
    sealed = fields.BooleanField(default=False)
    before_hash = fields.CharField(max_length=64, default="")
    after_hash = fields.CharField(max_length=64, default="")
    detail: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    prev_mac = fields.CharField(max_length=64)
    mac = fields.CharField(max_length=64)

    class Meta:
        table = "kernel_audit_event"
        ordering = ("seq",)


class AuditHead(Model):
    """One row, locked by every append so the chain has a single writer at a time."""

    id = fields.IntField(primary_key=True)
    seq = fields.BigIntField(default=0)
    mac = fields.CharField(max_length=64, default="")

    class Meta:
        table = "kernel_audit_head"
