"""Evidence as a supervisor reads it: pairs of passages side by side with their differences
marked, shared identifiers by kind and hash prefix, the rest as plain JSON.

Detectors write their own evidence shapes (docs/collusion.md, each section's "Evidence shown");
this module recognises the shapes they share instead of knowing every detector, so a new
detector's passages and identifiers show up without a change here.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from markupsafe import Markup, escape

from collusion import charts as charts_
from collusion import graph
from collusion.base import Flag
from collusion.detectors import all_detectors
from collusion.models import CaseStatus, StoredFlag
from collusion.services.cases import CASE_MOVES, LABELS, needs_reason
from collusion.services.queries import CaseView, GroupView

# Keys under which a detector's evidence lists pairs of texts, and the names of the two sides.
PAIR_NAMES = (("a", "b"), ("left", "right"), ("text_a", "text_b"), ("a_text", "b_text"),
              ("first", "second"))
MAX_SHOWN = 4000  # characters of one side; the full text stays in the JSON export


@dataclass(frozen=True)
class Pair:
    label: str
    left: Markup
    right: Markup
    note: str = ""


@dataclass(frozen=True)
class Identifier:
    kind: str
    value: str  # a hash prefix, or a label when the detector gave one
    label: str


def flag_of(row: StoredFlag) -> Flag:
    return Flag(detector=row.detector, bidders=tuple(row.bidders), score=row.score,
                strength=row.strength,  # type: ignore[arg-type]
                evidence=row.evidence, summary=row.summary)


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        inner = value.get("text")
        return inner if isinstance(inner, str) else None
    return None


def _two_texts(item: Mapping[str, Any]) -> tuple[str, str] | None:
    for a, b in PAIR_NAMES:
        left, right = _text(item.get(a)), _text(item.get(b))
        if left is not None and right is not None:
            return left, right
    values = item.get("values")
    if isinstance(values, list) and len(values) == 2 and all(isinstance(v, str) for v in values):
        return values[0], values[1]
    return None


def _walk(evidence: Any, path: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    if isinstance(evidence, Mapping):
        yield path, evidence
        for key, value in evidence.items():
            if key != "entities":
                yield from _walk(value, f"{path}.{key}" if path else str(key))
    elif isinstance(evidence, list):
        for n, value in enumerate(evidence):
            yield from _walk(value, f"{path}[{n}]")


def marked(text: str, other: str) -> tuple[Markup, Markup]:
    """Both texts, escaped, with what differs between them inside <mark>."""
    a, b = text[:MAX_SHOWN], other[:MAX_SHOWN]
    left, right = [], []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            left.append(escape(a[i1:i2]))
            right.append(escape(b[j1:j2]))
            continue
        if i2 > i1:
            left.append(Markup("<mark>{}</mark>").format(a[i1:i2]))
        if j2 > j1:
            right.append(Markup("<mark>{}</mark>").format(b[j1:j2]))
    return Markup("").join(left), Markup("").join(right)


def aligned(alignment: list[Any]) -> tuple[Markup, Markup] | None:
    """Both sides from a detector's own alignment, runs of [tag, text in a, text in b]
    ("equal", "replace", "delete", "insert"), with what is not equal inside <mark>."""
    left, right = [], []
    for run in alignment:
        if not (isinstance(run, list | tuple) and len(run) == 3
                and all(isinstance(x, str) for x in run)):
            return None
        tag, a, b = run
        if tag == "equal":
            left.append(escape(a))
            right.append(escape(b))
        else:
            if a:
                left.append(Markup("<mark>{}</mark>").format(a))
            if b:
                right.append(Markup("<mark>{}</mark>").format(b))
    return Markup("").join(left), Markup("").join(right)


def highlighted(text: str, needle: str) -> Markup:
    """``text`` escaped, each occurrence of ``needle`` inside <mark>."""
    if not needle:
        return escape(text)
    parts = text[:MAX_SHOWN].split(needle)
    return Markup("<mark>{}</mark>").format(needle).join(escape(p) for p in parts)


def _label(item: Mapping[str, Any], path: str) -> str:
    if item.get("field") or item.get("kind"):
        return str(item.get("field") or item.get("kind"))
    files = [side.get("file") for side in (item.get("a"), item.get("b"))
             if isinstance(side, Mapping)]
    if len(files) == 2 and all(isinstance(f, str) for f in files):
        return f"{files[0]} ↔ {files[1]}"
    return path


def pairs(evidence: Mapping[str, Any], bidders: Sequence[str] = ()) -> list[Pair]:
    """Every pair of texts in the evidence (passages, typos in context, matching fields), in
    the order of ``bidders`` where the evidence names them."""
    found = []
    for path, item in _walk(evidence):
        note = ", ".join(f"{k}: {item[k]}" for k in ("similarity", "length", "chars", "ratio")
                         if k in item and isinstance(item[k], int | float))
        contexts = item.get("contexts")
        if isinstance(contexts, Mapping) and len(bidders) >= 2:
            sides = [_text(contexts.get(b)) for b in bidders[:2]]
            if sides[0] is not None and sides[1] is not None:
                needle = str(item.get("wrong") or "")
                label = str(item.get("kind") or path)
                if needle:
                    label += f"：{needle}" + (f"（应为 {item['right']}）" if item.get("right")
                                              else "")
                found.append(Pair(label=label, left=highlighted(sides[0], needle),
                                  right=highlighted(sides[1], needle), note=note))
                continue
        texts = _two_texts(item)
        if texts is None:
            continue
        alignment = item.get("alignment")
        shown = aligned(alignment) if isinstance(alignment, list) else None
        left, right = shown if shown is not None else marked(*texts)
        found.append(Pair(label=_label(item, path), left=left, right=right, note=note))
    return found


def identifiers(evidence: Mapping[str, Any]) -> list[Identifier]:
    """The shared things a flag names (evidence["entities"]), and raw hash lists by kind."""
    out: list[Identifier] = []
    for entity in evidence.get("entities") or []:
        if isinstance(entity, Mapping) and entity.get("id"):
            ident = str(entity["id"])
            out.append(Identifier(kind=str(entity.get("kind", "")),
                                  value=ident.split(":")[-1][:16],
                                  label=str(entity.get("label") or "")))
    for entry in evidence.get("shared") or []:
        if isinstance(entry, Mapping) and isinstance(entry.get("hash"), str):
            out.append(Identifier(kind=str(entry.get("kind", "")),
                                  value=entry["hash"][:16], label=""))
    seen: set[tuple[str, str]] = set()
    unique = []
    for i in out:
        if (i.kind, i.value) not in seen:
            seen.add((i.kind, i.value))
            unique.append(i)
    return unique


def as_json(evidence: Mapping[str, Any]) -> str:
    return json.dumps(evidence, ensure_ascii=False, indent=2, sort_keys=True, default=str)


# -- whole pages ----------------------------------------------------------------------------


def titles() -> dict[str, tuple[str, str]]:
    """Each detector's name with its Chinese and English titles."""
    return {d.name: (d.title_zh, d.title_en) for d in all_detectors()}


def _flag_view(row: StoredFlag, names: Mapping[str, str],
               titles: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    return {
        "row": row,
        "title": titles.get(row.detector, (row.detector, row.detector)),
        "names": [names.get(b, b) for b in row.bidders],
        "pairs": pairs(row.evidence, row.bidders),
        "identifiers": identifiers(row.evidence),
        "json": as_json(row.evidence),
    }


def _price_of(bid: Mapping[str, Any]) -> Decimal:
    try:
        return Decimal(str(bid.get("price")))
    except InvalidOperation:
        return Decimal("Infinity")


def _money(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


def _bid_row(bid: Mapping[str, Any]) -> dict[str, Any]:
    """A stored bid with its price as a number and its time as an instant, for the filters."""
    at = bid.get("submitted_at")
    return {**bid, "price": _money(bid.get("price")),
            "submitted_at": datetime.fromisoformat(at) if isinstance(at, str) else None}


def case_page(view: CaseView) -> dict[str, Any]:
    """Everything the case page and the HTML report show."""
    a = view.analysis
    titles_of = titles()
    bids = a.facts.get("bids", [])
    lots = a.facts.get("lots", [1])
    flagged_by_lot: dict[int, set[str]] = {}
    for f in view.flags:
        flagged_by_lot.setdefault(f.lot, set()).update(f.bidders)
    charts = [
        (lot, charts_.price_chart([b for b in bids if b.get("lot", 1) == lot], names=view.names,
                                  flagged=flagged_by_lot.get(lot, ()),
                                  estimate=a.facts.get("estimate"),
                                  ceiling=a.facts.get("price_ceiling")))
        for lot in lots
    ]
    groups = []
    for g in view.groups:
        inside = [flag_of(f) for f in view.flags
                  if f.lot == g.lot and len(set(f.bidders) & set(g.bidders)) >= 2]
        drawn = graph.Group(key=g.key, bidders=tuple(g.bidders), score=g.score,
                            flags=tuple(inside))
        groups.append({"row": g, "names": [view.names.get(b, b) for b in g.bidders],
                       "svg": charts_.group_picture(drawn, view.names)})
    status = view.case.status if view.case else None
    return {
        "view": view, "tender_id": view.tender_id, "analysis": a, "facts": a.facts,
        "bids": [_bid_row(b) for b in sorted(
            bids, key=lambda b: (b.get("lot", 1), _price_of(b), b["key"]))],
        "estimate": _money(a.facts.get("estimate")),
        "price_ceiling": _money(a.facts.get("price_ceiling")),
        "multi_lot": len(lots) > 1,
        "flags": [_flag_view(f, view.names, titles_of) for f in view.flags],
        "titles": titles_of,
        "groups": groups, "charts": charts, "case": view.case, "events": view.events,
        "labels": LABELS,
        "moves": sorted(CASE_MOVES[status], key=list(LABELS).index) if status else [],
        "needs_reason": {m.value: needs_reason(status, m) for m in CASE_MOVES[status]}
        if status else {},
    }


def group_page(view: GroupView) -> dict[str, Any]:
    titles_of = titles()
    g = view.group
    tenders = [(t, [_flag_view(f, g.names, titles_of) for f in flags])
               for t, flags in view.flags]
    every = [flag_of(f) for _, flags in view.flags for f in flags]
    drawn = graph.Group(key=g.key, bidders=tuple(g.bidders), score=g.score, flags=tuple(every))
    status = view.case.status if view.case else CaseStatus.OPEN
    return {
        "group": g, "tenders": tenders, "titles": titles_of,
        "svg": charts_.group_picture(drawn, g.names),
        "case": view.case, "events": view.events, "labels": LABELS,
        "status": status,
        "moves": sorted(CASE_MOVES[status], key=list(LABELS).index),
        "needs_reason": {m.value: needs_reason(status, m) for m in CASE_MOVES[status]},
    }
