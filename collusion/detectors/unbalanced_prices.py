"""Detector 10: unbalanced itemised prices and abnormally low totals.

- ``unbalanced``: one bid prices some items far above the reference cost
  (``TenderSnapshot.reference_items``) and others far below, while its total stays ordinary.
  Quantities that are expected to grow during the works are priced high, the rest low: the bid
  wins on the total and earns on the variations (不平衡报价). Each side must carry a real share
  of the reference amount, so one odd item does not make a flag.
- ``abnormally_low``: a total far below the estimate or far below the other bids: below cost,
  or a designated winner that knows it has no real competitor (实施条例 art. 51 asks the
  committee to examine such a bid).
"""

from __future__ import annotations

import statistics
from decimal import Decimal

from collusion.base import (
    EMPTY_HISTORY,
    BidSnapshot,
    Flag,
    History,
    Item,
    Strength,
    TenderSnapshot,
)

HIGH_RATIO = 1.5  # unit price above this times the reference price
LOW_RATIO = 0.6  # unit price below this times the reference price
MIN_SIDE_SHARE = 0.05  # each side's share of the bid's reference amount
MIN_ITEMS = 5  # items matched to the reference before a bid is judged
LOW_TO_ESTIMATE = 0.7  # total below this share of the estimate
LOW_TO_OTHERS = 0.75  # total below this share of the median of the other bids
MIN_OTHER_BIDS = 3
SHOWN_ITEMS = 20


class UnbalancedPrices:
    name = "unbalanced_prices"
    title_zh = "不平衡报价或异常低价"
    title_en = "Unbalanced or abnormally low prices"
    # Unbalanced pricing is a bidder's own strategy before it is a ring's: a reason to look.
    strength: Strength = "supporting"

    def __init__(self, *, high_ratio: float = HIGH_RATIO, low_ratio: float = LOW_RATIO,
                 min_side_share: float = MIN_SIDE_SHARE, min_items: int = MIN_ITEMS,
                 low_to_estimate: float = LOW_TO_ESTIMATE, low_to_others: float = LOW_TO_OTHERS,
                 min_other_bids: int = MIN_OTHER_BIDS) -> None:
        self.high_ratio = high_ratio
        self.low_ratio = low_ratio
        self.min_side_share = min_side_share
        self.min_items = min_items
        self.low_to_estimate = low_to_estimate
        self.low_to_others = low_to_others
        self.min_other_bids = min_other_bids

    def detect(self, tender: TenderSnapshot, history: History = EMPTY_HISTORY) -> list[Flag]:
        reference = {}
        for item in tender.reference_items:
            key = item.key()
            if key and key not in reference and _positive(item.unit_price) \
                    and _positive(item.quantity):
                reference[key] = item
        bids: dict[str, BidSnapshot] = {}
        for bid in sorted(tender.bids, key=lambda b: b.key):
            bids.setdefault(bid.key, bid)
        flags = []
        if reference:
            for bid in bids.values():
                flag = self._unbalanced(bid, reference)
                if flag is not None:
                    flags.append(flag)
        flags += self._low(tender, list(bids.values()))
        return flags

    def _unbalanced(self, bid: BidSnapshot, reference: dict[str, Item]) -> Flag | None:
        rows = []
        for item in bid.items:
            ref = reference.get(item.key())
            if ref is None or not _positive(item.unit_price):
                continue
            assert ref.unit_price is not None and ref.quantity is not None
            ratio = float(item.unit_price) / float(ref.unit_price)  # type: ignore[arg-type]
            rows.append((ratio, float(ref.quantity * ref.unit_price), ref, item))
        if len({id(r[2]) for r in rows}) < self.min_items:
            return None
        total = sum(amount for _, amount, _, _ in rows)
        high = [r for r in rows if r[0] >= self.high_ratio]
        low = [r for r in rows if r[0] <= self.low_ratio]
        high_share = sum(r[1] for r in high) / total
        low_share = sum(r[1] for r in low) / total
        if high_share < self.min_side_share or low_share < self.min_side_share:
            return None
        score = min(1.0, 2 * min(high_share, low_share) + 0.25)

        def table(side: list[tuple[float, float, Item, Item]], reverse: bool) -> list[dict]:
            side = sorted(side, key=lambda r: (r[0], r[2].key()), reverse=reverse)
            return [{"item": ref.key(), "description": ref.description,
                     "quantity": str(ref.quantity), "reference_unit_price": str(ref.unit_price),
                     "unit_price": str(item.unit_price), "ratio": round(ratio, 4)}
                    for ratio, _, ref, item in side[:SHOWN_ITEMS]]

        return Flag(
            detector=self.name, bidders=(bid.key,), score=round(score, 6), strength=self.strength,
            evidence={"pattern": "unbalanced", "high_ratio": self.high_ratio,
                      "low_ratio": self.low_ratio, "items_compared": len(rows),
                      "high_share_of_reference": round(high_share, 4),
                      "low_share_of_reference": round(low_share, 4),
                      "high_items": table(high, True), "low_items": table(low, False)},
            summary=f"不平衡报价：{len(high)}项高于参考价{self.high_ratio}倍，"
                    f"{len(low)}项低于{self.low_ratio}倍")

    def _low(self, tender: TenderSnapshot, bids: list[BidSnapshot]) -> list[Flag]:
        priced = [(float(b.price), b.key) for b in bids if b.price is not None and b.price > 0]
        estimate = float(tender.estimate) if tender.estimate and tender.estimate > 0 else None
        flags = []
        for price, key in sorted(priced):
            others = [p for p, k in priced if k != key]
            median = statistics.median(others) if len(others) >= self.min_other_bids else None
            reasons = {}
            if estimate and price < self.low_to_estimate * estimate:
                reasons["to_estimate"] = round(price / estimate, 4)
            if median and price < self.low_to_others * median:
                reasons["to_median_of_others"] = round(price / median, 4)
            if not reasons:
                continue
            worst = min(reasons.values())
            flags.append(Flag(
                detector=self.name, bidders=(key,), score=round(min(1.0, 1.5 - worst), 6),
                strength=self.strength,
                evidence={"pattern": "abnormally_low", "price": round(price, 2),
                          "estimate": estimate, "median_of_others": median,
                          "ratios": reasons,
                          "thresholds": {"to_estimate": self.low_to_estimate,
                                         "to_median_of_others": self.low_to_others}},
                summary=f"投标总价异常偏低（为{_BASIS_ZH[min(reasons, key=reasons.__getitem__)]}"
                        f"的{worst:.0%}）"))
        return flags


_BASIS_ZH = {"to_estimate": "估算价", "to_median_of_others": "其他报价中位数"}


def _positive(x: Decimal | None) -> bool:
    return x is not None and x > 0
