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
from typing import Any

import networkx as nx

from collusion.base import Flag, pair_key

__all__ = ["ENTITY_KINDS", "Group", "build_graph", "combine", "find_groups", "graph_svg"]

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
    """1 - prod(1 - w * score): independent pieces of evidence, strong ones weighing more.

    With ``spread``, as said of one pair: a flag naming k bidders counts 2/k of itself, since
    a tender-wide price screen or "these six always bid together" does not say which two of
    them belong together (without it, two such flags would pull every bidder into a group)."""
    remaining = 1.0
    for flag in flags:
        weight = WEIGHTS.get(flag.strength, 0.5)
        if spread and len(flag.bidders) > 2:
            weight *= 2 / len(flag.bidders)
        remaining *= 1.0 - weight * min(max(flag.score, 0.0), 1.0)
    return 1.0 - remaining


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

_SIZE = 520
_CENTRE = _SIZE / 2
_FIRM_RING = 150.0
_THING_RING = 225.0
_COLOURS = {"strong": "#c0392b", "supporting": "#e67e22"}
_THING_FILL = {"machine": "#5d6d7e", "person": "#8e44ad", "account": "#16a085",
               "address": "#2e86c1", "phone": "#7f8c8d", "email": "#7f8c8d"}
_KIND_ZH = {"machine": "机器", "person": "人员", "account": "账户", "address": "地址",
            "phone": "电话", "email": "邮箱"}


def graph_svg(group: Group, *, labels: Mapping[str, str] | None = None) -> str:
    """The group's graph as a self-contained SVG document: firms on a circle in key order, the
    things they share outside it next to their firms, edges coloured by strength and as thick
    as their score. Deterministic: the same group gives the same bytes."""
    graph = build_graph(group.flags)
    firms = [f"firm:{b}" for b in group.bidders]
    graph.remove_nodes_from([n for n in list(graph) if n.startswith("firm:") and n not in firms])
    graph.remove_nodes_from([n for n in list(graph) if graph.degree(n) == 0 and n not in firms])
    positions = _layout(graph, firms)
    names = dict(labels or {})

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_SIZE} {_SIZE}" '
             f'width="{_SIZE}" height="{_SIZE}" font-family="sans-serif" font-size="12" '
             f'role="img" aria-label="{escape(group.key)}">',
             f'<rect width="{_SIZE}" height="{_SIZE}" fill="#ffffff"/>']
    for a, b, data in _sorted_edges(graph):
        (x1, y1), (x2, y2) = positions[a], positions[b]
        thing_edge = not (a.startswith("firm:") and b.startswith("firm:"))
        width = 1.0 if thing_edge else 1.0 + 4.0 * data["score"]
        dash = ' stroke-dasharray="5 4"' if data["strength"] == "supporting" else ""
        colour = "#aab7b8" if thing_edge else _COLOURS.get(data["strength"], "#e67e22")
        title = f'{data["detector"]} {data["score"]:.2f} {data["summary"]}'.strip()
        parts.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                     f'stroke="{colour}" stroke-width="{width:.1f}"{dash}>'
                     f"<title>{escape(title)}</title></line>")
    for node in sorted(graph, key=lambda n: (not n.startswith("firm:"), n)):
        x, y = positions[node]
        kind = graph.nodes[node]["kind"]
        label = graph.nodes[node]["label"]
        if kind == "firm":
            text = names.get(label, label)
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="16" fill="#fdebd0" '
                         f'stroke="#c0392b" stroke-width="2"><title>{escape(text)}</title>'
                         f"</circle>")
        else:
            text = f"{_KIND_ZH.get(kind, kind)} {_short(label)}"
            parts.append(f'<rect x="{x - 8:.1f}" y="{y - 8:.1f}" width="16" height="16" '
                         f'fill="{_THING_FILL.get(kind, "#7f8c8d")}"><title>'
                         f"{escape(kind)}: {escape(label)}</title></rect>")
        anchor = "start" if x >= _CENTRE else "end"
        dx = 20 if x >= _CENTRE else -20
        parts.append(f'<text x="{x + dx:.1f}" y="{y + 4:.1f}" text-anchor="{anchor}">'
                     f"{escape(_short(text, 18))}</text>")
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
    things = sorted(n for n in graph if n not in angles)
    taken: dict[int, int] = {}
    for thing in things:
        linked = sorted(n for n in graph.neighbors(thing) if n in angles)
        # The mean direction of its firms, so a thing sits beside the firms that share it.
        x = sum(math.cos(angles[f]) for f in linked)
        y = sum(math.sin(angles[f]) for f in linked)
        angle = math.atan2(y, x) if (abs(x) > 1e-9 or abs(y) > 1e-9) else 0.0
        slot = round(angle / (math.pi / 18))
        nudge = taken.get(slot, 0)
        taken[slot] = nudge + 1
        angle += nudge * math.pi / 18
        positions[thing] = _point(_THING_RING, angle)
    return positions


def _point(radius: float, angle: float) -> tuple[float, float]:
    return (_CENTRE + radius * math.cos(angle), _CENTRE + radius * math.sin(angle))


def _sorted_edges(graph: nx.MultiGraph) -> list[tuple[str, str, dict[str, Any]]]:
    edges = [(*sorted((a, b)), data) for a, b, data in graph.edges(data=True)]
    return sorted(edges, key=lambda e: (e[0], e[1], str(e[2]["detector"]), -float(e[2]["score"])))


def _short(text: str, limit: int = 12) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
