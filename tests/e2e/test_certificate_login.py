"""Certificate login over HTTP, end to end, as the centre admin, ebid-client and a browser do it.

The admin accepts the CAs and their CRLs on /admin/cas; the bidder's client signs the
platform's challenge with the key of its PKCS#12 file and opens the one-time link in the
browser; the bearer token then drives a resumable upload of a sealed bid. When the CA revokes
the certificate and the admin uploads the new CRL, the next login is refused with the reason.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import factories
from conftest import T0
from cryptography.hazmat.primitives.serialization import pkcs12

from kernel.http import SESSION_COOKIE
from signing import cms
from signing.pki import DevPKI
from signing.pki.devpki import write_pair

P12_PASSWORD = "p12-Pass-2026"


def _admin_page_upload(browser: Any, action: str, field: str, name: str, data: bytes,
                       **extra: str) -> Any:
    page = browser.get("/admin/cas")
    form = next(f for f in factories.forms_of(page.text) if f.value("action") == action)
    return browser.post(form.action, data={**dict(form.fields), **extra},
                        files={field: (name, data, "application/octet-stream")})


def client_login(client: Any, p12: Path) -> dict[str, Any]:
    """What `ebid-client login --p12 FILE` does: challenge, detached CMS with the chain, answer."""
    key, certificate, chain = pkcs12.load_key_and_certificates(p12.read_bytes(),
                                                               P12_PASSWORD.encode())
    assert key is not None and certificate is not None
    tool = factories.new_client(client)
    challenge = base64.b64decode(tool.post("/api/v1/auth/challenge").json()["challenge"])
    signature = cms.sign_detached(challenge, key=key, certificate=certificate,  # type: ignore[arg-type]
                                  chain=chain)
    answer = tool.post("/api/v1/auth/certificate", json={
        "challenge": base64.b64encode(challenge).decode(),
        "signature": base64.b64encode(signature).decode(),
    })
    return {"status": answer.status_code, **answer.json()}


def test_admin_accepts_the_ca_bidder_logs_in_with_its_certificate_then_is_revoked(
    client, run, ctx, clock, tmp_path, monkeypatch
):
    factories.cheap_password_hashing(monkeypatch)
    admin = factories.make_admin(run, ctx)
    pki = DevPKI.create(tmp_path / "pki", now=T0, families=("ec",))

    browser = factories.login(client, admin)
    for name, data in (("root.crt.pem", (pki.directory / "ec/root.crt.pem").read_bytes()),
                       ("issuing.crt.pem", (pki.directory / "ec/intermediate.crt.pem")
                        .read_bytes())):
        added = _admin_page_upload(browser, "add_ca", "certificate", name, data)
        assert added.status_code == 200 and "done=add_ca" in str(added.url)
    for authority in ("ec/root", "ec/intermediate"):
        crl = _admin_page_upload(browser, "upload_crl", "crl", "ca.crl",
                                 pki.crl_path(authority).read_bytes())
        assert "done=upload_crl" in str(crl.url)

    # The company signs up in the browser; its CA issues the certificate pair as PKCS#12.
    fields = factories.bidder_fields("Certlogin")
    visitor = factories.new_client(client)
    visitor.get("/signup")
    signed_up = visitor.post("/signup", data=factories.with_csrf(visitor, **fields))
    assert signed_up.status_code == 200, signed_up.text
    pair = pki.issue(kind="company", name=fields["name"], credit_code=fields["credit_code"],
                     now=T0, family="ec")
    p12, _ = write_pair(pair, tmp_path / "company.p12", password=P12_PASSWORD)

    login_page = factories.new_client(client).get("/login")
    assert "ebid-client login --p12" in login_page.text

    answer = client_login(client, p12)
    assert answer["status"] == 200, answer
    assert answer["user"]["username"] == fields["username"]
    assert answer["user"]["organization"]["name"] == fields["name"]

    # The client opens the link in the user's browser: logged in, on the workspace.
    user_browser = factories.new_client(client)
    workspace = user_browser.get(answer["login_url"])
    assert workspace.status_code == 200 and workspace.url.path == "/workspace"
    assert user_browser.cookies.get(SESSION_COOKIE)
    assert fields["name"] in workspace.text
    bearer = {"Authorization": f"Bearer {answer['token']}"}
    assert client.get("/api/v1/me", headers=bearer).json()["username"] == fields["username"]
    key = client.get("/api/v1/fingerprint-key", headers=bearer).json()["key"]
    assert len(base64.b64decode(key)) == 32

    # The CA revokes the certificate; the admin uploads the new CRL; the login is refused.
    clock.advance(hours=1)
    pki.revoke(pair.signing.certificate.serial_number, now=clock.now())
    pki.publish_crls("ec", now=clock.now())
    clock.advance(minutes=1)
    browser = factories.login(client, admin)  # a new session: the clock moved on
    _admin_page_upload(browser, "upload_crl", "crl", "issuing.crl",
                       pki.crl_path("ec/intermediate").read_bytes())
    refused = client_login(client, p12)
    assert refused["status"] == 400 and refused["error"] == "certificate_revoked"
    assert pair.signing.certificate.subject.rfc4514_string().split(",")[0] in refused["message"]


def test_a_certificate_session_uploads_a_sealed_bid_in_chunks(client, run, ctx, clock,
                                                                tmp_path):
    agency = factories.make_agency(run, ctx)
    bidder = factories.make_bidder(run, ctx, "certup")
    made = factories.make_tender(run, ctx, clock, agency, bidders=[bidder])  # trusts dev PKI
    credentials = factories.bidder_credentials(bidder)
    p12, _ = write_pair(credentials.pair, tmp_path / "bidder.p12", password=P12_PASSWORD)
    answer = client_login(client, p12)
    assert answer["status"] == 200, answer
    api = factories.new_client(client)
    api.headers["Authorization"] = f"Bearer {answer['token']}"

    package = factories.seal_bid(run, ctx, bidder, made.id, "10980000.00")
    started = api.post(f"/api/v1/tenders/{made.id}/uploads", json={
        "lot": 1, "size": len(package), "sha256": hashlib.sha256(package).hexdigest()})
    assert started.status_code == 201, started.text
    upload_id, step = started.json()["upload_id"], 4096
    offset = 0
    while offset < len(package):
        put = api.put(f"/api/v1/uploads/{upload_id}?offset={offset}",
                      content=package[offset:offset + step])
        assert put.status_code == 200, put.text
        offset = put.json()["offset"]
        clock.advance(seconds=1)
    last_byte = clock.now() - timedelta(seconds=1)
    done = api.post(f"/api/v1/uploads/{upload_id}/complete")
    assert done.status_code == 201, done.text
    assert done.json()["receipt_fields"]["package_sha256"] == hashlib.sha256(package).hexdigest()
    receipt = api.get(f"/api/v1/tenders/{made.id}/bids/{done.json()['bid_id']}/receipt")
    assert receipt.status_code == 200
    assert base64.b64decode(done.json()["receipt"]) == receipt.content
    received = done.json()["receipt_fields"]["received_at"]
    assert received.startswith(last_byte.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"))
