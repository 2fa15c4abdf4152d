"""Detector 5, itemised prices: fixture tenders and the flags expected of them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from collusion.base import BidSnapshot, Item, TenderSnapshot
from collusion.detectors.itemised_prices import ItemisedPrices

BASE = [Decimal(p) for p in ("12.50", "38.00", "4.75", "260.00", "91.20", "15.00", "7.40",
                             "1320.00", "55.60", "23.10", "410.00", "66.00")]


def items(prices: list[Decimal], codes: int = 12) -> tuple[Item, ...]:
    return tuple(Item(code=f"0101{i:03d}", description=f"分项{i}", quantity=Decimal(10),
                      unit_price=p) for i, p in enumerate(prices[:codes]))


def honest(seed: int) -> list[Decimal]:
    # Each firm prices from its own costs: item ratios vary from item to item.
    return [(p * Decimal(1 + ((i * 7 + seed * 13) % 11 - 5) / 50)).quantize(Decimal("0.01"))
            for i, p in enumerate(BASE)]


def bid(key: str, prices: list[Decimal], total: str | None = None) -> BidSnapshot:
    return BidSnapshot(key=key, items=items(prices), price=Decimal(total) if total else None)


def test_identical_unit_prices_are_flagged_with_the_items() -> None:
    tender = TenderSnapshot(key="t", bids=(bid("b", BASE), bid("a", BASE), bid("c", honest(3))))
    flags = ItemisedPrices().detect(tender)
    assert [(f.bidders, f.evidence["pattern"], f.score) for f in flags] == [
        (("a", "b"), "identical_unit_prices", 1.0)]
    evidence = flags[0].evidence
    assert evidence["identical_items"] == evidence["compared_items"] == 12
    assert evidence["items"][0] == {"item": "0101000", "description": "分项0", "a": "12.50",
                                    "b": "12.50"}


def test_items_at_the_tenders_own_reference_price_are_not_evidence() -> None:
    # Provisional sums: the tender fixes these prices and every bid copies them.
    fixed = list(BASE[:9]) + honest(1)[9:]
    copied = list(BASE[:9]) + honest(2)[9:]
    reference = items(BASE[:9], codes=9)
    tender = TenderSnapshot(key="t", reference_items=reference,
                            bids=(bid("a", fixed), bid("b", copied)))
    assert ItemisedPrices().detect(tender) == []
    # Without the reference, the same nine identical items out of twelve would be a flag.
    assert ItemisedPrices().detect(TenderSnapshot(key="t", bids=tender.bids))


def test_a_constant_ratio_between_two_sheets_is_flagged() -> None:
    scaled = [(p * Decimal("1.035")).quantize(Decimal("0.01")) for p in BASE]
    tender = TenderSnapshot(key="t", bids=(bid("win", BASE), bid("cover", scaled),
                                           bid("other", honest(4))))
    flags = ItemisedPrices().detect(tender)
    assert [(f.bidders, f.evidence["pattern"]) for f in flags] == [
        (("cover", "win"), "constant_ratio")]
    # From "cover" to "win": pairs go in key order. Rounding to cents wobbles the ratio a little.
    assert flags[0].evidence["ratio"] == pytest.approx(1 / 1.035, abs=1e-4)
    assert flags[0].score > 0.5
    # Touched by hand after scaling: each item within ±0.5% still reads as one sheet.
    touched = [(p * Decimal("1.035") * Decimal(1 + (i % 5 - 2) / 400)).quantize(Decimal("0.01"))
               for i, p in enumerate(BASE)]
    tender = TenderSnapshot(key="t", bids=(bid("win", BASE), bid("cover", touched)))
    assert [f.evidence["pattern"] for f in ItemisedPrices().detect(tender)] == ["constant_ratio"]


def test_totals_in_equal_steps_are_flagged_and_honest_totals_are_not() -> None:
    ladder = TenderSnapshot(key="t", bids=(
        BidSnapshot(key="w", price=Decimal("9800000")),
        BidSnapshot(key="c1", price=Decimal("10050000")),
        BidSnapshot(key="c2", price=Decimal("10300000")),
        BidSnapshot(key="c3", price=Decimal("10550000")),
        BidSnapshot(key="x", price=Decimal("11234567")),
    ))
    flags = ItemisedPrices().detect(ladder)
    assert [(f.bidders, f.strength) for f in flags] == [(("c1", "c2", "c3", "w"), "strong")]
    assert flags[0].evidence["step"] == 250000.0 and flags[0].evidence["step_kind"] == "amount"
    percent = TenderSnapshot(key="p", bids=tuple(
        BidSnapshot(key=k, price=Decimal(1000000) * Decimal("1.02") ** i)
        for i, k in enumerate(("a", "b", "c"))))
    assert [f.evidence["step_kind"] for f in ItemisedPrices().detect(percent)] == ["percent"]
    honest_totals = TenderSnapshot(key="h", bids=tuple(
        BidSnapshot(key=k, price=Decimal(p)) for k, p in
        (("a", "9870000"), ("b", "10120000"), ("c", "10415000"), ("d", "11020000"))))
    assert ItemisedPrices().detect(honest_totals) == []


def test_honest_sheets_and_short_bills_are_not_flagged() -> None:
    tender = TenderSnapshot(key="t", bids=tuple(bid(k, honest(i)) for i, k in enumerate("abcd")))
    assert ItemisedPrices().detect(tender) == []
    short = TenderSnapshot(key="s", bids=(BidSnapshot(key="a", items=items(BASE, 5)),
                                          BidSnapshot(key="b", items=items(BASE, 5))))
    assert ItemisedPrices().detect(short) == []
