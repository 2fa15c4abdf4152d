"""A tender's whole life over HTTP, through the HTML forms, as browsers without JavaScript
would drive it: every step is the form the page offers, sent with its CSRF token.

Only the accounts the centre opens (the agency, the supervisor) and the scheduler's tick
(``advance_due``) are made by calling services; the clock is moved by hand.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import factories
import pytest
from starlette.testclient import TestClient

from bidding import services as bidding
from bidding.exceptions import DeadlinePassed, ObjectionsPending
from kernel.clock import FixedClock
from kernel.settings import Settings

BEIJING = ZoneInfo("Asia/Shanghai")
DEADLINE = datetime(2026, 3, 27, 9, 30, tzinfo=BEIJING)  # a Friday, 25 days after T0
TITLE = "城西污水处理厂提标改造工程施工"
DOCUMENTS = f"%PDF-1.4\n{TITLE} 招标文件 第一版\n".encode()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The clock moves by weeks; browsers stay logged in meanwhile.
    return settings.with_(session_max_age_seconds=180 * 24 * 3600)


@pytest.fixture(autouse=True)
def _cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    factories.cheap_password_hashing(monkeypatch)


# -- helpers --------------------------------------------------------------------------------


@dataclass
class Bidder:
    """A bidder company that signed up through /signup, and its logged-in browser."""

    browser: TestClient
    name: str
    credit_code: str
    username: str


def _local(at: datetime) -> str:
    return at.astimezone(BEIJING).strftime("%Y-%m-%dT%H:%M")


def _error_text(html: str) -> str:
    found = re.search(r'class="error-message[^"]*"[^>]*>\s*([^<]*)<', html)
    return found.group(1).strip() if found else html[:400]


def _ok(response: Any, path: str | None = None, done: str | None = None) -> Any:
    """A form post that succeeded: after its redirect, 200 on the expected page."""
    assert response.status_code == 200, (response.status_code, _error_text(response.text))
    if path is not None:
        assert response.url.path == path, (str(response.url), _error_text(response.text))
    if done is not None:
        assert response.url.params.get("done") == done, (str(response.url),
                                                        _error_text(response.text))
    return response


def _refused(response: Any, status: int, message: str) -> None:
    assert response.status_code == status, (response.status_code, _error_text(response.text))
    assert message in response.text, _error_text(response.text)


def sign_up(client: TestClient, seed: str) -> Bidder:
    """Sign a bidder company up through /signup and log in through the page it leads to."""
    browser = factories.new_client(client)
    fields = factories.bidder_fields(seed)
    answer = factories.submit(browser, browser.get("/signup").text, "/signup", **fields)
    _ok(answer, "/login")
    answer = factories.submit(browser, answer.text, "/login", username=fields["username"],
                              password=fields["password"])
    _ok(answer, "/workspace")
    return Bidder(browser, fields["name"], fields["credit_code"], fields["username"])


def tender_page(browser: TestClient, tender_id: int) -> str:
    page = browser.get(f"/tenders/{tender_id}")
    assert page.status_code == 200, page.status_code
    return page.text


def _account(bidder: Bidder) -> Any:
    """What the factories' sealing needs to know of a company that signed up by the page."""
    return SimpleNamespace(credit_code=bidder.credit_code, org_name=bidder.name,
                           username=bidder.username)


def bid(run: Any, ctx: Any, bidder: Bidder, tender_id: int, price: str, manager: str) -> Any:
    """Seal the bid as ebid-client would, upload it through the bid page's form; the tender
    page afterwards (the upload itself answers with the receipt page, 201)."""
    package = factories.seal_bid(run, ctx, _account(bidder), tender_id, price,
                                 project_manager=manager)
    answer = factories.submit(
        bidder.browser, tender_page(bidder.browser, tender_id),
        f"/tenders/{tender_id}/sealed-bids", lot="1",
        files={"package": (f"{bidder.username}-{price}.sealed", package,
                           "application/octet-stream")},
    )
    assert answer.status_code == 201, (answer.status_code, _error_text(answer.text))
    assert answer.template.name == "bidding/bid-receipt.html"
    assert answer.context["fields"]["package_sha256"] == hashlib.sha256(package).hexdigest()
    return bidder.browser.get(f"/tenders/{tender_id}")


def send_keys(run: Any, ctx: Any, bidder: Bidder, tender_id: int) -> None:
    """At the opening, the bidder's client sends the key of its current bid (ebid-client
    decrypt) over the API; here from the bidder's logged-in browser session."""
    opening = bidder.browser.get(f"/api/v1/tenders/{tender_id}/opening").json()
    mine = [b for b in opening["bids"] if b["mine"]]
    assert len(mine) == 1, opening
    body = factories.key_message(run, ctx, _account(bidder), mine[0]["bid_id"])
    answer = bidder.browser.post(
        f"/api/v1/tenders/{tender_id}/bids/{mine[0]['bid_id']}/key", json=body,
        headers=factories.csrf_headers(bidder.browser))
    assert answer.status_code == 200, answer.text
    assert answer.json()["decryption"] == "decrypted", answer.json()


def withdraw_actions(html: str, tender_id: int) -> list[str]:
    pattern = re.compile(rf"/tenders/{tender_id}/bids/\d+/withdraw")
    return [f.action for f in factories.forms_of(html) if pattern.fullmatch(f.action)]


def opening_record(html: str) -> str:
    """The opening record's table on a tender page."""
    found = re.search(r'id="opening".*?</table>', html, flags=re.S)
    assert found, "the page shows no opening record"
    return found.group(0)


def api_detail(client: TestClient, tender_id: int) -> dict[str, Any]:
    answer = factories.new_client(client).get(f"/api/v1/tenders/{tender_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


# -- the whole life -------------------------------------------------------------------------


def test_a_tender_from_registration_to_award_over_html_forms(
    client: TestClient, run: Any, ctx: Any, clock: FixedClock
) -> None:
    agency_account = factories.make_agency(run, ctx)
    supervisor_account = factories.make_supervisor(run, ctx)
    factories.officer_certificates(run, ctx, agency_account)
    agency = factories.login(client, agency_account)
    supervisor = factories.login(client, supervisor_account)
    public = factories.new_client(client)

    # 入场登记: the draft, its documents, the announcement.
    page = factories.submit(
        agency, agency.get("/tenders/new").text, "/tenders/new", title=TITLE,
        tenderer_name="城西水务投资有限公司", category="engineering", method="open",
        region="城西区", estimate="12000000.00", price_ceiling="11500000.00",
        deposit="200000.00", deadline_at=_local(DEADLINE),
        description="施工总承包，工期 300 日历天。",
    )
    _ok(page, done="registered")
    tender_id = int(page.url.path.rsplit("/", 1)[1])
    t = f"/tenders/{tender_id}"
    page = factories.submit(agency, page.text, f"{t}/documents", note="第一版",
                            files={"file": ("招标文件.pdf", DOCUMENTS, "application/pdf")})
    _ok(page, t, "document")
    page = _ok(factories.submit(agency, page.text, f"{t}/publish"), t, "published")
    assert public.get(t).status_code == 200
    assert f"{TITLE} 招标公告" in public.get("/notices?kind=announcement").text

    # Three companies sign up, register and download the documents.
    clock.advance(hours=2)
    bidders = [sign_up(client, seed) for seed in ("Hongda", "Jianxin", "Zhongtian")]
    hongda, jianxin, zhongtian = bidders
    for bidder in bidders:
        page = _ok(factories.submit(bidder.browser, tender_page(bidder.browser, tender_id),
                                    f"{t}/register"), t, "registered-bidder")
        link = re.search(rf'href="({t}/documents/\d+)"', page.text)
        assert link, "a registered bidder is offered no download link"
        download = bidder.browser.get(link.group(1))
        assert download.status_code == 200 and download.content == DOCUMENTS

    # Bids; Hongda replaces its bid, Jianxin withdraws and bids again.
    clock.advance(hours=1)
    bid(run, ctx, hongda, tender_id, "11200000.00", "李建国")
    bid(run, ctx, jianxin, tender_id, "11050000.00", "王立新")
    bid(run, ctx, zhongtian, tender_id, "11380000.00", "赵天明")
    clock.advance(minutes=30)
    page = bid(run, ctx, hongda, tender_id, "10980000.00", "李建国")
    assert "已被替换" in page.text
    assert len(withdraw_actions(page.text, tender_id)) == 1, "only the current bid withdraws"
    page = tender_page(jianxin.browser, tender_id)
    (withdraw,) = withdraw_actions(page, tender_id)
    page = _ok(factories.submit(jianxin.browser, page, withdraw), t, "withdrawn")
    assert "已撤回" in page.text
    bid(run, ctx, jianxin, tender_id, "11080000.00", "王立新")

    # A question, and the clarification that answers it without naming who asked.
    clock.set(datetime(2026, 3, 4, 10, 0, tzinfo=BEIJING))
    question = "工期 300 日历天是否包含冬季停工期？"
    _ok(factories.submit(zhongtian.browser, tender_page(zhongtian.browser, tender_id),
                         f"{t}/questions", text=question), t, "asked")
    page = tender_page(agency, tender_id)
    assert question in page
    clarify_form = factories.form_on(page, f"{t}/clarifications")
    question_ids = [value for name, value in clarify_form.inputs if name == "answers"]
    assert len(question_ids) == 1, clarify_form.inputs
    answer_text = "工期 300 日历天已包含冬季停工期，投标人应据此编制施工组织设计。"
    _ok(factories.submit(agency, page, f"{t}/clarifications", body=answer_text,
                         answers=question_ids[0]), t, "clarified")
    for bidder in bidders:
        inbox = bidder.browser.get("/notifications").text
        assert "【澄清】" in inbox and answer_text in inbox, f"{bidder.name} got no clarification"
    notices = public.get("/notices?kind=clarification").text
    notice_id = re.search(r'href="/notices/(\d+)"', notices)
    assert notice_id, "the clarification was not published"
    published = public.get(f"/notices/{notice_id.group(1)}").text
    assert answer_text in published
    asker = (zhongtian.name, zhongtian.credit_code, zhongtian.username)
    seen_by = {"the notice": published, "the agency": tender_page(agency, tender_id),
               "the supervisor": tender_page(supervisor, tender_id),
               **{f"{b.username}'s inbox": b.browser.get("/notifications").text
                  for b in (hongda, jianxin)}}
    for who, text in seen_by.items():
        assert not any(part in text for part in asker), f"{who} learns who asked"

    # Before the opening nobody but the bidder itself sees who registered, downloaded or bid.
    for insider in (agency, supervisor):
        page = tender_page(insider, tender_id)
        for bidder in bidders:
            assert bidder.name not in page and bidder.username not in page
        assert "bidding:document:downloaded" not in page

    # The deadline passes; before the scheduler has run a bid is refused all the same.
    clock.set(DEADLINE + timedelta(minutes=1))
    late = hongda.browser.post(
        f"{t}/sealed-bids", data=factories.with_csrf(hongda.browser, lot="1"),
        files={"package": ("late.sealed", factories.seal_bid(
            run, ctx, _account(hongda), tender_id, "10880000.00"), "application/octet-stream")},
    )
    _refused(late, DeadlinePassed.status_code, "投标截止时间（2026-03-27 09:30）已过")
    assert api_detail(client, tender_id)["status"] == "published"
    # The opening starts after the intake grace; each bidder sends its key in the window.
    clock.set(DEADLINE + timedelta(seconds=ctx.settings.intake_grace_seconds))
    run(bidding.advance_due, ctx)
    assert api_detail(client, tender_id)["status"] == "opening"
    for bidder in bidders:
        send_keys(run, ctx, bidder, tender_id)
    run(bidding.advance_due, ctx)
    assert api_detail(client, tender_id)["status"] == "opened"

    # The opening record is public, to anyone, with every current bid.
    for viewer in (public, agency, supervisor, hongda.browser):
        page = opening_record(tender_page(viewer, tender_id))
        for bidder, price in ((hongda, "10,980,000.00"), (jianxin, "11,080,000.00"),
                              (zhongtian, "11,380,000.00")):
            assert bidder.name in page, f"the opening record lacks {bidder.name}"
            assert price in page
        assert "11,200,000.00" not in page and "11,050,000.00" not in page, "a replaced bid"
    assert f"{TITLE} 开标记录" in public.get("/notices?kind=opening").text

    # The downloads, sealed until now, are in the audit trail the insiders read.
    page = tender_page(agency, tender_id)
    rows = re.findall(r"<tr>.*?</tr>", page, flags=re.S)
    downloads = [row for row in rows if "bidding:document:downloaded" in row]
    assert len(downloads) == 3, f"{len(downloads)} downloads in the audit trail"
    for bidder in bidders:
        assert any(bidder.username in row for row in downloads), bidder.username

    # Deposits, ranking, candidates.
    deposit_forms = [f for f in factories.forms_of(page)
                     if f.action == f"{t}/deposits" and f.value("received") == "1"]
    assert len(deposit_forms) == 3
    for form in deposit_forms:
        match = {"received": "1", "registration_id": form.value("registration_id") or ""}
        page = _ok(factories.submit(agency, page, f"{t}/deposits", match=match),
                   t, "deposit").text
    assert page.count("已到账") >= 3
    ranking_form = factories.form_on(page, f"{t}/ranking")
    labels = dict(re.findall(r'name="rank_(\d+)"[^>]*aria-label="[^"]*?名次\s*([^"]+)"', page))
    by_name = {name.strip(): bid_id for bid_id, name in labels.items()}
    order = [hongda, jianxin, zhongtian]  # by price
    ranks = {f"rank_{by_name[b.name]}": str(n) for n, b in enumerate(order, start=1)}
    scores = {f"score_{by_name[b.name]}": str(95 - 5 * n) for n, b in enumerate(order)}
    assert {name for name, _ in ranking_form.inputs} >= set(ranks) | set(scores)
    page = _ok(factories.submit(agency, page, f"{t}/ranking", **ranks, **scores),
               t, "ranking").text
    page = _ok(factories.submit(agency, page, f"{t}/candidates"), t, "candidates").text
    candidates = public.get("/notices?kind=candidates").text
    assert f"{TITLE} 中标候选人公示" in candidates

    # Zhongtian objects during the publicity; the award waits for the publicity and the answer.
    clock.advance(hours=3)
    objection = "第一中标候选人的项目经理李建国同时在其他在建项目任职，请核查。"
    _ok(factories.submit(zhongtian.browser, tender_page(zhongtian.browser, tender_id),
                         f"{t}/objections", text=objection), t, "objected")
    early = agency.post(f"{t}/award", data=factories.with_csrf(agency))
    _refused(early, 409, "公示期")
    ends = datetime.fromisoformat(api_detail(client, tender_id)["publicity_ends_at"])
    clock.set(ends)
    pending = agency.post(f"{t}/award", data=factories.with_csrf(agency))
    _refused(pending, ObjectionsPending.status_code, ObjectionsPending.zh)
    page = tender_page(agency, tender_id)
    answer_actions = [f.action for f in factories.forms_of(page)
                      if re.fullmatch(rf"{t}/objections/\d+/answer", f.action)]
    assert len(answer_actions) == 1
    page = _ok(factories.submit(agency, page, answer_actions[0],
                                answer="经核查，李建国未在其他在建项目担任项目经理，异议不成立。"),
               t, "answered").text
    assert "异议不成立" in tender_page(zhongtian.browser, tender_id)
    page = _ok(factories.submit(agency, page, f"{t}/award"), t, "awarded").text
    assert f"{TITLE} 中标结果公告" in public.get("/notices?kind=award").text
    assert "【中标通知书】" in hongda.browser.get("/notifications").text
    assert "【中标通知书】" not in jianxin.browser.get("/notifications").text

    # Contract, written report, archive.
    clock.advance(days=2)
    page = _ok(factories.submit(agency, page, f"{t}/contract", lot="1",
                                signed_at=_local(clock.now() - timedelta(hours=2)),
                                amount="10980000.00"), t, "contract").text
    assert api_detail(client, tender_id)["status"] == "contracted"
    _ok(factories.submit(agency, page, f"{t}/report",
                         body="本项目依法公开招标，三家投标人递交投标文件，经评标委员会评审并公示，"
                              "异议已依法答复，确定第一中标候选人为中标人并签订合同。"),
        t, "report")
    assert api_detail(client, tender_id)["status"] == "closed"

    report = run(ctx.audit.verify)
    assert report.ok, report.lines()


def test_a_failed_tender_is_rerun_from_a_copy_with_its_documents(
    client: TestClient, run: Any, ctx: Any, clock: FixedClock
) -> None:
    agency_account = factories.make_agency(run, ctx)
    agency = factories.login(client, agency_account)
    made = factories.make_tender(run, ctx, clock, agency_account, "published")
    t = f"/tenders/{made.id}"
    clock.advance(hours=1)
    two = []
    for seed, price in (("Hongda", "11200000.00"), ("Jianxin", "11050000.00")):
        bidder = sign_up(client, seed)
        _ok(factories.submit(bidder.browser, tender_page(bidder.browser, made.id),
                             f"{t}/register"), t, "registered-bidder")
        bid(run, ctx, bidder, made.id, price, "项目经理")
        two.append(bidder)

    clock.set(made.deadline_at + timedelta(seconds=ctx.settings.intake_grace_seconds))
    run(bidding.advance_due, ctx)
    for bidder in two:
        send_keys(run, ctx, bidder, made.id)
    run(bidding.advance_due, ctx)
    original = api_detail(client, made.id)
    assert original["status"] == "failed"
    assert f"{made.title} 流标公告" in factories.new_client(client).get(
        "/notices?kind=failure").text

    new_deadline = made.deadline_at + timedelta(days=35)
    page = factories.submit(agency, tender_page(agency, made.id), f"{t}/rerun",
                            deadline_at=_local(new_deadline))
    _ok(page, done="rerun")
    copy_id = int(page.url.path.rsplit("/", 1)[1])
    assert copy_id != made.id
    agency_api = factories.login(client, agency_account, api=True)
    copy = agency_api.get(f"/api/v1/tenders/{copy_id}").json()
    assert copy["status"] == "draft"
    assert copy["rerun_of"] == made.id
    assert copy["deadline_at"] == new_deadline.astimezone(ZoneInfo("UTC")).isoformat().replace(
        "+00:00", "Z")
    assert [(d["filename"], d["sha256"]) for d in copy["documents"]] == [
        (d["filename"], d["sha256"]) for d in original["documents"]
    ]
    # A draft copy: not on the portal until the agency publishes it.
    assert factories.new_client(client).get(f"/tenders/{copy_id}").status_code == 404
    report = run(ctx.audit.verify)
    assert report.ok, report.lines()


def test_after_the_deadline_the_agency_cannot_reopen_bidding(
    client: TestClient, run: Any, ctx: Any, clock: FixedClock
) -> None:
    """Between the deadline and the scheduler's opening, a clarification or a new version of
    the documents must not move the deadline (15-day rule) and so reopen bidding."""
    agency_account = factories.make_agency(run, ctx)
    agency = factories.login(client, agency_account)
    made = factories.make_tender(run, ctx, clock, agency_account, "published")
    t = f"/tenders/{made.id}"
    clock.set(made.deadline_at + timedelta(minutes=5))
    clarification = agency.post(f"{t}/clarifications",
                                data=factories.with_csrf(agency, body="补充说明：……"))
    upload = agency.post(f"{t}/documents", data=factories.with_csrf(agency, note="第二版"),
                         files={"file": ("招标文件-第二版.pdf", b"%PDF v2", "application/pdf")})
    deadline_after = api_detail(client, made.id)["deadline_at"]
    assert deadline_after == made.deadline_at.astimezone(ZoneInfo("UTC")).isoformat().replace(
        "+00:00", "Z"), f"the deadline moved to {deadline_after} after it had passed"
    for answer in (clarification, upload):
        assert answer.status_code == DeadlinePassed.status_code, (answer.status_code,
                                                                  _error_text(answer.text))
