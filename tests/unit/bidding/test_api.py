"""The bidding JSON API (/api/v1), over HTTP against the real app: a whole tender's life, what
each viewer is told before the opening, and the refusals of bad or unauthorised requests."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import factories
import pytest
import yaml
from starlette.testclient import TestClient

from bidding import services
from kernel.accounts import services as accounts
from kernel.accounts.actor import Actor
from kernel.accounts.creditcode import make_code
from kernel.accounts.models import Role
from kernel.clock import FixedClock
from kernel.settings import Settings

BEIJING = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=BEIJING)  # as in conftest: a Monday
PUBLISH_AT = T0 + timedelta(hours=1)
DEADLINE = datetime(2026, 3, 27, 9, 30, tzinfo=BEIJING)  # a Friday, 25 days after T0
PASSWORD = "Tender-Pass-2026"
# Seeds the first accounts, as the command line would.
SETUP = Actor(user_id=None, username="test-setup", role=Role.ADMIN)


# -- helpers --------------------------------------------------------------------------------


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The tests move the clock by weeks; sessions must outlive that.
    return settings.with_(session_max_age_seconds=180 * 24 * 3600)


@dataclass
class Party:
    username: str
    name: str = ""
    credit_code: str = ""
    token: str = ""

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class People:
    admin: Party
    agency: Party
    other_agency: Party
    supervisor: Party
    bidders: list[Party] = field(default_factory=list)


def rfc3339(at: datetime) -> str:
    return at.astimezone(BEIJING).isoformat(timespec="seconds")


def login(client: TestClient, party: Party) -> None:
    response = client.post("/api/v1/session", json={"username": party.username,
                                                    "password": PASSWORD})
    assert response.status_code == 200, response.text
    party.token = response.json()["token"]
    client.cookies.clear()  # each request below authenticates by its bearer token alone


def make_people(client: TestClient, run: Any, ctx: Any, bidders: int = 4) -> People:
    def staff(username: str, role: str, org: str, seed: str) -> Party:
        code = make_code(seed)
        run(accounts.create_user_with_organization, ctx, actor=SETUP, username=username,
            password=PASSWORD, role=role, organization_name=org, credit_code=code)
        return Party(username, org, code)

    people = People(
        admin=staff("centre-admin", "admin", "市公共资源交易中心", "centre"),
        agency=staff("agency-one", "agency", "华信招标代理有限公司", "agency-1"),
        other_agency=staff("agency-two", "agency", "远景工程咨询有限公司", "agency-2"),
        supervisor=staff("supervisor", "supervisor", "市住房和城乡建设局", "authority"),
    )
    for n in range(1, bidders + 1):
        name, code = f"第{n}建筑工程有限公司", make_code(f"bidder-{n}")
        run(accounts.signup_bidder, ctx, name=name, credit_code=code, legal_rep=f"法人{n}",
            contact_name=f"联系人{n}", contact_phone=f"1380013800{n}",
            email=f"bid{n}@example.com", address=f"建设路 {n} 号", bank_name="工商银行城西支行",
            bank_account=f"62220200{n:08d}", username=f"bidder-{n}", password=PASSWORD)
        people.bidders.append(Party(f"bidder-{n}", name, code))
    for party in (people.admin, people.agency, people.other_agency, people.supervisor,
                  *people.bidders):
        login(client, party)
    # Publication deals the opening key's shares to the officers' encryption certificates.
    factories.officer_certificates(run, ctx, people.agency.username)
    return people


def tender_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "城西污水处理厂提标改造工程施工",
        "category": "engineering",
        "method": "open",
        "tenderer_name": "城西水务投资有限公司",
        "estimate": "12000000.00",
        "price_ceiling": "11500000.00",
        "deposit": "200000.00",
        "deadline_at": rfc3339(DEADLINE),
        "description": "施工总承包，工期 300 日历天。",
        "region": "城西区",
        "lots": [
            {"title": "第一标段：土建工程", "estimate": "8000000.00"},
            {"title": "第二标段：设备安装", "estimate": 4000000},
        ],
    }
    body.update(changes)
    return body


def create_draft(client: TestClient, agency: Party, **changes: Any) -> dict[str, Any]:
    response = client.post("/api/v1/tenders", json=tender_body(**changes), headers=agency.auth)
    assert response.status_code == 201, response.text
    return response.json()


def upload(client: TestClient, agency: Party, tender_id: int, content: bytes) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/tenders/{tender_id}/documents", headers=agency.auth, data={"note": "第一版"},
        files={"file": ("招标文件.pdf", content, "application/pdf")},
    )
    assert response.status_code == 201, response.text
    return response.json()


def _account(bidder: Party) -> Any:
    """What the factories' sealing needs to know of a bidder company."""
    return SimpleNamespace(credit_code=bidder.credit_code, org_name=bidder.name,
                           username=bidder.username)


def bid(run: Any, ctx: Any, client: TestClient, bidder: Party, tender_id: int, lot: int,
        price: str, manager: str) -> Any:
    """The bid sealed as ebid-client seals it, sent as the body (docs/submission.md)."""
    package = factories.seal_bid(run, ctx, _account(bidder), tender_id, price, lot=lot,
                                 project_manager=manager)
    return client.post(f"/api/v1/tenders/{tender_id}/bids?lot={lot}", content=package,
                       headers={**bidder.auth, "Content-Type": "application/octet-stream"})


def open_with_keys(client: TestClient, run: Any, ctx: Any, clock: FixedClock, tender_id: int,
                   bidders: list[Party]) -> None:
    """The opening: after the intake grace the window opens, every bidder's client sends the
    key of each of its current bids over the API, and the scheduler closes the opening."""
    clock.set(DEADLINE + timedelta(seconds=ctx.settings.intake_grace_seconds))
    run(services.advance_due, ctx)
    for bidder in bidders:
        opening = ok(client.get(f"/api/v1/tenders/{tender_id}/opening", headers=bidder.auth))
        for mine in (b for b in opening["bids"] if b["mine"]):
            body = factories.key_message(run, ctx, _account(bidder), mine["bid_id"])
            answer = ok(client.post(f"/api/v1/tenders/{tender_id}/bids/{mine['bid_id']}/key",
                                    headers=bidder.auth, json=body))
            assert answer["decryption"] == "decrypted", answer
    run(services.advance_due, ctx)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def refused(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    data = response.json()
    assert data["error"] == code, data
    return str(data["message"])


def published_tender(client: TestClient, clock: FixedClock, people: People) -> dict[str, Any]:
    draft = create_draft(client, people.agency)
    upload(client, people.agency, draft["id"], b"%PDF-1.7 tender documents")
    clock.set(PUBLISH_AT)
    return ok(client.post(f"/api/v1/tenders/{draft['id']}/publish", headers=people.agency.auth))


def assert_reveals_nobody(data: dict[str, Any], parties: list[Party]) -> None:
    text = json.dumps(data, ensure_ascii=False)
    for party in parties:
        for secret in (party.name, party.credit_code, party.username):
            assert secret not in text, f"{secret!r} leaked in {text}"
    for key in ("registrations", "bids_by_lot", "rankings", "opening", "awards"):
        assert key not in data
    others = {key: value for key, value in data.items() if key != "mine"}  # the viewer's own
    assert not [key for key in _keys(others) if "count" in key or "registr" in key]


def _keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [k for key, item in value.items() for k in (key, *_keys(item))]
    if isinstance(value, list):
        return [k for item in value for k in _keys(item)]
    return []


# -- the whole life of a tender ---------------------------------------------------------------


def test_tender_lifecycle_over_the_api(client: TestClient, run: Any, ctx: Any,
                                       clock: FixedClock) -> None:
    people = make_people(client, run, ctx)
    agency, b1, b2, b3, b4 = people.agency, *people.bidders

    # The centre's admin adds an opening room; the agency books it with the tender.
    room = ok(client.post("/api/v1/rooms", json={"name": "第一开标室", "location": "三楼",
                                                 "capacity": 40},
                          headers=people.admin.auth), 201)
    assert [r["name"] for r in ok(client.get("/api/v1/rooms", headers=agency.auth))] == [
        "第一开标室"]

    # Registered as a draft: only the agency (and the supervisor) can see it.
    draft = create_draft(client, agency, room_id=room["id"])
    tid = draft["id"]
    assert draft["status"] == "draft"
    assert draft["estimate"] == "12000000.00" and draft["deposit"] == "200000.00"
    assert draft["deadline_at"] == "2026-03-27T01:30:00Z"
    refused(client.get(f"/api/v1/tenders/{tid}"), 404, "tender_not_found")
    detail = ok(client.get(f"/api/v1/tenders/{tid}", headers=agency.auth))
    assert [(lot["number"], lot["estimate"]) for lot in detail["lots"]] == [
        (1, "8000000.00"), (2, "4000000.00")]
    assert detail["room"]["name"] == "第一开标室"

    # The draft can still change; the lots are kept.
    updated = ok(client.put(f"/api/v1/tenders/{tid}", headers=agency.auth,
                            json=tender_body(room_id=room["id"], region="城西新区")))
    assert updated["region"] == "城西新区"

    # No documents, no announcement.
    refused(client.post(f"/api/v1/tenders/{tid}/publish", headers=agency.auth), 409,
            "documents_required")
    doc = upload(client, agency, tid, b"%PDF-1.7 tender documents v1")
    assert doc["version"] == 1 and len(doc["sha256"]) == 64

    # Published ten days later, the deadline would leave bidders fewer than 20 days.
    clock.set(T0 + timedelta(days=10))
    message = refused(client.post(f"/api/v1/tenders/{tid}/publish?lang=en",
                                  headers=agency.auth), 400, "deadline_too_soon")
    assert "20 days" in message
    clock.set(PUBLISH_AT)
    published = ok(client.post(f"/api/v1/tenders/{tid}/publish", headers=agency.auth,
                               json={"issue_days": 6}))
    assert published["status"] == "published"
    assert published["issued_at"] == "2026-03-02T02:00:00Z"
    # Six days from Monday end on a Sunday: on sale until the end of Monday 9 March.
    assert published["issue_ends_at"] == "2026-03-09T16:00:00Z"

    # Public now: in the list and the notices.
    listed = ok(client.get("/api/v1/tenders", params={"q": "污水", "status": "published"}))
    assert [t["id"] for t in listed["items"]] == [tid] and listed["total"] == 1
    notices = ok(client.get("/api/v1/notices", params={"kind": "announcement"}))
    assert notices["total"] == 1 and "body" not in notices["items"][0]
    notice = ok(client.get(f"/api/v1/notices/{notices['items'][0]['id']}"))
    assert notice["tender_id"] == tid and "城西水务投资有限公司" in notice["body"]

    # Bidders register, download the documents and ask; one objects to the documents.
    clock.set(PUBLISH_AT + timedelta(days=1))
    regs = {p.username: ok(client.post(f"/api/v1/tenders/{tid}/registration",
                                       headers=p.auth), 201) for p in (b1, b2, b3, b4)}
    refused(client.post(f"/api/v1/tenders/{tid}/registration", headers=b1.auth), 409,
            "already_registered")
    download = client.get(f"/api/v1/tenders/{tid}/documents/{doc['id']}", headers=b1.auth)
    assert download.status_code == 200
    assert download.content == b"%PDF-1.7 tender documents v1"
    assert download.headers["x-content-sha256"] == doc["sha256"]
    question = ok(client.post(f"/api/v1/tenders/{tid}/questions", headers=b2.auth,
                              json={"text": "第一标段是否允许联合体投标？"}), 201)
    clar = ok(client.post(f"/api/v1/tenders/{tid}/clarifications", headers=agency.auth,
                          json={"body": "第一标段不接受联合体投标。",
                                "answers": [question["id"]]}), 201)
    assert clar["number"] == 1 and clar["moved_deadline_to"] is None

    objection = ok(client.post(f"/api/v1/tenders/{tid}/objections", headers=b3.auth,
                               json={"stage": "documents",
                                     "text": "第二标段技术参数指向特定品牌，请予以修改。"}), 201)
    assert ok(client.get(f"/api/v1/tenders/{tid}"))["status"] == "suspended"
    ok(client.post(f"/api/v1/tenders/{tid}/objections/{objection['id']}/answer",
                   headers=agency.auth, json={"answer": "已删除品牌指向性参数，详见第2号澄清。"}))
    assert ok(client.get(f"/api/v1/tenders/{tid}"))["status"] == "published"

    # Bids: three on lot 1, two on lot 2 (which therefore fails); one replaced, one withdrawn.
    clock.set(T0 + timedelta(days=20))
    ok(bid(run, ctx, client, b1, tid, 1, "10980000.00", "张工"), 201)
    first = ok(bid(run, ctx, client, b2, tid, 1, "11200000", "李工"), 201)
    second = ok(bid(run, ctx, client, b2, tid, 1, "11050000.00", "李工"), 201)
    assert second["bid_id"] != first["bid_id"] and second["receipt"]
    assert second["receipt_fields"]["received_at"] == "2026-03-22T01:00:00.000000Z"
    ok(bid(run, ctx, client, b3, tid, 1, "11100000.00", "王工"), 201)
    ok(bid(run, ctx, client, b1, tid, 2, "3900000.00", "赵工"), 201)
    ok(bid(run, ctx, client, b4, tid, 2, "3950000.00", "钱工"), 201)
    extra = ok(bid(run, ctx, client, b4, tid, 1, "11000000.00", "孙工"), 201)
    withdrawn = ok(client.post(f"/api/v1/tenders/{tid}/bids/{extra['bid_id']}/withdraw",
                               headers=b4.auth))
    assert withdrawn["status"] == "withdrawn" and withdrawn["lot"] == 1
    again = client.post(f"/api/v1/tenders/{tid}/bids/{extra['bid_id']}/withdraw",
                        headers=b4.auth)
    assert again.status_code == 409 and again.json()["error"] == "bid_not_current"
    assert "withdrawn on 2026-03-22" in client.post(
        f"/api/v1/tenders/{tid}/bids/{extra['bid_id']}/withdraw",
        headers={**b4.auth, "accept-language": "en"}).json()["message"]

    # Sealed until the opening: nobody but the bidder itself learns who or how many.
    for viewer, others in (
        (agency, [b1, b2, b3, b4]),
        (people.supervisor, [b1, b2, b3, b4]),
        (b4, [b1, b2, b3]),
        (None, [b1, b2, b3, b4]),
    ):
        seen = ok(client.get(f"/api/v1/tenders/{tid}",
                             headers=viewer.auth if viewer else {}))
        assert seen["sealed"] is True
        assert_reveals_nobody(seen, others)
    as_agency = ok(client.get(f"/api/v1/tenders/{tid}", headers=agency.auth))
    assert [q["text"] for q in as_agency["questions"]] == ["第一标段是否允许联合体投标？"]
    assert as_agency["objections"][0]["by"] == ""
    # The audit trail shows no chain positions: their gaps would count the sealed events.
    assert as_agency["audit"] and all("seq" not in event for event in as_agency["audit"])
    mine = ok(client.get(f"/api/v1/tenders/{tid}", headers=b2.auth))["mine"]
    assert mine["registration"]["id"] == regs["bidder-2"]["id"]
    assert {(b["id"], b["status"]) for b in mine["bids"]} == {
        (first["bid_id"], "superseded"), (second["bid_id"], "submitted")}

    # The deadline passes: late bids are refused, naming the deadline.
    clock.set(DEADLINE + timedelta(minutes=1))
    message = refused(bid(run, ctx, client, b4, tid, 1, "10000000.00", "孙工"), 409,
                      "deadline_passed")
    assert "2026-03-27 09:30" in message
    open_with_keys(client, run, ctx, clock, tid, [b1, b2, b3, b4])

    # Opened: lot 2 failed, the record is public, insiders see the registrations.
    public = ok(client.get(f"/api/v1/tenders/{tid}"))
    assert public["status"] == "opened" and public["sealed"] is False
    assert [lot["failed"] for lot in public["lots"]] == [False, True]
    assert {r["bidder"] for r in public["opening"]["rows"] if r["lot"] == 1} == {
        b1.name, b2.name, b3.name}
    assert "registrations" not in public
    as_agency = ok(client.get(f"/api/v1/tenders/{tid}", headers=agency.auth))
    assert {r["credit_code"] for r in as_agency["registrations"]} == {
        b.credit_code for b in (b1, b2, b3, b4)}
    for reg in as_agency["registrations"]:
        ok(client.post(f"/api/v1/tenders/{tid}/deposits", headers=agency.auth,
                       json={"registration_id": reg["id"], "received": True}))
    lot1 = {row["name"]: row["id"] for row in as_agency["bids_by_lot"]["1"]}

    # Evaluation: the ranking, then the candidates' publicity.
    ranked = ok(client.post(
        f"/api/v1/tenders/{tid}/lots/1/ranking", headers=agency.auth,
        json={"ranking": [{"bid_id": lot1[b1.name], "score": "95.50"},
                          {"bid_id": lot1[b3.name], "score": 91},
                          {"bid_id": lot1[b2.name], "score": None}]}))
    assert [(r["rank"], r["score"]) for r in ranked] == [(1, "95.50"), (2, "91.00"), (3, None)]
    clock.advance(days=1)
    publicity = ok(client.post(f"/api/v1/tenders/{tid}/candidates", headers=agency.auth))
    assert publicity["status"] == "publicity"
    refused(client.post(f"/api/v1/tenders/{tid}/award", headers=agency.auth), 409,
            "publicity_not_over")

    # After the publicity: award (first-ranked by default), contract, report.
    ends = datetime.fromisoformat(publicity["publicity_ends_at"])
    clock.set(ends + timedelta(hours=9))
    awarded = ok(client.post(f"/api/v1/tenders/{tid}/award", headers=agency.auth,
                             json={"winners": {"1": lot1[b1.name]}}))
    assert awarded["status"] == "awarded"
    assert ok(client.get(f"/api/v1/tenders/{tid}"))["awards"][0]["name"] == b1.name
    clock.advance(days=7)
    contract = ok(client.post(
        f"/api/v1/tenders/{tid}/lots/1/contract", headers=agency.auth,
        json={"signed_at": rfc3339(clock.now() - timedelta(days=1)), "amount": "10980000"}))
    assert contract["contract_amount"] == "10980000.00"
    summary = ("本项目依法公开招标，第一标段评标委员会推荐三名中标候选人，"
               "公示期内无异议，已确定中标人并签订合同。")
    report = ok(client.post(f"/api/v1/tenders/{tid}/report", headers=agency.auth,
                            json={"body": summary}), 201)
    assert report["filed_at"].endswith("Z")
    final = ok(client.get(f"/api/v1/tenders/{tid}", headers=people.supervisor.auth))
    assert final["status"] == "closed"
    assert final["awards"][0]["contract_amount"] == "10980000.00"
    assert final["report"]["body"].startswith("本项目")
    assert Decimal(final["bids_by_lot"]["1"][0]["price"]) == Decimal("10980000.00")


def test_failed_tender_is_rerun_as_a_new_draft(client: TestClient, run: Any, ctx: Any,
                                               clock: FixedClock) -> None:
    people = make_people(client, run, ctx, bidders=2)
    tender = published_tender(client, clock, people)
    tid = tender["id"]
    for p in people.bidders:
        ok(client.post(f"/api/v1/tenders/{tid}/registration", headers=p.auth), 201)
        ok(bid(run, ctx, client, p, tid, 1, "10000000.00", "张工"), 201)
    open_with_keys(client, run, ctx, clock, tid, people.bidders)
    assert ok(client.get(f"/api/v1/tenders/{tid}"))["status"] == "failed"
    copy = ok(client.post(f"/api/v1/tenders/{tid}/rerun", headers=people.agency.auth,
                          json={"deadline_at": "2026-05-08T09:30:00+08:00"}), 201)
    assert copy["status"] == "draft" and copy["rerun_of"] == tid
    assert copy["title"].endswith("（重新招标）")


def test_invited_tender_admits_only_the_invited(client: TestClient, run: Any, ctx: Any,
                                               clock: FixedClock) -> None:
    people = make_people(client, run, ctx, bidders=2)
    invited, outsider = people.bidders
    draft = create_draft(client, people.agency, method="invited")
    tid = draft["id"]
    sent = ok(client.post(f"/api/v1/tenders/{tid}/invitations", headers=people.agency.auth,
                          json={"credit_code": invited.credit_code}), 201)
    assert sent["credit_code"] == invited.credit_code
    refused(client.post(f"/api/v1/tenders/{tid}/invitations", headers=people.agency.auth,
                        json={"credit_code": make_code("nobody")}), 400, "invalid_input")
    upload(client, people.agency, tid, b"%PDF-1.7 invited")
    clock.set(PUBLISH_AT)
    ok(client.post(f"/api/v1/tenders/{tid}/publish", headers=people.agency.auth))
    refused(client.post(f"/api/v1/tenders/{tid}/registration", headers=outsider.auth), 403,
            "not_invited")
    ok(client.post(f"/api/v1/tenders/{tid}/registration", headers=invited.auth), 201)
    as_agency = ok(client.get(f"/api/v1/tenders/{tid}", headers=people.agency.auth))
    assert [i["credit_code"] for i in as_agency["invitations"]] == [invited.credit_code]
    assert ok(client.get(f"/api/v1/tenders/{tid}", headers=invited.auth))["mine"]["invited"]


# -- refusals -------------------------------------------------------------------------------


def test_bad_input_is_refused_with_the_reason(client: TestClient, run: Any, ctx: Any,
                                              clock: FixedClock) -> None:
    people = make_people(client, run, ctx, bidders=1)
    agency = people.agency

    response = client.post("/api/v1/tenders", content=b'{"title": "x",', headers={
        **agency.auth, "content-type": "application/json"})
    assert response.status_code == 400
    assert response.json() == {"error": "http_error", "message": "The body is not valid JSON"}
    response = client.post("/api/v1/tenders", json=["not", "an", "object"], headers=agency.auth)
    assert response.status_code == 400

    body = tender_body()
    del body["title"]
    message = refused(client.post("/api/v1/tenders?lang=en", json=body, headers=agency.auth),
                      400, "invalid_input")
    assert message == "Invalid input: title: is required"
    for naive in ("2026-03-27T09:30:00", "2026-03-27", "27/03/2026 09:30", 1774575000):
        message = refused(client.post("/api/v1/tenders?lang=en", headers=agency.auth,
                                      json=tender_body(deadline_at=naive)), 400, "invalid_input")
        assert message.startswith("Invalid input: deadline_at: must be an RFC 3339 date-time")
    message = refused(client.post("/api/v1/tenders?lang=en", headers=agency.auth,
                                  json=tender_body(estimate="lots")), 400, "invalid_input")
    assert "estimate" in message
    refused(client.post("/api/v1/tenders", headers=agency.auth,
                        json=tender_body(lots=[{"title": "一", "estimate": "many"}])),
            400, "invalid_input")
    refused(client.post("/api/v1/tenders", headers=agency.auth,
                        json=tender_body(deposit="1000000.00")), 400, "deposit_too_high")
    for too_long in ({"tenderer_name": "招" * 201}, {"region": "区" * 101},
                     {"lots": [{"title": "标" * 301, "estimate": "1000"}]}):
        message = refused(client.post("/api/v1/tenders?lang=en", headers=agency.auth,
                                      json=tender_body(**too_long)), 400, "invalid_input")
        assert "at most" in message

    tender = published_tender(client, clock, people)
    tid = tender["id"]
    refused(client.post(f"/api/v1/tenders/{tid}/deposits", headers=agency.auth,
                        json={"registration_id": 1, "received": "yes"}), 400, "invalid_input")
    refused(client.post(f"/api/v1/tenders/{tid}/documents", headers=agency.auth,
                        data={"note": "no file"}), 400, "invalid_input")
    bidder = people.bidders[0]
    ok(client.post(f"/api/v1/tenders/{tid}/registration", headers=bidder.auth), 201)
    octets = {**bidder.auth, "Content-Type": "application/octet-stream"}
    package = factories.seal_bid(run, ctx, _account(bidder), tid, "100.00")
    response = client.post(f"/api/v1/tenders/{tid}/bids?lot=x", headers=octets,
                           content=package)
    assert "lot" in refused(response, 400, "invalid_input")
    response = client.post(f"/api/v1/tenders/{tid}/bids?lot=1", headers=octets,
                           content=b"PK\x03\x04 not a sealed package")
    refused(response, 400, "malformed_package")
    response = client.post(f"/api/v1/tenders/{tid}/bids", headers=bidder.auth,
                           data={"lot": "1", "price": "100"},
                           files={"file": ("a.zip", b"x", "application/zip")})
    refused(response, 415, "sealed_package_expected")
    refused(client.post(f"/api/v1/tenders/{tid}/postpone", headers=agency.auth,
                        json={"deadline_at": "2026-04-03T09:30:00", "reason": "图纸修改"}),
            400, "invalid_input")
    moved = ok(client.post(f"/api/v1/tenders/{tid}/postpone", headers=agency.auth,
                           json={"deadline_at": "2026-04-03T01:30:00Z", "reason": "图纸修改"}))
    assert moved["deadline_at"] == "2026-04-03T01:30:00Z"
    refused(client.get("/api/v1/tenders/99999999999"), 404, "tender_not_found")


def test_roles_and_login_are_enforced(client: TestClient, run: Any, ctx: Any,
                                      clock: FixedClock) -> None:
    people = make_people(client, run, ctx, bidders=1)
    bidder = people.bidders[0]
    refused(client.post("/api/v1/tenders", json=tender_body()), 401, "login_required")
    refused(client.post("/api/v1/tenders", json=tender_body(),
                        headers={"Authorization": "Bearer not-a-token"}), 401, "login_required")
    refused(client.post("/api/v1/tenders", json=tender_body(), headers=bidder.auth), 403,
            "permission_denied")
    refused(client.get("/api/v1/rooms", headers=bidder.auth), 403, "permission_denied")
    refused(client.post("/api/v1/rooms", json={"name": "二号"}, headers=people.agency.auth),
            403, "permission_denied")

    tender = published_tender(client, clock, people)
    tid = tender["id"]
    refused(client.post(f"/api/v1/tenders/{tid}/registration", headers=people.agency.auth),
            403, "permission_denied")
    refused(client.post(f"/api/v1/tenders/{tid}/registration"), 401, "login_required")
    refused(client.post(f"/api/v1/tenders/{tid}/clarifications", headers=people.other_agency.auth,
                        json={"body": "不是我的项目"}), 403, "not_your_tender")
    refused(client.post(f"/api/v1/tenders/{tid}/candidates", headers=people.supervisor.auth),
            403, "permission_denied")
    # A bidder who has not registered may not download the documents.
    doc_id = ok(client.get(f"/api/v1/tenders/{tid}"))["documents"][0]["id"]
    refused(client.get(f"/api/v1/tenders/{tid}/documents/{doc_id}", headers=bidder.auth),
            409, "not_registered")


def test_openapi_lists_the_bidding_api(client: TestClient) -> None:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    schema = yaml.safe_load(response.text)  # YAML is a superset of JSON: either will do
    paths = schema["paths"]
    for path, method in (
        ("/api/v1/tenders", "get"), ("/api/v1/tenders", "post"),
        ("/api/v1/tenders/{tender_id}", "get"), ("/api/v1/tenders/{tender_id}", "put"),
        ("/api/v1/notices", "get"), ("/api/v1/notices/{notice_id}", "get"),
        ("/api/v1/tenders/{tender_id}/documents", "post"),
        ("/api/v1/tenders/{tender_id}/documents/{document_id}", "get"),
        ("/api/v1/tenders/{tender_id}/publish", "post"),
        ("/api/v1/tenders/{tender_id}/postpone", "post"),
        ("/api/v1/tenders/{tender_id}/clarifications", "post"),
        ("/api/v1/tenders/{tender_id}/invitations", "post"),
        ("/api/v1/tenders/{tender_id}/deposits", "post"),
        ("/api/v1/tenders/{tender_id}/lots/{lot_number}/ranking", "post"),
        ("/api/v1/tenders/{tender_id}/candidates", "post"),
        ("/api/v1/tenders/{tender_id}/objections/{objection_id}/answer", "post"),
        ("/api/v1/tenders/{tender_id}/award", "post"),
        ("/api/v1/tenders/{tender_id}/lots/{lot_number}/contract", "post"),
        ("/api/v1/tenders/{tender_id}/report", "post"),
        ("/api/v1/tenders/{tender_id}/rerun", "post"),
        ("/api/v1/tenders/{tender_id}/registration", "post"),
        ("/api/v1/tenders/{tender_id}/bids", "post"),
        ("/api/v1/tenders/{tender_id}/bids/{bid_id}/withdraw", "post"),
        ("/api/v1/tenders/{tender_id}/questions", "post"),
        ("/api/v1/tenders/{tender_id}/objections", "post"),
        ("/api/v1/rooms", "get"), ("/api/v1/rooms", "post"),
    ):
        operation = paths[path][method]
        assert operation["summary"], (path, method)
        listing = method == "get" and path in ("/api/v1/tenders", "/api/v1/notices")
        assert listing or any(int(code) >= 400 for code in operation["responses"]), path


@pytest.mark.parametrize("route_name", ["bidding:api-tenders", "bidding:api-tender"])
def test_public_routes_are_explicitly_public(client: TestClient, route_name: str) -> None:
    from kernel.http import PUBLIC

    route = next(r for r in client.app.routes if getattr(r, "name", "") == route_name)
    assert route.roles is PUBLIC  # type: ignore[attr-defined]
