"""The remote opening over HTTP, as its participants live it: bidders send their keys through
the API (as ebid-client decrypt does), watch the opening page and its JSON, object on the page;
the agency answers there; two officers submit their shares; the signed record is downloaded."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import factories
import pytest

from bidding import services
from signing import cms

PRICES = ("10980000.00", "11020000.00", "11160000.00")


@pytest.fixture(autouse=True)
def _cheap(monkeypatch: pytest.MonkeyPatch) -> None:
    factories.cheap_password_hashing(monkeypatch)


def test_an_opening_from_the_deadline_to_the_signed_record(
    client: Any, run: Any, ctx: Any, clock: Any
) -> None:
    agency = factories.make_agency(run, ctx)
    officers = factories.opening_officers(run, ctx, agency)
    bidders = [factories.make_bidder(run, ctx, f"live{n}") for n in range(3)]
    made = factories.make_tender(run, ctx, clock, agency, "published", bidders=bidders,
                                 prices=[])
    for bidder, price in zip(bidders, PRICES, strict=True):
        made.bid_ids[bidder.username] = factories.submit_sealed(run, ctx, bidder, made.id,
                                                                price)[0]
    a, b, c = bidders
    api = {who.username: factories.login(client, who, api=True) for who in bidders}
    opening_url = f"/api/v1/tenders/{made.id}/opening"

    # Before the opening nothing about the bids, whoever asks; no key is taken.
    sealed = api[c.username].get(opening_url).json()
    assert sealed["status"] == "published" and sealed["bids"] == []
    a_bid = made.bid_ids[a.username]
    early = api[a.username].post(f"/api/v1/tenders/{made.id}/bids/{a_bid}/key",
                                 json=factories.key_message(run, ctx, a, a_bid))
    assert early.status_code == 409 and early.json()["error"] == "transition_not_allowed"

    clock.set(made.deadline_at + timedelta(seconds=ctx.settings.intake_grace_seconds))
    run(services.advance_due, ctx)
    api = {who.username: factories.login(client, who, api=True) for who in bidders}
    live = api[c.username].get(opening_url).json()
    assert live["status"] == "opening" and live["shares"] == {"submitted": 0, "threshold": 2}
    assert {(x["bidder"], x["decryption"], x["price"]) for x in live["bids"]} == {
        (who.org_name, "pending", None) for who in bidders}
    assert [x["mine"] for x in live["bids"] if x["bidder"] == c.org_name] == [True]

    # A sends its key; B first a wrong one (refused with the reason), then the right one.
    def send(who: factories.Account, **options: Any) -> Any:
        bid_id = made.bid_ids[who.username]
        return api[who.username].post(f"/api/v1/tenders/{made.id}/bids/{bid_id}/key",
                                      json=factories.key_message(run, ctx, who, bid_id,
                                                                 **options))

    assert send(a).json()["decryption"] == "decrypted"
    wrong = send(b, data_key=bytes(32))
    assert wrong.status_code == 400 and wrong.json()["error"] == "wrong_data_key"
    assert send(b).json()["decryption"] == "decrypted"
    # Prices are read out when the window is over: meanwhile each bidder sees its own.
    seen = {x["bidder"]: x for x in api[c.username].get(opening_url).json()["bids"]}
    assert seen[a.org_name]["price"] is None and seen[c.org_name]["price"] is None
    own = {x["bidder"]: x for x in api[a.username].get(opening_url).json()["bids"]}
    assert own[a.org_name]["price"] == PRICES[0] and own[b.org_name]["price"] is None

    # C objects on the opening page; the agency answers there.
    browser_c = factories.login(client, c)
    page = browser_c.get(f"/tenders/{made.id}/opening")
    assert page.template.name == "bidding/opening.html"  # type: ignore[attr-defined]
    objected = factories.submit(browser_c, page.text, f"/tenders/{made.id}/objections",
                                text="开标现场异议：我方解密时间内网络中断，请求由开标人员代为解密。")
    assert objected.status_code == 200
    browser_agency = factories.login(client, agency)
    page = browser_agency.get(f"/tenders/{made.id}/opening")
    objection = page.context["opening"]["objections"][0]  # type: ignore[attr-defined]
    answered = factories.submit(
        browser_agency, page.text, f"/tenders/{made.id}/objections/{objection['id']}/answer",
        answer="已记录；解密时间结束后由开标人员以密钥份额代为解密。")
    assert answered.status_code == 200
    assert "已记录" in browser_c.get(f"/tenders/{made.id}/opening").text

    # Two officers submit their shares; the window closes; C's bid is recovered.
    for role in ("agency", "supervisor"):
        officer = officers[role]
        account = factories.new_client(client)
        session = account.post("/api/v1/session", json={
            "username": officer.actor.username, "password": factories.PASSWORD})
        account.headers["Authorization"] = f"Bearer {session.json()['token']}"
        index, share = factories.officer_share(run, officer, made.id)
        answer = account.post(f"/api/v1/tenders/{made.id}/opening/shares",
                              json={"index": index, "share": share})
        assert answer.status_code == 200, answer.text
    assert answer.json() == {"submitted": 2, "threshold": 2}
    clock.advance(minutes=30)
    run(services.advance_due, ctx)
    done = api[c.username].get(opening_url).json()
    assert done["status"] == "opened"
    assert {x["bidder"]: x["decryption"] for x in done["bids"]}[c.org_name] == "recovered"
    assert {x["bidder"]: x["price"] for x in done["bids"]} == {
        who.org_name: price for who, price in zip(bidders, PRICES, strict=True)}
    assert len(done["record"]["rows"]) == 3

    # The signed record, public, and what the page links to.
    anonymous = factories.new_client(client)
    record = anonymous.get(f"/api/v1/tenders/{made.id}/opening/record")
    assert record.status_code == 200
    assert record.headers["content-type"] == "application/pkcs7-mime"
    content, _ = cms.verify_attached(record.content, what="record")
    assert base64.b64encode(content) and c.org_name in content.decode()
    page = browser_c.get(f"/tenders/{made.id}/opening")
    assert f"/api/v1/tenders/{made.id}/opening/record" in page.text
    assert "开标记录表" in page.text

    # The agency reads C's decrypted file from the opening page; another bidder cannot.
    page = browser_agency.get(f"/tenders/{made.id}/opening")
    c_bid = next(x for x in page.context["opening"]["bids"]  # type: ignore[attr-defined]
                 if x["bidder"] == c.org_name)
    link = f"/bids/{c_bid['bid_id']}/opened-file?file={c_bid['files'][0]['id']}"
    assert link in page.text
    assert browser_agency.get(link).content == factories.bid_bytes(c, made.id, 1, PRICES[2])
    other = factories.login(client, a).get(link)
    assert other.status_code == 404



def test_the_opening_room_link_is_offered_only_to_those_who_can_enter(
    client: Any, run: Any, ctx: Any, clock: Any
) -> None:
    agency = factories.make_agency(run, ctx)
    made = factories.make_tender(run, ctx, clock, agency, "opened")
    link = f'href="/tenders/{made.id}/opening"'
    anonymous = factories.new_client(client)
    assert link not in anonymous.get(f"/tenders/{made.id}").text
    assert anonymous.get(f"/tenders/{made.id}/opening",
                         follow_redirects=False).status_code in (302, 303)
    bidder = factories.session_client(client, run, ctx, made.bidders[0])
    assert link in bidder.get(f"/tenders/{made.id}").text
