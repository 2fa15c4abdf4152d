"""The development PKI and `ebid pki`: CAs, certificate pairs, PKCS#12 files, revocation, CRLs."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from ebid.cli import main
from kernel.accounts import creditcode
from kernel.clock import SystemClock
from signing.certificates import TrustStore, verify_certificate
from signing.exceptions import CertificateRevoked
from signing.pki import DevPKI, Family, parse_serial, serial_hex, write_pair

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPKI:
    return DevPKI.create(tmp_path_factory.mktemp("pki"), now=T0)


def _value(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    return str(name.get_attributes_for_oid(oid)[0].value)


def _key_usage(cert: x509.Certificate) -> x509.Extension[x509.KeyUsage]:
    return cert.extensions.get_extension_for_class(x509.KeyUsage)


def test_creates_rsa_and_ec_roots_each_with_an_intermediate(pki: DevPKI) -> None:
    assert pki.families == ("rsa", "ec")
    key_types: tuple[tuple[Family, type], ...] = (
        ("rsa", rsa.RSAPublicKey), ("ec", ec.EllipticCurvePublicKey)
    )
    for family, key_type in key_types:
        root = pki.authority(family, "root").certificate
        intermediate = pki.authority(family).certificate
        assert root.subject == root.issuer and intermediate.issuer == root.subject
        intermediate.verify_directly_issued_by(root)
        for cert, depth in ((root, 1), (intermediate, 0)):
            key = cert.public_key()
            assert isinstance(key, key_type)
            if isinstance(key, rsa.RSAPublicKey):
                assert key.key_size == 3072
            else:
                assert isinstance(key, ec.EllipticCurvePublicKey)
                assert key.curve.name == "secp256r1"
            constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
            assert constraints.critical and constraints.value.ca
            assert constraints.value.path_length == depth
            assert _key_usage(cert).value.key_cert_sign and _key_usage(cert).value.crl_sign
        assert "NOT FOR PRODUCTION" in root.subject.rfc4514_string()
    assert oct((pki.directory / "rsa" / "root.key.pem").stat().st_mode & 0o777) == "0o600"


def test_refuses_to_overwrite_a_pki(pki: DevPKI) -> None:
    with pytest.raises(FileExistsError):
        DevPKI.create(pki.directory, now=T0)


def test_company_pair_carries_the_credit_code(pki: DevPKI) -> None:
    code = creditcode.make_code("某某路桥")
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in code.lower())
    pair = pki.issue(
        kind="company", name="某某路桥有限公司", credit_code=full_width, now=T0, family="ec"
    )
    signing, encryption = pair.signing.certificate, pair.encryption.certificate
    assert signing.subject == encryption.subject
    assert _value(signing.subject, NameOID.SERIAL_NUMBER) == code
    assert _value(signing.subject, NameOID.COMMON_NAME) == "某某路桥有限公司"
    assert _value(signing.subject, NameOID.ORGANIZATION_NAME) == "某某路桥有限公司"
    assert _value(signing.subject, NameOID.COUNTRY_NAME) == "CN"
    assert signing.not_valid_before_utc == T0
    assert signing.not_valid_after_utc == T0 + timedelta(days=365)
    assert signing.serial_number != encryption.serial_number

    usage = _key_usage(signing)
    assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
    assert not usage.value.key_agreement
    usage = _key_usage(encryption)
    assert usage.critical and usage.value.key_agreement and not usage.value.digital_signature
    key = encryption.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    # The RSA CA gives RSA signing keys; the encryption half is always P-256 (for HPKE).
    rsa_pair = pki.issue(kind="company", name="某某路桥有限公司", now=T0, family="rsa")
    assert isinstance(rsa_pair.signing.certificate.public_key(), rsa.RSAPublicKey)
    assert isinstance(rsa_pair.encryption.certificate.public_key(), ec.EllipticCurvePublicKey)


def test_refuses_an_invalid_credit_code(pki: DevPKI) -> None:
    code = creditcode.make_code("x")
    with pytest.raises(ValueError, match="not a valid unified social credit code"):
        pki.issue(kind="company", name="x", credit_code=code[:17] + "Z", now=T0, family="ec")


def test_experts_and_officers(pki: DevPKI) -> None:
    expert = pki.issue(kind="expert", name="王专家", now=T0, family="ec").signing.certificate
    assert _value(expert.subject, NameOID.ORGANIZATION_NAME) == "评标专家库"
    assert not expert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    for role in ("agency", "supervisor", "centre"):
        officer = pki.issue(
            kind="officer", name=f"{role} officer", role=role, now=T0, family="ec"
        ).signing.certificate
        assert _value(officer.subject, NameOID.ORGANIZATIONAL_UNIT_NAME) == role


def test_pkcs12_files_hold_key_certificate_and_chain(pki: DevPKI, tmp_path: Path) -> None:
    pair = pki.issue(kind="company", name="甲公司", now=T0, family="ec")
    signing_path, encryption_path = write_pair(pair, tmp_path / "甲.p12", password="s3cret")
    assert encryption_path.name == "甲.enc.p12"
    for path, half in ((signing_path, pair.signing), (encryption_path, pair.encryption)):
        key, cert, chain = pkcs12.load_key_and_certificates(path.read_bytes(), b"s3cret")
        assert cert == half.certificate
        assert key is not None and key.public_key() == half.certificate.public_key()
        assert chain == list(pair.chain)
        with pytest.raises(ValueError):
            pkcs12.load_key_and_certificates(path.read_bytes(), b"wrong")


def test_revocation_appears_in_the_next_crl(tmp_path: Path) -> None:
    pki = DevPKI.create(tmp_path / "pki", now=T0, families=("ec",))
    first = x509.load_der_x509_crl(pki.crl_path("ec/intermediate").read_bytes())
    assert list(first) == []
    assert first.next_update_utc == T0 + timedelta(days=7)
    pair = pki.issue(kind="company", name="乙公司", now=T0, family="ec")
    serial = pair.signing.certificate.serial_number
    assert (
        pki.revoke(serial, now=T0 + timedelta(hours=1), reason=x509.ReasonFlags.superseded)
        == "ec/intermediate"
    )
    with pytest.raises(ValueError, match="already revoked"):
        pki.revoke(serial, now=T0 + timedelta(hours=2))
    with pytest.raises(LookupError):
        pki.revoke(12345, now=T0)
    pki.publish_crls("ec", now=T0 + timedelta(hours=2), days=1)

    der = x509.load_der_x509_crl(pki.crl_path("ec/intermediate").read_bytes())
    pem = x509.load_pem_x509_crl(pki.crl_path("ec/intermediate", "pem").read_bytes())
    assert der == pem
    issuer_key = pki.authority("ec").certificate.public_key()
    assert isinstance(issuer_key, ec.EllipticCurvePublicKey)
    assert der.is_signature_valid(issuer_key)
    assert der.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2
    assert der.last_update_utc == T0 + timedelta(hours=2)
    assert der.next_update_utc == T0 + timedelta(hours=26)
    entry = der.get_revoked_certificate_by_serial_number(serial)
    assert entry is not None and entry.revocation_date_utc == T0 + timedelta(hours=1)
    reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason is x509.ReasonFlags.superseded
    assert (
        der.get_revoked_certificate_by_serial_number(pair.encryption.certificate.serial_number)
        is None
    )


def test_serials_are_hex_with_or_without_colons() -> None:
    assert parse_serial("0A:1b:FF") == 0x0A1BFF == parse_serial(serial_hex(0x0A1BFF))


# `ebid pki`, in process, with the real clock.


def _ebid(*args: str) -> int:
    return main(["pki", *args])


def test_cli_issues_revokes_and_publishes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = str(tmp_path / "pki")
    assert _ebid("init", directory) == 0
    assert "never for production" in capsys.readouterr().out
    assert _ebid("init", directory) == 1
    assert "already holds" in capsys.readouterr().err

    code = creditcode.make_code("丙公司")
    output = tmp_path / "bidder.p12"
    assert (
        _ebid(
            "issue",
            directory,
            "--kind",
            "company",
            "--name",
            "丙公司",
            "--credit-code",
            code,
            "--ca",
            "ec",
            "-o",
            str(output),
            "--password",
            "pw-123",
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert f"credit code {code}" in printed
    key, cert, chain = pkcs12.load_key_and_certificates(output.read_bytes(), b"pw-123")
    assert key is not None and cert is not None and len(chain) == 2
    assert _value(cert.subject, NameOID.SERIAL_NUMBER) == code
    enc_key, enc_cert, _ = pkcs12.load_key_and_certificates(
        (tmp_path / "bidder.enc.p12").read_bytes(), b"pw-123"
    )
    assert isinstance(enc_key, ec.EllipticCurvePrivateKey)
    assert enc_cert is not None and _key_usage(enc_cert).value.key_agreement
    assert f"serial {serial_hex(cert.serial_number)}" in printed

    assert (
        _ebid(
            "issue",
            directory,
            "--kind",
            "officer",
            "--name",
            "赵监督",
            "--role",
            "supervisor",
            "-o",
            str(tmp_path / "officer.p12"),
            "--password",
            "pw",
        )
        == 0
    )
    assert (
        _ebid(
            "issue",
            directory,
            "--kind",
            "company",
            "--name",
            "x",
            "--credit-code",
            "123",
            "-o",
            str(tmp_path / "x.p12"),
            "--password",
            "pw",
        )
        == 1
    )
    assert "not a valid unified social credit code" in capsys.readouterr().err

    now = SystemClock().now()
    pki = DevPKI(Path(directory))
    trust = TrustStore.of(roots=pki.roots(), crls=pki.crls())
    verify_certificate(cert, intermediates=chain, trust=trust, now=now)

    colons = ":".join(f"{b:02X}" for b in cert.serial_number.to_bytes(20, "big").lstrip(b"\0"))
    assert _ebid("revoke", directory, "--serial", colons, "--reason", "keyCompromise") == 0
    assert "ebid pki crl" in capsys.readouterr().out
    assert _ebid("revoke", directory, "--serial", "ff", "--reason", "keyCompromise") == 1
    assert _ebid("revoke", directory, "--serial", colons, "--reason", "bored") == 1
    assert _ebid("crl", directory, "--ca", "ec") == 0
    published = capsys.readouterr().out.split()
    assert len(published) == 4 and all(Path(p).exists() for p in published)

    trust = TrustStore.of(roots=pki.roots(), crls=pki.crls())
    with pytest.raises(CertificateRevoked, match=r"\(keyCompromise\)"):
        verify_certificate(cert, intermediates=chain, trust=trust, now=SystemClock().now())
    assert _ebid("crl", directory) == 0
    assert len(capsys.readouterr().out.split()) == 8


def test_cli_refuses_a_directory_without_a_pki(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _ebid("crl", str(tmp_path)) == 1
    assert "run `ebid pki init`" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl on PATH")
@pytest.mark.parametrize("family", ["rsa", "ec"])
def test_openssl_reads_the_pkcs12_files(pki: DevPKI, tmp_path: Path, family: str) -> None:
    directory = str(pki.directory)
    output = tmp_path / "holder.p12"
    assert (
        _ebid(
            "issue",
            directory,
            "--kind",
            "expert",
            "--name",
            "孙专家",
            "--ca",
            family,
            "-o",
            str(output),
            "--password",
            "Pw 1",
        )
        == 0
    )
    for path in (output, tmp_path / "holder.enc.p12"):
        result = subprocess.run(
            ["openssl", "pkcs12", "-info", "-nokeys", "-in", str(path), "-passin", "pass:Pw 1"],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.count("BEGIN CERTIFICATE") == 3
        wrong = subprocess.run(
            ["openssl", "pkcs12", "-info", "-nokeys", "-in", str(path), "-passin", "pass:nope"],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=30,
            check=False,
        )
        assert wrong.returncode != 0
