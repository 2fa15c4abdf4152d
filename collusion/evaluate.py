"""Grouped, repeated cross-validation of the price classifier on labelled tenders.

Each tender is one sample (its bids are its features), so splitting tenders into folds keeps every
bid of a tender on one side: the grouping the literature asks for. Folds are stratified by the
tender label; the split is repeated with different seeds and the figures averaged. Every
tender of the file is scored once per repeat, single-bid tenders included. History features
are rebuilt inside each training fold (``ScreenForest.fit``), so no test label leaks in.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from collusion.classifier import PricedTender, ScreenForest, parse_map, read_cases

FOLDS = 5
REPEATS = 5


@dataclass(frozen=True)
class Result:
    accuracy: float
    balanced_accuracy: float
    roc_auc: float
    n_tenders: int
    n_rigged: int

    def as_json(self) -> dict[str, Any]:
        return {"accuracy": round(self.accuracy, 4),
                "balanced_accuracy": round(self.balanced_accuracy, 4),
                "roc_auc": round(self.roc_auc, 4), "n_tenders": self.n_tenders}


def cross_validate(tenders: Sequence[PricedTender], labels: Sequence[int], *,
                   make_model: Callable[[int], Any] | None = None, folds: int = FOLDS,
                   repeats: int = REPEATS, threshold: float = 0.5) -> Result:
    """Mean accuracy, balanced accuracy and ROC AUC of out-of-fold P(rigged) over repeats."""
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    make = make_model or (lambda seed: ScreenForest(random_state=seed))
    y = np.asarray(labels, dtype=int)
    n = len(y)
    if n == 0:
        raise ValueError("no tenders")
    smallest = min(int(y.sum()), n - int(y.sum()))
    k = min(folds, smallest)
    if k < 2:
        raise ValueError("need at least two rigged and two clean tenders to cross-validate")
    acc, bal, auc = [], [], []
    for rep in range(repeats):
        proba = np.zeros(n)
        split = StratifiedKFold(n_splits=k, shuffle=True, random_state=rep)
        for train, test in split.split(np.zeros(n), y):
            model = make(rep).fit([tenders[i] for i in train], y[train].tolist())
            proba[test] = model.predict_proba([tenders[i] for i in test])
        pred = (proba >= threshold).astype(int)
        acc.append(accuracy_score(y, pred))
        bal.append(balanced_accuracy_score(y, pred))
        auc.append(roc_auc_score(y, proba))
    return Result(float(np.mean(acc)), float(np.mean(bal)), float(np.mean(auc)), n, int(y.sum()))


def evaluate_file(path: Path, mapping: str, **kwargs: Any) -> Result:
    tenders, labels = read_cases(path, parse_map(mapping))
    return cross_validate(tenders, labels, **kwargs)


def run_evaluate(data: str, mapping: str, *, as_json: bool = False) -> int:
    """``ebid collusion evaluate``: print the figures; 2 when the file or the map is unusable."""
    try:
        tenders, labels = read_cases(Path(data), parse_map(mapping))
        result = cross_validate(tenders, labels)
    except (OSError, ValueError) as error:
        print(f"ebid collusion evaluate: {error}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps(result.as_json()))
        return 0
    print(f"{data}: {result.n_tenders} tenders, {result.n_rigged} rigged; "
          f"{FOLDS}-fold CV stratified by tender, repeated {REPEATS} times")
    print(f"accuracy           {result.accuracy:.3f}")
    print(f"balanced accuracy  {result.balanced_accuracy:.3f}")
    print(f"ROC AUC            {result.roc_auc:.3f}")
    return 0
