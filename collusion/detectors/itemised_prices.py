"""Detector 5: bills of quantities priced from one sheet, and totals placed in steps.

Three patterns, each its own flag:

- ``identical_unit_prices``: two bids share the same unit price on many items. Items priced at
  the tender's own reference price (provisional sums, prices the tender fixes) are left out:
  every honest bidder copies those.
- ``constant_ratio``: one bid's unit prices are the other's times a constant (a cover bid made
  by scaling the designated winner's sheet by, say, 1.03).
- ``arithmetic_steps``: three or more total prices, in order, separated by the same amount (or
  the same percentage): a ladder of cover bids placed above the winner.
"""

from __future__ import annotations

import statistics
from decimal import Decimal
from itertools import combinations

from collusion.base import (
    EMPTY_HISTORY,
    BidSnapshot,
    Flag,
    History,
    Item,
    Strength,
    TenderSnapshot,
)

MIN_SHARED_ITEMS = 8  # priced items both bids have, below which no item pattern is judged
MIN_IDENTICAL_SHARE = 0.6  # of those shared items, priced identically
# Relative spread (stdev / mean) of the item-by-item price ratios. A sheet scaled and then
# touched by hand (each item within ±0.5%) spreads about 0.004; firms pricing from their own
# costs differ item by item by several percent.
MAX_RATIO_SPREAD = 0.01
MIN_STEP_BIDS = 3  # bids in a ladder
STEP_TOLERANCE = 0.002  # how far a step may differ from the first, relative to it
SHOWN_ITEMS = 30


class ItemisedPrices:
    name = "itemised_prices"
    title_zh = "分项报价雷同或呈规律性"
    title_en = "Itemised prices alike or in steps"
    strength: Strength = "strong"

    def __init__(self, *, min_shared_items: int = MIN_SHARED_ITEMS,
                 min_identical_share: float = MIN_IDENTICAL_SHARE,
                 max_ratio_spread: float = MAX_RATIO_SPREAD, min_step_bids: int = MIN_STEP_BIDS,
                 step_tolerance: float = STEP_TOLERANCE) -> None:
        self.min_shared_items = min_shared_items
        self.min_identical_share = min_identical_share
        self.max_ratio_spread = max_ratio_spread
        self.min_step_bids = min_step_bids
        self.step_tolerance = step_tolerance

    def detect(self, tender: TenderSnapshot, history: History = EMPTY_HISTORY) -> list[Flag]:
        reference = {i.key(): i.unit_price for i in tender.reference_items
                     if i.key() and i.unit_price is not None}
        bids: dict[str, BidSnapshot] = {}
        for bid in sorted(tender.bids, key=lambda b: b.key):
            bids.setdefault(bid.key, bid)
        flags: list[Flag] = []
        for a, b in combinations(sorted(bids), 2):
            flags += self._pair(bids[a], bids[b], reference)
        flags += self._steps(list(bids.values()))
        return flags

    def _pair(self, a: BidSnapshot, b: BidSnapshot,
              reference: dict[str, Decimal]) -> list[Flag]:
        pa, pb = _priced(a.items), _priced(b.items)
        shared = sorted(set(pa) & set(pb))
        if len(shared) < self.min_shared_items:
            return []
        rows = [(k, pa[k], pb[k]) for k in shared]
        flags = []
        same = [(k, x, y) for k, x, y in rows if x[1] == y[1] and reference.get(k) != x[1]]
        judged = [r for r in rows if reference.get(r[0]) != r[1][1]]
        if judged and len(same) >= self.min_shared_items \
                and len(same) / len(judged) >= self.min_identical_share:
            share = len(same) / len(judged)
            flags.append(Flag(
                detector=self.name, bidders=(a.key, b.key), score=round(share, 6),
                strength=self.strength,
                evidence={"pattern": "identical_unit_prices", "identical_items": len(same),
                          "compared_items": len(judged),
                          "excluded_at_reference_price": len(rows) - len(judged),
                          "items": [_row(k, x, y) for k, x, y in same[:SHOWN_ITEMS]]},
                summary=f"{len(same)}/{len(judged)}项分项单价完全相同"))
        ratios = [float(y[1]) / float(x[1]) for _, x, y in rows if x[1] > 0 and y[1] > 0]
        if len(ratios) >= self.min_shared_items:
            mean = statistics.fmean(ratios)
            spread = statistics.pstdev(ratios) / mean
            # Ratio 1 is the identical pattern above, not a scaled copy.
            if spread <= self.max_ratio_spread and abs(mean - 1.0) > self.max_ratio_spread:
                flags.append(Flag(
                    detector=self.name, bidders=(a.key, b.key),
                    score=round(1.0 - 0.5 * spread / self.max_ratio_spread, 6),
                    strength=self.strength,
                    evidence={"pattern": "constant_ratio", "ratio": round(mean, 6),
                              "relative_spread": round(spread, 8), "items_compared": len(ratios),
                              "from": a.key, "to": b.key,
                              "items": [_row(k, x, y) | {"ratio": round(float(y[1] / x[1]), 6)}
                                        for k, x, y in rows[:SHOWN_ITEMS] if x[1] > 0]},
                    summary=f"{len(ratios)}项分项单价成固定比例 {mean:.4f}"))
        return flags

    def _steps(self, bids: list[BidSnapshot]) -> list[Flag]:
        priced = sorted((float(b.price), b.key) for b in bids if b.price and b.price > 0)
        if len(priced) < self.min_step_bids:
            return []
        best: tuple[float, str, list[tuple[float, str]]] | None = None
        for kind in ("amount", "percent"):
            for run in self._runs(priced, kind):
                if len(run) >= self.min_step_bids and (best is None or len(run) > len(best[2])):
                    step = (run[1][0] - run[0][0]) if kind == "amount" \
                        else run[1][0] / run[0][0] - 1
                    best = (step, kind, run)
        if best is None:
            return []
        step, kind, run = best
        score = min(1.0, 0.5 + 0.25 * (len(run) - 2))
        return [Flag(
            detector=self.name, bidders=tuple(sorted(k for _, k in run)), score=score,
            strength="supporting" if len(run) == self.min_step_bids else self.strength,
            evidence={"pattern": "arithmetic_steps", "step_kind": kind,
                      "step": round(step, 6 if kind == "percent" else 2),
                      "prices": [{"bidder": k, "price": round(p, 2)} for p, k in run],
                      "bids_in_tender": len(priced)},
            summary=f"{len(run)}个投标总价呈等{'差' if kind == 'amount' else '比'}排列")]

    def _runs(self, priced: list[tuple[float, str]], kind: str) -> list[list[tuple[float, str]]]:
        """Maximal runs of consecutive prices with the same gap (amount or percentage)."""
        def gap(i: int) -> float:
            lo, hi = priced[i][0], priced[i + 1][0]
            return hi - lo if kind == "amount" else hi / lo - 1

        runs, start = [], 0
        for i in range(1, len(priced) - 1):
            first = gap(start)
            if first <= 0 or abs(gap(i) - first) > self.step_tolerance * first:
                runs.append(priced[start:i + 1])
                start = i
        runs.append(priced[start:])
        return [r for r in runs if len(r) >= 3 and r[1][0] > r[0][0]]


def _priced(items: tuple[Item, ...]) -> dict[str, tuple[Item, Decimal]]:
    out: dict[str, tuple[Item, Decimal]] = {}
    for item in items:
        key = item.key()
        if key and item.unit_price is not None and item.unit_price > 0 and key not in out:
            out[key] = (item, item.unit_price)
    return out


def _row(key: str, x: tuple[Item, Decimal], y: tuple[Item, Decimal]) -> dict[str, object]:
    return {"item": key, "description": x[0].description, "a": str(x[1]), "b": str(y[1])}
