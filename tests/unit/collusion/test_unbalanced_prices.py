"""Detector 10, unbalanced and abnormally low prices: fixture tenders and the expected flags."""

from __future__ import annotations

from decimal import Decimal

from collusion.base import BidSnapshot, Item, TenderSnapshot
from collusion.detectors.unbalanced_prices import UnbalancedPrices

REFERENCE = tuple(Item(code=f"0102{i:03d}", description=f"分项{i}", quantity=Decimal(q),
                       unit_price=Decimal(p))
                  for i, (q, p) in enumerate([(100, "50"), (200, "30"), (50, "400"), (10, "900"),
                                              (300, "20"), (80, "120"), (40, "75"), (60, "33")]))


def priced(factors: list[str]) -> tuple[Item, ...]:
    return tuple(Item(code=r.code, description=r.description, quantity=r.quantity,
                      unit_price=(r.unit_price * Decimal(f)).quantize(Decimal("0.01")))
                 for r, f in zip(REFERENCE, factors, strict=True))


def test_a_bid_far_above_on_some_items_and_far_below_on_others_is_flagged() -> None:
    unbalanced = priced(["2.2", "0.4", "1.0", "0.95", "1.8", "0.5", "1.05", "1.0"])
    balanced = priced(["1.05", "0.95", "1.1", "0.9", "1.0", "1.02", "0.97", "1.08"])
    tender = TenderSnapshot(key="t", reference_items=REFERENCE, bids=(
        BidSnapshot(key="u", items=unbalanced), BidSnapshot(key="b", items=balanced)))
    flags = UnbalancedPrices().detect(tender)
    assert [(f.bidders, f.evidence["pattern"], f.strength) for f in flags] == [
        (("u",), "unbalanced", "supporting")]
    evidence = flags[0].evidence
    assert [i["item"] for i in evidence["high_items"]] == ["0102000", "0102004"]
    assert [i["item"] for i in evidence["low_items"]] == ["0102001", "0102005"]
    assert evidence["high_items"][0] == {"item": "0102000", "description": "分项0",
                                         "quantity": "100", "reference_unit_price": "50",
                                         "unit_price": "110.00", "ratio": 2.2}
    # Of the reference amount 60580: 100*50 + 300*20 = 11000 above, 200*30 + 80*120 = 15600
    # below.
    assert evidence["high_share_of_reference"] == 0.1816
    assert evidence["low_share_of_reference"] == 0.2575
    assert 0 < flags[0].score <= 1


def test_one_odd_item_or_no_reference_is_not_enough() -> None:
    one_odd = priced(["3.0", "1.0", "1.0", "1.0", "1.0", "1.0", "1.0", "0.3"])  # 1% and 3%
    tender = TenderSnapshot(key="t", reference_items=REFERENCE,
                            bids=(BidSnapshot(key="a", items=one_odd),))
    assert UnbalancedPrices().detect(tender) == []
    wild = priced(["2.2", "0.4", "1.0", "0.95", "1.8", "0.5", "1.05", "1.0"])
    assert UnbalancedPrices().detect(TenderSnapshot(
        key="t", bids=(BidSnapshot(key="a", items=wild),))) == []


def test_abnormally_low_totals_against_the_estimate_and_the_other_bids() -> None:
    tender = TenderSnapshot(key="t", estimate=Decimal(10_000_000), bids=(
        BidSnapshot(key="low", price=Decimal(6_500_000)),
        BidSnapshot(key="b", price=Decimal(9_600_000)),
        BidSnapshot(key="c", price=Decimal(9_900_000)),
        BidSnapshot(key="d", price=Decimal(10_200_000)),
    ))
    flags = UnbalancedPrices().detect(tender)
    assert [(f.bidders, f.evidence["pattern"]) for f in flags] == [(("low",), "abnormally_low")]
    assert flags[0].evidence["ratios"] == {"to_estimate": 0.65, "to_median_of_others": 0.6566}
    assert flags[0].score == 0.85
    assert "估算价的65%" in flags[0].summary
    # No estimate and too few others to compare with: nothing to say.
    assert UnbalancedPrices().detect(TenderSnapshot(key="t", bids=(
        BidSnapshot(key="a", price=Decimal(1)), BidSnapshot(key="b", price=Decimal(100))))) == []
