"""Tender-level bid-rigging classifiers over the price screens (and bidder history).

Two estimators with the scikit-learn shape (constructor stores parameters, ``fit`` learns into
attributes ending in ``_``, ``predict_proba`` gives P(rigged) per tender):

- ``ScreenRule``: the default, which needs no training data. Each screen beyond its published
  threshold (a tight price band, a gap in front of the winner, a peaked or lopsided
  distribution) adds one vote; the score is the share of votes. Transparent: a supervisor
  sees which screens tripped and by how much.
- ``ScreenForest``: randomised trees a centre trains on its own confirmed cases. It is
  never persisted: pickled models execute code when loaded and tie the file to one library
  version, so the centre keeps its confirmed cases as a CSV (the ``evaluate`` format) and the
  model is refitted from it when needed (a second or two for thousands of tenders).

History features (how often each bidder bid and won) are computed only from the tenders the
estimator was fitted on; a training tender's own row is left out of its features so the model
does not learn from what it will not have later. ``known_firms=True`` adds how often each bidder
sat in a confirmed rigged tender: it finds a known ring's next tender, but it memorises firms
rather than reading prices, and where a data set defines its label by the firms taking part
(the Ohio milk file does) it turns cross-validation into a lookup (bench/RESULTS.md). Off by
default.
"""

from __future__ import annotations

import csv
import functools
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from collusion import screens

# Published cut-offs where a screen starts to look like a cartel (Huber & Imhof 2019, Imhof
# 2017 on Swiss data): (screen, direction, threshold). Used by ScreenRule and the detector.
RULE_THRESHOLDS: tuple[tuple[str, str, float], ...] = (
    ("cv", "<", 0.06),
    ("spd", "<", 0.12),
    ("diffp", ">", 0.05),
    ("rd", ">", 1.0),
    ("kurt", ">", 1.0),
    ("skew", "<", -0.5),
)
# Below this many bids the screens say little; the rule scores such tenders 0.
RULE_MIN_BIDS = 3

HISTORY_FEATURES = ("hist_known", "hist_bids_mean", "hist_win_rate_mean", "hist_win_rate_min")
KNOWN_FIRM_FEATURES = ("hist_rigged_mean", "hist_rigged_max")


@dataclass(frozen=True)
class PricedTender:
    """What the price classifiers read of one tender."""

    key: str
    prices: tuple[float, ...]
    bidders: tuple[str, ...] = ()  # parallel to prices when known, else empty
    winners: tuple[str, ...] = ()  # bidder keys of the winning bids
    winner_prices: tuple[float, ...] = ()
    estimate: float | None = None


@dataclass
class BidderStats:
    """Per bidder: tenders bid, tenders won, tenders later confirmed rigged."""

    bids: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    wins: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    rigged: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    prior: float = 0.0

    @classmethod
    def of(cls, tenders: Sequence[PricedTender], labels: Sequence[int]) -> BidderStats:
        s = cls()
        for t, y in zip(tenders, labels, strict=True):
            s._add(t, y, +1)
        s.prior = float(np.mean(labels)) if len(labels) else 0.0
        return s

    def _add(self, t: PricedTender, y: int, sign: int) -> None:
        winners = set(t.winners)
        for b in set(t.bidders):
            self.bids[b] += sign
            self.wins[b] += sign * (b in winners)
            self.rigged[b] += sign * int(y)

    def features(self, t: PricedTender, own_label: int | None = None) -> list[float]:
        """History features of ``t``; ``own_label`` given when ``t`` is one of the fitted
        tenders, whose own contribution is then left out."""
        if own_label is not None:
            self._add(t, own_label, -1)
        try:
            return self._features(t)
        finally:
            if own_label is not None:
                self._add(t, own_label, +1)

    def _features(self, t: PricedTender) -> list[float]:
        bidders = sorted(set(t.bidders))
        if not bidders:
            return [0.0] * (len(HISTORY_FEATURES) + len(KNOWN_FIRM_FEATURES))
        counts = [self.bids.get(b, 0) for b in bidders]
        # Smoothed towards the prior so a bidder seen once does not count as certain.
        m = 2.0
        win = [(self.wins.get(b, 0) + 0.5 * m) / (c + m) for b, c in zip(bidders, counts,
                                                                     strict=True)]
        rig = [(self.rigged.get(b, 0) + self.prior * m) / (c + m)
               for b, c in zip(bidders, counts, strict=True)]
        known = sum(1 for c in counts if c > 0) / len(bidders)
        return [known, float(np.mean(np.log1p(counts))), float(np.mean(win)), float(min(win)),
                float(np.mean(rig)), float(max(rig))]


class Model(Protocol):
    def predict_proba(self, tenders: Sequence[PricedTender]) -> np.ndarray: ...


@functools.lru_cache(maxsize=100_000)
def tender_features(t: PricedTender) -> tuple[float, ...]:
    """Screens plus size, level and winner position: the features without history. Cached:
    cross-validation asks for the same tender's once per fold."""
    s = screens.compute(t.prices, estimate=t.estimate)
    b = sorted(p for p in t.prices if p > 0)
    lo = b[0] if b else 0.0
    win = [p for p in t.winner_prices if p > 0]
    if win and b:
        w = min(win)
        rank = sum(1 for p in b if p < w) / max(len(b) - 1, 1)
        w_gap = (w - lo) / lo
    else:
        rank, w_gap = 0.0, 0.0
    return (s.cv, s.spd, s.diffp, s.rd, s.kurt, s.skew, s.kstest, float(s.n_bids),
            math.log(s.mean) if s.mean > 0 else 0.0, s.min_to_estimate, s.mean_to_estimate,
            rank, w_gap, float(bool(win)), *screens.supplementary(t.prices))


class ScreenRule:
    """The default model: a vote of screens against published thresholds. ``fit`` learns
    nothing, so it works the day the platform is installed."""

    def __init__(self, thresholds: Sequence[tuple[str, str, float]] = RULE_THRESHOLDS,
                 min_bids: int = RULE_MIN_BIDS) -> None:
        self.thresholds = tuple(thresholds)
        self.min_bids = min_bids

    def fit(self, tenders: Sequence[PricedTender], labels: Sequence[int]) -> ScreenRule:
        return self

    def votes(self, s: screens.Screens) -> dict[str, bool]:
        """Which screens are beyond their thresholds (none for tenders with too few bids)."""
        if s.n_bids < self.min_bids:
            return {name: False for name, _, _ in self.thresholds}
        return {name: (getattr(s, name) < cut if op == "<" else getattr(s, name) > cut)
                for name, op, cut in self.thresholds}

    def score(self, s: screens.Screens) -> float:
        v = self.votes(s)
        return sum(v.values()) / len(v) if v else 0.0

    def predict_proba(self, tenders: Sequence[PricedTender]) -> np.ndarray:
        return np.array([self.score(screens.compute(t.prices, estimate=t.estimate))
                         for t in tenders])


class ScreenForest:
    """Extremely randomised trees over the screens and, when bidders are known, their history.

    Chosen over gradient boosting and a plain random forest by grouped cross-validation on the
    four labelled files (bench/RESULTS.md): with a few hundred tenders, averaging many random
    trees overfits least.
    """

    def __init__(self, *, history: bool = True, known_firms: bool = False,
                 n_estimators: int = 300, min_samples_leaf: int = 2,
                 random_state: int = 0) -> None:
        self.history = history
        self.known_firms = known_firms
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.random_state = random_state

    def fit(self, tenders: Sequence[PricedTender], labels: Sequence[int]) -> ScreenForest:
        from sklearn.ensemble import ExtraTreesClassifier

        y = np.asarray(labels, dtype=int)
        self.stats_ = BidderStats.of(tenders, list(y)) if self.history else None
        x = self._matrix(tenders, y)
        self.constant_ = None
        if len(set(y.tolist())) < 2:
            # One class only (a centre with no confirmed case yet): nothing to separate.
            self.constant_ = float(y[0]) if len(y) else 0.0
            return self
        self.model_ = ExtraTreesClassifier(
            n_estimators=self.n_estimators, min_samples_leaf=self.min_samples_leaf,
            class_weight="balanced", random_state=self.random_state)
        self.model_.fit(x, y)
        return self

    def predict_proba(self, tenders: Sequence[PricedTender]) -> np.ndarray:
        if self.constant_ is not None:
            return np.full(len(tenders), self.constant_)
        x = self._matrix(tenders, None)
        return np.asarray(self.model_.predict_proba(x)[:, 1])

    def _matrix(self, tenders: Sequence[PricedTender], y: np.ndarray | None) -> np.ndarray:
        rows = []
        for i, t in enumerate(tenders):
            row = list(tender_features(t))
            if self.stats_ is not None:
                hist = self.stats_.features(t, None if y is None else int(y[i]))
                row += hist if self.known_firms else hist[:len(HISTORY_FEATURES)]
            rows.append(row)
        return np.asarray(rows, dtype=float).reshape(len(rows), -1)


# --- Confirmed cases as CSV: the only form in which a trained model is kept -----------------

COLUMN_ROLES = ("tender", "bid", "label", "bidder", "winner", "estimate")
REQUIRED_ROLES = ("tender", "bid", "label")


def parse_map(text: str) -> dict[str, str]:
    """``tender=COL,bid=COL,label=COL[,bidder=COL,winner=COL,estimate=COL]`` -> role: column."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        role, sep, col = part.partition("=")
        role = role.strip()
        if not sep or role not in COLUMN_ROLES or not col.strip():
            raise ValueError(f"bad --map entry {part!r}: expected ROLE=COLUMN with ROLE in "
                             f"{', '.join(COLUMN_ROLES)}")
        out[role] = col.strip()
    missing = [r for r in REQUIRED_ROLES if r not in out]
    if missing:
        raise ValueError(f"--map lacks {', '.join(missing)}")
    return out


def read_cases(path: Path, columns: Mapping[str, str]) -> tuple[list[PricedTender], list[int]]:
    """One ``PricedTender`` per tender of a bid-per-row CSV and its label (1 when any row of
    the tender is labelled 1). Only the mapped columns are read."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        absent = [c for c in columns.values() if c not in header]
        if absent:
            raise ValueError(f"{path}: no column {', '.join(map(repr, absent))}")
        rows = [{role: r[col] for role, col in columns.items()} for r in reader]
    return tenders_from_rows(rows)


def tenders_from_rows(rows: Iterable[Mapping[str, str]]) -> tuple[list[PricedTender], list[int]]:
    grouped: dict[str, list[Mapping[str, str]]] = {}
    for r in rows:
        grouped.setdefault(r["tender"].strip(), []).append(r)
    tenders, labels = [], []
    for key, rs in grouped.items():
        priced = [(r, p) for r in rs if (p := _number(r["bid"])) is not None]
        prices = tuple(p for _, p in priced)
        bidders = tuple(r.get("bidder", "").strip() for r, _ in priced) if "bidder" in rs[0] \
            else ()
        won = [(r, p) for r, p in priced if _truthy(r.get("winner", ""))]
        estimates = [e for e in (_number(r.get("estimate", "")) for r in rs) if e]
        tenders.append(PricedTender(
            key=key, prices=prices, bidders=bidders,
            winners=tuple(r.get("bidder", "").strip() for r, _ in won if r.get("bidder")),
            winner_prices=tuple(p for _, p in won),
            estimate=estimates[0] if estimates else None))
        labels.append(int(any(_truthy(r["label"]) for r in rs)))
    return tenders, labels


def _number(text: str | None) -> float | None:
    try:
        x = float((text or "").strip().replace(",", ""))
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _truthy(text: str | None) -> bool:
    x = _number(text)
    return x is not None and x >= 0.5
