"""A small run of the synthetic benchmark (bench/collusion_synthetic.py): the planted rings are
found as groups, and honest bidders, who quote the tender documents at length and carry shared
placeholder identifiers, the bidding hall's address and offices in one business centre, are in
no group and named by no flag of the identity and text detectors."""

from __future__ import annotations

import importlib.util
import sys
from itertools import combinations
from pathlib import Path
from types import ModuleType

import networkx as nx
import pytest

from collusion.offline import load_folder
from collusion.scan import scan

BENCH = Path(__file__).resolve().parents[3] / "bench" / "collusion_synthetic.py"
# Detectors whose flags name pairs or rings; tender-wide price screens name every bidder of a
# suspicious tender by design, and the history detector is judged by the benchmark's figures.
PAIRWISE = {"same_machine", "shared_deposit", "associated_firms", "shared_passages",
            "file_metadata", "shared_errors"}


def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("collusion_synthetic", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory) -> tuple[ModuleType, Path, object]:
    synthetic = bench()
    root = tmp_path_factory.mktemp("synthetic")
    truth = synthetic.generate(root, seed=11, tenders=8, honest=12, invited=5, join=0.6,
                               plant=0.6, chars=2500)
    return synthetic, root, truth


def test_the_series_is_written_in_the_offline_format(series) -> None:
    _, root, truth = series
    assert len(truth.tenders) == 8 and truth.planted
    tender = load_folder(root / truth.tenders[0])
    assert tender.documents and tender.estimate is not None and tender.reference_items
    assert {b.key for b in tender.bids} == set(truth.bidders[truth.tenders[0]])
    assert all(b.files and b.price is not None and b.deposit is not None for b in tender.bids)


def test_planted_rings_are_found_and_honest_bidders_are_not(series) -> None:
    _, root, truth = series
    for tender in truth.tenders:
        result = scan(load_folder(root / tender), history=truth.history_before(tender))
        assert result.failed == ()
        groups = {g.bidders for g in result.groups}
        for planted in (p for p in truth.planted if p.tender == tender):
            if planted.kinds & {"machine", "deposit", "staff"}:
                assert planted.members in groups, (tender, planted)
            if planted.kinds - {"prices"}:  # prices alone: the bench measures price detectors
                linked = nx.Graph()
                linked.add_nodes_from(planted.members)
                linked.add_edges_from(pair for f in result.flags if f.detector in PAIRWISE
                                      for pair in combinations(f.bidders, 2))
                assert nx.is_connected(linked.subgraph(planted.members)), (tender, planted)
        for group in result.groups:
            assert not set(group.bidders) & truth.honest, (tender, group)
        for flag in result.flags:
            if flag.detector in PAIRWISE:
                assert not set(flag.bidders) & truth.honest, (tender, flag)
                rings = [p.members for p in truth.planted if p.tender == tender]
                assert any(set(flag.bidders) <= set(r) for r in rings), (tender, flag)


def test_the_report_scores_every_detector(series) -> None:
    synthetic, root, truth = series
    report = synthetic.evaluate(root, truth)
    assert report["failed"] == []
    assert report["honest_bids_in_groups"] == 0
    for name in ("same_machine", "shared_deposit", "associated_firms"):
        row = report["detectors"][name]
        assert row["precision"] == 1.0 and row["recall"] == 1.0, (name, row)
    assert report["group_pairs"]["precision"] == 1.0


def test_the_generator_is_deterministic(tmp_path: Path) -> None:
    synthetic = bench()
    one = synthetic.generate(tmp_path / "one", seed=3, tenders=2, honest=6, invited=4, chars=800)
    two = synthetic.generate(tmp_path / "two", seed=3, tenders=2, honest=6, invited=4, chars=800)
    assert one.planted == two.planted
    for path in sorted((tmp_path / "one").rglob("*")):
        twin = tmp_path / "two" / path.relative_to(tmp_path / "one")
        assert path.is_dir() or path.read_bytes() == twin.read_bytes(), path


def test_subtle_rings_never_pull_honest_bidders_into_a_group(tmp_path: Path) -> None:
    synthetic = bench()
    truth = synthetic.generate(tmp_path, seed=5, tenders=6, honest=10, invited=5, join=0.7,
                               plant=0.6, chars=2000, subtle=True)
    report = synthetic.evaluate(tmp_path, truth)
    assert report["failed"] == []
    assert report["honest_bids_in_groups"] == 0
    assert report["honest_firms_in_series_groups"] == []
    assert report["group_pairs"]["precision"] in (None, 1.0)
