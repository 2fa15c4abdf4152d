"""A supervisor's case on a tender or a group: its status moves through one table, each move
recorded with who, when and why, and audited in the same transaction."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from collusion.exceptions import CaseNotFound, MoveNotAllowed, ReasonRequired
from collusion.models import (
    Analysis,
    AnalysisStatus,
    Case,
    CaseEvent,
    CaseStatus,
    Group,
    StoredFlag,
)
from collusion.services.analysis import mark_tender, scope
from kernel.accounts.actor import Actor
from kernel.accounts.models import Role
from kernel.context import Context
from kernel.errors import PermissionDenied

S = CaseStatus
CASE_MOVES: dict[CaseStatus, frozenset[CaseStatus]] = {
    S.OPEN: frozenset({S.UNDER_REVIEW, S.DISMISSED, S.REFERRED}),
    S.UNDER_REVIEW: frozenset({S.OPEN, S.DISMISSED, S.REFERRED}),
    S.DISMISSED: frozenset({S.OPEN, S.UNDER_REVIEW}),  # reopened: new evidence
    # Referred is final here: the investigating authority takes over.
    S.REFERRED: frozenset(),
}
LABELS = {S.OPEN: ("待核查", "open"), S.UNDER_REVIEW: ("核查中", "under review"),
          S.DISMISSED: ("已排除", "dismissed"), S.REFERRED: ("已移送", "referred")}
MAX_REASON = 2000


def needs_reason(before: CaseStatus, after: CaseStatus) -> bool:
    """Dismissing and referring need a reason on file, and so does reopening a dismissal."""
    return after in (S.DISMISSED, S.REFERRED) or before == S.DISMISSED


def require_supervisor(actor: Actor) -> None:
    if not actor.has(Role.SUPERVISOR, Role.ADMIN):
        raise PermissionDenied()


async def _case(ctx: Context, *, tender_id: int | None, group_key: str | None) -> Case:
    """The case, opened on first use for a group (a tender's opens with its analysis)."""
    if tender_id is not None:
        case = await Case.filter(tender_id=tender_id).select_for_update().first()
        if case is None:
            raise CaseNotFound()
        return case
    case = await Case.filter(group_key=group_key).select_for_update().first()
    if case is not None:
        return case
    if not await Group.filter(key=group_key).exists():
        raise CaseNotFound()
    now = ctx.clock.now()
    return await Case.create(group_key=group_key, status=S.OPEN, opened_at=now, updated_at=now)


async def change_status(
    ctx: Context,
    *,
    actor: Actor,
    to: str,
    reason: str = "",
    tender_id: int | None = None,
    group_key: str | None = None,
) -> Case:
    """Move the case of a tender (or of a group) to ``to``; the reason goes on file."""
    require_supervisor(actor)
    if (tender_id is None) == (group_key is None):
        raise ValueError("name a tender or a group")
    try:
        after = CaseStatus(to)
    except ValueError:
        raise MoveNotAllowed(from_="?", to=to, from_zh="?", to_zh=to) from None
    reason = reason.strip()[:MAX_REASON]
    async with in_transaction():
        case = await _case(ctx, tender_id=tender_id, group_key=group_key)
        before = case.status
        if after not in CASE_MOVES[before]:
            raise MoveNotAllowed(from_=LABELS[before][1], to=LABELS[after][1],
                                 from_zh=LABELS[before][0], to_zh=LABELS[after][0])
        if needs_reason(before, after) and not reason:
            raise ReasonRequired()
        now = ctx.clock.now()
        case.status, case.reason, case.updated_at = after, reason, now
        await case.save(update_fields=["status", "reason", "updated_at"])
        await CaseEvent.create(
            case=case, from_status=before.value, to_status=after.value, reason=reason,
            actor_id=actor.user_id, actor_label=actor.display_name or actor.username, at=now,
        )
        await ctx.audit.record(
            at=now, actor=actor, action="collusion:case:status_changed", object_type="case",
            object_id=case.id,
            scope=scope(tender_id) if tender_id is not None else f"collusion:group:{group_key}",
            before={"status": before.value}, after={"status": after.value, "reason": reason},
        )
        if tender_id is not None:
            latest = await Analysis.filter(
                tender_id=tender_id, status=AnalysisStatus.DONE
            ).order_by("-finished_at", "-id").first()
            if latest is not None:
                found = await StoredFlag.filter(analysis_id=latest.id).values_list(
                    "strength", flat=True)
                await mark_tender(ctx, tender_id=tender_id, flags=len(found),
                                  strong=sum(1 for s in found if s == "strong"))
    return case


