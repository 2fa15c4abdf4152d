"""The receipts log: entries, cached subtree hashes, the append state and the signed heads.

Written only through signing.log. Entries and nodes are never updated or deleted: the log is
append-only, and a complete perfect subtree never changes (signing/merkle.py).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model


class HeadReason(StrEnum):
    PERIODIC = "periodic"  # the scheduler's regular head
    DEADLINE = "deadline"  # 投标截止: the log as it stood when a tender closed
    OPENING = "opening"  # 开标


class LogEntry(Model):
    """One receipt in the log, at its index. The tender id stays here, out of the log API."""

    # Position in the log, 0, 1, 2, ... with no gaps: the leaf index of RFC 6962.
    index = fields.BigIntField(primary_key=True, generated=False)
    leaf_hash = fields.BinaryField()  # SHA-256(0x00 || data), data = SHA-256 of the receipt
    receipt = fields.BinaryField(null=True)  # the signed receipt (CMS DER) the bidder holds
    # Whose entry this is. Never served before the tender's opening: the log must not tell
    # how many receipts a tender has.
    tender_id = fields.IntField(null=True, db_index=True)
    appended_at = fields.DatetimeField()

    class Meta:
        table = "signing_log_entry"


class LogNode(Model):
    """The hash of one complete perfect subtree, as CompactRange.append reports it.

    Level 0 holds the leaf hashes, level L the subtree of leaves index * 2**L up to
    (index + 1) * 2**L - 1. Fewer than two rows per entry, and every proof reads only these.
    """

    id = fields.BigIntField(primary_key=True)
    level = fields.SmallIntField()
    index = fields.BigIntField()
    hash = fields.BinaryField()

    class Meta:
        table = "signing_log_node"
        unique_together = (("level", "index"),)


class LogState(Model):
    """One row, locked by every append so that indexes are handed out one at a time.

    Holds the right edge of the tree, the hashes of CompactRange as hex, largest subtree first.
    """

    id = fields.IntField(primary_key=True)
    size = fields.BigIntField(default=0)
    hashes: fields.JSONField[list[str]] = fields.JSONField(default=list)

    class Meta:
        table = "signing_log_state"


class SignedHead(Model):
    """A signed tree head as published, with why it was published."""

    id = fields.IntField(primary_key=True)
    tree_size = fields.BigIntField()
    root_hash = fields.BinaryField()
    timestamp = fields.BigIntField()  # milliseconds since the epoch, as signed
    published_at = fields.DatetimeField(db_index=True)
    # The JSON form of signing.tree_head.SignedTreeHead, exactly as served.
    signature: fields.JSONField[dict[str, Any]] = fields.JSONField()
    reason = fields.CharEnumField(HeadReason, max_length=16)
    # For a deadline or opening head, which tender it marks (deadlines are public anyway).
    tender_id = fields.IntField(null=True, db_index=True)

    class Meta:
        table = "signing_signed_head"
