"""Detached CMS: made with cryptography, verified with asn1crypto, and both ways with openssl.

Certificates come from a development PKI made once per module, valid at the real time so the
openssl binary (which checks validity against its own clock) accepts them.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import pkcs7

from signing.certificates import TrustStore, verify_certificate
from signing.pki import DevPKI, IssuedPair
from signing.sealed.cms import sign_detached, verify_detached
from signing.sealed.errors import BadSignature

NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
CONTENT = '{"tender":"T-2026-001","price":"1234.50","说明":"投标清单"}'.encode()
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl binary")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPKI:
    return DevPKI.create(tmp_path_factory.mktemp("pki"), now=NOW)


@pytest.fixture(scope="module")
def bidders(pki: DevPKI) -> dict[str, IssuedPair]:
    return {family: pki.issue(kind="company", name=f"华东{family}建设有限公司", now=NOW,
                              family=family)
            for family in ("rsa", "ec")}


@pytest.fixture(params=["rsa", "ec"])
def bidder(request: pytest.FixtureRequest, bidders: dict[str, IssuedPair]) -> IssuedPair:
    return bidders[request.param]


def sign(pair: IssuedPair, content: bytes = CONTENT) -> bytes:
    return sign_detached(content, key=pair.signing.key, certificate=pair.signing.certificate,
                         chain=pair.chain)


def refusal(der: bytes, content: bytes = CONTENT) -> str:
    with pytest.raises(BadSignature) as caught:
        verify_detached(der, content=content)
    return str(caught.value)


def test_round_trip_names_the_signer_and_carries_the_chain(
    bidder: IssuedPair, pki: DevPKI
) -> None:
    verified = verify_detached(sign(bidder), content=CONTENT)

    assert verified.signer == bidder.signing.certificate
    assert set(verified.certificates) == set(bidder.chain)
    assert verified.digest_algorithm == "sha256"
    assert verified.signing_time is not None
    trust = TrustStore.of(roots=pki.roots(), crls=pki.crls())
    accepted = verify_certificate(verified.signer, intermediates=verified.certificates,
                                  trust=trust, now=NOW + timedelta(minutes=1))
    assert accepted.credit_code is not None


def test_other_content_is_refused(bidder: IssuedPair) -> None:
    assert "digest does not match" in refusal(sign(bidder), CONTENT + b" ")


def test_a_changed_signature_value_is_refused(bidder: IssuedPair) -> None:
    der = bytearray(sign(bidder))
    der[-1] ^= 0x01  # the signature value is the last field of the SignerInfo
    assert "does not verify" in refusal(bytes(der))


def test_garbage_and_truncated_der_are_refused(bidder: IssuedPair) -> None:
    assert "not DER-encoded CMS" in refusal(b"not a signature at all")
    assert "not DER-encoded CMS" in refusal(sign(bidder)[:200])


def test_an_attached_signature_is_not_a_detached_one(bidder: IssuedPair) -> None:
    der = (pkcs7.PKCS7SignatureBuilder().set_data(CONTENT)
           .add_signer(bidder.signing.certificate, bidder.signing.key, hashes.SHA256())
           .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary]))
    assert "carries its content" in refusal(der)


def test_two_signers_are_refused(bidders: dict[str, IssuedPair]) -> None:
    builder = pkcs7.PKCS7SignatureBuilder().set_data(CONTENT)
    for pair in bidders.values():
        builder = builder.add_signer(pair.signing.certificate, pair.signing.key, hashes.SHA256())
    der = builder.sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature])
    assert "2 signers" in refusal(der)


def test_a_signature_without_its_certificate_is_refused(bidder: IssuedPair) -> None:
    der = (pkcs7.PKCS7SignatureBuilder().set_data(CONTENT)
           .add_signer(bidder.signing.certificate, bidder.signing.key, hashes.SHA256())
           .sign(serialization.Encoding.DER,
                 [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.NoCerts]))
    assert "certificate is not included" in refusal(der)


def test_without_signed_attributes_the_signature_covers_the_content(
    bidder: IssuedPair,
) -> None:
    der = (pkcs7.PKCS7SignatureBuilder().set_data(CONTENT)
           .add_signer(bidder.signing.certificate, bidder.signing.key, hashes.SHA256())
           .sign(serialization.Encoding.DER,
                 [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.NoAttributes]))
    verified = verify_detached(der, content=CONTENT)
    assert verified.signer == bidder.signing.certificate
    assert verified.signing_time is None
    assert "does not verify" in refusal(der, CONTENT + b"!")


def test_rsa_pss_and_sha512_are_accepted(bidders: dict[str, IssuedPair]) -> None:
    pair = bidders["rsa"]
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64)
    der = (pkcs7.PKCS7SignatureBuilder().set_data(CONTENT)
           .add_signer(pair.signing.certificate, pair.signing.key, hashes.SHA512(),
                       rsa_padding=pss)
           .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature]))
    verified = verify_detached(der, content=CONTENT)
    assert verified.digest_algorithm == "sha512"


def test_the_refusal_is_in_chinese_too(bidder: IssuedPair) -> None:
    with pytest.raises(BadSignature) as caught:
        verify_detached(sign(bidder), content=b"other", what="manifest")
    assert caught.value.message("zh-CN").startswith("投标清单签名无效")
    assert str(caught.value).startswith("The manifest signature is invalid")


# --- interoperability with the openssl binary -----------------------------------------------


def write_material(pair: IssuedPair, directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = {name: directory / f"{name}.pem" for name in ("cert", "key", "chain", "root")}
    paths["cert"].write_bytes(pair.signing.certificate.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(pair.signing.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    paths["chain"].write_bytes(b"".join(
        c.public_bytes(serialization.Encoding.PEM) for c in pair.chain))
    paths["root"].write_bytes(pair.chain[-1].public_bytes(serialization.Encoding.PEM))
    return paths


def openssl(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, check=False)


@needs_openssl
@pytest.mark.parametrize("extra", [(), ("-keyid",), ("-md", "sha384")],
                         ids=["issuer-serial", "subject-key-id", "sha384"])
def test_a_signature_made_by_openssl_verifies(
    bidder: IssuedPair, tmp_path: Path, extra: tuple[str, ...]
) -> None:
    paths = write_material(bidder, tmp_path)
    (tmp_path / "manifest.json").write_bytes(CONTENT)
    made = openssl("cms", "-sign", "-binary", "-outform", "DER", *extra,
                   "-signer", paths["cert"], "-inkey", paths["key"],
                   "-in", tmp_path / "manifest.json", "-out", tmp_path / "manifest.p7s")
    assert made.returncode == 0, made.stderr.decode()

    der = (tmp_path / "manifest.p7s").read_bytes()
    assert verify_detached(der, content=CONTENT).signer == bidder.signing.certificate
    assert "digest does not match" in refusal(der, CONTENT[:-1])


@needs_openssl
def test_openssl_refuses_sha1_and_so_do_we(bidder: IssuedPair, tmp_path: Path) -> None:
    paths = write_material(bidder, tmp_path)
    (tmp_path / "m.json").write_bytes(CONTENT)
    made = openssl("cms", "-sign", "-binary", "-outform", "DER", "-md", "sha1",
                   "-signer", paths["cert"], "-inkey", paths["key"],
                   "-in", tmp_path / "m.json", "-out", tmp_path / "m.p7s")
    if made.returncode != 0:
        pytest.skip("this openssl will not sign with SHA-1")
    assert "digest algorithm sha1 is not accepted" in refusal((tmp_path / "m.p7s").read_bytes())


@needs_openssl
@pytest.mark.parametrize("ca_file", ["chain", "root"])
def test_openssl_verifies_our_signature(bidder: IssuedPair, tmp_path: Path, ca_file: str) -> None:
    paths = write_material(bidder, tmp_path)
    (tmp_path / "manifest.json").write_bytes(CONTENT)
    (tmp_path / "manifest.p7s").write_bytes(sign(bidder))

    def verify(content: Path) -> subprocess.CompletedProcess[bytes]:
        return openssl("cms", "-verify", "-binary", "-inform", "DER",
                       "-in", tmp_path / "manifest.p7s", "-content", content,
                       "-CAfile", paths[ca_file], "-purpose", "any", "-out", tmp_path / "out")

    checked = verify(tmp_path / "manifest.json")
    assert checked.returncode == 0, checked.stderr.decode()
    assert (tmp_path / "out").read_bytes() == CONTENT
    (tmp_path / "other.json").write_bytes(CONTENT + b" ")
    assert verify(tmp_path / "other.json").returncode != 0


def test_the_signer_cache_never_spares_the_signature(bidders: dict[str, IssuedPair]) -> None:
    """Certificates and the signer found among them are cached by their bytes; the signature
    and the content digest are checked every time, before and after the cache knows them."""
    ec, rsa = bidders["ec"], bidders["rsa"]
    good = sign(ec)
    for _ in range(2):  # the second round is served from the cache
        assert verify_detached(good, content=CONTENT).signer == ec.signing.certificate
        assert "does not match this content" in refusal(good, CONTENT + b" ")
        changed = bytearray(good)
        changed[-5] ^= 0x01
        assert "does not verify" in refusal(bytes(changed))
    # Another signer's signature is not answered with the cached one's certificate.
    assert verify_detached(sign(rsa), content=CONTENT).signer == rsa.signing.certificate
