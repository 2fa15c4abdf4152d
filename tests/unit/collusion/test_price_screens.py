"""Detector 6, price screens: fixture tenders and the flags expected of them."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from collusion.base import BidSnapshot, TenderSnapshot
from collusion.classifier import PricedTender
from collusion.detectors.price_screens import PriceScreens


def tender(*prices: str, estimate: str | None = None) -> TenderSnapshot:
    return TenderSnapshot(key="t", estimate=Decimal(estimate) if estimate else None, bids=tuple(
        BidSnapshot(key=f"b{i}", price=Decimal(p)) for i, p in enumerate(prices)))


def test_a_tight_band_above_a_gap_is_flagged_with_screens_and_thresholds() -> None:
    rigged = tender("9500000", "10010000", "10040000", "10060000", "10075000", "10090000",
                    estimate="10500000")
    flags = PriceScreens().detect(rigged)
    assert len(flags) == 1
    flag = flags[0]
    assert flag.bidders == ("b0", "b1", "b2", "b3", "b4", "b5")
    assert flag.strength == "supporting" and flag.score >= 0.5
    tripped = {t["screen"] for t in flag.evidence["thresholds"] if t["tripped"]}
    assert {"cv", "spd", "diffp", "rd"} <= tripped
    cv = next(t for t in flag.evidence["thresholds"] if t["screen"] == "cv")
    assert cv["op"] == "<" and cv["threshold"] == 0.06 and cv["value"] < 0.06
    assert flag.evidence["prices"][0] == {"bidder": "b0", "price": 9500000.0}
    assert [p["price"] for p in flag.evidence["prices"]] == sorted(
        p["price"] for p in flag.evidence["prices"])
    assert flag.evidence["screens"]["n_bids"] == 6
    assert flag.evidence["estimate"] == 10500000.0 and flag.evidence["model"] == "screen_rule"


def test_competitive_prices_and_tiny_tenders_are_not_flagged() -> None:
    assert PriceScreens().detect(tender("8700000", "9400000", "10100000", "10900000",
                                        "11800000")) == []
    assert PriceScreens().detect(tender("10000000", "10010000")) == []


def test_a_centres_trained_model_replaces_the_rule() -> None:
    class Always:
        def predict_proba(self, tenders: list[PricedTender]) -> np.ndarray:
            assert tenders[0].bidders == ("b1", "b0", "b2")  # in price order
            return np.array([0.8])

    flags = PriceScreens(model=Always()).detect(tender("200", "100", "300"))
    assert [(f.score, f.evidence["model"]) for f in flags] == [(0.8, "Always")]
