"""Run every detector over an opened tender, store what they found, mark the tender and open
its case. Called by the job that the opening starts (collusion/subscribers.py).

Detectors are CPU-bound and synchronous, so they run in a worker thread: an analysis of 100
large bids must not stall the web process that runs it in-process on SQLite.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import anyio.to_thread
from tortoise.transactions import in_transaction

from bidding.exceptions import TenderNotFound
from bidding.services import analysis as bidding_analysis
from collusion import graph
from collusion.base import Detector, Flag, History, TenderSnapshot, any_of
from collusion.detectors import all_detectors
from collusion.models import (
    Analysis,
    AnalysisStatus,
    Case,
    CaseEvent,
    CaseStatus,
    Group,
    StoredFlag,
)
from collusion.services.snapshots import history_of, tender_snapshots
from kernel import annotations as marks
from kernel.accounts.actor import SYSTEM, Actor
from kernel.accounts.models import Role
from kernel.context import Context

log = logging.getLogger(__name__)

MARK_KIND = "collusion"
MARK_AUDIENCE = (Role.SUPERVISOR, Role.ADMIN)


def scope(tender_id: int) -> str:
    """Audit scope of a tender's analysis: not bidding's "tender:<id>", whose trail the agency
    reads on the tender page; the agency must not learn that its bidders are suspected."""
    return f"collusion:tender:{tender_id}"


def case_link(tender_id: int) -> str:
    return f"/supervision/collusion/tenders/{tender_id}"


def combine_scores(scores: Iterable[float]) -> float:
    """Independent occasions (tenders) of the same evidence (collusion.base.any_of)."""
    return any_of(scores)


def _detect_all(
    detectors: Sequence[Detector], snapshots: dict[int, TenderSnapshot], history: History
) -> tuple[list[tuple[int, Flag]], dict[str, str]]:
    """Every detector on every lot; a detector that fails is recorded, the others still run."""
    found: list[tuple[int, Flag]] = []
    errors: dict[str, str] = {}
    for lot, snapshot in snapshots.items():
        for detector in detectors:
            try:
                flags = detector.detect(snapshot, history)
            except Exception as exc:
                log.exception("detector %s failed on %s", detector.name, snapshot.key)
                errors[detector.name] = f"{type(exc).__name__}: {exc}"[:500]
                continue
            found += [(lot, f) for f in flags]
    return found, errors


async def request_analysis(ctx: Context, *, tender_id: int, actor: Actor = SYSTEM) -> Analysis:
    """Queue an analysis of an opened tender (at most one waits per tender at a time)."""
    async with in_transaction():
        waiting = await Analysis.filter(
            tender_id=tender_id, status=AnalysisStatus.QUEUED
        ).select_for_update().first()
        if waiting is not None:
            return waiting
        analysis = await Analysis.create(tender_id=tender_id, requested_at=ctx.clock.now())
        await ctx.audit.record(
            at=ctx.clock.now(), actor=actor, action="collusion:analysis:requested",
            object_type="analysis", object_id=analysis.id, scope=scope(tender_id),
            after={"tender_id": tender_id, "status": analysis.status.value},
        )
    return analysis


def _facts(tender: bidding_analysis.OpenedTender, detectors: Sequence[Detector],
           errors: dict[str, str]) -> dict[str, Any]:
    return {
        "code": tender.code, "title": tender.title,
        "estimate": str(tender.estimate), "price_ceiling": str(tender.price_ceiling),
        "opened_at": tender.opened_at.isoformat() if tender.opened_at else None,
        "lots": list(tender.lots),
        "bids": [{"key": b.credit_code or f"org-{b.organization_id}", "name": b.name,
                  "lot": b.lot, "price": None if b.price is None else str(b.price),
                  "submitted_at": b.submitted_at.isoformat(), "files": len(b.files)}
                 for b in tender.bids],
        "detectors": [d.name for d in detectors],
        "errors": errors,
    }


async def run_analysis(
    ctx: Context, *, analysis_id: int, detectors: Sequence[Detector] | None = None
) -> Analysis | None:
    """Run a queued analysis; None if another worker took it first (or it is not queued)."""
    claimed = await Analysis.filter(id=analysis_id, status=AnalysisStatus.QUEUED).update(
        status=AnalysisStatus.RUNNING, started_at=ctx.clock.now()
    )
    if not claimed:
        return None
    analysis = await Analysis.get(id=analysis_id)
    chosen = list(detectors) if detectors is not None else all_detectors()
    try:
        tender = await bidding_analysis.opened_bids_for_analysis(analysis.tender_id)
        past = await bidding_analysis.past_tenders_for_analysis(
            before=tender.opened_at, exclude=tender.id
        )
        snapshots = tender_snapshots(ctx, tender)
        found, errors = await anyio.to_thread.run_sync(
            _detect_all, chosen, snapshots, history_of(past)
        )
        await _store(ctx, analysis, tender, found, _facts(tender, chosen, errors))
    except Exception as exc:
        log.exception("collusion analysis %s of tender %s failed", analysis.id,
                      analysis.tender_id)
        async with in_transaction():
            analysis.status = AnalysisStatus.FAILED
            analysis.error = f"{type(exc).__name__}: {exc}"[:2000]
            analysis.finished_at = ctx.clock.now()
            await analysis.save(update_fields=["status", "error", "finished_at"])
            await ctx.audit.record(
                at=ctx.clock.now(), actor=SYSTEM, action="collusion:analysis:failed",
                object_type="analysis", object_id=analysis.id,
                scope=scope(analysis.tender_id), detail={"error": analysis.error},
            )
    return analysis


async def _store(
    ctx: Context,
    analysis: Analysis,
    tender: bidding_analysis.OpenedTender,
    found: list[tuple[int, Flag]],
    facts: dict[str, Any],
) -> None:
    now = ctx.clock.now()
    found = sorted(found, key=lambda lf: (lf[0], -lf[1].score, lf[1].detector, lf[1].bidders))
    async with in_transaction():
        for lot, flag in found:
            data = flag.as_json()
            await StoredFlag.create(
                analysis=analysis, lot=lot, detector=flag.detector, bidders=data["bidders"],
                score=data["score"], strength=flag.strength, evidence=data["evidence"],
                summary=flag.summary,
            )
        groups = 0
        for lot in tender.lots:
            for g in graph.find_groups([f for flot, f in found if flot == lot]):
                await Group.create(
                    analysis=analysis, scope="tender", lot=lot, key=g.key,
                    bidders=list(g.bidders), score=round(g.score, 4),
                    detectors=sorted({f.detector for f in g.flags}), created_at=now,
                )
                groups += 1
        analysis.status = AnalysisStatus.DONE
        analysis.finished_at = now
        analysis.facts = {**facts, "flags": len(found)}
        analysis.error = "; ".join(f"{k}: {v}" for k, v in sorted(facts["errors"].items()))
        await analysis.save(update_fields=["status", "finished_at", "facts", "error"])
        strong = sum(1 for _, f in found if f.strength == "strong")
        await ctx.audit.record(
            at=now, actor=SYSTEM, action="collusion:analysis:finished",
            object_type="analysis", object_id=analysis.id, scope=scope(tender.id),
            after={"status": "done", "flags": len(found), "strong": strong, "groups": groups},
            detail={"detector_errors": facts["errors"]},
        )
        if found:
            await _open_case(ctx, tender.id, len(found))
        await mark_tender(ctx, tender_id=tender.id, flags=len(found), strong=strong)


async def mark_tender(ctx: Context, *, tender_id: int, flags: int, strong: int) -> None:
    """The red mark on the tender: its flags, and its case status when the case moved on
    (a dismissed case keeps a quiet mark, so a supervisor still sees it was looked at)."""
    subject = f"tender:{tender_id}"
    if not flags:
        await marks.remove(ctx, actor=SYSTEM, subject=subject, kind=MARK_KIND)
        return
    case = await Case.get_or_none(tender_id=tender_id)
    status = case.status if case else CaseStatus.OPEN
    level = "danger" if strong or status == CaseStatus.REFERRED else "warning"
    if status == CaseStatus.DISMISSED:
        level = "info"
    text = f"串标风险 {flags}" + {CaseStatus.UNDER_REVIEW: "（核查中）",
                                  CaseStatus.DISMISSED: "（已排除）",
                                  CaseStatus.REFERRED: "（已移送）"}.get(status, "")
    await marks.annotate(ctx, actor=SYSTEM, subject=subject, kind=MARK_KIND,
                         audience=MARK_AUDIENCE, level=level, count=flags, text=text,
                         link=case_link(tender_id))


async def _open_case(ctx: Context, tender_id: int, flags: int) -> None:
    if await Case.filter(tender_id=tender_id).exists():
        return
    now = ctx.clock.now()
    case = await Case.create(tender_id=tender_id, status=CaseStatus.OPEN, opened_at=now,
                             updated_at=now, reason=f"分析发现 {flags} 条线索")
    await CaseEvent.create(case=case, from_status="", to_status=CaseStatus.OPEN.value,
                           reason=case.reason, actor_label=SYSTEM.display_name, at=now)
    await ctx.audit.record(
        at=now, actor=SYSTEM, action="collusion:case:opened", object_type="case",
        object_id=case.id, scope=scope(tender_id),
        after={"status": case.status.value, "tender_id": tender_id},
    )


async def run_queued(ctx: Context, *, limit: int = 20) -> int:
    """Run the analyses still waiting (after a restart, or queued by another process)."""
    waiting = await Analysis.filter(status=AnalysisStatus.QUEUED).order_by(
        "requested_at", "id"
    ).limit(limit)
    done = 0
    for analysis in waiting:
        if await run_analysis(ctx, analysis_id=analysis.id) is not None:
            done += 1
    return done


async def analyse_tenders(
    ctx: Context, *, tender_ids: Sequence[int] | None = None
) -> list[tuple[int, Analysis | None]]:
    """Analyse the given opened tenders now (again, after a detector changed), or with None
    every opened tender that has no analysis yet (tenders opened before collusion was on).
    A tender that is not opened gives (id, None)."""
    if tender_ids is None:
        opened = [t.id for t in await bidding_analysis.past_tenders_for_analysis()]
        done = set(await Analysis.filter(tender_id__in=opened).values_list(
            "tender_id", flat=True))
        tender_ids = [t for t in opened if t not in done]
    out: list[tuple[int, Analysis | None]] = []
    for tender_id in tender_ids:
        try:
            await bidding_analysis.opened_bids_for_analysis(tender_id)
        except TenderNotFound:
            out.append((tender_id, None))
            continue
        analysis = await request_analysis(ctx, tender_id=tender_id)
        out.append((tender_id, await run_analysis(ctx, analysis_id=analysis.id) or analysis))
    return out
