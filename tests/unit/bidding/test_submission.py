"""Sealed bid submission: the opening key at publication, receipts, re-sends and every refusal.

Every refusal leaves nothing behind: no bid row, no log entry, no audit event. Certificates
come from the session's dev PKI (tests/factories.py); the untrusted and revoked cases make
their own small EC PKI.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import factories
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import x25519

from bidding import services as bidding
from bidding.exceptions import DeadlinePassed, PackageSuperseded, PackageWithdrawn
from bidding.models import Bid, BidStatus, Notice, NoticeKind
from kernel.audit.models import AuditEvent
from kernel.errors import PayloadTooLarge
from signing import keys as platform_keys
from signing import opening
from signing.exceptions import CertificateExpired, CertificateRevoked, UnknownIssuer, WrongKeyUsage
from signing.fingerprint import keyed_hash
from signing.intake import (
    CertificateNotTheBidders,
    PackageForAnotherLot,
    PackageForAnotherTender,
    WrongKeyMode,
    WrongOpeningKey,
)
from signing.models import LogEntry, OpeningKey
from signing.opening import NoOfficerCertificate
from signing.pki import DevPKI
from signing.receipts import verify_receipt
from signing.sealed import BidFields, Signer, manifest_for, seal
from signing.sealed.errors import MalformedPackage, SealedBidRefused, TruncatedPackage

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl binary")


@pytest.fixture
def made(run: Any, ctx: Any, clock: Any) -> factories.MadeTender:
    agency = factories.make_agency(run, ctx)
    bidders = [factories.make_bidder(run, ctx, seed) for seed in ("sub-a", "sub-b")]
    return factories.make_tender(run, ctx, clock, agency, bidders=bidders)


def _counts(run: Any) -> tuple[int, int, int]:
    async def count() -> tuple[int, int, int]:
        return (await Bid.all().count(), await LogEntry.all().count(),
                await AuditEvent.filter(action="bidding:bid:submitted").count())

    return run(count)  # type: ignore[no-any-return]


def _refused(run: Any, ctx: Any, bidder: factories.Account, tender_id: int, package: bytes,
             error: type[Exception], *, lot: int = 1) -> Exception:
    before = _counts(run)
    with pytest.raises(error) as raised:
        factories.submit_package(run, ctx, bidder, tender_id, package, lot=lot)
    assert _counts(run) == before, "a refused package left something behind"
    return raised.value


# -- publication ----------------------------------------------------------------------------


def test_publication_makes_the_opening_key_and_announces_it(run: Any, made: Any) -> None:
    row = run(OpeningKey.get, tender_id=made.id)
    assert len(row.setup["shares"]) == 3 and row.setup["threshold"] == 2
    assert [s["role"] for s in row.setup["shares"]] == ["agency", "supervisor", "centre"]
    assert row.setup["shares"][0]["officer"] == f"user:{made.agency.user_id}"
    notice = run(Notice.get, tender_id=made.id, kind=NoticeKind.ANNOUNCEMENT)
    assert row.key_id in notice.body and row.public_key_pem.strip() in notice.body
    assert "either" in notice.body


def test_publication_is_refused_naming_the_officer_without_a_certificate(
    run: Any, ctx: Any, clock: Any
) -> None:
    agency = factories.make_agency(run, ctx)
    draft = factories.make_tender(run, ctx, clock, agency, state="draft")
    factories.trust_dev_pki(run, ctx)
    with pytest.raises(NoOfficerCertificate) as refused:
        run(bidding.publish, ctx, actor=agency.actor, tender_id=draft.id)
    assert refused.value.role == "agency"
    assert "加密证书" in refused.value.message("zh-CN")
    run(factories.register_officer_key, ctx, agency.actor, "agency")
    with pytest.raises(NoOfficerCertificate) as refused:
        run(bidding.publish, ctx, actor=agency.actor, tender_id=draft.id)
    assert refused.value.role == "supervisor"
    assert run(OpeningKey.filter(tender_id=draft.id).count) == 0
    factories.publish(run, ctx, agency, draft.id)
    assert run(OpeningKey.filter(tender_id=draft.id).count) == 1


# -- acceptance, receipts, re-sends ---------------------------------------------------------


def test_an_accepted_package_gets_a_receipt_naming_it(run: Any, ctx: Any, made: Any) -> None:
    bidder = made.bidders[0]
    package = factories.seal_bid(run, ctx, bidder, made.id, "10980000.00")
    bid, der, created = factories.submit_package(run, ctx, bidder, made.id, package)
    assert created
    platform = platform_keys.load(ctx.settings, now=ctx.clock.now()).receipt.certificate
    receipt = verify_receipt(der, [platform])
    creds = factories.bidder_credentials(bidder)
    fingerprint = creds.signer.certificate.fingerprint(hashes.SHA256()).hex()
    assert receipt.tender_id == made.id and receipt.lot == 1
    assert receipt.certificate_sha256 == fingerprint
    assert receipt.package_sha256 == bid.sha256 == hashlib.sha256(package).hexdigest()
    assert receipt.received_at == ctx.clock.now()
    row = run(Bid.get, id=bid.id)
    assert row.price is None and row.status == BidStatus.SUBMITTED
    assert bytes(row.receipt) == der and row.log_index == receipt.log_index
    assert ctx.blobs.path_for(row.sha256).read_bytes() == package
    key = platform_keys.load(ctx.settings, now=ctx.clock.now()).fingerprint
    assert row.upload_address == keyed_hash(key, "ip", "10.1.2.3")
    assert _counts(run) == (1, 1, 1)


def test_resending_the_current_package_returns_the_identical_receipt(
    run: Any, ctx: Any, clock: Any, made: Any
) -> None:
    bidder = made.bidders[0]
    package = factories.seal_bid(run, ctx, bidder, made.id, "10980000.00")
    first, der, _ = factories.submit_package(run, ctx, bidder, made.id, package)
    clock.advance(minutes=5)
    again, der_again, created = factories.submit_package(run, ctx, bidder, made.id, package)
    assert not created and again.id == first.id and der_again == der
    assert _counts(run) == (1, 1, 1)


def test_a_superseded_or_withdrawn_package_is_refused_naming_why(
    run: Any, ctx: Any, made: Any
) -> None:
    bidder = made.bidders[0]
    old = factories.seal_bid(run, ctx, bidder, made.id, "10980000.00")
    new = factories.seal_bid(run, ctx, bidder, made.id, "10970000.00")
    first, _, _ = factories.submit_package(run, ctx, bidder, made.id, old)
    second, _, _ = factories.submit_package(run, ctx, bidder, made.id, new)
    assert run(Bid.get, id=first.id).status == BidStatus.SUPERSEDED
    refusal = _refused(run, ctx, bidder, made.id, old, PackageSuperseded)
    assert "替换" in refusal.message("zh-CN")
    run(bidding.withdraw_bid, ctx, actor=bidder.actor, tender_id=made.id, bid_id=second.id)
    _refused(run, ctx, bidder, made.id, new, PackageWithdrawn)


# -- refusals -------------------------------------------------------------------------------


def test_malformed_and_truncated_packages_are_refused(run: Any, ctx: Any, made: Any) -> None:
    bidder = made.bidders[0]
    package = factories.seal_bid(run, ctx, bidder, made.id, "10980000.00")
    _refused(run, ctx, bidder, made.id, b"PK\x03\x04 this is a zip, not a package",
             MalformedPackage)
    garbled = bytearray(package)
    garbled[-40] ^= 0xFF  # inside the outer CMS signature
    _refused(run, ctx, bidder, made.id, bytes(garbled), SealedBidRefused)
    error = _refused(run, ctx, bidder, made.id, package[: len(package) // 2], SealedBidRefused)
    assert isinstance(error, TruncatedPackage | MalformedPackage)


def test_a_package_for_another_tender_or_lot_is_refused(
    run: Any, ctx: Any, clock: Any, made: Any
) -> None:
    bidder = made.bidders[0]
    other = factories.make_tender(run, ctx, clock, made.agency, bidders=[bidder],
                                  lots=(bidding.LotIn("一标段", 5), bidding.LotIn("二标段", 5)))
    for_other = factories.seal_bid(run, ctx, bidder, other.id, "10980000.00")
    refusal = _refused(run, ctx, bidder, made.id, for_other, PackageForAnotherTender)
    assert str(other.id) in refusal.message("en")
    lot_two = factories.seal_bid(run, ctx, bidder, other.id, "10980000.00", lot=2)
    _refused(run, ctx, bidder, other.id, lot_two, PackageForAnotherLot, lot=1)
    factories.submit_package(run, ctx, bidder, other.id, lot_two, lot=2)


def test_a_package_sealed_to_another_key_or_in_the_other_mode_is_refused(
    run: Any, ctx: Any, made: Any
) -> None:
    bidder = made.bidders[0]
    both = factories.seal_bid(run, ctx, bidder, made.id, "10980000.00", mode="both")
    refusal = _refused(run, ctx, bidder, made.id, both, WrongKeyMode)
    assert "both" in refusal.message("en") and "either" in refusal.message("en")
    creds = factories.bidder_credentials(bidder)
    out = io.BytesIO()
    seal(files=[("a.pdf", io.BytesIO(b"%PDF"))],
         bid=BidFields(tender=str(made.id), lot="1", price="1.00"), signer=creds.signer,
         opening_public_key=x25519.X25519PrivateKey.generate().public_key(),
         bidder_public_key=creds.encryption_certificate, out=out)
    _refused(run, ctx, bidder, made.id, out.getvalue(), WrongOpeningKey)


def test_another_organisations_package_is_refused(run: Any, ctx: Any, made: Any) -> None:
    mine, theirs = made.bidders
    package = factories.seal_bid(run, ctx, mine, made.id, "10980000.00",
                                 credentials=factories.bidder_credentials(theirs))
    refusal = _refused(run, ctx, mine, made.id, package, CertificateNotTheBidders)
    assert theirs.credit_code in refusal.message("en")


def test_a_wrong_usage_certificate_is_refused(run: Any, ctx: Any, made: Any) -> None:
    bidder = made.bidders[0]
    creds = factories.bidder_credentials(bidder)
    # The encryption half (keyAgreement only) signing the package.
    wrong = factories.BidderCredentials(
        signer=Signer(key=creds.encryption_key, certificate=creds.encryption_certificate,
                      chain=creds.pair.chain),
        encryption_certificate=creds.encryption_certificate,
        encryption_key=creds.encryption_key, pair=creds.pair)
    package = factories.seal_bid(run, ctx, bidder, made.id, "1.00", credentials=wrong)
    _refused(run, ctx, bidder, made.id, package, WrongKeyUsage)


def _credentials(pair: Any) -> factories.BidderCredentials:
    return factories.BidderCredentials(
        signer=Signer(key=pair.signing.key, certificate=pair.signing.certificate,
                      chain=pair.chain),
        encryption_certificate=pair.encryption.certificate, encryption_key=pair.encryption.key,
        pair=pair)


def test_an_expired_certificate_is_refused(run: Any, ctx: Any, made: Any) -> None:
    bidder = made.bidders[0]
    pair = factories.dev_pki().issue(
        kind="company", name=bidder.org_name, credit_code=bidder.credit_code,
        now=factories.PKI_NOW, family="ec", days=30)
    package = factories.seal_bid(run, ctx, bidder, made.id, "1.00",
                                 credentials=_credentials(pair))
    refusal = _refused(run, ctx, bidder, made.id, package, CertificateExpired)
    assert "2025-01-31" in refusal.message("en")


def test_untrusted_and_revoked_certificates_are_refused(
    run: Any, ctx: Any, made: Any, tmp_path: Path
) -> None:
    bidder = made.bidders[0]
    other = DevPKI.create(tmp_path / "pki", now=factories.PKI_NOW, families=("ec",))
    pair = other.issue(kind="company", name=bidder.org_name, credit_code=bidder.credit_code,
                       now=factories.PKI_NOW, family="ec", days=factories.PKI_DAYS)
    package = factories.seal_bid(run, ctx, bidder, made.id, "1.00",
                                 credentials=_credentials(pair))
    _refused(run, ctx, bidder, made.id, package, UnknownIssuer)
    later = factories.PKI_NOW + timedelta(days=1)
    other.revoke(pair.signing.certificate.serial_number, now=later)
    other.publish_crls("ec", now=later, days=factories.PKI_DAYS)
    factories.trust_dev_pki(run, ctx, other)
    refusal = _refused(run, ctx, bidder, made.id, package, CertificateRevoked)
    assert "2025-01-02" in refusal.message("en")


def test_an_oversized_package_is_refused(run: Any, ctx: Any, made: Any) -> None:
    bidder = made.bidders[0]
    package = factories.seal_bid(run, ctx, bidder, made.id, "10980000.00")
    settings = ctx.settings
    ctx.settings = settings.with_(max_bid_bytes=len(package) - 1)
    try:
        _refused(run, ctx, bidder, made.id, package, PayloadTooLarge)
    finally:
        ctx.settings = settings


def test_the_deadline_is_judged_by_the_last_byte(
    run: Any, ctx: Any, clock: Any, made: Any
) -> None:
    bidder = made.bidders[0]
    package = factories.seal_bid(run, ctx, bidder, made.id, "10980000.00")
    clock.set(made.deadline_at + timedelta(seconds=30))  # checked inside the grace period
    before = made.deadline_at - timedelta(microseconds=1)
    _, der, _ = factories.submit_package(run, ctx, bidder, made.id, package,
                                         received_at=before)
    assert verify_receipt(der, [platform_keys.load(ctx.settings, now=before).receipt
                                .certificate]).received_at == before
    late = factories.seal_bid(run, ctx, bidder, made.id, "10970000.00")
    with pytest.raises(DeadlinePassed):
        factories.submit_package(run, ctx, bidder, made.id, late, received_at=made.deadline_at)
    assert _counts(run) == (1, 1, 1)


# -- interoperability -----------------------------------------------------------------------


def _pem(path: Path, cert: Any) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


@needs_openssl
def test_a_manifest_signed_by_openssl_goes_through_and_openssl_verifies_the_receipt(
    run: Any, ctx: Any, made: Any, tmp_path: Path
) -> None:
    bidder = made.bidders[0]
    creds = factories.bidder_credentials(bidder)
    files = {"投标文件.pdf": b"%PDF-1.4 sealed by openssl"}
    fields = BidFields(tender=str(made.id), lot="1", price="10980000.00", duration_days=300,
                       quality="合格", project_manager="张工")
    manifest = manifest_for(files=[(n, io.BytesIO(d)) for n, d in files.items()], bid=fields,
                            certificate=creds.signer.certificate)
    (tmp_path / "manifest.json").write_bytes(manifest)
    (tmp_path / "key.pem").write_bytes(creds.signer.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    _pem(tmp_path / "cert.pem", creds.signer.certificate)
    signed = subprocess.run(
        ["openssl", "cms", "-sign", "-binary", "-outform", "DER", "-signer", "cert.pem",
         "-inkey", "key.pem", "-in", "manifest.json", "-out", "manifest.p7s"],
        cwd=tmp_path, capture_output=True, check=False)
    assert signed.returncode == 0, signed.stderr.decode()
    setup = run(opening.opening_setup, made.id)
    out = io.BytesIO()
    seal(files=[(n, io.BytesIO(d)) for n, d in files.items()], bid=fields, signer=creds.signer,
         opening_public_key=setup.public_key, bidder_public_key=creds.encryption_certificate,
         out=out, manifest_signature=(tmp_path / "manifest.p7s").read_bytes())
    _, der, created = factories.submit_package(run, ctx, bidder, made.id, out.getvalue())
    assert created
    (tmp_path / "receipt.p7m").write_bytes(der)
    platform = platform_keys.load(ctx.settings, now=ctx.clock.now()).receipt.certificate
    checked = subprocess.run(
        ["openssl", "cms", "-verify", "-inform", "DER", "-in", "receipt.p7m",
         "-CAfile", str(_pem(tmp_path / "platform.pem", platform))],
        cwd=tmp_path, capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    assert f'"tender_id":{made.id}' in checked.stdout
