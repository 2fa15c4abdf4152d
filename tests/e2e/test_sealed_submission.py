"""Sealed bids over HTTP: the public opening key, the one-shot API, downloads, the bid page."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import factories

from bidding.models import Tender
from signing import keys as platform_keys
from signing.receipts import verify_receipt


def _published(run: Any, ctx: Any, clock: Any) -> Any:
    agency = factories.make_agency(run, ctx)
    bidders = [factories.make_bidder(run, ctx, seed) for seed in ("http-a", "http-b")]
    return factories.make_tender(run, ctx, clock, agency, bidders=bidders)


def test_the_opening_key_is_public_once_published(
    client: Any, run: Any, ctx: Any, clock: Any
) -> None:
    made = _published(run, ctx, clock)
    answer = factories.new_client(client).get(f"/api/v1/tenders/{made.id}/opening-key")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["tender_id"] == made.id and body["mode"] == "either" and body["threshold"] == 2
    assert body["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert [o["role"] for o in body["officers"]] == ["agency", "supervisor", "centre"]
    assert all("ct" in share and "enc" in share for share in body["shares"])
    draft = factories.make_tender(run, ctx, clock, made.agency, state="draft")
    assert client.get(f"/api/v1/tenders/{draft.id}/opening-key").status_code == 404
    page = factories.new_client(client).get(f"/tenders/{made.id}")
    assert body["key_id"] in page.text and page.context["opening_key"].key_id == body["key_id"]


def test_the_one_shot_api_answers_receipts_and_refusals(
    client: Any, run: Any, ctx: Any, clock: Any
) -> None:
    made = _published(run, ctx, clock)
    bidder = made.bidders[0]
    api = factories.login(client, bidder, api=True)
    url = f"/api/v1/tenders/{made.id}/bids"
    package = factories.seal_bid(run, ctx, bidder, made.id, "10980000.00")
    octets = {"content-type": "application/octet-stream"}
    first = api.post(f"{url}?lot=1", content=package, headers=octets)
    assert first.status_code == 201, first.text
    body = first.json()
    receipt = base64.b64decode(body["receipt"])
    platform = platform_keys.load(ctx.settings, now=ctx.clock.now()).receipt.certificate
    assert verify_receipt(receipt, [platform]).to_dict() == body["receipt_fields"]
    assert body["receipt_fields"]["package_sha256"] == hashlib.sha256(package).hexdigest()

    again = api.post(f"{url}?lot=1", content=package, headers=octets)
    assert again.status_code == 200 and again.json() == body

    bid_url = f"{url}/{body['bid_id']}"
    download = api.get(f"{bid_url}/receipt")
    assert download.status_code == 200 and download.content == receipt
    assert download.headers["content-type"] == "application/pkcs7-mime"
    assert api.get(f"{bid_url}/package").content == package
    other = factories.login(client, made.bidders[1], api=True)
    assert other.get(f"{bid_url}/receipt").status_code == 404

    for query, data, code in (
        ("?lot=1", b"PK\x03\x04 a zip, not a package", "malformed_package"),
        ("?lot=1", package[:-7], "malformed_package"),
        ("?lot=2", package, "invalid_input"),
        ("", package, "invalid_input"),
    ):
        refused = api.post(f"{url}{query}", content=data, headers=octets)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"] in (code, "truncated_package"), refused.text
    foreign = factories.seal_bid(run, ctx, made.bidders[1], made.id, "10990000.00")
    refused = api.post(f"{url}?lot=1", content=foreign, headers=octets)
    assert refused.status_code == 403 and refused.json()["error"] == "certificate_not_the_bidders"


def test_the_bid_page_takes_a_sealed_package_and_shows_the_receipt(
    client: Any, run: Any, ctx: Any, clock: Any
) -> None:
    made = _published(run, ctx, clock)
    bidder = made.bidders[0]
    browser = factories.login(client, bidder)
    page = browser.get(f"/tenders/{made.id}")
    assert "ebid-client seal" in page.text
    package = factories.seal_bid(run, ctx, bidder, made.id, "10980000.00")
    answer = factories.submit(
        browser, page.text, f"/tenders/{made.id}/sealed-bids",
        files={"package": ("投标.sealed", package, "application/octet-stream")})
    assert answer.status_code == 201, answer.text
    assert answer.template.name == "bidding/bid-receipt.html"
    fields = answer.context["fields"]
    assert fields["package_sha256"] == hashlib.sha256(package).hexdigest()
    bid_id = answer.context["bid"].id
    tender = run(Tender.get, id=made.id)
    assert f"{tender.code} · {tender.title}" in answer.text  # the tender, not only its id
    shown = browser.get(f"/tenders/{made.id}/bids/{bid_id}/receipt?lang=en")
    assert f"{tender.code} · {tender.title}" in shown.text and "（" not in shown.text
    p7m = browser.get(f"/tenders/{made.id}/bids/{bid_id}/receipt.p7m")
    assert p7m.status_code == 200 and p7m.content == bytes(answer.context["bid"].receipt)
    again = browser.get(f"/tenders/{made.id}")
    assert f"/tenders/{made.id}/bids/{bid_id}/receipt" in again.text
    refused = factories.submit(
        browser, again.text, f"/tenders/{made.id}/sealed-bids",
        files={"package": ("x.sealed", b"not sealed", "application/octet-stream")})
    assert refused.status_code == 400
