"""Detector 9: patterns over this platform's past tenders, about the firms bidding now.

- ``cover_bidder``: a firm that has bid often and never won, and lost mostly to the same firm:
  it bids to make that firm's tenders look contested. (Losing to many different firms is just
  being expensive.)
- ``rotation``: a group of this tender's bidders who keep meeting (most of the tenders of each
  pair have both), where the tenders they meet in are won by one of them far more often than
  their number of bids there would give them, and the wins are spread among them: winners
  taking turns. In a small market everyone meets everyone; the comparison with the expected
  share keeps the whole market from looking like one ring.
- ``bid_together``: firms whose bids nearly always come together (most of each one's tenders
  have the others in them too).

Each flag lists the past tenders behind it, so the supervisor can read the table themselves.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from itertools import combinations

import networkx as nx

from collusion.base import EMPTY_HISTORY, Flag, History, PastTender, Strength, TenderSnapshot

MIN_BIDS_NEVER_WON = 6  # past bids of a firm that never won, before it counts as a cover bidder
MIN_BENEFICIARY_SHARE = 0.5  # of its losses, to the one firm that won them most
MAX_CHANCE_NEVER_WON = 0.05  # of never winning if winners were drawn at random
MIN_MEETINGS = 4  # past tenders two firms met in
MIN_PAIR_SHARE = 0.6  # of the tenders of the firm of the pair that bid less
MIN_GROUP_WIN_SHARE = 0.8  # of the group's meetings, won by a member
MAX_CHANCE = 0.01  # of winning that often if winners were drawn at random among the bidders
MAX_TOP_WIN_SHARE = 0.7  # no member took more of the group's wins than this
MIN_TOGETHER = 0.8  # share of each firm's tenders the others were in
SHOWN_TENDERS = 30


class BidHistory:
    name = "history"
    title_zh = "历史投标规律异常"
    title_en = "Patterns in bidding history"
    strength: Strength = "supporting"

    def __init__(self, *, min_bids_never_won: int = MIN_BIDS_NEVER_WON,
                 min_beneficiary_share: float = MIN_BENEFICIARY_SHARE,
                 min_meetings: int = MIN_MEETINGS, min_pair_share: float = MIN_PAIR_SHARE,
                 min_group_win_share: float = MIN_GROUP_WIN_SHARE,
                 max_chance: float = MAX_CHANCE,
                 max_chance_never_won: float = MAX_CHANCE_NEVER_WON,
                 max_top_win_share: float = MAX_TOP_WIN_SHARE,
                 min_together: float = MIN_TOGETHER) -> None:
        self.min_bids_never_won = min_bids_never_won
        self.min_beneficiary_share = min_beneficiary_share
        self.min_meetings = min_meetings
        self.min_pair_share = min_pair_share
        self.min_group_win_share = min_group_win_share
        self.max_chance = max_chance
        self.max_chance_never_won = max_chance_never_won
        self.max_top_win_share = max_top_win_share
        self.min_together = min_together

    def detect(self, tender: TenderSnapshot, history: History = EMPTY_HISTORY) -> list[Flag]:
        current = sorted({b.key for b in tender.bids})
        past = [t for t in history.tenders if t.key != tender.key]
        if len(current) < 1 or not past:
            return []
        seen: dict[str, list[PastTender]] = {k: [] for k in current}
        for t in past:
            for k in {b.bidder for b in t.bids} & seen.keys():
                seen[k].append(t)
        flags = [f for k in current if (f := self._cover(k, seen[k])) is not None]
        flags += self._groups(current, seen)
        return flags

    def _cover(self, key: str, tenders: list[PastTender]) -> Flag | None:
        if len(tenders) < self.min_bids_never_won or any(_won(t, key) for t in tenders):
            return None
        beaten_by = Counter(w for t in tenders for w in _winners(t))
        if not beaten_by or max(beaten_by.values()) < self.min_beneficiary_share * len(tenders):
            return None
        chance = math.prod(1 - 1 / _size(t) for t in tenders)
        if chance > self.max_chance_never_won:
            return None
        score = min(1.0, 0.5 + 0.5 * (len(tenders) - self.min_bids_never_won)
                    / self.min_bids_never_won)
        return Flag(
            detector=self.name, bidders=(key,), score=round(score, 6), strength=self.strength,
            evidence={"pattern": "cover_bidder", "bids": len(tenders), "wins": 0,
                      "chance_never_won": round(chance, 6),
                      "winners_when_it_lost": [{"bidder": w, "tenders": n} for w, n in
                                               sorted(beaten_by.items(),
                                                      key=lambda x: (-x[1], x[0]))],
                      "tenders": [_row(t, (key,)) for t in tenders[-SHOWN_TENDERS:]]},
            summary=f"历史投标{len(tenders)}次从未中标")

    def _groups(self, current: list[str], seen: dict[str, list[PastTender]]) -> list[Flag]:
        met: dict[tuple[str, str], list[PastTender]] = {}
        for a, b in combinations(current, 2):
            keys_b = {t.key for t in seen[b]}
            both = [t for t in seen[a] if t.key in keys_b]
            if len(both) >= max(self.min_meetings,
                                self.min_pair_share * min(len(seen[a]), len(seen[b]))):
                met[(a, b)] = both
        graph = nx.Graph()
        graph.add_edges_from(met)
        flags = []
        for component in sorted(sorted(c) for c in nx.connected_components(graph)):
            group = tuple(component)
            members = set(group)
            meetings = [t for t in _union(seen[k] for k in group)
                        if len({b.bidder for b in t.bids} & members) >= 2]
            flags += self._rotation(group, meetings)
            flags += self._together(group, seen, met)
        return flags

    def _rotation(self, group: tuple[str, ...], meetings: list[PastTender]) -> list[Flag]:
        if len(meetings) < self.min_meetings:
            return []
        members = set(group)
        wins = Counter(w for t in meetings for w in _winners(t) if w in members)
        won_by_group = sum(1 for t in meetings if set(_winners(t)) & members)
        share = won_by_group / len(meetings)
        # Against winners drawn at random among each tender's bidders: how likely is it that the
        # group wins this often?
        odds = [len({b.bidder for b in t.bids} & members) / _size(t) for t in meetings]
        chance = _at_least(won_by_group, odds)
        if share < self.min_group_win_share or chance > self.max_chance or len(wins) < 2 \
                or max(wins.values()) / sum(wins.values()) > self.max_top_win_share:
            return []
        return [Flag(
            detector=self.name, bidders=group, score=round(share, 6), strength=self.strength,
            evidence={"pattern": "rotation", "meetings": len(meetings),
                      "won_by_group": won_by_group, "expected_wins": round(sum(odds), 2),
                      "chance": round(chance, 6),
                      "wins": {k: wins.get(k, 0) for k in group},
                      "tenders": [_row(t, group) for t in meetings[-SHOWN_TENDERS:]]},
            summary=f"{len(group)}家投标人共同投标{len(meetings)}次，"
                    f"其中{won_by_group}次由组内轮流中标")]

    def _together(self, group: tuple[str, ...], seen: dict[str, list[PastTender]],
                  met: dict[tuple[str, str], list[PastTender]]) -> list[Flag]:
        pairs = []
        for (a, b), both in sorted(met.items()):
            if a in group and b in group:
                share = len(both) / max(len(seen[a]), len(seen[b]))
                if share >= self.min_together:
                    pairs.append((a, b, len(both), share))
        if not pairs:
            return []
        members = tuple(sorted({k for a, b, _, _ in pairs for k in (a, b)}))
        meetings = [t for t in _union(seen[k] for k in members)
                    if {b.bidder for b in t.bids} >= set(members)] if len(members) > 2 else \
            met[(members[0], members[1])]
        return [Flag(
            detector=self.name, bidders=members,
            score=round(min(s for _, _, _, s in pairs), 6), strength=self.strength,
            evidence={"pattern": "bid_together",
                      "pairs": [{"a": a, "b": b, "together": n, "share": round(s, 4),
                                 "bids_a": len(seen[a]), "bids_b": len(seen[b])}
                                for a, b, n, s in pairs],
                      "tenders": [_row(t, members) for t in meetings[-SHOWN_TENDERS:]]},
            summary=f"{len(members)}家投标人几乎总是一同投标")]


def _size(t: PastTender) -> int:
    return max(len({b.bidder for b in t.bids}), 1)


def _at_least(k: int, odds: list[float]) -> float:
    """P(at least k successes) of independent trials with these odds (Poisson binomial)."""
    dist = [1.0]
    for p in odds:
        dist = [a * (1 - p) + b * p for a, b in zip([*dist, 0.0], [0.0, *dist], strict=True)]
    return min(1.0, sum(dist[k:]))


def _winners(t: PastTender) -> list[str]:
    return sorted({b.bidder for b in t.bids if b.won})


def _won(t: PastTender, key: str) -> bool:
    return any(b.won and b.bidder == key for b in t.bids)


def _union(lists: Iterable[list[PastTender]]) -> list[PastTender]:
    out: dict[str, PastTender] = {}
    for tenders in lists:
        for t in tenders:
            out.setdefault(t.key, t)
    return sorted(out.values(),
                  key=lambda t: (t.opened_at.isoformat() if t.opened_at else "", t.key))


def _row(t: PastTender, group: tuple[str, ...]) -> dict[str, object]:
    members = set(group)
    return {"tender": t.key, "opened_at": t.opened_at.isoformat() if t.opened_at else None,
            "bidders": len({b.bidder for b in t.bids}),
            "members": sorted({b.bidder for b in t.bids} & members),
            "winner": _winners(t),
            "prices": {b.bidder: (str(b.price) if b.price is not None else None)
                       for b in sorted(t.bids, key=lambda b: b.bidder) if b.bidder in members}}
