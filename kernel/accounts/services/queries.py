"""Reading accounts: organisations and users by id, by credit code or by page, and an
organisation's latest messages. These take no ``ctx`` and change nothing, so any package may
call them through kernel.accounts.services without a context at hand.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from tortoise.expressions import Q

from kernel.accounts import creditcode
from kernel.accounts.exceptions import OrganizationNotFound, UserNotFound
from kernel.accounts.models import Notification, Organization, OrgKind, User

T = TypeVar("T")

PAGE_SIZE = 20


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    page: int
    pages: int
    total: int


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
