"""Marks that a higher package puts on a lower package's objects, for some roles only.

Why in the kernel. Collusion analysis must show a red mark on bidding's tender pages, yet
bidding may not import collusion (the dependency runs the other way). So collusion writes an
annotation on the subject ``"tender:<id>"`` and bidding's pages ask the kernel for the
annotations of the subjects they show; neither knows the other. The audience (a set of roles)
is stored with the mark and checked here, in one place: a page cannot forget to filter, and a
bidder or agency never receives a supervisor's mark (docs/decisions/0009-kernel-annotations.md).

One annotation per (subject, kind): a later ``annotate`` replaces the text, level and count, so
re-running an analysis updates its mark instead of stacking a second one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tortoise import fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

from kernel.accounts.actor import Actor
from kernel.accounts.models import Role
from kernel.context import Context

LEVELS = ("info", "warning", "danger")


class Annotation(Model):
    """A mark on an object of another package, shown only to the roles in its audience."""

    id = fields.IntField(primary_key=True)
    subject = fields.CharField(max_length=100)  # "tender:42"
    kind = fields.CharField(max_length=40)  # "collusion"
    level = fields.CharField(max_length=16, default="warning")
    text = fields.CharField(max_length=300)
    count = fields.IntField(default=0)
    link = fields.CharField(max_length=300, default="")
    audience: list = fields.JSONField(default=list)  # type: ignore[assignment]
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "kernel_annotation"
        unique_together = (("subject", "kind"),)


def _scope(subject: str) -> str:
    """Not the subject's own audit scope: the tender page shows "tender:<id>" to the agency,
    which must not learn of a mark meant for supervisors."""
    return f"annotation:{subject}"[:64]


@dataclass(frozen=True)
class Mark:
    """What a page renders: never the audience, which is the kernel's business."""

    subject: str
    kind: str
    level: str
    text: str
    count: int
    link: str


async def annotate(
    ctx: Context,
    *,
    actor: Actor,
    subject: str,
    kind: str,
    text: str,
    audience: Iterable[Role],
    level: str = "warning",
    count: int = 0,
    link: str = "",
) -> Annotation:
    """Put (or replace) the ``kind`` mark on ``subject``, visible to ``audience`` only."""
    roles = sorted({Role(r).value for r in audience})
    if not roles:
        raise ValueError("an annotation needs an audience")
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}")
    now = ctx.clock.now()
    values: dict[str, Any] = {"level": level, "text": text[:300], "count": count,
                              "link": link[:300], "audience": roles}
    async with in_transaction():
        mark = await Annotation.filter(subject=subject, kind=kind).select_for_update().first()
        before = None
        if mark is None:
            mark = await Annotation.create(subject=subject, kind=kind, created_at=now,
                                           updated_at=now, **values)
        else:
            before = {k: getattr(mark, k) for k in values}
            mark.update_from_dict({**values, "updated_at": now})
            await mark.save()
        await ctx.audit.record(
            at=now, actor=actor, action="kernel:annotation:set", object_type="annotation",
            object_id=mark.id, before=before, after=values, scope=_scope(subject),
            detail={"subject": subject, "kind": kind, "level": level, "count": count},
        )
    return mark


async def remove(ctx: Context, *, actor: Actor, subject: str, kind: str) -> bool:
    """Take the ``kind`` mark off ``subject``; False if there was none."""
    async with in_transaction():
        mark = await Annotation.filter(subject=subject, kind=kind).select_for_update().first()
        if mark is None:
            return False
        await mark.delete()
        await ctx.audit.record(
            at=ctx.clock.now(), actor=actor, action="kernel:annotation:removed",
            object_type="annotation", object_id=mark.id, scope=_scope(subject),
            detail={"subject": subject, "kind": kind},
        )
    return True


def _sees(actor: Actor, audience: Iterable[str]) -> bool:
    return actor.role is not None and actor.role.value in set(audience)


async def annotations_for(subjects: Iterable[str], actor: Actor) -> dict[str, list[Mark]]:
    """The marks ``actor`` may see on each of ``subjects`` (subjects without any are absent)."""
    wanted = sorted(set(subjects))
    if actor.role is None or not wanted:
        return {}
    out: dict[str, list[Mark]] = {}
    for a in await Annotation.filter(subject__in=wanted).order_by("subject", "kind"):
        if _sees(actor, a.audience):
            out.setdefault(a.subject, []).append(
                Mark(a.subject, a.kind, a.level, a.text, a.count, a.link)
            )
    return out
