"""Where the labelled cartel data sets live (../shared/data/bid_rigging beside the repository),
and their column maps for ``ebid collusion evaluate``. Never copied into the repository."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "bid_rigging"

MAPS = {
    "brazil": "tender=Tender,bid=Bid_value,label=Collusive_competitor,bidder=Competitors,"
              "winner=Winner,estimate=Pre-Tender Estimate (PTE)",
    "italy": "tender=Tender,bid=Bid_value,label=Collusive_competitor,bidder=Competitors,"
             "winner=Winner,estimate=Pre-Tender Estimate (PTE)",
    "switzerland_ticino": "tender=Tender,bid=Bid_value,label=Collusive_competitor,winner=Winner",
    "america": "tender=Tender,bid=Bid_value,label=Collusive_competitor,bidder=Competitors,"
               "winner=Winner",
}


def data_file(name: str) -> Path:
    path = DATA / f"{name}.csv"
    if not path.is_file():
        pytest.skip(f"{path} is not here (the shared data sets sit beside the repository)")
    return path


def rows_by_tender(name: str) -> dict[str, list[dict[str, str]]]:
    grouped: dict[str, list[dict[str, str]]] = defaultdict(list)
    with data_file(name).open(newline="") as fh:
        for row in csv.DictReader(fh):
            grouped[row["Tender"]].append(row)
    return grouped
