"""Collusion on the platform, end to end: the opening starts the analysis, the flags are
stored, supervisors see the red mark and the case, bidders and the agency see neither, and a
supervisor moves the case with reasons and exports it.

The evidence is planted the way a ring leaves it on the platform today: two firms name the
same project manager and upload the very same bid file.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import factories
import pytest
from starlette.testclient import TestClient

from bidding import services as bidding
from bidding.models import TenderStatus
from collusion.models import Analysis, AnalysisStatus, StoredFlag
from kernel.audit.models import AuditEvent

# Their own words (nothing of it is in the tender documents), copied from one bid to the other.
RING_FILE = ("第三章 施工组织设计\n" + "".join(
    f"第{n}节 本工程第{n}施工段拟投入挖掘机{n % 3 + 1}台、自卸汽车{n + 4}辆，项目经理王建国"
    f"每周{n % 5 + 1}次组织现场例会，混凝土浇筑前由试验员对第{n}批商品混凝土做坍落度检测。\n"
    for n in range(1, 41))).encode()
MARK = "risk-mark"


@pytest.fixture(autouse=True)
def _cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    factories.cheap_password_hashing(monkeypatch)


def _bid(run: Any, ctx: Any, made: Any, bidder: factories.Account, price: str,
         content: bytes, manager: str) -> None:
    """A sealed bid whose one file is ``content``, naming ``manager`` as project manager."""
    made.bid_ids[bidder.username], _ = factories.submit_sealed(
        run, ctx, bidder, made.id, price, files={"投标文件.txt": content},
        project_manager=manager)


@pytest.fixture
def world(run: Any, ctx: Any, clock: Any) -> dict[str, Any]:
    people = {
        "agency": factories.make_agency(run, ctx),
        "supervisor": factories.make_supervisor(run, ctx),
        "admin": factories.make_admin(run, ctx),
        "ring_a": factories.make_bidder(run, ctx, "ring-a"),
        "ring_b": factories.make_bidder(run, ctx, "ring-b"),
        "honest": factories.make_bidder(run, ctx, "honest"),
    }
    made = factories.make_tender(run, ctx, clock, people["agency"], state="published",
                                 bidders=[people["ring_a"], people["ring_b"], people["honest"]])
    _bid(run, ctx, made, people["ring_a"], "11020000.00", RING_FILE, "王建国")
    _bid(run, ctx, made, people["ring_b"], "11160000.00", RING_FILE, "王建国")
    _bid(run, ctx, made, people["honest"], "10890000.00",
         "第三章 施工组织设计\n我公司自有设备，项目经理李明。".encode(), "李明")
    # The scheduler starts the opening once the deadline and the intake grace have passed;
    # every bidder sends its key, the opening ends, and its end starts the analysis.
    clock.set(made.deadline_at + timedelta(seconds=ctx.settings.intake_grace_seconds))
    run(bidding.advance_due, ctx)
    factories.decrypt_bids(run, ctx, made)
    return {"people": people, "tender": made}


def _client(client: TestClient, run: Any, ctx: Any, account: factories.Account) -> TestClient:
    return factories.session_client(client, run, ctx, account)


def test_opening_runs_the_analysis_and_stores_the_evidence(run, world) -> None:
    made, people = world["tender"], world["people"]
    from bidding.models import Tender

    assert run(Tender.get, id=made.id).status == TenderStatus.OPENED
    (analysis,) = run(Analysis.filter(tender_id=made.id).all)
    assert analysis.status == AnalysisStatus.DONE, analysis.error
    flags = run(StoredFlag.filter(analysis_id=analysis.id).all)
    ring = sorted([people["ring_a"].credit_code, people["ring_b"].credit_code])
    shared_staff = [f for f in flags if f.detector == "associated_firms"]
    assert shared_staff and shared_staff[0].bidders == ring
    assert "王建国" in json.dumps(shared_staff[0].evidence, ensure_ascii=False)
    copied = [f for f in flags if f.detector == "shared_passages"]
    assert copied and copied[0].bidders == ring
    assert "坍落度检测" in copied[0].evidence["passages"][0]["a"]["text"]
    # Neither the people nor the text tie the honest firm to the ring. (The test client uploads
    # every bid from one address, which same_machine may count, and the price screens look at
    # every bid of the tender.)
    assert all(people["honest"].credit_code not in f.bidders for f in flags
               if f.detector in ("associated_firms", "shared_passages"))


def test_only_supervisors_see_the_mark_and_the_case(client, run, ctx, world) -> None:
    made, people = world["tender"], world["people"]
    case_url = f"/supervision/collusion/tenders/{made.id}"
    for who in ("supervisor", "admin"):
        browser = _client(client, run, ctx, people[who])
        page = browser.get(f"/tenders/{made.id}")
        assert MARK in page.text and case_url in page.text and "串标风险" in page.text
        assert browser.get(case_url).status_code == 200
    listing = _client(client, run, ctx, people["supervisor"]).get("/workspace")
    assert MARK in listing.text and case_url in listing.text

    for who in ("agency", "ring_a", "honest"):
        browser = _client(client, run, ctx, people[who])
        for url in (f"/tenders/{made.id}", "/workspace", "/tenders"):
            html = browser.get(url).text
            assert MARK not in html and "串标" not in html and "/supervision/" not in html, (
                who, url)
        for url in ("/supervision/collusion", case_url, case_url + "/report.json",
                    case_url + "/report.html"):
            assert browser.get(url).status_code == 403, (who, url)
        answer = browser.post(case_url + "/status", data=factories.with_csrf(
            browser, status="dismissed", reason="与我无关"))
        assert answer.status_code == 403
    anonymous = factories.session_client(client, run, ctx, None, follow_redirects=False)
    assert anonymous.get(case_url).status_code == 303  # to the login page
    assert MARK not in anonymous.get(f"/tenders/{made.id}").text


def test_the_case_page_shows_the_evidence(client, run, ctx, world) -> None:
    made, people = world["tender"], world["people"]
    browser = _client(client, run, ctx, people["supervisor"])
    index = browser.get("/supervision/collusion")
    assert index.template.name == "collusion/index.html"
    assert made.title in index.text and f"/supervision/collusion/tenders/{made.id}" in index.text
    page = browser.get(f"/supervision/collusion/tenders/{made.id}")
    assert page.template.name == "collusion/case.html"
    html = page.text
    for name in (people["ring_a"].org_name, people["ring_b"].org_name):
        assert name in html
    assert "王建国" in html  # the shared project manager, side by side
    assert 'class="side-by-side"' in html
    # The copied passage (its first 300 characters), on both sides.
    assert html.count("第3节 本工程第3施工段") >= 2
    assert html.count("<svg") >= 2  # the price chart and the group's graph
    assert "估算价" in html and "最高限价" in html
    # The pages' styles come from a file: the CSP (style-src 'self') ignores inline <style>.
    assert "<style" not in html and "/static/collusion.css" in html
    group = re.search(r'/supervision/collusion/groups/(g-[0-9a-f]{16})', html)
    assert group, "the case page links the group"
    group_page = browser.get(group.group(0))
    assert group_page.status_code == 200 and made.title in group_page.text
    data = browser.get(group.group(0) + "/report.json").json()
    assert data["group"]["key"] == group.group(1) and data["tenders"][0]["flags"]
    report = browser.get(group.group(0) + "/report.html")
    assert "attachment" in report.headers["content-disposition"]
    assert "<svg" in report.text and "/static/" not in report.text and "<form" not in report.text
    assert browser.get("/supervision/collusion/groups/g-0000000000000000").status_code == 404
    assert browser.get("/supervision/collusion/tenders/999999").status_code == 404


def test_status_changes_need_reasons_and_are_audited(client, run, ctx, world) -> None:
    made, people = world["tender"], world["people"]
    browser = _client(client, run, ctx, people["supervisor"])
    url = f"/supervision/collusion/tenders/{made.id}"
    page = browser.get(url)
    refused = factories.submit(browser, page.text, url + "/status", status="dismissed",
                               reason="")
    assert refused.status_code == 400 and "理由" in refused.text
    moved = factories.submit(browser, page.text, url + "/status", status="under_review",
                             reason="调取两家投标文件原件")
    assert moved.status_code == 200 and "案卷状态已更新" in moved.text and "核查中" in moved.text
    dismissed = factories.submit(browser, moved.text, url + "/status", status="dismissed",
                                 reason="两家为同一集团的分公司，已另行处理")
    assert "两家为同一集团的分公司，已另行处理" in dismissed.text and "已排除" in dismissed.text
    actions = [e.detail for e in run(AuditEvent.filter(
        action="collusion:case:status_changed").order_by("seq").all)]
    assert len(actions) == 2
    events = run(AuditEvent.filter(action="collusion:case:status_changed").all)
    assert all(e.actor_id == people["supervisor"].user_id for e in events)
    # Nothing of it lands in the tender's own trail, which the agency reads.
    assert not run(AuditEvent.filter(scope=f"tender:{made.id}",
                                      action__startswith="collusion:").exists)


def test_the_case_exports_as_json_and_as_one_html_file(client, run, ctx, world) -> None:
    made, people = world["tender"], world["people"]
    browser = _client(client, run, ctx, people["supervisor"])
    url = f"/supervision/collusion/tenders/{made.id}"
    data = browser.get(url + "/report.json")
    assert data.status_code == 200 and "attachment" in data.headers["content-disposition"]
    report = data.json()
    assert report["tender"]["code"] == made.code
    assert any(f["detector"] == "associated_firms" for f in report["flags"])
    assert report["case"]["history"][0]["to"] == "open"
    page = browser.get(url + "/report.html")
    assert page.status_code == 200 and "attachment" in page.headers["content-disposition"]
    html = page.text
    assert "<style>" in html and "<svg" in html and "王建国" in html
    # Self-contained: no stylesheet, script or image to fetch, no form to post.
    assert "/static/" not in html and "<script" not in html and "<form" not in html


def test_the_pages_read_in_english_too(client, run, ctx, world) -> None:
    made, people = world["tender"], world["people"]
    browser = _client(client, run, ctx, people["supervisor"])
    assert re.search(r"Collusion risk \d+", browser.get(f"/tenders/{made.id}?lang=en").text)
    case = browser.get(f"/supervision/collusion/tenders/{made.id}?lang=en")
    assert case.status_code == 200
    assert "Collusion case" in case.text and "Shared passages" in case.text
    assert "Groups across tenders" in browser.get("/supervision/collusion?lang=en").text
