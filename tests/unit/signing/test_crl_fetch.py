"""signing.crl_fetch: CRLs fetched from a real local HTTP server, checked like uploads, hourly."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import factories
import pytest
from conftest import T0
from cryptography.hazmat.primitives.serialization import Encoding

from kernel.audit.models import AuditEvent
from signing import crl_fetch, trust
from signing.certificates import verify_certificate
from signing.exceptions import CertificateRevoked
from signing.models import AcceptedCA, CaCrl
from signing.pki import DevPKI


class CrlServer:
    """Serves ``routes[path]`` = bytes, an int status, or "hang" (no answer until shutdown)."""

    def __init__(self) -> None:
        self.routes: dict[str, Any] = {}
        self.release = threading.Event()
        self.barrier: threading.Barrier | None = None  # every request waits for the others
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                answer = server.routes.get(self.path, 404)
                if server.barrier is not None:
                    server.barrier.wait()
                if answer == "hang":
                    server.release.wait(10)
                    return
                if isinstance(answer, int):
                    self.send_error(answer)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/pkix-crl")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def __enter__(self) -> CrlServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[CrlServer]:
    with CrlServer() as running:
        yield running


@pytest.fixture
def pki(tmp_path: Any) -> DevPKI:
    return DevPKI.create(tmp_path / "pki", now=T0, families=("ec",))


def _publish(server: CrlServer, pki: DevPKI) -> None:
    for authority in ("ec/root", "ec/intermediate"):
        server.routes[f"/{authority.replace('/', '-')}.crl"] = pki.crl_path(authority).read_bytes()


def _accept(run: Any, ctx: Any, pki: DevPKI, server: CrlServer) -> factories.Account:
    """The centre accepts the EC root and issuing CA, each with its CRL address, no CRL yet."""
    admin = factories.make_admin(run, ctx)
    run(trust.add_ca, ctx, actor=admin.actor,
        pem_or_der=(pki.directory / "ec/root.crt.pem").read_bytes(),
        crl_url=server.url("/ec-root.crl"))
    run(trust.add_ca, ctx, actor=admin.actor,
        pem_or_der=pki.authority("ec").certificate.public_bytes(Encoding.DER),
        crl_url=server.url("/ec-intermediate.crl"))
    return admin


def _with(ctx: Any, **settings: Any) -> Any:
    return dataclasses.replace(ctx, settings=ctx.settings.with_(**settings))


def test_fetches_store_new_crls_hourly_and_catch_a_revocation(run, ctx, clock, pki, server):
    _accept(run, ctx, pki, server)
    _publish(server, pki)
    results = run(crl_fetch.fetch_due, ctx)
    assert [r.outcome for r in results] == ["stored", "stored"]
    assert run(CaCrl.all().count) == 2
    uploads = run(lambda: AuditEvent.filter(action="signing:crl:uploaded").order_by("id"))
    assert [event.detail for event in uploads] == [{"source": "fetch"}] * 2
    assert [event.actor_label for event in uploads] == ["system", "system"]

    pair = pki.issue(kind="company", name="测试建设有限公司", now=T0, family="ec")
    verify_certificate(pair.signing.certificate, intermediates=[],
                       trust=run(trust.trust_store, ctx), now=clock.now())

    # Within the hour nothing is due; after it, the same CRL is no news.
    clock.advance(minutes=30)
    assert run(crl_fetch.fetch_due, ctx) == []
    clock.advance(minutes=31)
    assert [r.outcome for r in run(crl_fetch.fetch_due, ctx)] == ["unchanged", "unchanged"]
    assert run(CaCrl.all().count) == 2

    pki.revoke(pair.signing.certificate.serial_number, now=clock.now())
    pki.publish_crls("ec", now=clock.now() + timedelta(seconds=1))
    _publish(server, pki)
    clock.advance(minutes=61)
    assert [r.outcome for r in run(crl_fetch.fetch_due, ctx)] == ["stored", "stored"]
    with pytest.raises(CertificateRevoked):
        verify_certificate(pair.signing.certificate, intermediates=[],
                           trust=run(trust.trust_store, ctx), now=clock.now())


def test_failures_are_audited_and_shown_to_the_admin(client, run, ctx, clock, pki, server,
                                                      tmp_path):
    admin = _accept(run, ctx, pki, server)
    stranger = DevPKI.create(tmp_path / "stranger", now=T0, families=("ec",))
    server.routes["/ec-root.crl"] = 404
    # Another CA's list at this CA's address: DevPKI names alike, so its root's name matches
    # ours and the signature decides; the issuing CA's address serves the root's list.
    server.routes["/ec-intermediate.crl"] = stranger.crl_path("ec/root").read_bytes()
    results = run(crl_fetch.fetch_due, ctx)
    assert [r.outcome for r in results] == ["failed", "failed"]
    assert results[0].reason.startswith("HTTP 404")
    assert "serves the CRL of" in results[1].reason
    failed = run(lambda: AuditEvent.filter(action="signing:crl:fetch_failed").order_by("id"))
    assert [event.detail["url"] for event in failed] == [r.url for r in results]

    browser = factories.login(client, admin)
    page = browser.get("/admin/cas?lang=en")
    assert "last fetch failed" in page.text and "HTTP 404" in page.text

    clock.advance(hours=1)
    server.routes["/ec-root.crl"] = stranger.crl_path("ec/root").read_bytes()
    server.routes["/ec-intermediate.crl"] = b"not a CRL"
    reasons = [r.reason for r in run(crl_fetch.fetch_due, ctx)]
    assert "signature" in reasons[0] and "cannot be read" in reasons[1]

    # A success clears the failure from the page.
    clock.advance(hours=1)
    _publish(server, pki)
    assert [r.outcome for r in run(crl_fetch.fetch_due, ctx)] == ["stored", "stored"]
    assert run(AcceptedCA.filter(crl_fetch_error="").count) == 2
    assert "last fetch failed" not in browser.get("/admin/cas?lang=en").text


def test_size_cap_time_limit_and_closed_port(run, ctx, clock, pki, server):
    _accept(run, ctx, pki, server)
    _publish(server, pki)
    small = _with(ctx, crl_max_bytes=100, crl_fetch_timeout_seconds=0.3)
    server.routes["/ec-root.crl"] = "hang"
    results = run(crl_fetch.fetch_due, small)
    assert "no complete answer within 0.3 s" in results[0].reason
    assert "100-byte limit" in results[1].reason

    # An address where nothing listens.
    free = CrlServer()
    dead = free.url("/x.crl")
    free.httpd.server_close()
    cas = run(lambda: AcceptedCA.all().order_by("id"))
    run(lambda: AcceptedCA.filter(id=cas[0].id).update(crl_url=dead, crl_fetched_at=None))
    result = run(crl_fetch.fetch_ca, ctx, ca=run(AcceptedCA.get, id=cas[0].id))
    assert result.outcome == "failed" and "ConnectError" in result.reason


def test_a_claimed_ca_is_not_fetched_twice(run, ctx, pki, server):
    _accept(run, ctx, pki, server)
    _publish(server, pki)
    stale = run(lambda: AcceptedCA.all().order_by("id").first())
    assert run(crl_fetch.fetch_ca, ctx, ca=stale).outcome == "stored"
    # Another scheduler read the row before the first claimed it: it finds it moved.
    assert run(crl_fetch.fetch_ca, ctx, ca=stale).outcome == "skipped"


def test_admin_sets_and_clears_the_address(client, run, ctx, pki, server):
    admin = _accept(run, ctx, pki, server)
    browser = factories.login(client, admin)
    page = browser.get("/admin/cas")
    ca = run(lambda: AcceptedCA.all().order_by("id").first())
    run(lambda: AcceptedCA.filter(id=ca.id).update(crl_fetch_error="old", crl_fetched_at=T0))
    # The page's own form for this CA's address ("action" is a hidden field there).
    form = next(f for f in factories.forms_of(page.text)
                if f.value("action") == "set_crl_url" and f.value("ca_id") == str(ca.id))
    fields = dict(form.fields)
    bad = browser.post(form.action, data={**fields, "crl_url": "ftp://crl.example.cn/x.crl"})
    assert bad.status_code == 400 and "http://" in bad.text
    answer = browser.post(form.action,
                          data={**fields, "crl_url": "https://crl.example.cn/root.crl"})
    assert answer.status_code == 200 and answer.url.query == b"done=set_crl_url"
    ca = run(AcceptedCA.get, id=ca.id)
    assert (ca.crl_url, ca.crl_fetch_error, ca.crl_fetched_at) == (
        "https://crl.example.cn/root.crl", "", None)
    event = run(lambda: AuditEvent.filter(action="signing:ca:crl_url_set").first())
    assert event is not None and event.actor_id == admin.user_id
    with pytest.raises(Exception, match="http"):
        run(trust.set_crl_url, ctx, actor=admin.actor, ca_id=ca.id, crl_url="javascript:x")


def test_the_downloads_run_side_by_side(run, ctx, pki, server):
    """Each request waits until both arrived: fetched one after the other, the first would
    break the barrier and fail."""
    _accept(run, ctx, pki, server)
    _publish(server, pki)
    server.barrier = threading.Barrier(2, timeout=5)
    assert [r.outcome for r in run(crl_fetch.fetch_due, ctx)] == ["stored", "stored"]
