"""Accounts services: bidder sign-up, users and organisations, login and sessions, notifications.

Every change records its audit event in the same transaction. Other packages reach accounts
only through the functions here (the read helpers at the end take no ``ctx``).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from anyio import to_thread
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from kernel.accounts import creditcode, passwords
from kernel.accounts.actor import ANONYMOUS, SYSTEM, Actor
from kernel.accounts.exceptions import (
    CreditCodeInvalid,
    CreditCodeTaken,
    InvalidField,
    LoginFailed,
    LoginThrottled,
    NotificationNotFound,
    OrganizationNotFound,
    OwnAdminAccess,
    RoleOrganizationMismatch,
    UsernameInvalid,
    UsernameTaken,
    UserNotFound,
)
from kernel.accounts.models import (
    LoginAttempt,
    Notification,
    Organization,
    OrgKind,
    Role,
    Session,
    User,
)
from kernel.accounts.sessions import actor_for_token, close_session, open_session, token_hash
from kernel.context import Context
from kernel.errors import PermissionDenied

T = TypeVar("T")

PAGE_SIZE = 20

# The kind of organisation each role belongs to; bidders and agencies must have one.
ROLE_ORG_KIND = {
    Role.BIDDER: OrgKind.BIDDER,
    Role.AGENCY: OrgKind.AGENCY,
    Role.SUPERVISOR: OrgKind.AUTHORITY,
    Role.ADMIN: OrgKind.CENTRE,
}
ORG_REQUIRED = frozenset({Role.BIDDER, Role.AGENCY})
ROLE_LABELS = {
    Role.BIDDER: ("投标人", "bidder"),
    Role.AGENCY: ("招标代理", "agency"),
    Role.SUPERVISOR: ("监督人员", "supervisor"),
    Role.ADMIN: ("中心管理员", "centre admin"),
}
KIND_LABELS = {
    OrgKind.BIDDER: ("投标单位", "a bidder company"),
    OrgKind.AGENCY: ("招标代理机构", "a tendering agency"),
    OrgKind.AUTHORITY: ("行政监督部门", "a supervising authority"),
    OrgKind.CENTRE: ("交易中心", "the trading centre"),
}

ORG_FIELDS = (
    "kind", "name", "credit_code", "legal_rep", "contact_name", "contact_phone", "email",
    "address", "bank_name", "bank_account",
)
USER_FIELDS = ("username", "role", "organization_id", "display_name", "is_active")

_USERNAME = re.compile(r"[a-z0-9][a-z0-9_.\-]{2,31}")
_PHONE = re.compile(r"(\+?86)?(1[3-9]\d{9}|0\d{2,3}-?\d{7,8}(-\d{1,6})?)")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_BANK_ACCOUNT = re.compile(r"\d{8,32}")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    page: int
    pages: int
    total: int


@dataclass(frozen=True)
class SessionInfo:
    actor: Actor
    expires_at: datetime


# --- validation -------------------------------------------------------------------------------


def _text(
    value: str | None, field: str, zh: str, en: str, *, max_length: int, required: bool = True
) -> str:
    # Not NFKC: a company's registered name keeps its full-width brackets （集团）.
    value = (value or "").strip()
    if required and not value:
        raise InvalidField(field, f"{en} is required", f"请填写{zh}")
    if len(value) > max_length:
        raise InvalidField(
            field, f"{en} may have at most {max_length} characters", f"{zh}最多 {max_length} 个字符"
        )
    return value


def _matching(
    value: str | None, pattern: re.Pattern[str], field: str, zh: str, en: str, *, required: bool
) -> str:
    value = _text(unicodedata.normalize("NFKC", value or ""), field, zh, en, max_length=200,
                  required=required)
    if value and not pattern.fullmatch(value):
        raise InvalidField(field, f"{en} is not in a valid format", f"{zh}格式不正确")
    return value


def _display_name(value: str | None) -> str:
    return _text(value, "display_name", "姓名", "The name", max_length=100, required=False)


def clean_username(username: str | None) -> str:
    """The canonical (lower-case) form of a username; UsernameInvalid when it cannot be one."""
    value = unicodedata.normalize("NFKC", username or "").strip().lower()
    if not _USERNAME.fullmatch(value):
        raise UsernameInvalid()
    return value


def clean_credit_code(code: str | None) -> str:
    value = creditcode.normalise(code or "")
    if not creditcode.is_valid(value):
        raise CreditCodeInvalid(credit_code=value)
    return value


def _role(value: Role | str | None) -> Role:
    try:
        return Role(value or "")
    except ValueError:
        raise InvalidField("role", "choose a role", "请选择角色") from None


def _org_fields(
    kind: OrgKind,
    *,
    strict: bool,
    name: str,
    credit_code: str,
    legal_rep: str = "",
    contact_name: str = "",
    contact_phone: str = "",
    email: str = "",
    address: str = "",
    bank_name: str = "",
    bank_account: str = "",
) -> dict[str, Any]:
    """Clean an organisation's fields; ``strict`` (bidder sign-up) makes all of them required."""
    phone = re.sub(r"[\s()（）]", "", unicodedata.normalize("NFKC", contact_phone or ""))
    account = re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", bank_account or ""))
    return {
        "kind": kind,
        "name": _text(name, "name", "单位名称", "The organisation name", max_length=200),
        "credit_code": clean_credit_code(credit_code),
        "legal_rep": _text(
            legal_rep, "legal_rep", "法定代表人", "The legal representative", max_length=100,
            required=strict,
        ),
        "contact_name": _text(
            contact_name, "contact_name", "联系人", "The contact person", max_length=100,
            required=strict,
        ),
        "contact_phone": _matching(
            phone, _PHONE, "contact_phone", "联系电话（手机号或带区号的固定电话）",
            "The contact phone (mobile, or landline with area code)", required=strict,
        ),
        "email": _matching(
            email, _EMAIL, "email", "电子邮箱", "The e-mail address", required=strict
        ),
        "address": _text(
            address, "address", "单位地址", "The address", max_length=300, required=strict
        ),
        "bank_name": _text(
            bank_name, "bank_name", "基本存款账户开户银行", "The bank of the basic deposit account",
            max_length=200, required=strict,
        ),
        "bank_account": _matching(
            account, _BANK_ACCOUNT, "bank_account", "基本存款账户账号（8 至 32 位数字）",
            "The basic deposit account number (8 to 32 digits)", required=strict,
        ),
    }


def _check_role_org(role: Role, org: Organization | None) -> None:
    kind = ROLE_ORG_KIND[role]
    if (org is None and role in ORG_REQUIRED) or (org is not None and org.kind != kind):
        raise RoleOrganizationMismatch(
            role=ROLE_LABELS[role][1],
            role_zh=ROLE_LABELS[role][0],
            kind_zh=KIND_LABELS[kind][0],
            kind_en=KIND_LABELS[kind][1],
        )


# --- helpers ----------------------------------------------------------------------------------


def _snapshot(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in fields}


def actor_for_user(user: User) -> Actor:
    """The Actor a user acts as (for jobs and tests that act on a user's behalf)."""
    # Unfetched, the relation is a query, not an Organization: the name is then left out.
    org = user.organization
    return Actor(
        user_id=user.id,
        username=user.username,
        role=user.role,
        organization_id=user.organization_id,  # type: ignore[attr-defined]
        display_name=user.display_name,
        organization_name=org.name if isinstance(org, Organization) else "",
    )


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


# --- login and sessions -----------------------------------------------------------------------


async def _throttled_until(ctx: Context, *, username: str, remote_addr: str) -> datetime | None:
    """When this username or address may try again, or None when it may try now."""
    now = ctx.clock.now()
    window = timedelta(seconds=ctx.settings.login_window_seconds)
    limit = max(ctx.settings.login_max_failures, 1)
    since = now - window
    # A success shows the password is known: the username's count restarts from it, the
    # address's does not (one valid account must not unlock guessing at the others).
    last_success = (
        await LoginAttempt.filter(username=username, succeeded=True, attempted_at__gt=since)
        .order_by("-attempted_at")
        .first()
    )
    queries = [
        LoginAttempt.filter(
            username=username,
            succeeded=False,
            attempted_at__gt=last_success.attempted_at if last_success else since,
        )
    ]
    if remote_addr:
        queries.append(
            LoginAttempt.filter(remote_addr=remote_addr, succeeded=False, attempted_at__gt=since)
        )
    until: datetime | None = None
    for query in queries:
        # The limit-th most recent failure: once it leaves the window, fewer than limit remain.
        oldest = await query.order_by("-attempted_at").offset(limit - 1).first()
        if oldest is not None:
            until = max(until or now, oldest.attempted_at + window)
    return until


async def _record_failure(
    ctx: Context, *, username: str, remote_addr: str, reason: str
) -> None:
    now = ctx.clock.now()
    async with in_transaction():
        await LoginAttempt.create(
            username=username, remote_addr=remote_addr, succeeded=False, attempted_at=now
        )
        await ctx.audit.record(
            at=now, actor=ANONYMOUS, action="kernel:login:failed", object_type="login",
            object_id=username or "-", before=None, after=None,
            detail={"remote_addr": remote_addr, "reason": reason},
        )


async def login(ctx: Context, *, username: str, password: str, remote_addr: str) -> str:
    """Check a password and open a session; every attempt is recorded, failures throttled."""
    username = unicodedata.normalize("NFKC", username or "").strip().lower()[:64]
    remote_addr = (remote_addr or "")[:64]
    retry_at = await _throttled_until(ctx, username=username, remote_addr=remote_addr)
    if retry_at is not None:
        # Recorded as a failure too, so guessing on while locked keeps the lock.
        await _record_failure(ctx, username=username, remote_addr=remote_addr, reason="throttled")
        local = retry_at.astimezone(ZoneInfo(ctx.tz)).strftime("%Y-%m-%d %H:%M:%S")
        raise LoginThrottled(retry_at=local)
    user = await User.get_or_none(username=username) if username else None
    if user is None:
        await to_thread.run_sync(passwords.waste_time, password or "")
        ok = False
    else:
        ok = await to_thread.run_sync(passwords.verify_password, user.password_hash, password)
    if user is None or not ok or not user.is_active:
        reason = "password" if user is not None and not ok else "unknown_or_inactive"
        await _record_failure(ctx, username=username, remote_addr=remote_addr, reason=reason)
        raise LoginFailed()
    new_hash = None
    if passwords.needs_rehash(user.password_hash):
        new_hash = await to_thread.run_sync(passwords.hash_password, password)
    now = ctx.clock.now()
    async with in_transaction():
        if new_hash is not None:
            await User.filter(id=user.id).update(password_hash=new_hash)
        await LoginAttempt.create(
            username=username, remote_addr=remote_addr, succeeded=True, attempted_at=now
        )
        token = await open_session(
            user=user, now=now, max_age_seconds=ctx.settings.session_max_age_seconds
        )
        await ctx.audit.record(
            at=now, actor=actor_for_user(user), action="kernel:session:opened",
            object_type="user", object_id=user.id, before=None, after=None,
            detail={"remote_addr": remote_addr, "rehashed": new_hash is not None},
        )
    return token


async def logout(ctx: Context, *, token: str) -> None:
    """End the session of ``token``; an unknown or expired token is ignored."""
    now = ctx.clock.now()
    actor = await actor_for_token(token, now=now)
    if actor is None:
        return
    async with in_transaction():
        await close_session(token=token, now=now)
        await ctx.audit.record(
            at=now, actor=actor, action="kernel:session:closed", object_type="user",
            object_id=str(actor.user_id), before=None, after=None,
        )


async def session_info(ctx: Context, *, token: str) -> SessionInfo | None:
    """Who a live token belongs to and when it expires."""
    now = ctx.clock.now()
    actor = await actor_for_token(token, now=now)
    session = await Session.get_or_none(token_hash=token_hash(token)) if actor else None
    if actor is None or session is None:
        return None
    return SessionInfo(actor=actor, expires_at=session.expires_at)


# --- notifications ----------------------------------------------------------------------------


async def notify(
    ctx: Context, *, organization_ids: Iterable[int], title: str, body: str, link: str = ""
) -> int:
    """Put a message in each organisation's inbox; call inside the caller's transaction."""
    if link and (not link.startswith("/") or link.startswith("//")):
        raise ValueError(f"notification links are local paths, not {link!r}")
    now = ctx.clock.now()
    ids = sorted(set(organization_ids))
    await Notification.bulk_create(
        [
            Notification(organization_id=org_id, title=title[:300], body=body, link=link,
                         created_at=now)
            for org_id in ids
        ]
    )
    return len(ids)


async def mark_read(ctx: Context, *, actor: Actor, notification_id: int | None = None) -> int:
    """Mark one (or, with no id, every) unread message of the actor's organisation read."""
    if actor.organization_id is None:
        raise NotificationNotFound()
    query = Notification.filter(organization_id=actor.organization_id, read_at=None)
    if notification_id is not None:
        mine = Notification.filter(organization_id=actor.organization_id, id=notification_id)
        if not await mine.exists():
            raise NotificationNotFound()
        query = query.filter(id=notification_id)
    return await query.update(read_at=ctx.clock.now())


# --- read helpers -----------------------------------------------------------------------------


async def get_organization(org_id: int) -> Organization:
    """The organisation, or OrganizationNotFound."""
    org = await Organization.get_or_none(id=org_id)
    if org is None:
        raise OrganizationNotFound()
    return org


async def organization_by_credit_code(credit_code: str) -> Organization | None:
    """The organisation registered under this code (normalised first), or None."""
    return await Organization.get_or_none(credit_code=creditcode.normalise(credit_code or ""))


async def organizations_by_ids(ids: Iterable[int]) -> dict[int, Organization]:
    """The organisations with these ids, by id (missing ids are left out)."""
    wanted = set(ids)
    if not wanted:
        return {}
    return {org.id: org for org in await Organization.filter(id__in=wanted)}


async def list_organizations(kind: OrgKind | Iterable[OrgKind] | None = None) -> list[Organization]:
    """Organisations by name, optionally only of the given kind(s)."""
    query = Organization.all()
    if isinstance(kind, OrgKind):
        query = query.filter(kind=kind)
    elif kind is not None:
        query = query.filter(kind__in=list(kind))
    return await query.order_by("name", "id")


async def get_user(user_id: int) -> User:
    """The user with their organisation loaded, or UserNotFound."""
    user = await User.filter(id=user_id).select_related("organization").first()
    if user is None:
        raise UserNotFound()
    return user


async def list_users(page: int = 1, q: str = "") -> Page[User]:
    """One page of users by id; ``q`` matches username, name, organisation name or code."""
    query = User.all()
    q = q.strip()
    if q:
        org_ids = await Organization.filter(
            Q(name__icontains=q) | Q(credit_code__icontains=q)
        ).values_list("id", flat=True)
        query = query.filter(
            Q(username__icontains=q) | Q(display_name__icontains=q) | Q(organization_id__in=org_ids)
        )
    total = await query.count()
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(1, page), pages)
    items = (
        await query.select_related("organization")
        .order_by("id")
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    return Page(items=list(items), page=page, pages=pages, total=total)


async def notifications_for(organization_id: int, limit: int = 50) -> list[Notification]:
    """The organisation's latest messages, newest first."""
    return list(
        await Notification.filter(organization_id=organization_id)
        .order_by("-created_at", "-id")
        .limit(limit)
    )
