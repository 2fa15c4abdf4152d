"""Server-side sessions: the cookie (or bearer token) is random, the database keeps its hash."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from kernel.accounts.actor import Actor
from kernel.accounts.models import Organization, Role, Session, User
from kernel.db import fetch_all, instant


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


# Every request with a session runs this, so it is written out rather than built by the ORM,
# which costs five times the query (kernel.db.fetch_all).
_SESSION_ACTOR = (
    "SELECT s.expires_at, u.id, u.username, u.role, u.organization_id, u.display_name, "
    "u.is_active, o.name AS organization_name "
    "FROM kernel_session s JOIN kernel_user u ON u.id = s.user_id "
    "LEFT JOIN kernel_organization o ON o.id = u.organization_id "
    "WHERE s.token_hash = $1 AND s.revoked_at IS NULL"
)


async def actor_for_token(token: str, *, now: datetime) -> Actor | None:
    if not token or len(token) > 200:
        return None
    rows = await fetch_all(_SESSION_ACTOR, token_hash(token))
    if not rows:
        return None
    row = rows[0]
    expires_at = instant(row["expires_at"])
    if expires_at is None or expires_at <= now or not row["is_active"]:
        return None
    return Actor(
        user_id=row["id"],
        username=row["username"],
        role=Role(row["role"]),
        organization_id=row["organization_id"],
        display_name=row["display_name"],
        organization_name=row["organization_name"] or "",
    )


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
