"""Server-side sessions: the cookie (or bearer token) is random, the database keeps its hash."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from kernel.accounts.actor import Actor
from kernel.accounts.models import Organization, Session, User


def token_hash(token: str) -> str:
    """What the database stores of a session token."""
    return hashlib.sha256(token.encode()).hexdigest()


async def open_session(*, user: User, now: datetime, max_age_seconds: int) -> str:
    """Create a session and return its token (shown once, to be put in a cookie)."""
    token = secrets.token_urlsafe(32)
    await Session.create(
        token_hash=token_hash(token),
        user=user,
        created_at=now,
        expires_at=now + timedelta(seconds=max_age_seconds),
    )
    return token


async def close_session(*, token: str, now: datetime) -> None:
    await Session.filter(token_hash=token_hash(token), revoked_at=None).update(revoked_at=now)


async def actor_for_token(token: str, *, now: datetime) -> Actor | None:
    if not token or len(token) > 200:
        return None
    session = (
        await Session.filter(token_hash=token_hash(token), revoked_at=None, expires_at__gt=now)
        .select_related("user", "user__organization")
        .first()
    )
    if session is None or not session.user.is_active:
        return None
    return actor_for_user(session.user)


def actor_for_user(user: User) -> Actor:
    """The Actor a user acts as (also for jobs and tests acting on a user's behalf)."""
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
