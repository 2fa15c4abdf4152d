"""Certificate acceptance: chains to accepted CAs (RSA and EC), validity, key usage, CRLs.

All material comes from the development PKI, made in temporary directories; the CAs are made
once per module (RSA keys are slow), and tests that revoke get a PKI of their own.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from kernel.accounts import creditcode
from signing.certificates import TrustStore, Usage, credit_code_of, verify_certificate, when
from signing.exceptions import (
    CertificateExpired,
    CertificateNotYetValid,
    CertificateRefused,
    CertificateRevoked,
    ChainRejected,
    CrlInvalid,
    CrlMissing,
    CrlOutOfDate,
    UnknownIssuer,
    WrongKeyUsage,
)
from signing.pki import DevPKI, Family, IssuedPair
from signing.pki import authority as ca

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
COMPANY = "华东测试建设工程有限公司"


def trust_of(*pkis: DevPKI) -> TrustStore:
    return TrustStore.of(
        roots=[c for p in pkis for c in p.roots()],
        intermediates=[c for p in pkis for c in p.intermediates()],
        crls=[crl for p in pkis for crl in p.crls()],
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPKI:
    return DevPKI.create(tmp_path_factory.mktemp("pki"), now=T0)


@pytest.fixture(scope="module")
def trust(pki: DevPKI) -> TrustStore:
    return trust_of(pki)


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> DevPKI:
    """Another development PKI: same CA names, other keys, trusted by nobody here."""
    return DevPKI.create(tmp_path_factory.mktemp("stranger"), now=T0, families=("ec",))


@pytest.fixture
def own_pki(tmp_path: Path) -> DevPKI:
    """A fresh EC-only PKI (fast to make) for tests that revoke."""
    return DevPKI.create(tmp_path / "own", now=T0, families=("ec",))


def refusal(
    pair_or_cert: IssuedPair | x509.Certificate,
    trust: TrustStore,
    at: datetime,
    usage: Usage = "signing",
) -> CertificateRefused:
    cert = (
        pair_or_cert.signing.certificate if isinstance(pair_or_cert, IssuedPair) else pair_or_cert
    )
    with pytest.raises(CertificateRefused) as caught:
        verify_certificate(cert, intermediates=[], trust=trust, now=at, usage=usage)
    return caught.value


@pytest.mark.parametrize("family", ["rsa", "ec"])
def test_accepts_a_company_certificate_from_each_ca(
    pki: DevPKI, trust: TrustStore, family: Family
) -> None:
    pair = pki.issue(kind="company", name=COMPANY, now=T0, family=family)
    # Only the roots are anchors: the intermediate travels with the certificate, as in a CMS.
    anchors_only = TrustStore.of(roots=pki.roots(), crls=pki.crls())
    for store, intermediates in ((anchors_only, list(pair.chain[:1])), (trust, [])):
        accepted = verify_certificate(
            pair.signing.certificate,
            intermediates=intermediates,
            trust=store,
            now=T0 + timedelta(hours=1),
        )
        assert accepted.chain == (pair.signing.certificate, *pair.chain)
        assert accepted.credit_code == creditcode.make_code(COMPANY)
        assert accepted.usage == "signing"
        assert f"CN={COMPANY}" in accepted.subject
        assert accepted.serial == format(pair.signing.certificate.serial_number, "x")


def test_accepts_the_encryption_half_for_encryption(pki: DevPKI, trust: TrustStore) -> None:
    pair = pki.issue(kind="expert", name="李专家", now=T0, family="ec")
    accepted = verify_certificate(
        pair.encryption.certificate, intermediates=[], trust=trust, now=T0, usage="encryption"
    )
    assert accepted.usage == "encryption"
    assert accepted.credit_code is None


def test_refuses_an_expired_certificate(pki: DevPKI, trust: TrustStore) -> None:
    pair = pki.issue(
        kind="company", name=COMPANY, now=T0, family="ec", not_after=T0 + timedelta(days=1)
    )
    error = refusal(pair, trust, T0 + timedelta(days=2))
    assert isinstance(error, CertificateExpired)
    assert "expired on 2026-03-03 01:00:00 UTC" in error.message("en")
    assert "2026-03-03 01:00:00 UTC" in error.message("zh-CN")
    assert COMPANY in error.message("en")


def test_refuses_a_certificate_not_yet_valid(pki: DevPKI, trust: TrustStore) -> None:
    pair = pki.issue(
        kind="company", name=COMPANY, now=T0, family="rsa", not_before=T0 + timedelta(days=3)
    )
    error = refusal(pair, trust, T0 + timedelta(hours=1))
    assert isinstance(error, CertificateNotYetValid)
    assert "not yet valid until 2026-03-05 01:00:00 UTC" in error.message("en")


def test_refuses_a_revoked_certificate(own_pki: DevPKI) -> None:
    pair = own_pki.issue(kind="company", name=COMPANY, now=T0, family="ec")
    before = trust_of(own_pki)
    own_pki.revoke(
        pair.signing.certificate.serial_number,
        now=T0 + timedelta(hours=1),
        reason=x509.ReasonFlags.key_compromise,
    )
    own_pki.publish_crls("ec", now=T0 + timedelta(hours=2))
    # The store still holding the older (current) CRL does not know yet: CRLs are the source.
    verify_certificate(
        pair.signing.certificate, intermediates=[], trust=before, now=T0 + timedelta(hours=3)
    )
    error = refusal(pair, trust_of(own_pki), T0 + timedelta(hours=3))
    assert isinstance(error, CertificateRevoked)
    assert "revoked on 2026-03-02 02:00:00 UTC (keyCompromise)" in error.message("en")
    assert "Issuing CA" in error.message("en")
    # The encryption half was not revoked.
    verify_certificate(
        pair.encryption.certificate,
        intermediates=[],
        trust=trust_of(own_pki),
        now=T0 + timedelta(hours=3),
        usage="encryption",
    )


def test_refuses_a_certificate_under_a_revoked_intermediate(own_pki: DevPKI) -> None:
    pair = own_pki.issue(kind="company", name=COMPANY, now=T0, family="ec")
    intermediate = own_pki.authority("ec").certificate
    assert (
        own_pki.revoke(
            intermediate.serial_number,
            now=T0 + timedelta(hours=1),
            reason=x509.ReasonFlags.ca_compromise,
        )
        == "ec/root"
    )
    own_pki.publish_crls("ec", now=T0 + timedelta(hours=2))
    error = refusal(pair, trust_of(own_pki), T0 + timedelta(hours=3))
    assert isinstance(error, CertificateRevoked)
    message = error.message("en")
    assert message.startswith("The certificate CN=ebid Dev EC Issuing CA")
    assert "revoked on 2026-03-02 02:00:00 UTC (cACompromise)" in message


def test_refuses_a_certificate_whose_intermediate_expired(own_pki: DevPKI) -> None:
    years = timedelta(days=365)
    pair = own_pki.issue(
        kind="company", name=COMPANY, now=T0, family="ec", not_after=T0 + 12 * years
    )
    error = refusal(pair, trust_of(own_pki), T0 + 11 * years)
    assert isinstance(error, CertificateExpired)
    assert error.message("en").startswith("The certificate CN=ebid Dev EC Issuing CA")
    assert f"expired on {when(own_pki.authority('ec').certificate.not_valid_after_utc)}" in (
        error.message("en")
    )


def test_refuses_an_unknown_issuer_with_the_same_name(trust: TrustStore, stranger: DevPKI) -> None:
    pair = stranger.issue(kind="company", name=COMPANY, now=T0, family="ec")
    error = refusal(pair, trust, T0)
    assert isinstance(error, UnknownIssuer)
    assert "unknown issuer CN=ebid Dev EC Issuing CA" in error.message("en")
    assert "did not sign" in error.message("en")
    # Handing over the stranger's intermediate does not help: its root is not accepted.
    with pytest.raises(UnknownIssuer, match="unknown issuer CN=ebid Dev EC Root CA"):
        verify_certificate(
            pair.signing.certificate,
            intermediates=list(pair.chain[:1]),
            trust=TrustStore.of(roots=trust.roots, crls=trust.crls),
            now=T0,
        )


def test_refuses_an_issuer_no_accepted_ca_is_named(pki: DevPKI) -> None:
    pair = pki.issue(kind="company", name=COMPANY, now=T0, family="ec")
    rsa_only = TrustStore.of(
        roots=[pki.authority("rsa", "root").certificate],
        intermediates=[pki.authority("rsa").certificate],
        crls=pki.crls(),
    )
    error = refusal(pair, rsa_only, T0)
    assert isinstance(error, UnknownIssuer)
    assert "no accepted CA has that name" in error.message("en")
    assert isinstance(refusal(pair, TrustStore.of(roots=[]), T0), UnknownIssuer)


def test_refuses_the_encryption_certificate_for_signing(pki: DevPKI, trust: TrustStore) -> None:
    pair = pki.issue(kind="company", name=COMPANY, now=T0, family="rsa")
    error = refusal(pair.encryption.certificate, trust, T0)
    assert isinstance(error, WrongKeyUsage)
    assert "wrong key usage (keyAgreement): signing needs digitalSignature or nonRepudiation" in (
        error.message("en")
    )
    error = refusal(pair.signing.certificate, trust, T0, usage="encryption")
    assert isinstance(error, WrongKeyUsage)
    assert "(digitalSignature, nonRepudiation): encryption needs keyAgreement" in (
        error.message("en")
    )


def test_refuses_when_the_crl_is_out_of_date(pki: DevPKI, trust: TrustStore) -> None:
    pair = pki.issue(kind="company", name=COMPANY, now=T0, family="rsa")
    error = refusal(pair, trust, T0 + timedelta(days=8))
    assert isinstance(error, CrlOutOfDate)
    # The root's CRL is checked first (for the intermediate), and it is just as stale.
    assert "CRL of CN=ebid Dev RSA Root CA" in error.message("en")
    assert "is out of date since 2026-03-09 01:00:00 UTC" in error.message("en")


def test_refuses_when_no_crl_is_on_file(pki: DevPKI) -> None:
    pair = pki.issue(kind="company", name=COMPANY, now=T0, family="ec")
    error = refusal(pair, TrustStore.of(roots=pki.roots(), intermediates=pki.intermediates()), T0)
    assert isinstance(error, CrlMissing)
    assert "No CRL of CN=ebid Dev EC Root CA" in error.message("en")


def test_refuses_a_crl_signed_by_another_key(pki: DevPKI, stranger: DevPKI) -> None:
    # The stranger's CRLs carry our CAs' names; only the signature tells them apart.
    pair = pki.issue(kind="company", name=COMPANY, now=T0, family="ec")
    forged = TrustStore.of(
        roots=pki.roots(), intermediates=pki.intermediates(), crls=stranger.crls()
    )
    error = refusal(pair, forged, T0)
    assert isinstance(error, CrlInvalid)
    assert "valid signature" in error.message("en")


def test_path_validation_refuses_an_unknown_critical_extension(
    pki: DevPKI, trust: TrustStore
) -> None:
    issuer = pki.authority("ec")
    key = ca.new_key("p256")
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, COMPANY)]))
        .issuer_name(issuer.certificate.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(T0).not_valid_after(T0 + timedelta(days=1))
        .add_extension(ca.SIGNING_USAGE, critical=True)
        .add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4.5"), b"\x05\x00"),
                       critical=True)
        .sign(issuer.key, hashes.SHA256())
    )
    error = refusal(cert, trust, T0)
    assert isinstance(error, ChainRejected)
    assert "critical extension" in error.message("en")


def _with_subject(pki: DevPKI, *attributes: tuple[x509.ObjectIdentifier, str]) -> x509.Certificate:
    issuer = pki.authority("ec")
    key = ca.new_key("p256")
    subject = x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])
    return ca.end_entity_certificate(
        public_key=key.public_key(),
        subject=subject,
        usage=ca.SIGNING_USAGE,
        issuer=issuer.certificate,
        issuer_key=issuer.key,
        not_before=T0,
        not_after=T0 + timedelta(days=1),
    )


def test_credit_code_is_read_from_serial_number_ou_or_cn(pki: DevPKI) -> None:
    code = creditcode.make_code("某公司")
    wrong_check = code[:17] + ("0" if code[17] != "0" else "1")
    cn, ou, serial = NameOID.COMMON_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.SERIAL_NUMBER
    assert credit_code_of(_with_subject(pki, (cn, "某公司"), (serial, code))) == code
    assert credit_code_of(_with_subject(pki, (cn, "某公司"), (ou, code))) == code
    assert credit_code_of(_with_subject(pki, (cn, code))) == code
    # A serialNumber with a wrong check character is skipped for the valid code in the CN.
    assert credit_code_of(_with_subject(pki, (serial, wrong_check), (cn, code))) == code
    # Typed with a Chinese input method: full-width, lower case.
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in code.lower())
    assert credit_code_of(_with_subject(pki, (ou, full_width))) == code
    assert credit_code_of(_with_subject(pki, (cn, "张三"), (serial, "110101199003070011"))) is None
