"""The price screens against the values the data sets' authors published, and against scipy."""

from __future__ import annotations

import random

import pytest
from scipy import stats

from collusion.screens import compute
from tests.unit.collusion.bid_rigging import rows_by_tender

# Rounded to 4 decimals in the files.
SAME = {"cv": "CV", "spd": "SPD", "kurt": "KURT", "skew": "SKEW", "kstest": "KSTEST"}


def check(rows: list[dict[str, str]], names: dict[str, str]) -> None:
    s = compute([float(r["Bid_value"]) for r in rows])
    for ours, theirs in names.items():
        assert getattr(s, ours) == pytest.approx(float(rows[0][theirs]), abs=6e-5), \
            (rows[0]["Tender"], ours)


def test_every_brazilian_tender_matches_the_published_screens() -> None:
    tenders = rows_by_tender("brazil")
    assert len(tenders) == 101
    for rows in tenders.values():
        # DIFFP agrees wherever the two lowest bids differ (every Brazilian tender).
        check(rows, SAME | {"diffp": "DIFFP"})


@pytest.mark.parametrize(("name", "tenders"), [
    ("italy", ("0", "1", "2", "100", "277")),
    ("switzerland_ticino", ("112", "113", "200", "335")),
    ("america", ("97", "61", "315", "3499")),
])
def test_sampled_tenders_of_the_other_files_match(name: str, tenders: tuple[str, ...]) -> None:
    grouped = rows_by_tender(name)
    for key in tenders:
        check(grouped[key], SAME)


def test_a_single_bid_scores_zero_on_every_screen_like_the_files() -> None:
    single = next(rows for rows in rows_by_tender("america").values() if len(rows) == 1)
    check(single, SAME | {"diffp": "DIFFP", "rd": "RD"})
    s = compute([float(single[0]["Bid_value"])])
    assert s.n_bids == 1 and s.mean == s.median == float(single[0]["Bid_value"])


def test_rd_is_the_gap_over_the_spread_of_the_losing_bids() -> None:
    # Huber & Imhof 2019. The files divide by the spread of all bids but the highest instead
    # (docs/collusion.md); ours follows the paper.
    s = compute([100.0, 110.0, 120.0, 140.0])
    assert s.rd == pytest.approx(10 / stats.tstd([110.0, 120.0, 140.0]))
    assert s.diffp == pytest.approx(0.1)
    assert s.spd == pytest.approx(0.4)


def test_the_written_out_moments_equal_scipys() -> None:
    rng = random.Random(7)
    for n in (3, 4, 5, 9, 30):
        prices = [rng.lognormvariate(13, 0.2) for _ in range(n)]
        s = compute(prices)
        assert s.skew == pytest.approx(stats.skew(prices, bias=False))
        assert s.kstest == pytest.approx(stats.kstest(
            prices, "uniform", args=(min(prices), max(prices) - min(prices))).statistic)
        if n > 3:
            assert s.kurt == pytest.approx(stats.kurtosis(prices, bias=False))


def test_degenerate_tenders_get_zeros_not_errors() -> None:
    for prices in ([], [5.0], [5.0, 5.0, 5.0], [0.0, -1.0], [3.0, 3.0, 3.0, 3.0, 3.0]):
        s = compute(prices)
        values = (s.cv, s.spd, s.diffp, s.rd, s.kurt, s.skew, s.kstest)
        assert values == (0.0,) * 7, prices
    # Equal losing bids: no spread to measure the gap by (floating point gives 1e-10, not 0).
    assert compute([4050128.55] * 3 + [4258937.1] * 4).rd == 0.0


def test_ratios_to_the_estimate() -> None:
    s = compute([90.0, 100.0, 110.0], estimate=100.0)
    assert (s.min_to_estimate, s.mean_to_estimate) == (0.9, 1.0)
    assert compute([90.0, 100.0], estimate=None).min_to_estimate == 0.0
    assert set(s.as_json()) >= {"cv", "spd", "diffp", "rd", "kurt", "skew", "kstest", "n_bids"}
