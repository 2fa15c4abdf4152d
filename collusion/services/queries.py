"""What the supervisors' pages and the exported reports show: read-only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from collusion.exceptions import CaseNotFound
from collusion.models import Analysis, AnalysisStatus, Case, CaseEvent, Group, StoredFlag
from collusion.services.analysis import combine_scores
from collusion.services.cases import require_supervisor
from kernel.accounts.actor import Actor


@dataclass
class TenderRow:
    tender_id: int
    code: str
    title: str
    flags: int
    strong: int
    top: float
    finished_at: Any
    case_status: str = ""


@dataclass
class HistoryGroup:
    key: str
    bidders: list[str]
    names: dict[str, str]
    score: float
    tenders: list[dict[str, Any]]
    detectors: list[str]
    case_status: str = ""


@dataclass
class Overview:
    tenders: list[TenderRow] = field(default_factory=list)
    groups: list[HistoryGroup] = field(default_factory=list)
    pending: int = 0
    failed: list[Analysis] = field(default_factory=list)


async def _latest_done() -> dict[int, Analysis]:
    """The newest finished analysis of each tender: re-runs replace earlier findings."""
    latest: dict[int, Analysis] = {}
    for a in await Analysis.filter(status=AnalysisStatus.DONE).order_by("-finished_at", "-id"):
        latest.setdefault(a.tender_id, a)
    return latest


def names_of(analysis: Analysis) -> dict[str, str]:
    return {b["key"]: b.get("name") or b["key"] for b in analysis.facts.get("bids", [])}


async def overview(actor: Actor) -> Overview:
    """Tenders with findings, strongest first, and the groups seen across tenders."""
    require_supervisor(actor)
    latest = await _latest_done()
    ids = [a.id for a in latest.values()]
    flags = await StoredFlag.filter(analysis_id__in=ids).values("analysis_id", "score",
                                                                 "strength")
    by_analysis: dict[int, list[dict[str, Any]]] = {}
    for f in flags:
        by_analysis.setdefault(f["analysis_id"], []).append(f)
    cases = {c.tender_id: c.status.value for c in await Case.filter(tender_id__isnull=False)}
    out = Overview()
    for tender_id, a in latest.items():
        found = by_analysis.get(a.id, [])
        if not found:
            continue
        out.tenders.append(TenderRow(
            tender_id=tender_id, code=a.facts.get("code", ""), title=a.facts.get("title", ""),
            flags=len(found), strong=sum(1 for f in found if f["strength"] == "strong"),
            top=max(f["score"] for f in found), finished_at=a.finished_at,
            case_status=cases.get(tender_id, ""),
        ))
    out.tenders.sort(key=lambda r: (-r.strong, -r.top, -r.flags, r.tender_id))
    out.groups = await _history_groups(latest)
    out.pending = await Analysis.filter(
        status__in=[AnalysisStatus.QUEUED, AnalysisStatus.RUNNING]
    ).count()
    failed_latest: dict[int, Analysis] = {}
    for a in await Analysis.filter(status=AnalysisStatus.FAILED).order_by("-finished_at"):
        if a.tender_id not in latest:
            failed_latest.setdefault(a.tender_id, a)
    out.failed = list(failed_latest.values())
    return out


async def _history_groups(latest: dict[int, Analysis], key: str | None = None
                          ) -> list[HistoryGroup]:
    by_id = {a.id: a for a in latest.values()}
    query = Group.filter(analysis_id__in=list(by_id))
    if key is not None:
        query = query.filter(key=key)
    merged: dict[str, HistoryGroup] = {}
    for g in await query.order_by("id"):
        a = by_id[g.analysis_id]  # type: ignore[attr-defined]
        hg = merged.setdefault(g.key, HistoryGroup(key=g.key, bidders=list(g.bidders),
                                                   names={}, score=0.0, tenders=[],
                                                   detectors=[]))
        hg.names.update({k: v for k, v in names_of(a).items() if k in g.bidders})
        hg.tenders.append({"tender_id": a.tender_id, "code": a.facts.get("code", ""),
                           "title": a.facts.get("title", ""), "lot": g.lot,
                           "score": g.score, "detectors": list(g.detectors)})
        hg.detectors = sorted(set(hg.detectors) | set(g.detectors))
    cases = {c.group_key: c.status.value for c in await Case.filter(group_key__isnull=False)}
    for hg in merged.values():
        # Each tender is a separate occasion on which the same firms were tied together.
        hg.score = combine_scores(t["score"] for t in hg.tenders)
        hg.tenders.sort(key=lambda t: t["tender_id"])
        hg.case_status = cases.get(hg.key, "")
    return sorted(merged.values(), key=lambda h: (-len(h.tenders), -h.score, h.key))


@dataclass
class CaseView:
    tender_id: int
    analysis: Analysis
    flags: list[StoredFlag]
    groups: list[Group]
    names: dict[str, str]
    case: Case | None
    events: list[CaseEvent]
    analyses: list[Analysis]


async def case_view(actor: Actor, tender_id: int) -> CaseView:
    """A tender's case: its newest analysis with flags and groups, the case and its history."""
    require_supervisor(actor)
    analyses = await Analysis.filter(tender_id=tender_id).order_by("-requested_at", "-id")
    if not analyses:
        raise CaseNotFound()
    done = [a for a in analyses if a.status == AnalysisStatus.DONE]
    analysis = done[0] if done else analyses[0]
    case = await Case.get_or_none(tender_id=tender_id)
    return CaseView(
        tender_id=tender_id, analysis=analysis,
        flags=await StoredFlag.filter(analysis_id=analysis.id).order_by("lot", "-score", "id"),
        groups=await Group.filter(analysis_id=analysis.id).order_by("lot", "-score", "id"),
        names=names_of(analysis), case=case,
        events=await CaseEvent.filter(case_id=case.id).order_by("at", "id") if case else [],
        analyses=analyses,
    )


@dataclass
class GroupView:
    group: HistoryGroup
    flags: list[tuple[dict[str, Any], list[StoredFlag]]]  # per tender: its flags in the group
    case: Case | None
    events: list[CaseEvent]


async def group_view(actor: Actor, key: str) -> GroupView:
    """One group across every tender where its firms were tied together."""
    require_supervisor(actor)
    latest = await _latest_done()
    found = await _history_groups(latest, key=key)
    if not found:
        raise CaseNotFound()
    group = found[0]
    members = set(group.bidders)
    per_tender = []
    for t in group.tenders:
        analysis = latest[t["tender_id"]]
        flags = await StoredFlag.filter(analysis_id=analysis.id, lot=t["lot"]).order_by(
            "-score", "id"
        )
        per_tender.append((t, [f for f in flags if len(set(f.bidders) & members) >= 2]))
    case = await Case.get_or_none(group_key=key)
    events = await CaseEvent.filter(case_id=case.id).order_by("at", "id") if case else []
    return GroupView(group=group, flags=per_tender, case=case, events=events)


def report(view: CaseView) -> dict[str, Any]:
    """The case as one JSON object (the exported report)."""
    a = view.analysis
    return {
        "format": "ebid-collusion-case",
        "version": 1,
        "tender": {"id": view.tender_id, "code": a.facts.get("code", ""),
                   "title": a.facts.get("title", ""), "estimate": a.facts.get("estimate"),
                   "price_ceiling": a.facts.get("price_ceiling"),
                   "opened_at": a.facts.get("opened_at")},
        "analysis": {"id": a.id, "status": a.status.value, "error": a.error,
                     "requested_at": a.requested_at.isoformat(),
                     "finished_at": a.finished_at.isoformat() if a.finished_at else None,
                     "detectors": a.facts.get("detectors", [])},
        "bids": a.facts.get("bids", []),
        "flags": [{"detector": f.detector, "lot": f.lot, "bidders": f.bidders,
                   "names": [view.names.get(b, b) for b in f.bidders], "score": f.score,
                   "strength": f.strength, "summary": f.summary, "evidence": f.evidence}
                  for f in view.flags],
        "groups": [{"key": g.key, "lot": g.lot, "bidders": g.bidders, "score": g.score,
                    "detectors": g.detectors} for g in view.groups],
        "case": None if view.case is None else {
            "status": view.case.status.value, "reason": view.case.reason,
            "opened_at": view.case.opened_at.isoformat(),
            "history": [{"from": e.from_status, "to": e.to_status, "reason": e.reason,
                         "by": e.actor_label, "at": e.at.isoformat()} for e in view.events],
        },
    }


def group_report(view: GroupView) -> dict[str, Any]:
    """A group's case as one JSON object (the exported report)."""
    g = view.group
    return {
        "format": "ebid-collusion-group",
        "version": 1,
        "group": {"key": g.key, "bidders": g.bidders,
                  "names": [g.names.get(b, b) for b in g.bidders], "score": g.score,
                  "detectors": g.detectors},
        "tenders": [{**t, "flags": [{"detector": f.detector, "lot": f.lot,
                                     "bidders": f.bidders, "score": f.score,
                                     "strength": f.strength, "summary": f.summary,
                                     "evidence": f.evidence} for f in flags]}
                    for t, flags in view.flags],
        "case": None if view.case is None else {
            "status": view.case.status.value, "reason": view.case.reason,
            "opened_at": view.case.opened_at.isoformat(),
            "history": [{"from": e.from_status, "to": e.to_status, "reason": e.reason,
                         "by": e.actor_label, "at": e.at.isoformat()} for e in view.events],
        },
    }
