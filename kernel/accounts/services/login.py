"""Logging in and out: checking a password, throttling repeated failures by username and by
address, opening and closing sessions, and telling who a live token belongs to. Every attempt,
failed or not, is recorded, so the throttle and the audit trail read the same history.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from anyio import to_thread
from tortoise.transactions import in_transaction

from kernel.accounts import passwords
from kernel.accounts.actor import ANONYMOUS, Actor
from kernel.accounts.exceptions import LoginFailed, LoginThrottled
from kernel.accounts.models import LoginAttempt, Role, Session, User
from kernel.accounts.sessions import (
    actor_for_token,
    actor_for_user,
    close_session,
    open_session,
    token_hash,
)
from kernel.context import Context


@dataclass(frozen=True)
class SessionInfo:
    actor: Actor
    expires_at: datetime


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
    await check_throttle(ctx, username=username, remote_addr=remote_addr)
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


async def check_throttle(ctx: Context, *, username: str, remote_addr: str) -> None:
    """Refuse (LoginThrottled) a login by another means while this name or address is locked.

    ``username`` is whatever the other means names its attempts by ("cert:<credit code>"); the
    refusal is recorded like a password login's, so guessing on keeps the lock.
    """
    username, remote_addr = username[:64], (remote_addr or "")[:64]
    retry_at = await _throttled_until(ctx, username=username, remote_addr=remote_addr)
    if retry_at is not None:
        await _record_failure(ctx, username=username, remote_addr=remote_addr, reason="throttled")
        local = retry_at.astimezone(ZoneInfo(ctx.tz)).strftime("%Y-%m-%d %H:%M:%S")
        wait = math.ceil((retry_at - ctx.clock.now()).total_seconds())
        raise LoginThrottled(retry_at=local, retry_after_seconds=wait)


async def record_login_failure(
    ctx: Context, *, username: str, remote_addr: str, reason: str
) -> None:
    """Record a failed login by another means (audit and throttle), as a password failure is."""
    await _record_failure(ctx, username=username[:64], remote_addr=(remote_addr or "")[:64],
                          reason=reason)


async def first_active_user(organization_id: int, role: Role) -> User | None:
    """The organisation's first active user of ``role`` (by id): whom a certificate logs in."""
    return (
        await User.filter(organization_id=organization_id, role=role, is_active=True)
        .select_related("organization")
        .order_by("id")
        .first()
    )


async def open_session_for(
    ctx: Context, *, user: User, username: str, remote_addr: str, method: str,
    detail: dict[str, str] | None = None,
) -> str:
    """Open a session for a user another means has authenticated; return its token.

    Dangerous: it checks nothing. The caller (certificate login) has proved who this is. The
    success is recorded under ``username`` so that name's failure count restarts.
    """
    now = ctx.clock.now()
    remote_addr = (remote_addr or "")[:64]
    async with in_transaction():
        await LoginAttempt.create(
            username=username[:64], remote_addr=remote_addr, succeeded=True, attempted_at=now
        )
        token = await open_session(
            user=user, now=now, max_age_seconds=ctx.settings.session_max_age_seconds
        )
        await ctx.audit.record(
            at=now, actor=actor_for_user(user), action="kernel:session:opened",
            object_type="user", object_id=user.id, before=None, after=None,
            detail={"remote_addr": remote_addr, "method": method, **(detail or {})},
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
