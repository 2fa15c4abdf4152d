"""signing.trust: accepted CAs and their CRLs, the TrustStore built from them, the admin page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import factories
import pytest
from conftest import T0
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from kernel.audit.models import AuditEvent
from kernel.errors import PermissionDenied
from signing import trust
from signing.certificates import verify_certificate
from signing.exceptions import (
    CaAlreadyAccepted,
    CaCertificateUnreadable,
    CertificateRevoked,
    CrlIssuerUnknown,
    CrlNotNewer,
    CrlSignatureInvalid,
    CrlUnreadable,
    NotACaCertificate,
)
from signing.pki import DevPKI

COMPANY = "华东测试建设工程有限公司"


@dataclass(frozen=True)
class Material:
    """Bytes as the admin would upload them, read before any test publishes newer CRLs."""

    pki: DevPKI
    root: bytes  # PEM
    intermediate: bytes  # DER
    root_crl: bytes  # DER
    intermediate_crl: bytes  # PEM
    stranger_root_crl: bytes  # same name as our root, another key


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> Material:
    pki = DevPKI.create(tmp_path_factory.mktemp("pki"), now=T0, families=("ec",))
    # DevPKI names every CA alike, so the stranger's root has our root's name.
    stranger = DevPKI.create(tmp_path_factory.mktemp("stranger"), now=T0, families=("ec",))
    return Material(
        pki=pki,
        root=(pki.directory / "ec/root.crt.pem").read_bytes(),
        intermediate=pki.authority("ec").certificate.public_bytes(Encoding.DER),
        root_crl=pki.crl_path("ec/root").read_bytes(),
        intermediate_crl=pki.crl_path("ec/intermediate", "pem").read_bytes(),
        stranger_root_crl=stranger.crl_path("ec/root").read_bytes(),
    )


def _setup(run: Any, ctx: Any, material: Material, *, crls: bool = True) -> factories.Account:
    admin = factories.make_admin(run, ctx)
    run(trust.add_ca, ctx, actor=admin.actor, pem_or_der=material.root)
    run(trust.add_ca, ctx, actor=admin.actor, pem_or_der=material.intermediate,
        crl_url="http://crl.example.cn/ec-issuing.crl")
    if crls:
        for data in (material.root_crl, material.intermediate_crl):
            run(trust.upload_crl, ctx, actor=admin.actor, data=data)
    return admin


def test_trust_store_accepts_then_refuses_a_revoked_certificate(run, ctx, clock, material):
    admin = _setup(run, ctx, material)
    store = run(trust.trust_store, ctx)
    assert len(store.roots) == 1 and len(store.intermediates) == 1 and len(store.crls) == 2
    pair = material.pki.issue(kind="company", name=COMPANY, now=T0, family="ec")
    accepted = verify_certificate(pair.signing.certificate, intermediates=[], trust=store,
                                  now=clock.now())
    assert accepted.chain[-1] == store.roots[0]

    material.pki.revoke(pair.signing.certificate.serial_number, now=T0 + timedelta(minutes=5))
    material.pki.publish_crls("ec", now=T0 + timedelta(hours=1))
    clock.advance(hours=2)
    run(trust.upload_crl, ctx, actor=admin.actor,
        data=material.pki.crl_path("ec/intermediate").read_bytes())
    with pytest.raises(CertificateRevoked):
        verify_certificate(pair.signing.certificate, intermediates=[],
                           trust=run(trust.trust_store, ctx), now=clock.now())


def test_deactivated_ca_leaves_the_trust_store(run, ctx, material):
    admin = _setup(run, ctx, material)
    listing = run(trust.list_cas, ctx)
    assert [item.stale for item in listing] == [False, False]
    run(trust.deactivate_ca, ctx, actor=admin.actor, ca_id=listing[1].ca.id)
    store = run(trust.trust_store, ctx)
    assert len(store.roots) == 1 and store.intermediates == ()


def test_stale_when_no_crl_is_in_force(run, ctx, clock, material):
    _setup(run, ctx, material)
    clock.advance(days=8)  # past the CRLs' next update
    assert all(item.stale for item in run(trust.list_cas, ctx))


def test_refusals(run, ctx, clock, material):
    admin = _setup(run, ctx, material, crls=False)
    actor = admin.actor
    pair = material.pki.issue(kind="company", name=COMPANY, now=T0, family="ec")
    leaf = pair.signing.certificate.public_bytes(Encoding.PEM)
    with pytest.raises(NotACaCertificate):
        run(trust.add_ca, ctx, actor=actor, pem_or_der=leaf)
    with pytest.raises(CaAlreadyAccepted):
        run(trust.add_ca, ctx, actor=actor, pem_or_der=material.root)
    with pytest.raises(CaCertificateUnreadable):
        run(trust.add_ca, ctx, actor=actor, pem_or_der=b"not a certificate")
    with pytest.raises(CrlUnreadable):
        run(trust.upload_crl, ctx, actor=actor, data=b"-----BEGIN X509 CRL-----\nxx")
    with pytest.raises(CrlSignatureInvalid):
        run(trust.upload_crl, ctx, actor=actor, data=material.stranger_root_crl)
    bidder = factories.make_bidder(run, ctx, "Anlan")
    with pytest.raises(PermissionDenied):
        run(trust.add_ca, ctx, actor=bidder.actor, pem_or_der=material.root)

    newer = DevPKI(material.pki.directory)
    newer.publish_crls("ec", now=T0 + timedelta(hours=3))
    clock.advance(hours=4)
    run(trust.upload_crl, ctx, actor=actor, data=newer.crl_path("ec/root").read_bytes())
    with pytest.raises(CrlNotNewer):
        run(trust.upload_crl, ctx, actor=actor, data=material.root_crl)


def test_crl_of_an_unknown_ca(run, ctx, material):
    admin = factories.make_admin(run, ctx)
    run(trust.add_ca, ctx, actor=admin.actor, pem_or_der=material.root)
    with pytest.raises(CrlIssuerUnknown):
        run(trust.upload_crl, ctx, actor=admin.actor, data=material.intermediate_crl)


def test_audit_events(run, ctx, material):
    admin = _setup(run, ctx, material)
    run(trust.deactivate_ca, ctx, actor=admin.actor, ca_id=run(trust.list_cas, ctx)[0].ca.id)
    actions = run(AuditEvent.filter(action__startswith="signing:").values_list, "action",
                  flat=True)
    assert sorted(actions) == ["signing:ca:added", "signing:ca:added", "signing:ca:deactivated",
                               "signing:crl:uploaded", "signing:crl:uploaded"]


def _upload(name: str, data: bytes) -> dict[str, Any]:
    return {name: (name + ".pem", data, "application/octet-stream")}


def test_admin_page(client, run, ctx, material, monkeypatch):
    factories.cheap_password_hashing(monkeypatch)
    admin = factories.make_admin(run, ctx)
    browser = factories.session_client(client, run, ctx, admin, follow_redirects=False)
    page = browser.get("/admin/cas")
    assert page.status_code == 200 and page.template.name == "signing/admin-cas.html"
    assert page.context["cas"] == []

    answer = browser.post("/admin/cas", data=factories.with_csrf(browser, action="add_ca"),
                          files=_upload("certificate", material.root))
    assert answer.status_code == 303, answer.text
    answer = browser.post("/admin/cas", data=factories.with_csrf(browser, action="upload_crl"),
                          files=_upload("crl", material.root_crl))
    assert answer.status_code == 303, answer.text
    listing = browser.get("/admin/cas").context["cas"]
    assert len(listing) == 1 and listing[0].crl is not None and not listing[0].stale

    refused = browser.post("/admin/cas", data=factories.with_csrf(browser, action="add_ca"),
                           files=_upload("certificate", material.root))
    assert refused.status_code == 409 and refused.context["error"]
    no_csrf = browser.post("/admin/cas", data={"action": "add_ca"},
                           files=_upload("certificate", material.intermediate))
    assert no_csrf.status_code == 403

    bidder = factories.make_bidder(run, ctx, "Boyuan")
    other = factories.session_client(client, run, ctx, bidder, follow_redirects=False)
    assert other.get("/admin/cas").status_code == 403
    assert other.post("/admin/cas", data=factories.with_csrf(other, action="add_ca"),
                      files=_upload("certificate", material.intermediate)).status_code == 403
    anonymous = factories.session_client(client, run, ctx, None, follow_redirects=False)
    answer = anonymous.get("/admin/cas")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    assert len(run(trust.list_cas, ctx)) == 1
    # The admin index links to the page.
    assert 'href="/admin/cas"' in browser.get("/admin").text


def test_certificate_is_stored_as_der(run, ctx, material):
    _setup(run, ctx, material, crls=False)
    root = x509.load_pem_x509_certificate(material.root)
    stored = run(trust.list_cas, ctx)[0].ca
    assert stored.der == root.public_bytes(Encoding.DER) and stored.is_root
