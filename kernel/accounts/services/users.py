"""Bidder sign-up, organisations and users: creating them, changing a user's role, name or
active flag, and resetting passwords. Each change is one function that checks the actor is an
admin (or the bidder signing itself up) and records the audit event in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from anyio import to_thread
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from kernel.accounts import passwords
from kernel.accounts.actor import SYSTEM, Actor
from kernel.accounts.exceptions import (
    CreditCodeTaken,
    InvalidField,
    OwnAdminAccess,
    UsernameTaken,
    UserNotFound,
)
from kernel.accounts.models import Organization, OrgKind, Role, Session, User
from kernel.accounts.services.queries import get_organization, get_user
from kernel.accounts.services.validation import (
    ROLE_ORG_KIND,
    _check_role_org,
    _display_name,
    _org_fields,
    _role,
    clean_username,
)
from kernel.accounts.sessions import actor_for_user
from kernel.context import Context
from kernel.errors import PermissionDenied

ORG_FIELDS = (
    "kind", "name", "credit_code", "legal_rep", "contact_name", "contact_phone", "email",
    "address", "bank_name", "bank_account",
)
USER_FIELDS = ("username", "role", "organization_id", "display_name", "is_active")


# --- helpers ----------------------------------------------------------------------------------


def _snapshot(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in fields}


def _require_admin(actor: Actor) -> None:
    if not actor.has(Role.ADMIN):
        raise PermissionDenied()


async def _check_free(*, username: str | None = None, credit_code: str | None = None) -> None:
    if username is not None and await User.filter(username=username).exists():
        raise UsernameTaken(username=username)
    if credit_code is not None and await Organization.filter(credit_code=credit_code).exists():
        raise CreditCodeTaken(credit_code=credit_code)


async def _record_created(ctx: Context, actor: Actor, obj: Organization | User) -> None:
    object_type, fields = (
        ("organization", ORG_FIELDS) if isinstance(obj, Organization) else ("user", USER_FIELDS)
    )
    await ctx.audit.record(
        at=ctx.clock.now(), actor=actor, action=f"kernel:{object_type}:created",
        object_type=object_type, object_id=obj.id, before=None, after=_snapshot(obj, fields),
    )


async def _hash_new_password(password: str, username: str) -> str:
    passwords.check_policy(password, username=username)
    return await to_thread.run_sync(passwords.hash_password, password)


# --- sign-up, organisations and users ---------------------------------------------------------


async def signup_bidder(
    ctx: Context,
    *,
    name: str,
    credit_code: str,
    legal_rep: str,
    contact_name: str,
    contact_phone: str,
    email: str,
    address: str,
    bank_name: str,
    bank_account: str,
    username: str,
    password: str,
) -> User:
    """Register a bidder company and its first user (role bidder)."""
    fields = _org_fields(
        OrgKind.BIDDER, strict=True, name=name, credit_code=credit_code, legal_rep=legal_rep,
        contact_name=contact_name, contact_phone=contact_phone, email=email, address=address,
        bank_name=bank_name, bank_account=bank_account,
    )
    username = clean_username(username)
    await _check_free(username=username, credit_code=fields["credit_code"])
    password_hash = await _hash_new_password(password, username)
    now = ctx.clock.now()
    try:
        async with in_transaction():
            org = await Organization.create(**fields, created_at=now)
            user = await User.create(
                username=username, password_hash=password_hash, role=Role.BIDDER,
                organization=org, display_name=fields["contact_name"], email=fields["email"],
                phone=fields["contact_phone"], created_at=now,
            )
            # The new user is the actor of their own sign-up.
            await _record_created(ctx, actor_for_user(user), org)
            await _record_created(ctx, actor_for_user(user), user)
    except IntegrityError:
        # Someone took the username or the code between the check and the insert.
        await _check_free(username=username, credit_code=fields["credit_code"])
        raise
    return user


async def create_organization(
    ctx: Context,
    *,
    actor: Actor,
    kind: OrgKind | str,
    name: str,
    credit_code: str,
    legal_rep: str = "",
    contact_name: str = "",
    contact_phone: str = "",
    email: str = "",
    address: str = "",
    bank_name: str = "",
    bank_account: str = "",
) -> Organization:
    """Register an organisation of any kind (admin only)."""
    _require_admin(actor)
    try:
        org_kind = OrgKind(kind)
    except ValueError:
        raise InvalidField("kind", "choose a kind of organisation", "请选择机构类型") from None
    fields = _org_fields(
        org_kind, strict=org_kind is OrgKind.BIDDER, name=name, credit_code=credit_code,
        legal_rep=legal_rep, contact_name=contact_name, contact_phone=contact_phone,
        email=email, address=address, bank_name=bank_name, bank_account=bank_account,
    )
    await _check_free(credit_code=fields["credit_code"])
    try:
        async with in_transaction():
            org = await Organization.create(**fields, created_at=ctx.clock.now())
            await _record_created(ctx, actor, org)
    except IntegrityError:
        await _check_free(credit_code=fields["credit_code"])
        raise
    return org


async def create_user(
    ctx: Context,
    *,
    actor: Actor,
    username: str,
    password: str,
    role: Role | str,
    organization_id: int | None = None,
    display_name: str = "",
) -> User:
    """Create a user of any role in an existing organisation (admin only)."""
    _require_admin(actor)
    user_role = _role(role)
    username = clean_username(username)
    display_name = _display_name(display_name)
    org = await get_organization(organization_id) if organization_id else None
    _check_role_org(user_role, org)
    await _check_free(username=username)
    password_hash = await _hash_new_password(password, username)
    try:
        async with in_transaction():
            user = await User.create(
                username=username, password_hash=password_hash, role=user_role,
                organization=org, display_name=display_name, created_at=ctx.clock.now(),
            )
            await _record_created(ctx, actor, user)
    except IntegrityError:
        await _check_free(username=username)
        raise
    return user


async def create_user_with_organization(
    ctx: Context,
    *,
    actor: Actor,
    username: str,
    password: str,
    role: Role | str,
    organization_name: str,
    credit_code: str,
    display_name: str = "",
) -> User:
    """Create an organisation of the kind the role needs and its first user (admin only)."""
    _require_admin(actor)
    user_role = _role(role)
    if user_role is Role.BIDDER:
        # A bidder company must give its bank account and representatives: it signs up itself.
        raise InvalidField(
            "role",
            "bidder companies register through the sign-up page",
            "投标单位请通过“投标人注册”页面注册",
        )
    username = clean_username(username)
    display_name = _display_name(display_name)
    fields = _org_fields(
        ROLE_ORG_KIND[user_role], strict=False, name=organization_name, credit_code=credit_code
    )
    await _check_free(username=username, credit_code=fields["credit_code"])
    password_hash = await _hash_new_password(password, username)
    now = ctx.clock.now()
    try:
        async with in_transaction():
            org = await Organization.create(**fields, created_at=now)
            user = await User.create(
                username=username, password_hash=password_hash, role=user_role,
                organization=org, display_name=display_name, created_at=now,
            )
            await _record_created(ctx, actor, org)
            await _record_created(ctx, actor, user)
    except IntegrityError:
        await _check_free(username=username, credit_code=fields["credit_code"])
        raise
    return user


async def create_first_admin(
    ctx: Context, *, username: str, password: str, display_name: str = ""
) -> User:
    """Create the platform's first admin (for the command line); refused once one exists."""
    if await User.filter(role=Role.ADMIN).exists():
        raise PermissionDenied()
    username = clean_username(username)
    display_name = _display_name(display_name)
    await _check_free(username=username)
    password_hash = await _hash_new_password(password, username)
    async with in_transaction():
        user = await User.create(
            username=username, password_hash=password_hash, role=Role.ADMIN,
            display_name=display_name, created_at=ctx.clock.now(),
        )
        await _record_created(ctx, SYSTEM, user)
    return user


async def update_user(
    ctx: Context,
    *,
    actor: Actor,
    user_id: int,
    role: Role | str | None = None,
    is_active: bool | None = None,
    display_name: str | None = None,
) -> User:
    """Change a user's role, active flag or name (admin only; not one's own admin access)."""
    _require_admin(actor)
    new_role = _role(role) if role is not None else None
    if user_id == actor.user_id and (is_active is False or new_role not in (None, Role.ADMIN)):
        raise OwnAdminAccess()
    async with in_transaction():
        user = await User.filter(id=user_id).select_for_update().first()
        if user is None:
            raise UserNotFound()
        before = _snapshot(user, USER_FIELDS)
        if new_role is not None and new_role != user.role:
            org_id = user.organization_id  # type: ignore[attr-defined]
            _check_role_org(new_role, await get_organization(org_id) if org_id else None)
            user.role = new_role
        if is_active is not None:
            user.is_active = is_active
        if display_name is not None:
            user.display_name = _display_name(display_name)
        after = _snapshot(user, USER_FIELDS)
        if after != before:
            await user.save(update_fields=["role", "is_active", "display_name"])
            await ctx.audit.record(
                at=ctx.clock.now(), actor=actor, action="kernel:user:updated",
                object_type="user", object_id=user.id, before=before, after=after,
            )
    return user


async def reset_password(ctx: Context, *, actor: Actor, user_id: int, new_password: str) -> None:
    """Set a new password for a user (admin only) and end all of that user's sessions."""
    _require_admin(actor)
    user = await get_user(user_id)
    password_hash = await _hash_new_password(new_password, user.username)
    now = ctx.clock.now()
    async with in_transaction():
        await User.filter(id=user.id).update(password_hash=password_hash)
        await Session.filter(user_id=user.id, revoked_at=None).update(revoked_at=now)
        await ctx.audit.record(
            at=now, actor=actor, action="kernel:user:password_reset", object_type="user",
            object_id=user.id, before=None, after=None,
        )
