"""The platform side of collusion: the snapshot of a real opened tender, the analysis the
opening starts, what it stores, the mark it leaves, and the case a supervisor moves."""

from __future__ import annotations

from typing import Any

import factories
import pytest

from bidding.exceptions import TenderNotFound
from bidding.services import analysis as bidding_analysis
from collusion import services
from collusion.base import Flag, History, TenderSnapshot
from collusion.exceptions import CaseNotFound, MoveNotAllowed, ReasonRequired
from collusion.models import Analysis, AnalysisStatus, Case, CaseEvent, Group, StoredFlag
from kernel.annotations import annotations_for
from kernel.errors import PermissionDenied


class Pairwise:
    """A stand-in detector: flags the first two bids of every tender, strongly."""

    name = "stub_pair"
    title_zh = "测试线索"
    title_en = "Test flag"
    strength = "strong"

    def detect(self, tender: TenderSnapshot, history: History = History()) -> list[Flag]:
        keys = sorted(b.key for b in tender.bids)[:2]
        if len(keys) < 2:
            return []
        return [Flag(detector=self.name, bidders=tuple(keys), score=0.9, strength="strong",
                     evidence={"passages": [{"a": "本工程采用C30混凝土",
                                             "b": "本工程采用C35混凝土"}],
                               "entities": [{"kind": "machine", "id": "mac:abcdef0123456789",
                                             "label": "mac abcdef01"}]},
                     summary="测试")]


class Broken:
    name = "stub_broken"
    title_zh = "坏的"
    title_en = "Broken"
    strength = "supporting"

    def detect(self, tender: TenderSnapshot, history: History = History()) -> list[Flag]:
        raise RuntimeError("boom")


@pytest.fixture
def people(run: Any, ctx: Any) -> dict[str, factories.Account]:
    return {
        "agency": factories.make_agency(run, ctx),
        "supervisor": factories.make_supervisor(run, ctx),
        "admin": factories.make_admin(run, ctx),
        "a": factories.make_bidder(run, ctx, "sa"),
        "b": factories.make_bidder(run, ctx, "sb"),
        "c": factories.make_bidder(run, ctx, "sc"),
    }


def _opened(run: Any, ctx: Any, clock: Any, people: dict[str, factories.Account]) -> Any:
    return factories.make_tender(run, ctx, clock, people["agency"], state="opened",
                                 bidders=[people["a"], people["b"], people["c"]])


def test_snapshot_of_an_opened_tender_reads_bidders_prices_and_files(run, ctx, clock, people):
    made = _opened(run, ctx, clock, people)
    opened = run(bidding_analysis.opened_bids_for_analysis, made.id)
    snapshots = services.tender_snapshots(ctx, opened)
    assert list(snapshots) == [1]
    snap = snapshots[1]
    assert snap.key == made.code and snap.title == made.title
    by_key = {b.key: b for b in snap.bids}
    assert set(by_key) == {people[x].credit_code for x in "abc"}
    a = by_key[people["a"].credit_code]
    assert a.bidder.name == people["a"].org_name
    assert a.bidder.legal_rep == "法人sa" and a.bidder.email == "sa@bidder.example.cn"
    assert a.bidder.project_manager
    assert str(a.price) == made.prices[people["a"].username]
    # Every bid has its readable files; the tender documents are the base files.
    for bid in snap.bids:
        assert bid.files and all(f.open().read() for f in bid.files)
    assert snap.documents and snap.documents[0].open().read()


def test_each_lot_of_several_is_measured_against_its_own_estimate(run, ctx, clock, people):
    from datetime import timedelta
    from decimal import Decimal

    from bidding import services as bidding
    from bidding.services.tenders import LotIn

    made = factories.make_tender(
        run, ctx, clock, people["agency"], state="published",
        bidders=[people["a"], people["b"], people["c"]],
        lots=[LotIn("土建", Decimal("9000000.00")), LotIn("安装", Decimal("3000000.00"))])
    bids = []
    for n, who in enumerate("abc"):
        for lot, price in ((1, 8_800_000 + n), (2, 2_900_000 + n)):
            bids.append((people[who], factories.submit_bid(run, ctx, people[who], made.id,
                                                           f"{price}.00", lot=lot)))
    clock.set(made.deadline_at + timedelta(seconds=ctx.settings.intake_grace_seconds))
    run(bidding.advance_due, ctx)
    for bidder, bid_id in bids:
        factories.send_key(run, ctx, bidder, bid_id)
    run(bidding.advance_due, ctx)
    snapshots = services.tender_snapshots(
        ctx, run(bidding_analysis.opened_bids_for_analysis, made.id))
    assert {lot: snap.estimate for lot, snap in snapshots.items()} == {
        1: Decimal("9000000.00"), 2: Decimal("3000000.00")}
    assert all(snap.price_ceiling is None for snap in snapshots.values())


def test_sealed_tenders_give_no_snapshot(run, ctx, clock, people):
    made = factories.make_tender(run, ctx, clock, people["agency"], state="published")
    with pytest.raises(TenderNotFound):
        run(bidding_analysis.opened_bids_for_analysis, made.id)


def _analyse(run: Any, ctx: Any, tender_id: int, detectors: list[Any]) -> Analysis:
    analysis = run(services.request_analysis, ctx, tender_id=tender_id)
    return run(services.run_analysis, ctx, analysis_id=analysis.id, detectors=detectors)


def test_analysis_stores_flags_groups_mark_and_opens_the_case(run, ctx, clock, people):
    made = _opened(run, ctx, clock, people)
    done = _analyse(run, ctx, made.id, [Pairwise(), Broken()])
    assert done.status == AnalysisStatus.DONE
    # The broken detector is on file and did not stop the others.
    assert "stub_broken" in done.facts["errors"] and "boom" in done.error
    flags = run(StoredFlag.filter(analysis_id=done.id).all)
    assert [f.detector for f in flags] == ["stub_pair"]
    assert flags[0].evidence["passages"][0]["a"] == "本工程采用C30混凝土"
    groups = run(Group.filter(analysis_id=done.id).all)
    assert len(groups) == 1 and groups[0].bidders == flags[0].bidders
    case = run(Case.get, tender_id=made.id)
    assert case.status.value == "open"

    subject = f"tender:{made.id}"
    for who in ("supervisor", "admin"):
        marks = run(annotations_for, [subject], people[who].actor)[subject]
        assert [(m.kind, m.count, m.link) for m in marks] == [
            ("collusion", 1, f"/supervision/collusion/tenders/{made.id}")]
    for who in ("agency", "a", "b"):
        assert run(annotations_for, [subject], people[who].actor) == {}


def test_no_flags_means_no_mark_and_no_case(run, ctx, clock, people):
    made = _opened(run, ctx, clock, people)
    _analyse(run, ctx, made.id, [Pairwise()])
    assert run(Case.filter(tender_id=made.id).exists)
    # A re-run that finds nothing takes the mark off (the case stays on file).
    _analyse(run, ctx, made.id, [])
    assert run(annotations_for, [f"tender:{made.id}"], people["supervisor"].actor) == {}
    view = run(services.case_view, people["supervisor"].actor, made.id)
    assert view.flags == [] and len(view.analyses) == 3  # the opening's own, and two here


def test_opening_queues_and_runs_the_analysis(run, ctx, clock, people):
    made = _opened(run, ctx, clock, people)
    analyses = run(Analysis.filter(tender_id=made.id).all)
    assert [a.status for a in analyses] == [AnalysisStatus.DONE]
    assert analyses[0].facts["code"] == made.code
    assert len(analyses[0].facts["bids"]) == 3


def test_queued_analyses_are_caught_up_once(run, ctx, clock, people):
    made = _opened(run, ctx, clock, people)
    first = run(services.request_analysis, ctx, tender_id=made.id)
    again = run(services.request_analysis, ctx, tender_id=made.id)
    assert first.id == again.id  # one waits per tender
    assert run(services.run_queued, ctx) == 1
    assert run(services.run_queued, ctx) == 0
    assert run(services.run_analysis, ctx, analysis_id=first.id) is None  # already taken


def test_case_moves_need_reasons_and_follow_the_table(run, ctx, clock, people):
    made = _opened(run, ctx, clock, people)
    _analyse(run, ctx, made.id, [Pairwise()])
    sup = people["supervisor"].actor
    change = services.change_status
    with pytest.raises(ReasonRequired):
        run(change, ctx, actor=sup, tender_id=made.id, to="dismissed", reason="  ")
    with pytest.raises(PermissionDenied):
        run(change, ctx, actor=people["agency"].actor, tender_id=made.id, to="under_review")
    run(change, ctx, actor=sup, tender_id=made.id, to="under_review")
    run(change, ctx, actor=sup, tender_id=made.id, to="dismissed",
        reason="同一集团内部投标，已另案处理")
    (mark,) = run(annotations_for, [f"tender:{made.id}"], sup)[f"tender:{made.id}"]
    assert (mark.level, mark.text) == ("info", "串标风险 1（已排除）")
    run(change, ctx, actor=people["admin"].actor, tender_id=made.id, to="open",
        reason="发现新证据")
    run(change, ctx, actor=sup, tender_id=made.id, to="referred", reason="移送公安机关")
    with pytest.raises(MoveNotAllowed):
        run(change, ctx, actor=sup, tender_id=made.id, to="open", reason="再看看")
    (mark,) = run(annotations_for, [f"tender:{made.id}"], sup)[f"tender:{made.id}"]
    assert (mark.level, mark.text) == ("danger", "串标风险 1（已移送）")
    case = run(Case.get, tender_id=made.id)
    events = run(CaseEvent.filter(case_id=case.id).order_by("id").all)
    assert [(e.from_status, e.to_status) for e in events] == [
        ("", "open"), ("open", "under_review"), ("under_review", "dismissed"),
        ("dismissed", "open"), ("open", "referred")]
    assert events[2].reason == "同一集团内部投标，已另案处理"
    assert events[2].actor_label


def test_group_case_opens_on_first_move(run, ctx, clock, people):
    made = _opened(run, ctx, clock, people)
    done = _analyse(run, ctx, made.id, [Pairwise()])
    key = run(Group.get, analysis_id=done.id).key
    sup = people["supervisor"].actor
    view = run(services.group_view, sup, key)
    assert view.case is None and view.group.tenders[0]["tender_id"] == made.id
    run(services.change_status, ctx, actor=sup, group_key=key, to="under_review")
    assert run(Case.get, group_key=key).status.value == "under_review"
    with pytest.raises(CaseNotFound):
        run(services.change_status, ctx, actor=sup, group_key="g-0000000000000000",
            to="under_review")


def test_overview_ranks_tenders_and_groups_across_history(run, ctx, clock, people):
    trio = [people["a"], people["b"], people["c"]]
    first = factories.make_tender(run, ctx, clock, people["agency"], state="opened",
                                  bidders=trio)
    second = factories.make_tender(run, ctx, clock, people["agency"], state="opened",
                                   bidders=trio, title="城东污水管网改造工程施工")
    for made in (first, second):
        _analyse(run, ctx, made.id, [Pairwise()])
    overview = run(services.overview, people["supervisor"].actor)
    assert {r.tender_id for r in overview.tenders} == {first.id, second.id}
    assert len(overview.groups) == 1
    group = overview.groups[0]
    assert [t["tender_id"] for t in group.tenders] == sorted([first.id, second.id])
    # Two occasions weigh more than one.
    assert group.score > max(t["score"] for t in group.tenders)
    with pytest.raises(PermissionDenied):
        run(services.overview, people["a"].actor)


def test_report_is_plain_json(run, ctx, clock, people):
    import json

    made = _opened(run, ctx, clock, people)
    _analyse(run, ctx, made.id, [Pairwise()])
    report = services.report(run(services.case_view, people["supervisor"].actor, made.id))
    text = json.dumps(report, ensure_ascii=False)
    assert report["tender"]["code"] == made.code
    assert report["flags"][0]["names"] and "C30" in text
    assert report["case"]["history"][0]["to"] == "open"


def test_analyse_tenders_backfills_and_reruns(run, ctx, clock, people):
    made = _opened(run, ctx, clock, people)
    draft = factories.make_tender(run, ctx, clock, people["agency"], state="draft")
    # Opened before collusion was on: no analysis on file.
    run(Analysis.filter(tender_id=made.id).delete)
    (found,) = run(services.analyse_tenders, ctx)
    assert found[0] == made.id and found[1].status == AnalysisStatus.DONE
    assert run(services.analyse_tenders, ctx) == []  # nothing left to backfill
    again = run(services.analyse_tenders, ctx, tender_ids=[made.id, draft.id])
    assert again[0][1].id != found[1].id and again[1] == (draft.id, None)


def test_the_analyse_command_runs_on_the_platform_database(run, ctx, clock, people, settings):
    import os
    import subprocess
    import sys

    made = _opened(run, ctx, clock, people)
    env = {**os.environ, "EBID_DATABASE_URL": settings.database_url,
           "EBID_DATA_DIR": str(settings.data_dir)}
    done = subprocess.run([sys.executable, "-m", "ebid.cli", "collusion", "analyse",
                           str(made.id)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"tender {made.id}: analysis" in done.stdout and "done" in done.stdout
    assert run(Analysis.filter(tender_id=made.id).count) == 2
