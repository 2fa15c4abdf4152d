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


class AcceptedCA(Model):
    """A root or intermediate CA the centre accepts, as uploaded by the centre admin.

    Written only through signing.trust. Never deleted: a CA no longer accepted is made inactive,
    so the audit trail and its CRL history keep pointing at it.
    """

    id = fields.IntField(primary_key=True)
    der = fields.BinaryField()
    subject = fields.CharField(max_length=1024)
    fingerprint = fields.CharField(max_length=64, unique=True)  # SHA-256 of the DER, hex
    is_root = fields.BooleanField()
    not_after = fields.DatetimeField()
    added_at = fields.DatetimeField()
    active = fields.BooleanField(default=True, db_index=True)
    # Where the background job fetches this CA's CRL from; empty when CRLs are uploaded by hand.
    crl_url = fields.CharField(max_length=1024, default="")
    # The fetch job's last attempt (signing.crl_fetch) and why it failed, empty if it did not.
    crl_fetched_at = fields.DatetimeField(null=True)
    crl_fetch_error = fields.CharField(max_length=1000, default="")

    class Meta:
        table = "signing_accepted_ca"


class CaCrl(Model):
    """One CRL of an accepted CA, kept for the record. The newest still valid one is current."""

    id = fields.IntField(primary_key=True)
    ca: fields.ForeignKeyRelation[AcceptedCA] = fields.ForeignKeyField(
        "signing.AcceptedCA", related_name="crls", on_delete=fields.RESTRICT
    )
    der = fields.BinaryField()
    this_update = fields.DatetimeField()
    next_update = fields.DatetimeField()
    # Up to 20 octets (RFC 5280), too wide for a BIGINT: kept as decimal text, empty if none.
    crl_number = fields.CharField(max_length=64, default="")
    uploaded_at = fields.DatetimeField()

    class Meta:
        table = "signing_ca_crl"


class CertificateUse(StrEnum):
    SIGNING = "signing"  # login and signatures
    ENCRYPTION = "encryption"  # the officer's key a share of an opening key is encrypted to


class AccountCertificate(Model):
    """A certificate registered to a user account (officers' encryption certificates, and the
    signing certificates seen at certificate login). Written only through signing.accounts."""

    id = fields.IntField(primary_key=True)
    user_id = fields.IntField(db_index=True)
    organization_id = fields.IntField(null=True, db_index=True)
    use = fields.CharEnumField(CertificateUse, max_length=16)
    der = fields.BinaryField()
    fingerprint = fields.CharField(max_length=64)  # SHA-256 of the DER, hex
    subject = fields.CharField(max_length=1024)
    not_after = fields.DatetimeField()
    registered_at = fields.DatetimeField()
    active = fields.BooleanField(default=True)

    class Meta:
        table = "signing_account_certificate"
        unique_together = (("user_id", "fingerprint"),)


class OpeningKey(Model):
    """A tender's opening key: the public part and the encrypted shares (signing.opening_key's
    OpeningKeySetup as JSON). The private key is never stored whole."""

    id = fields.IntField(primary_key=True)
    tender_id = fields.IntField(unique=True)
    key_id = fields.CharField(max_length=64)
    public_key_pem = fields.TextField()
    setup: fields.JSONField[dict[str, Any]] = fields.JSONField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "signing_opening_key"


class OpeningShare(Model):
    """A share of an opening key as an officer submitted it, after the deadline. Accepted only
    when it matches its commitment in the setup, so a wrong share never reaches recovery."""

    id = fields.IntField(primary_key=True)
    tender_id = fields.IntField(db_index=True)
    index = fields.SmallIntField()
    user_id = fields.IntField()
    share = fields.BinaryField()
    submitted_at = fields.DatetimeField()

    class Meta:
        table = "signing_opening_share"
        unique_together = (("tender_id", "index"),)


class LoginChallenge(Model):
    """A one-time challenge for certificate login, and the one-time link it turns into."""

    id = fields.IntField(primary_key=True)
    nonce_hash = fields.CharField(max_length=64, unique=True)  # SHA-256 of the challenge
    link_hash = fields.CharField(max_length=64, null=True, unique=True)  # of the one-time link
    user_id = fields.IntField(null=True)
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "signing_login_challenge"
