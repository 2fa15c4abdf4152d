"""``ebid collusion evaluate`` in a subprocess: on a CSV made here, and once on real cartel data."""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
from pathlib import Path

from collusion.classifier import PricedTender, read_cases
from collusion.evaluate import cross_validate
from tests.unit.collusion.bid_rigging import MAPS, data_file

MAP = "tender=lot,bid=amount,label=cartel,bidder=firm,winner=won,estimate=budget"


def ebid(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ebid.cli", "collusion", *args],
                          capture_output=True, text=True, timeout=600, check=False)


def write_csv(path: Path, tenders: int = 40, seed: int = 11) -> None:
    """Rigged tenders: cover bids in a tight band above the winner. The ``leak`` column equals
    the label but is not mapped, so it must not help (only mapped columns are read)."""
    rng = random.Random(seed)
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["lot", "amount", "firm", "won", "cartel", "leak", "budget"])
        for t in range(tenders):
            dirty = t % 3 == 0
            cost = rng.uniform(1e5, 1e6)
            n = 1 if t == 1 else rng.randint(3, 8)  # one single-bid tender
            if dirty:
                win = cost * 0.97
                prices = [win] + [win * rng.uniform(1.04, 1.06) for _ in range(n - 1)]
            else:
                prices = [cost * rng.lognormvariate(0, 0.12) for _ in range(n)]
            best = min(prices)
            for i, p in enumerate(prices):
                # The label sits on one row only: a tender is rigged when any row says so.
                out.writerow([f"L{t}", f"{p:.2f}", f"F{rng.randint(0, 30)}", int(p == best),
                              int(dirty and i == 0), int(dirty), f"{cost:.2f}"])


def test_json_output_on_a_generated_csv(tmp_path: Path) -> None:
    data = tmp_path / "lots.csv"
    write_csv(data)
    done = ebid("evaluate", "--data", str(data), "--map", MAP, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result) == {"accuracy", "balanced_accuracy", "roc_auc", "n_tenders"}
    assert result["n_tenders"] == 40  # the single-bid tender is scored too
    assert result["roc_auc"] > 0.9 and result["balanced_accuracy"] > 0.8
    text = ebid("evaluate", "--data", str(data), "--map", MAP)
    assert text.returncode == 0 and "ROC AUC" in text.stdout and "40 tenders" in text.stdout


def test_unusable_input_exits_2_with_a_reason(tmp_path: Path) -> None:
    data = tmp_path / "lots.csv"
    write_csv(data, tenders=12)
    bad_map = ebid("evaluate", "--data", str(data), "--map", "tender=lot,bid=amount")
    assert bad_map.returncode == 2 and "lacks label" in bad_map.stderr
    no_column = ebid("evaluate", "--data", str(data), "--map", "tender=lot,bid=amount,label=x")
    assert no_column.returncode == 2 and "no column 'x'" in no_column.stderr
    missing = ebid("evaluate", "--data", str(tmp_path / "none.csv"), "--map", MAP)
    assert missing.returncode == 2 and bad_map.stdout == missing.stdout == ""


def test_test_labels_never_reach_the_model() -> None:
    """Scores of a fold do not change when the labels of that fold's tenders are flipped."""
    rng = random.Random(2)
    tenders = [PricedTender(key=str(i), prices=tuple(rng.uniform(90, 110) for _ in range(5)),
                            bidders=tuple(f"f{rng.randint(0, 9)}" for _ in range(5)))
               for i in range(30)]
    labels = [i % 2 for i in range(30)]
    seen: list[list[int]] = []

    class Spy:
        def fit(self, ts: list[PricedTender], ys: list[int]) -> Spy:
            seen.append(sorted(int(t.key) for t in ts))
            return self

        def predict_proba(self, ts: list[PricedTender]) -> list[float]:
            return [0.5] * len(ts)

    cross_validate(tenders, labels, make_model=lambda seed: Spy(), repeats=2)
    assert len(seen) == 10
    for rep in (seen[:5], seen[5:]):
        held_out = [sorted(set(range(30)) - set(train)) for train in rep]
        assert sorted(i for fold in held_out for i in fold) == list(range(30))
        assert all(len(fold) == 6 and sum(labels[i] for i in fold) == 3 for fold in held_out)


def test_brazil_is_classified_well_out_of_sample() -> None:
    path = data_file("brazil")
    tenders, _ = read_cases(path, {"tender": "Tender", "bid": "Bid_value",
                                   "label": "Collusive_competitor"})
    assert len(tenders) == 101
    done = ebid("evaluate", "--data", str(path), "--map", MAPS["brazil"], "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["n_tenders"] == 101
    # The published floor is 0.947 (RF on the authors' screens); ours is about 0.93-0.94, the
    # figures are in bench/RESULTS.md. This guards against breaking it, not the last digit.
    assert result["roc_auc"] > 0.9 and result["balanced_accuracy"] > 0.8
