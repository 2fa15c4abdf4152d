"""The price classifiers: the CSV of confirmed cases, history without leaks, the default rule and
the trainable model."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from collusion import screens
from collusion.classifier import (
    BidderStats,
    PricedTender,
    ScreenForest,
    ScreenRule,
    parse_map,
    read_cases,
    tender_features,
)


def rigged(rng: random.Random, key: str, bidders: tuple[str, ...] = ()) -> PricedTender:
    """A designated winner and cover bids in a tight band a gap above it."""
    cost = rng.uniform(1e6, 5e6)
    n = rng.randint(4, 9)
    win = cost * rng.uniform(0.95, 1.0)
    covers = [win * rng.uniform(1.04, 1.07) for _ in range(n - 1)]
    return PricedTender(key=key, prices=(win, *covers), bidders=bidders[:n],
                        winner_prices=(win,))


def honest(rng: random.Random, key: str, bidders: tuple[str, ...] = ()) -> PricedTender:
    cost = rng.uniform(1e6, 5e6)
    prices = tuple(cost * rng.lognormvariate(0, 0.12) for _ in range(rng.randint(3, 9)))
    return PricedTender(key=key, prices=prices, bidders=bidders[:len(prices)],
                        winner_prices=(min(prices),))


def test_parse_map_reads_roles_and_refuses_unknown_or_missing_ones() -> None:
    assert parse_map("tender=T, bid=Bid value,label=L,estimate=Pre-Tender Estimate (PTE)") == {
        "tender": "T", "bid": "Bid value", "label": "L",
        "estimate": "Pre-Tender Estimate (PTE)"}
    with pytest.raises(ValueError, match="lacks label"):
        parse_map("tender=T,bid=B")
    with pytest.raises(ValueError, match="bad --map entry"):
        parse_map("tender=T,bid=B,label=L,cartel=C")
    with pytest.raises(ValueError, match="bad --map entry"):
        parse_map("tender=T,bid,label=L")


def test_read_cases_groups_rows_and_labels_a_tender_rigged_when_any_row_is(
    tmp_path: Path,
) -> None:
    csv_file = tmp_path / "cases.csv"
    csv_file.write_text(
        "id,price,firm,won,y,leak,est\n"
        "t1,100,a,1,0,1,120\n"
        "t1,105,b,0,1,1,120\n"
        "t1,not a number,c,0,0,1,120\n"
        "t2,200,a,1,0,0,\n",
        encoding="utf-8")
    tenders, labels = read_cases(csv_file, parse_map(
        "tender=id,bid=price,label=y,bidder=firm,winner=won,estimate=est"))
    assert labels == [1, 0]
    t1, t2 = tenders
    assert (t1.key, t1.prices, t1.bidders, t1.winners, t1.estimate) == (
        "t1", (100.0, 105.0), ("a", "b"), ("a",), 120.0)
    assert (t2.prices, t2.winners, t2.estimate) == ((200.0,), ("a",), None)
    with pytest.raises(ValueError, match="no column 'nope'"):
        read_cases(csv_file, parse_map("tender=id,bid=price,label=nope"))


def test_history_features_of_a_fitted_tender_leave_its_own_label_out() -> None:
    seen = PricedTender(key="x", prices=(1.0, 2.0), bidders=("a", "b"), winners=("a",))
    other = PricedTender(key="y", prices=(1.0, 2.0), bidders=("a", "c"), winners=("c",))
    stats = BidderStats.of([seen, other], [1, 0])
    # Without its own row, "x" looks as it will to a model that has never seen its label.
    alone = BidderStats.of([other], [0])
    alone.prior = stats.prior
    assert stats.features(seen, own_label=1) == alone.features(seen)
    assert stats.features(seen) != alone.features(seen)
    assert BidderStats.of([], []).features(PricedTender(key="z", prices=(1.0,))) == [0.0] * 6
    # The label-derived ones, last: "b" unseen without "x" sits at the prior (0.5); "a" has one
    # clean tender, (0 + 0.5 * 2) / (1 + 2).
    assert stats.features(seen, own_label=1)[4:] == [pytest.approx(5 / 12), 0.5]


def test_the_rule_votes_with_published_thresholds_and_ignores_tiny_tenders() -> None:
    tight = screens.compute([100.0, 106.0, 106.5, 107.0, 107.2, 107.3])
    spread = screens.compute([100.0, 118.0, 131.0, 142.0, 160.0])
    rule = ScreenRule()
    assert rule.votes(tight)["cv"] and rule.votes(tight)["diffp"]
    assert rule.score(tight) >= 0.5 > rule.score(spread)
    assert rule.score(screens.compute([100.0, 100.1])) == 0.0
    assert rule.fit([], []) is rule


def test_the_forest_separates_planted_rings_out_of_sample() -> None:
    rng = random.Random(3)
    train = [rigged(rng, f"r{i}") for i in range(40)] + [honest(rng, f"h{i}") for i in range(40)]
    test = [rigged(rng, f"R{i}") for i in range(20)] + [honest(rng, f"H{i}") for i in range(20)]
    model = ScreenForest(n_estimators=50).fit(train, [1] * 40 + [0] * 40)
    proba = model.predict_proba(test)
    assert proba.shape == (40,) and ((proba >= 0) & (proba <= 1)).all()
    assert roc_auc_score([1] * 20 + [0] * 20, proba) > 0.9


def test_with_known_firms_the_forest_learns_who_sat_in_confirmed_cases() -> None:
    rng = random.Random(5)
    ring, others = ("r1", "r2", "r3"), tuple(f"f{i}" for i in range(30))
    # Same price shapes for both classes: only who bids tells them apart.
    train, labels = [], []
    for i in range(60):
        dirty = i % 2 == 0
        pool = ring + tuple(rng.sample(others, 3)) if dirty else tuple(rng.sample(others, 6))
        train.append(honest(rng, f"t{i}", pool))
        labels.append(int(dirty))
    probe = [honest(rng, "ring", (*ring, "f1", "f2")), honest(rng, "clean", ("f3", "f4", "f5"))]
    known = ScreenForest(n_estimators=100, known_firms=True).fit(train, labels)
    scores = known.predict_proba(probe)
    assert scores[0] > scores[1] + 0.3


def test_one_class_only_gives_a_constant_and_features_are_finite() -> None:
    rng = random.Random(1)
    tenders = [honest(rng, f"h{i}") for i in range(5)]
    assert ScreenForest().fit(tenders, [0] * 5).predict_proba(tenders).tolist() == [0.0] * 5
    for t in (PricedTender(key="e", prices=()), PricedTender(key="one", prices=(5.0,)),
              PricedTender(key="same", prices=(5.0, 5.0, 5.0))):
        assert np.isfinite(tender_features(t)).all()
