"""The relationship graph: firms and what ties them, flags as typed weighted edges, and the
suspicious groups ranked by their combined evidence (docs/collusion.md, "The graph").

A flag links every pair of its bidders with an edge typed by its detector. When its evidence
lists the things the bidders share under ``evidence["entities"]`` (``[{"kind", "id", "label"}]``,
kinds: machine, person, account, address, phone, email), each becomes a node of its own linked
to those bidders, so a supervisor sees *what* they share, not only that they do.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from itertools import combinations

import networkx as nx

from collusion.base import Flag, any_of, pair_key

__all__ = ["ENTITY_KINDS", "Group", "build_graph", "combine", "find_groups", "graph_svg",
           "group_key"]

ENTITY_KINDS = ("machine", "person", "account", "address", "phone", "email")
# Supporting evidence (metadata, a shared host name) is easily explained away one item at a
# time, so it counts half: two supporting flags can make a group, one alone cannot.
WEIGHTS = {"strong": 1.0, "supporting": 0.5}
EDGE_THRESHOLD = 0.5


@dataclass(frozen=True)
class Group:
    """Firms tied together by evidence above the threshold, with the flags among them."""

    key: str  # stable: the same bidders give the same key
    bidders: tuple[str, ...]  # sorted
    score: float  # 0..1, the combined evidence of ``flags``
    flags: tuple[Flag, ...]

    def as_json(self) -> dict[str, object]:
        return {"bidders": list(self.bidders), "score": round(self.score, 4)}


def combine(flags: Iterable[Flag], *, spread: bool = False) -> float:
    """1 - prod(1 - w * score) over the detectors: independent kinds of evidence, strong ones
    weighing more. Each detector counts once, with its strongest flag: the same detector
    repeating itself (the history detector restates all past tenders in every new one) is
    not new evidence.

    With ``spread``, as said of one pair: a flag naming k bidders counts 2/k of itself, since
    a tender-wide price screen or "these six always bid together" does not say which two of
    them belong together (without it, two such flags would pull every bidder into a group)."""
    best: dict[str, float] = {}
    for flag in flags:
        weight = WEIGHTS.get(flag.strength, 0.5)
        if spread and len(flag.bidders) > 2:
            weight *= 2 / len(flag.bidders)
        value = weight * min(max(flag.score, 0.0), 1.0)
        best[flag.detector] = max(best.get(flag.detector, 0.0), value)
    return any_of(best.values())


def build_graph(flags: Iterable[Flag]) -> nx.MultiGraph:
    """Nodes "firm:<key>" and "<kind>:<id>"; one firm-firm edge per flag, one firm-thing edge
    per detector, each with its flag's detector, score, strength and summary."""
    graph = nx.MultiGraph()
    for flag in flags:
        firms = [f"firm:{bidder}" for bidder in flag.bidders]
        for firm, bidder in zip(firms, flag.bidders, strict=True):
            graph.add_node(firm, kind="firm", label=bidder)
        for a, b in combinations(firms, 2):
            graph.add_edge(a, b, detector=flag.detector, score=flag.score,
                           strength=flag.strength, summary=flag.summary)
        for entity in _entities(flag):
            node = f"{entity['kind']}:{entity['id']}"
            graph.add_node(node, kind=entity["kind"], label=entity.get("label") or entity["id"])
            for firm in firms:
                graph.add_edge(firm, node, key=f"{flag.detector}:shares", detector=flag.detector,
                               score=flag.score, strength=flag.strength, summary=flag.summary)
    return graph


def find_groups(flags: Sequence[Flag], *, threshold: float = EDGE_THRESHOLD) -> list[Group]:
    """Connected components over firm pairs whose combined evidence reaches ``threshold``,
    strongest first (then larger, then by bidders)."""
    by_pair: dict[tuple[str, str], list[Flag]] = {}
    for flag in flags:
        for a, b in combinations(sorted(set(flag.bidders)), 2):
            by_pair.setdefault(pair_key(a, b), []).append(flag)
    linked = nx.Graph()
    linked.add_edges_from(pair for pair, found in by_pair.items()
                          if combine(found, spread=True) >= threshold)
    groups = []
    for component in nx.connected_components(linked):
        members = set(component)
        inside = tuple(f for f in flags if len(members.intersection(f.bidders)) >= 2)
        bidders = tuple(sorted(members))
        groups.append(Group(key=group_key(bidders), bidders=bidders, score=combine(inside),
                            flags=inside))
    return sorted(groups, key=lambda g: (-g.score, -len(g.bidders), g.bidders))


def group_key(bidders: Iterable[str]) -> str:
    joined = "\x00".join(sorted(bidders)).encode("utf-8")
    return "g-" + hashlib.sha256(joined).hexdigest()[:16]


def _entities(flag: Flag) -> list[Mapping[str, str]]:
    found = flag.evidence.get("entities") if isinstance(flag.evidence, Mapping) else None
    if not isinstance(found, list):
        return []
    return [e for e in found if isinstance(e, Mapping) and e.get("kind") in ENTITY_KINDS
            and isinstance(e.get("id"), str) and e["id"]]


# --- drawing -------------------------------------------------------------------------------

_WIDTH, _HEIGHT = 720, 560
_CX, _CY = _WIDTH / 2, _HEIGHT / 2
_FIRM_RING = 140.0
_THING_RING = 215.0
_COLOURS = {"strong": "#c0392b", "supporting": "#e67e22"}
_THING_FILL = {"machine": "#5d6d7e", "person": "#8e44ad", "account": "#16a085",
               "address": "#2e86c1", "phone": "#7f8c8d", "email": "#7f8c8d"}
_KIND_ZH = {"machine": "机器", "person": "人员", "account": "账户", "address": "地址",
            "phone": "电话", "email": "邮箱"}
_LEGEND = (("strong", "强证据 strong"), ("supporting", "辅助证据 supporting"))


def graph_svg(group: Group, *, labels: Mapping[str, str] | None = None) -> str:
    """The group's graph as a self-contained SVG document: firms on a circle in key order, the
    things they share on an outer ring beside those firms, one line per pair of firms as thick
    as their combined evidence (its tooltip lists the flags). Deterministic: the same group
    gives the same bytes. ``labels`` maps bidder keys to the names shown."""
    graph = build_graph(group.flags)
    firms = [f"firm:{b}" for b in group.bidders]
    graph.remove_nodes_from([n for n in list(graph) if n.startswith("firm:") and n not in firms])
    graph.remove_nodes_from([n for n in list(graph) if graph.degree(n) == 0 and n not in firms])
    positions = _layout(graph, firms)
    names = dict(labels or {})

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {_HEIGHT}" '
             f'width="{_WIDTH}" height="{_HEIGHT}" font-family="sans-serif" font-size="12" '
             f'role="img" aria-label="{escape(group.key)}">',
             f'<rect width="{_WIDTH}" height="{_HEIGHT}" fill="#ffffff"/>']
    pairs: dict[tuple[str, str], list[Flag]] = {}
    for flag in group.flags:
        inside = [b for b in sorted(set(flag.bidders)) if f"firm:{b}" in positions]
        for a, b in combinations(inside, 2):
            pairs.setdefault((a, b), []).append(flag)
    for thing_edge in sorted({tuple(sorted((a, b))) for a, b in graph.edges()
                              if not (a.startswith("firm:") and b.startswith("firm:"))}):
        (x1, y1), (x2, y2) = positions[thing_edge[0]], positions[thing_edge[1]]
        parts.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                     f'stroke="#aab7b8" stroke-width="1"/>')
    for (a, b), flags in sorted(pairs.items()):
        (x1, y1), (x2, y2) = positions[f"firm:{a}"], positions[f"firm:{b}"]
        strong = any(f.strength == "strong" for f in flags)
        dash = "" if strong else ' stroke-dasharray="6 4"'
        width = 1.0 + 5.0 * combine(flags, spread=True)
        title = "\n".join(f"{f.detector} {f.score:.2f} {f.summary}".strip()
                          for f in sorted(flags, key=lambda f: (-f.score, f.detector)))
        parts.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                     f'stroke="{_COLOURS["strong" if strong else "supporting"]}" '
                     f'stroke-width="{width:.1f}"{dash}><title>{escape(title)}</title></line>')
    for node in sorted(graph, key=lambda n: (not n.startswith("firm:"), n)):
        x, y = positions[node]
        kind = graph.nodes[node]["kind"]
        label = graph.nodes[node]["label"]
        if kind == "firm":
            text = names.get(label, label)
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="16" fill="#fdebd0" '
                         f'stroke="#c0392b" stroke-width="2"><title>{escape(text)}</title>'
                         f"</circle>")
            shown = _short(text, 14)
        else:
            text = f"{_KIND_ZH.get(kind, kind)} {label}"
            parts.append(f'<rect x="{x - 8:.1f}" y="{y - 8:.1f}" width="16" height="16" '
                         f'fill="{_THING_FILL.get(kind, "#7f8c8d")}"><title>'
                         f"{escape(text)}</title></rect>")
            shown = _short(text, 16)
        right = x >= _CX
        parts.append(f'<text x="{x + (20 if right else -20):.1f}" y="{y + 4:.1f}" '
                     f'text-anchor="{"start" if right else "end"}">{escape(shown)}</text>')
    for row, (strength, caption) in enumerate(_LEGEND):
        y = 18 + 18 * row
        dash = "" if strength == "strong" else ' stroke-dasharray="6 4"'
        parts.append(f'<line x1="12" y1="{y}" x2="40" y2="{y}" stroke="{_COLOURS[strength]}" '
                     f'stroke-width="3"{dash}/><text x="46" y="{y + 4}">{caption}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _layout(graph: nx.MultiGraph, firms: list[str]) -> dict[str, tuple[float, float]]:
    # Fixed geometry rather than a force layout: no random seed, no floating-point drift
    # between platforms, and the firms always sit where the list of bidders says.
    positions: dict[str, tuple[float, float]] = {}
    angles: dict[str, float] = {}
    for index, firm in enumerate(firms):
        angle = -math.pi / 2 + 2 * math.pi * index / max(len(firms), 1)
        angles[firm] = angle
        positions[firm] = _point(_FIRM_RING if len(firms) > 1 else 0.0, angle)
    wanted: list[tuple[float, str]] = []
    everyone: list[str] = []
    for thing in sorted(n for n in graph if n not in angles):
        linked = [n for n in graph.neighbors(thing) if n in angles]
        x = sum(math.cos(angles[f]) for f in linked)
        y = sum(math.sin(angles[f]) for f in linked)
        # Beside the firms that share it; a thing all firms share has no side of its own.
        if math.hypot(x, y) < 0.5:
            everyone.append(thing)
        else:
            wanted.append((math.atan2(y, x) % (2 * math.pi), thing))
    offset = math.pi / max(len(firms), 1) - math.pi / 2  # between two firms
    wanted += [((offset + 2 * math.pi * i / len(everyone)) % (2 * math.pi), thing)
               for i, thing in enumerate(everyone)]
    wanted.sort()
    gap = min(2 * math.pi / max(len(wanted), 1), math.pi / 10)
    previous = -math.inf
    for angle, thing in wanted:
        angle = max(angle, previous + gap)
        previous = angle
        positions[thing] = _point(_THING_RING, angle)
    return positions


def _point(radius: float, angle: float) -> tuple[float, float]:
    return (_CX + radius * math.cos(angle), _CY + radius * math.sin(angle))


def _short(text: str, limit: int = 12) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
