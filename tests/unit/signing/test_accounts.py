"""The certificate registry: encryption certificates registered to accounts, and the page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import factories
import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from kernel.audit.models import AuditEvent
from signing import accounts
from signing.exceptions import UnknownIssuer, WrongKeyUsage
from signing.models import AccountCertificate
from signing.pki import DevPKI


@pytest.fixture
def agency(run: Any, ctx: Any) -> factories.Account:
    factories.trust_dev_pki(run, ctx)
    return factories.make_agency(run, ctx)


def _pair(name: str = "开标官") -> Any:
    return factories.dev_pki().issue(kind="officer", name=name, role="agency",
                                     now=factories.PKI_NOW, family="ec", days=factories.PKI_DAYS)


def test_an_encryption_certificate_is_registered_and_audited(
    run: Any, ctx: Any, agency: Any
) -> None:
    pair = _pair()
    row = run(accounts.register_certificate, ctx, actor=agency.actor,
              der=pair.encryption.certificate.public_bytes(Encoding.PEM))
    assert row.use == "encryption" and row.active and row.user_id == agency.user_id
    assert run(accounts.active_encryption_certificate, agency.user_id) == (
        pair.encryption.certificate)
    events = run(AuditEvent.filter(action="signing:account_certificate:registered").count)
    assert events == 1
    with pytest.raises(accounts.CertificateAlreadyRegistered):
        run(accounts.register_certificate, ctx, actor=agency.actor,
            der=pair.encryption.certificate.public_bytes(Encoding.DER))
    run(accounts.deactivate, ctx, actor=agency.actor, certificate_id=row.id)
    assert run(accounts.active_encryption_certificate, agency.user_id) is None


def test_unfit_certificates_are_refused_with_the_reason(
    run: Any, ctx: Any, agency: Any, tmp_path: Path
) -> None:
    pair = _pair()
    with pytest.raises(WrongKeyUsage):  # the signing half: digitalSignature, no keyAgreement
        run(accounts.register_certificate, ctx, actor=agency.actor,
            der=pair.signing.certificate.public_bytes(Encoding.DER))
    stranger = DevPKI.create(tmp_path / "pki", now=factories.PKI_NOW, families=("ec",))
    other = stranger.issue(kind="officer", name="某人", role="agency", now=factories.PKI_NOW,
                           family="ec", days=factories.PKI_DAYS)
    with pytest.raises(UnknownIssuer):
        run(accounts.register_certificate, ctx, actor=agency.actor,
            der=other.encryption.certificate.public_bytes(Encoding.DER))
    with pytest.raises(accounts.CertificateUnreadable):
        run(accounts.register_certificate, ctx, actor=agency.actor, der=b"not a certificate")
    assert run(AccountCertificate.all().count) == 0


def test_the_my_certificates_page_registers_and_deactivates(
    client: Any, run: Any, ctx: Any, agency: Any
) -> None:
    browser = factories.login(client, agency)
    page = browser.get("/account/certificates")
    assert page.status_code == 200 and page.template.name == "signing/certificates.html"
    pair = _pair()
    answer = factories.submit(
        browser, page.text, "/account/certificates", match={"op": "register"},
        files={"certificate": ("enc.pem", pair.encryption.certificate.public_bytes(Encoding.PEM),
                               "application/x-pem-file")})
    assert answer.status_code == 200 and "done=register" in str(answer.url)
    assert len(answer.context["certificates"]) == 1
    refused = factories.submit(
        browser, answer.text, "/account/certificates", match={"op": "register"},
        files={"certificate": ("sig.pem", pair.signing.certificate.public_bytes(Encoding.PEM),
                               "application/x-pem-file")})
    assert refused.status_code == 400 and "keyAgreement" in refused.context["error"]
    row_id = str(answer.context["certificates"][0].id)
    done = factories.submit(browser, answer.text, "/account/certificates",
                            match={"op": "deactivate", "certificate_id": row_id})
    assert not done.context["certificates"][0].active
