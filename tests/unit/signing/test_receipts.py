"""Receipts: canonical JSON in attached CMS, verified with asn1crypto and with stock openssl.

Certificates come from a development PKI made once per module, valid at the real time so the
openssl binary (which checks validity against its own clock) accepts them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kernel.settings import Settings
from signing import keys
from signing.certificates import TrustStore
from signing.cms import sign_attached, sign_detached, verify_attached, verify_detached
from signing.pki import DevPKI, IssuedPair
from signing.receipts import (
    FORMAT,
    BadReceipt,
    Receipt,
    entry_data,
    rfc3339,
    sign_receipt,
    verify_receipt,
    verify_receipt_signer,
)
from signing.sealed.errors import BadSignature

NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl binary")
RECEIPT = Receipt(
    tender_id=42, lot=2, certificate_sha256="ab" * 32, package_sha256="cd" * 32,
    received_at=datetime(2026, 3, 2, 9, 59, 59, 123456, tzinfo=UTC), log_index=7, tree_size=8,
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPKI:
    return DevPKI.create(tmp_path_factory.mktemp("pki"), now=NOW)


@pytest.fixture(scope="module", params=["rsa", "ec"])
def platform(request: pytest.FixtureRequest, pki: DevPKI) -> IssuedPair:
    """The platform's receipt certificate, issued by an accredited (here: development) CA."""
    return pki.issue(kind="officer", name=f"平台回执 {request.param}", now=NOW,
                     family=request.param, role="centre")


@pytest.fixture(scope="module")
def trust(pki: DevPKI) -> TrustStore:
    return TrustStore.of(roots=pki.roots(), crls=pki.crls())


@pytest.fixture
def self_signed(tmp_path: Path) -> keys.ReceiptSigner:
    return keys.load(Settings(data_dir=tmp_path), now=NOW).receipt


def signed_by(pair: IssuedPair, receipt: Receipt = RECEIPT) -> bytes:
    return sign_receipt(receipt, pair.signing.key, pair.signing.certificate, pair.chain[:1])


def refusal(der: bytes, trust: object) -> str:
    with pytest.raises(BadReceipt) as caught:
        verify_receipt(der, trust, now=NOW + timedelta(minutes=1))  # type: ignore[arg-type]
    return caught.value.message("en")


# The JSON.

def test_the_json_is_canonical_and_names_every_field() -> None:
    content = RECEIPT.to_json()
    assert content == (
        b'{"certificate_sha256":"' + b"ab" * 32 + b'","format":"ebid-receipt/1",'
        b'"log_index":7,"lot":2,"package_sha256":"' + b"cd" * 32 + b'",'
        b'"received_at":"2026-03-02T09:59:59.123456Z","tender_id":42,"tree_size":8}'
    )
    assert Receipt.from_json(content) == RECEIPT
    assert json.loads(content)["format"] == FORMAT


def test_received_at_is_written_in_utc_whatever_the_zone() -> None:
    local = datetime(2026, 3, 3, 1, 59, 59, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert rfc3339(local) == "2026-03-02T17:59:59.000000Z"
    with pytest.raises(ValueError):
        rfc3339(datetime(2026, 3, 2, 9, 0))


@pytest.mark.parametrize(("changes", "reason"), [
    ({"tender_id": 0}, "tender_id must be an integer >= 1"),
    ({"lot": True}, "lot must be an integer >= 1"),
    ({"log_index": -1}, "log_index must be an integer >= 0"),
    ({"tree_size": 7}, "tree_size must exceed log_index"),
    ({"package_sha256": "CD" * 32}, "package_sha256 must be 64 lower-case hex digits"),
    ({"certificate_sha256": "ab"}, "certificate_sha256 must be 64 lower-case hex digits"),
    ({"received_at": datetime(2026, 3, 2, 9, 0)}, "received_at must be timezone-aware"),
])
def test_a_malformed_receipt_cannot_be_made(changes: dict[str, object], reason: str) -> None:
    fields = {**RECEIPT.__dict__, **changes}
    with pytest.raises(BadReceipt, match=reason):
        Receipt(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(("content", "reason"), [
    (b"not json", "not JSON"),
    (b"[]", "exactly the fields"),
    (RECEIPT.to_json().replace(b'"lot":2,', b""), "exactly the fields"),
    (RECEIPT.to_json().replace(b"ebid-receipt/1", b"ebid-receipt/2"), "unknown format"),
    (RECEIPT.to_json().replace(b".123456Z", b"Z"), "RFC 3339 UTC with microseconds"),
    (RECEIPT.to_json().replace(b"09:59:59", b"09:59:61"), "not a valid time"),
    (RECEIPT.to_json().replace(b'"lot":2', b'"lot": 2'), "canonical"),
    (RECEIPT.to_json().replace(b'"lot":2', b'"lot":2.0'), "lot must be an integer"),
])
def test_only_the_canonical_json_parses(content: bytes, reason: str) -> None:
    with pytest.raises(BadReceipt, match=reason):
        Receipt.from_json(content)


# Signing and verifying.

def test_round_trip_with_a_ca_issued_platform_certificate(
    platform: IssuedPair, trust: TrustStore
) -> None:
    der = signed_by(platform)
    verified = verify_receipt_signer(der, trust, now=NOW + timedelta(minutes=1))
    assert verified.receipt == RECEIPT
    assert verified.signer == platform.signing.certificate
    content, signature = verify_attached(der)
    assert content == RECEIPT.to_json()
    assert signature.certificates == platform.chain[:1]


def test_round_trip_with_the_self_signed_certificate_pinned(
    self_signed: keys.ReceiptSigner,
) -> None:
    der = sign_receipt(RECEIPT, self_signed.key, self_signed.certificate)
    assert verify_receipt(der, [self_signed.certificate]) == RECEIPT
    # A TrustStore whose roots hold it pins it too, no CRL needed.
    assert verify_receipt(der, TrustStore.of(roots=[self_signed.certificate])) == RECEIPT


def test_the_log_entry_is_the_hash_of_the_der(self_signed: keys.ReceiptSigner) -> None:
    der = sign_receipt(RECEIPT, self_signed.key, self_signed.certificate)
    assert entry_data(der) == hashlib.sha256(der).digest()


def test_a_receipt_signed_by_another_key_is_refused(
    platform: IssuedPair, self_signed: keys.ReceiptSigner, trust: TrustStore
) -> None:
    der = sign_receipt(RECEIPT, self_signed.key, self_signed.certificate)
    assert "not a trusted platform certificate" in refusal(der, [platform.signing.certificate])
    # Under the CA store, the self-signed one is an unknown issuer.
    assert "no accepted CA" in refusal(der, trust)


def test_a_ca_issued_signer_needs_the_cas_crls(platform: IssuedPair, pki: DevPKI) -> None:
    message = refusal(signed_by(platform), TrustStore.of(roots=pki.roots()))
    assert "CRL" in message


def test_a_revoked_platform_certificate_is_refused(tmp_path: Path) -> None:
    pki = DevPKI.create(tmp_path / "pki", now=NOW)
    pair = pki.issue(kind="officer", name="平台回执", now=NOW, family="ec", role="centre")
    pki.revoke(pair.signing.certificate.serial_number, now=NOW)
    pki.publish_crls("ec", now=NOW)
    message = refusal(signed_by(pair), TrustStore.of(roots=pki.roots(), crls=pki.crls()))
    assert "revoked" in message


def test_changed_content_is_refused(self_signed: keys.ReceiptSigner) -> None:
    der = sign_receipt(RECEIPT, self_signed.key, self_signed.certificate)
    forged = der.replace(b'"lot":2', b'"lot":3')
    assert forged != der
    assert "digest does not match" in refusal(forged, [self_signed.certificate])


def test_non_canonical_content_is_refused_even_when_signed(
    self_signed: keys.ReceiptSigner,
) -> None:
    content = json.dumps(RECEIPT.to_dict(), indent=1).encode()
    der = sign_attached(content, key=self_signed.key, certificate=self_signed.certificate)
    assert "canonical" in refusal(der, [self_signed.certificate])


def test_a_detached_signature_is_not_a_receipt(self_signed: keys.ReceiptSigner) -> None:
    der = sign_detached(RECEIPT.to_json(), key=self_signed.key,
                        certificate=self_signed.certificate)
    assert "does not carry its content" in refusal(der, [self_signed.certificate])
    # And the other way round: the sealed bid's detached check refuses an attached signature.
    attached = sign_receipt(RECEIPT, self_signed.key, self_signed.certificate)
    with pytest.raises(BadSignature, match="carries its content"):
        verify_detached(attached, content=RECEIPT.to_json())


def test_garbage_is_refused_with_a_reason(self_signed: keys.ReceiptSigner) -> None:
    assert "not DER-encoded CMS" in refusal(b"\x30\x03\x02\x01", [self_signed.certificate])


# The receipt key on disk.

def test_the_receipt_key_is_created_once_with_0600(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = keys.load(settings, now=NOW)
    key_file = settings.key_dir / keys.RECEIPT_KEY_FILE
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert keys.load(settings, now=NOW) is first
    keys._cache.clear()  # a restart reads the same files
    again = keys.load(settings, now=NOW)
    assert again.receipt.certificate == first.receipt.certificate
    assert keys.public_pem(again.receipt.key) == keys.public_pem(first.receipt.key)
    cert = first.receipt.certificate
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    assert cert.not_valid_before_utc < NOW < cert.not_valid_after_utc


def test_an_operator_supplied_certificate_and_chain_are_used(
    tmp_path: Path, platform: IssuedPair
) -> None:
    settings = Settings(data_dir=tmp_path)
    settings.key_dir.mkdir(parents=True)
    (settings.key_dir / keys.RECEIPT_KEY_FILE).write_bytes(platform.signing.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))
    (settings.key_dir / keys.RECEIPT_CERT_FILE).write_bytes(b"".join(
        cert.public_bytes(serialization.Encoding.PEM)
        for cert in (platform.signing.certificate, *platform.chain[:1])
    ))
    signer = keys.load(settings, now=NOW).receipt
    assert signer.certificate == platform.signing.certificate
    assert signer.chain == platform.chain[:1]


def test_a_certificate_for_another_key_is_refused(tmp_path: Path, platform: IssuedPair) -> None:
    settings = Settings(data_dir=tmp_path)
    settings.key_dir.mkdir(parents=True)
    (settings.key_dir / keys.RECEIPT_CERT_FILE).write_bytes(
        platform.signing.certificate.public_bytes(serialization.Encoding.PEM)
    )
    with pytest.raises(ValueError, match="does not certify"):
        keys.load(settings, now=NOW)


# Stock openssl.

def _openssl_verify(der: bytes, ca_file: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    receipt = tmp_path / "r.der"
    receipt.write_bytes(der)
    return subprocess.run(
        ["openssl", "cms", "-verify", "-inform", "DER", "-in", str(receipt),
         "-CAfile", str(ca_file)],
        capture_output=True, text=True, check=False,
    )


@needs_openssl
def test_openssl_verifies_a_ca_issued_receipt_and_prints_the_json(
    platform: IssuedPair, tmp_path: Path
) -> None:
    ca_file = tmp_path / "platform-ca.pem"
    ca_file.write_bytes(platform.chain[-1].public_bytes(serialization.Encoding.PEM))
    result = _openssl_verify(signed_by(platform), ca_file, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Verification successful" in result.stderr
    assert result.stdout.encode() == RECEIPT.to_json()


@needs_openssl
def test_openssl_verifies_a_self_signed_receipt(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    signer = keys.load(settings, now=datetime.now(UTC)).receipt
    der = sign_receipt(RECEIPT, signer.key, signer.certificate)
    result = _openssl_verify(der, settings.key_dir / keys.RECEIPT_CERT_FILE, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.encode() == RECEIPT.to_json()


@needs_openssl
def test_openssl_refuses_a_changed_receipt(platform: IssuedPair, tmp_path: Path) -> None:
    ca_file = tmp_path / "platform-ca.pem"
    ca_file.write_bytes(platform.chain[-1].public_bytes(serialization.Encoding.PEM))
    forged = signed_by(platform).replace(b'"lot":2', b'"lot":3')
    assert _openssl_verify(forged, ca_file, tmp_path).returncode != 0
