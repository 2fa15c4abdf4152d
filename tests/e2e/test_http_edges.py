"""What a user meets at the edges over HTTP: oversized uploads, bad input, languages, headers,
missing pages. Each refusal says why, and nothing already accepted is lost."""

from __future__ import annotations

import factories
import pytest

from bidding.models import Bid, TenderDocument


@pytest.fixture(autouse=True)
def _fast_hashing(monkeypatch) -> None:
    factories.cheap_password_hashing(monkeypatch)


@pytest.fixture
def settings(settings):
    # A small bid limit, so that a test can send a package over it.
    return settings.with_(max_bid_bytes=2 * 1024 * 1024)


@pytest.fixture
def open_tender(run, ctx, clock):
    agency = factories.make_agency(run, ctx)
    bidder = factories.make_bidder(run, ctx, "edge")
    made = factories.make_tender(run, ctx, clock, agency, state="published", bidders=[bidder])
    return made, agency, bidder


def _blobs(settings) -> list:
    root = settings.blob_dir
    return sorted(p for p in root.rglob("*") if p.is_file() and ".tmp" not in p.parts)


def test_oversized_bid_gets_413_with_the_limit_and_keeps_the_earlier_bid(
    client, run, ctx, settings, open_tender
) -> None:
    made, _, bidder = open_tender
    first = factories.submit_bid(run, ctx, bidder, made.id, "11000000")
    stored = _blobs(settings)
    browser = factories.session_client(client, run, ctx, bidder)
    too_big = b"x" * (settings.max_bid_bytes + 1)
    answer = browser.post(
        f"/tenders/{made.id}/sealed-bids", data=factories.with_csrf(browser, lot="1"),
        files={"package": ("bid.sealed", too_big, "application/octet-stream")},
    )
    assert answer.status_code == 413
    assert "2 MB" in answer.text and "上传文件过大" in answer.text
    # The earlier bid is still the current one, and nothing new was stored.
    assert [b.id for b in run(Bid.filter(tender_id=made.id, status="submitted").all)] == [first]
    assert _blobs(settings) == stored
    assert not list((settings.blob_dir / ".tmp").glob("*"))
    assert not list((settings.data_dir / "incoming").glob("*"))


def test_oversized_document_over_the_api_is_413_json(client, run, ctx, settings, open_tender):
    made, agency, _ = open_tender
    api = factories.session_client(client, run, ctx, agency, api=True)
    answer = api.post(
        f"/api/v1/tenders/{made.id}/documents",
        files={"file": ("big.pdf", b"y" * (settings.max_upload_bytes + 1), "application/pdf")},
    )
    assert answer.status_code == 413
    assert answer.json()["error"] == "payload_too_large"
    assert run(TenderDocument.filter(tender_id=made.id).count) == 1


def test_a_file_that_is_no_sealed_package_is_refused_naming_why(
    client, run, ctx, open_tender
) -> None:
    made, _, bidder = open_tender
    browser = factories.session_client(client, run, ctx, bidder)
    answer = browser.post(
        f"/tenders/{made.id}/sealed-bids", data=factories.with_csrf(browser, lot="1"),
        files={"package": ("bid.zip", b"PK\x03\x04 a zip, not a package", "application/zip")},
    )
    assert answer.status_code == 400
    assert answer.template.name == "error.html"
    assert "密封" in answer.context["message"] or "封装" in answer.context["message"]
    assert run(Bid.filter(tender_id=made.id).count) == 0


def test_a_form_upload_to_the_bid_api_is_415_naming_the_sealed_format(
    client, run, ctx, open_tender
) -> None:
    made, _, bidder = open_tender
    api = factories.session_client(client, run, ctx, bidder, api=True)
    answer = api.post(f"/api/v1/tenders/{made.id}/bids",
                      data={"lot": "1", "price": "10000000"},
                      files={"file": ("bid.zip", b"PK", "application/zip")})
    assert answer.status_code == 415
    assert answer.json()["error"] == "sealed_package_expected"
    assert run(Bid.filter(tender_id=made.id).count) == 0


def test_english_pages_and_errors(client, run, ctx, open_tender) -> None:
    made, _, _ = open_tender
    page = client.get(f"/tenders/{made.id}?lang=en")
    assert page.status_code == 200
    assert '<html lang="en">' in page.text and "Tender documents" in page.text
    # The choice sticks in a cookie.
    assert "Tender documents" in client.get(f"/tenders/{made.id}").text
    missing = client.get("/api/v1/tenders/999999?lang=en")
    assert missing.status_code == 404 and missing.json()["message"] == "Tender not found"


def test_chinese_by_default(client, open_tender) -> None:
    made, _, _ = open_tender
    page = client.get(f"/tenders/{made.id}")
    assert '<html lang="zh-CN">' in page.text and "招标文件" in page.text


def test_security_headers_on_every_page(client) -> None:
    answer = client.get("/")
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_unknown_page_is_a_friendly_404(client) -> None:
    answer = client.get("/no-such-page")
    assert answer.status_code == 404
    assert answer.template.name == "error.html" and "页面不存在" in answer.text


def test_huge_ids_are_not_found_not_server_errors(client) -> None:
    assert client.get("/tenders/99999999999").status_code == 404
    assert client.get("/api/v1/tenders/99999999999").status_code == 404


def test_form_without_csrf_token_is_refused_and_changes_nothing(
    client, run, ctx, open_tender
) -> None:
    made, agency, _ = open_tender
    browser = factories.session_client(client, run, ctx, agency)
    answer = browser.post(f"/tenders/{made.id}/clarifications", data={"body": "未带令牌的澄清"})
    assert answer.status_code == 403 and "表单已过期" in answer.text
    assert client.get(f"/tenders/{made.id}").text.count("澄清（答疑）") == 0
