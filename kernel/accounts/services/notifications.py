"""The organisations' inboxes: putting a message in them (inside the caller's transaction, so
a message goes out only with the change it announces) and marking messages read. Reading an
inbox is a plain query, in kernel.accounts.services.queries.
"""

from __future__ import annotations

from collections.abc import Iterable

from kernel.accounts.actor import Actor
from kernel.accounts.exceptions import NotificationNotFound
from kernel.accounts.models import Notification
from kernel.context import Context


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
