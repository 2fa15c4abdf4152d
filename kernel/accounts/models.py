"""Account models. Other packages reach them through kernel.accounts.services."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from kernel.db import RandomIdField


class Role(StrEnum):
    BIDDER = "bidder"
    AGENCY = "agency"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class OrgKind(StrEnum):
    BIDDER = "bidder"
    AGENCY = "agency"
    AUTHORITY = "authority"
    CENTRE = "centre"


class Organization(Model):
    id = fields.IntField(primary_key=True)
    kind = fields.CharEnumField(OrgKind, max_length=16)
    name = fields.CharField(max_length=200)
    # 统一社会信用代码, validated by its check character (kernel.accounts.creditcode).
    credit_code = fields.CharField(max_length=18, unique=True)
    legal_rep = fields.CharField(max_length=100, default="")
    contact_name = fields.CharField(max_length=100, default="")
    contact_phone = fields.CharField(max_length=40, default="")
    email = fields.CharField(max_length=200, default="")
    address = fields.CharField(max_length=300, default="")
    # 基本存款账户: deposits must come from it (DOMAIN.md).
    bank_name = fields.CharField(max_length=200, default="")
    bank_account = fields.CharField(max_length=64, default="")
    created_at = fields.DatetimeField()

    class Meta:
        table = "kernel_organization"


class User(Model):
    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=64, unique=True)
    password_hash = fields.CharField(max_length=255)
    role = fields.CharEnumField(Role, max_length=16)
    organization: fields.ForeignKeyNullableRelation[Organization] = fields.ForeignKeyField(
        "kernel.Organization", related_name="users", null=True, on_delete=fields.RESTRICT
    )
    display_name = fields.CharField(max_length=100, default="")
    email = fields.CharField(max_length=200, default="")
    phone = fields.CharField(max_length=40, default="")
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "kernel_user"


class Session(Model):
    id = fields.IntField(primary_key=True)
    # SHA-256 of the cookie value: a stolen database does not yield live sessions.
    token_hash = fields.CharField(max_length=64, unique=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "kernel.User", related_name="sessions", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "kernel_session"


class LoginAttempt(Model):
    """Kept in the database so the throttle holds across several server processes."""

    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=64, db_index=True)
    remote_addr = fields.CharField(max_length=64, default="")
    succeeded = fields.BooleanField()
    attempted_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "kernel_login_attempt"


class Notification(Model):
    """A message to one organisation (e.g. a clarification reaching each registered bidder)."""

    id = RandomIdField()
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "kernel.Organization", related_name="notifications", on_delete=fields.CASCADE
    )
    title = fields.CharField(max_length=300)
    body = fields.TextField(default="")
    link = fields.CharField(max_length=300, default="")
    created_at = fields.DatetimeField()
    read_at = fields.DatetimeField(null=True)

    class Meta:
        table = "kernel_notification"
