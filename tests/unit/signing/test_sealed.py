"""Sealed bids: round trips in both key modes, constant memory, and every refusal.

Material comes from a development PKI made once per module (valid at the real time, for the
openssl interop test). Packages are small with 1 KiB segments, so one bid spans many segments.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import os
import shutil
import struct
import subprocess
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519

from signing.certificates import TrustStore, verify_certificate
from signing.pki import DevPKI, IssuedPair
from signing.sealed import (
    BidFields,
    Item,
    Signer,
    inspect,
    manifest_for,
    open_sealed,
    read_header,
    seal,
    sign_detached,
    unwrap_data_key,
    unwrap_share,
)
from signing.sealed.errors import (
    BadSignature,
    BothKeysNeeded,
    MalformedPackage,
    ManifestMismatch,
    PackageChanged,
    SealedBidRefused,
    TamperedSegment,
    TruncatedPackage,
    UnsupportedAlgorithm,
    WrongDataKey,
    WrongRecipientKey,
)
from signing.sealed.format import PREFIX, RECORD, SIGNATURE

# The package exports the function ``seal``, which hides its module of the same name.
seal_module = importlib.import_module("signing.sealed.seal")
NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
SEGMENT = 1024
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl binary")
FILES = {
    "技术标.pdf": os.urandom(5 * SEGMENT + 17),
    "商务标.xlsx": os.urandom(3 * SEGMENT),  # a whole number of segments
    "empty.txt": b"",
    "工程量清单.csv": "code,description\n01,土方开挖\n".encode() * 40,
}
BID = BidFields(
    tender="T-2026-001", lot="2", price="1234567.50",
    items=[Item("010101001", "平整场地", "1200.5", "3.20"),
           Item("010101002", "挖一般土方", 800, 25)],
    client_fingerprint={"mac": "a" * 64, "machine_id": "b" * 64},
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPKI:
    return DevPKI.create(tmp_path_factory.mktemp("pki"), now=NOW)


@pytest.fixture(scope="module")
def bidders(pki: DevPKI) -> dict[str, IssuedPair]:
    return {family: pki.issue(kind="company", name=f"华东{family}建设有限公司", now=NOW,
                              family=family)
            for family in ("rsa", "ec")}


@pytest.fixture(scope="module")
def stranger(pki: DevPKI) -> IssuedPair:
    return pki.issue(kind="company", name="另一家建设有限公司", now=NOW, family="ec")


@pytest.fixture(scope="module")
def opening_keys() -> dict[str, Any]:
    return {"p256": ec.generate_private_key(ec.SECP256R1()),
            "x25519": x25519.X25519PrivateKey.generate()}


def signer_of(pair: IssuedPair) -> Signer:
    return Signer(pair.signing.key, pair.signing.certificate, pair.chain)


def file_streams(files: dict[str, bytes] = FILES) -> list[tuple[str, io.BytesIO]]:
    return [(name, io.BytesIO(data)) for name, data in files.items()]


def make(pair: IssuedPair, opening: Any, *, mode: str = "either", bid: BidFields = BID,
         files: dict[str, bytes] = FILES, **options: Any) -> bytes:
    out = io.BytesIO()
    seal(files=file_streams(files), bid=bid, signer=signer_of(pair),
         opening_public_key=opening.public_key(),
         bidder_public_key=options.pop("bidder_public_key", pair.encryption.certificate),
         out=out, mode=mode, segment_size=options.pop("segment_size", SEGMENT), **options)
    return out.getvalue()


@pytest.fixture(scope="module")
def package(bidders: dict[str, IssuedPair], opening_keys: dict[str, Any]) -> bytes:
    return make(bidders["ec"], opening_keys["p256"])


def data_key(package: bytes, opening: Any) -> bytes:
    return unwrap_data_key(read_header(io.BytesIO(package)), opening, "opening")


def records(package: bytes) -> Iterator[tuple[int, int, int]]:
    """(offset, tag, total length) of every record after the header."""
    _, _, header_length = PREFIX.unpack_from(package)
    offset = PREFIX.size + header_length
    while offset < len(package):
        tag, length = RECORD.unpack_from(package, offset)
        yield offset, tag, RECORD.size + length
        offset += RECORD.size + length


def open_bytes(package: bytes, key: bytes, **options: Any) -> Any:
    return open_sealed(io.BytesIO(package), key, **options)


# --- round trips ----------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["rsa", "ec"])
@pytest.mark.parametrize("mode", ["either", "both"])
@pytest.mark.parametrize("opening_kind", ["p256", "x25519"])
def test_round_trip(
    bidders: dict[str, IssuedPair], opening_keys: dict[str, Any], pki: DevPKI, tmp_path: Path,
    family: str, mode: str, opening_kind: str,
) -> None:
    pair, opening = bidders[family], opening_keys[opening_kind]
    package = make(pair, opening, mode=mode)

    inspected = inspect(io.BytesIO(package))
    header = inspected.header
    assert (header.tender, header.lot, header.key_mode) == ("T-2026-001", "2", mode)
    assert inspected.signer == pair.signing.certificate
    assert inspected.segments > 10
    assert inspected.package_sha256 == hashlib.sha256(package).hexdigest()
    trust = TrustStore.of(roots=pki.roots(), crls=pki.crls())
    accepted = verify_certificate(inspected.signer, intermediates=inspected.certificates,
                                  trust=trust, now=NOW + timedelta(minutes=1))

    if mode == "either":
        by_opening = unwrap_data_key(header, opening, "opening")
        by_bidder = unwrap_data_key(header, pair.encryption.key, "bidder")
        assert by_opening == by_bidder
    else:
        opening_share = unwrap_share(header, opening, "opening")
        bidder_share = unwrap_share(header, pair.encryption.key, "bidder")
        assert opening_share != bidder_share
        by_opening = unwrap_data_key(header, opening, "opening", other_share=bidder_share)
        by_bidder = unwrap_data_key(header, pair.encryption.key, "bidder",
                                    other_share=opening_share)
        assert by_opening == by_bidder
        with pytest.raises(BothKeysNeeded):
            unwrap_data_key(header, opening, "opening")
        with pytest.raises(WrongDataKey):  # one share alone is not the key
            open_bytes(package, opening_share)

    opened = open_bytes(package, by_bidder, out_dir=tmp_path)
    assert {f.name: (tmp_path / f.name).read_bytes() for f in opened.files} == FILES
    assert opened.manifest.bidder == accepted.credit_code
    assert opened.manifest.price == "1234567.50"
    assert [i.quantity for i in opened.manifest.items] == ["1200.5", "800"]
    assert opened.manifest.client_fingerprint == {"mac": "a" * 64, "machine_id": "b" * 64}
    assert opened.package == inspected


def test_the_bidder_key_may_be_an_x25519_key_made_by_the_client(
    bidders: dict[str, IssuedPair], opening_keys: dict[str, Any]
) -> None:
    own = x25519.X25519PrivateKey.generate()
    package = make(bidders["rsa"], opening_keys["p256"], bidder_public_key=own.public_key())
    key = unwrap_data_key(read_header(io.BytesIO(package)), own, "bidder")
    seen: dict[str, bytearray] = {}

    class Collect(io.BytesIO):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name_ = name

        def close(self) -> None:
            seen[self.name_] = bytearray(self.getvalue())
            super().close()

    opened = open_bytes(package, key, open_file=Collect)
    assert {name: bytes(data) for name, data in seen.items()} == FILES
    assert [f.path for f in opened.files] == [None] * len(FILES)


def test_one_segment_and_no_files(bidders: dict[str, IssuedPair],
                                  opening_keys: dict[str, Any]) -> None:
    package = make(bidders["ec"], opening_keys["x25519"], files={}, segment_size=1 << 20)
    assert [tag for _, tag, _ in records(package)] == [0x02, SIGNATURE]
    opened = open_bytes(package, data_key(package, opening_keys["x25519"]))
    assert opened.files == () and opened.manifest.files == ()


def test_an_empty_final_segment_is_accepted(bidders: dict[str, IssuedPair],
                                            opening_keys: dict[str, Any], monkeypatch) -> None:
    """The format lets a writer end a payload that fills its last segment exactly with an
    empty final segment (ours never does): intake and the opening both take it."""
    sealing = importlib.import_module("signing.sealed.seal")

    def eager(self: Any, data: bytes) -> None:  # emits a full segment as soon as it is full
        self.buffer += data
        while len(self.buffer) >= self.header.segment_size:
            self._emit(bytes(self.buffer[:self.header.segment_size]), final=False)
            del self.buffer[:self.header.segment_size]

    monkeypatch.setattr(sealing._Segments, "write", eager)
    size = 5000
    for _ in range(20):  # the manifest's CMS signature varies by a byte or two in length
        package = make(bidders["rsa"], opening_keys["x25519"], files={"a.bin": b"x" * size})
        final = next(length for _, tag, length in records(package) if tag == 0x02)
        left = final - RECORD.size - 16
        if left == 0:
            break
        size += SEGMENT - left
    else:  # pragma: no cover
        raise AssertionError("no package with an empty final segment was made")
    inspect(io.BytesIO(package))
    opened = open_bytes(package, data_key(package, opening_keys["x25519"]))
    assert opened.files[0].size == size
    # Cut after the last full segment, its final flag is missing: still a truncation.
    offsets = [offset for offset, tag, _ in records(package) if tag == 0x02]
    with pytest.raises(TruncatedPackage):
        open_bytes(package[:offsets[0]], data_key(package, opening_keys["x25519"]))


def test_layout_is_as_documented(package: bytes) -> None:
    magic, version, _ = PREFIX.unpack_from(package)
    assert (magic, version) == (b"EBIDSEAL", 1)
    header = read_header(io.BytesIO(package))
    assert header.algorithms == {
        "payload": "aes-256-gcm-seg-v1", "signature": "cms-sha256", "digest": "sha256",
        "commitment": "hmac-sha256-v1", "container": "ebid-entries-v1",
    }
    assert {w.to: w.alg for w in header.wraps} == {
        "opening": "hpke-p256-hkdf-sha256-aes256gcm", "bidder": "hpke-p256-hkdf-sha256-aes256gcm"}
    tags = [tag for _, tag, _ in records(package)]
    assert tags[-2:] == [0x02, SIGNATURE] and set(tags[:-2]) == {0x01}
    assert all(size == RECORD.size + SEGMENT + 16 for _, tag, size in records(package)
               if tag == 0x01)


# --- constant memory ------------------------------------------------------------------------


class Generated(io.RawIOBase):
    """``size`` bytes made on the fly: a bid file that is never whole in memory."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.block = hashlib.sha256(b"block").digest() * 2048  # 64 KiB

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.left, len(self.block))
        buffer[:n] = self.block[:n]
        self.left -= n
        return n


class Discard:
    def __init__(self, name: str = "") -> None:
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return len(data)

    def close(self) -> None:
        pass


def test_sealing_and_opening_64_mib_stay_in_constant_memory(
    bidders: dict[str, IssuedPair], opening_keys: dict[str, Any], tmp_path: Path
) -> None:
    size, path = 64 << 20, tmp_path / "big.ebid"
    pair, opening = bidders["ec"], opening_keys["p256"]
    tracemalloc.start()
    try:
        with path.open("wb") as out:
            sealed = seal(files=[("big.bin", Generated(size))], bid=BID, signer=signer_of(pair),
                          opening_public_key=opening.public_key(),
                          bidder_public_key=pair.encryption.certificate, out=out)
        seal_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        with path.open("rb") as stream:
            key = unwrap_data_key(read_header(stream), opening, "opening")
            stream.seek(0)
            opened = open_sealed(stream, key, open_file=Discard)
        open_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sealed.size > size and opened.files[0].size == size
    assert seal_peak < 8 << 20, f"sealing peaked at {seal_peak / 2**20:.1f} MiB"
    assert open_peak < 8 << 20, f"opening peaked at {open_peak / 2**20:.1f} MiB"


# --- refusals -------------------------------------------------------------------------------


def test_a_wrong_data_key_is_named(package: bytes) -> None:
    with pytest.raises(WrongDataKey) as caught:
        open_bytes(package, os.urandom(32))
    assert "not the key this package was sealed with" in str(caught.value)
    assert caught.value.message("zh-CN").startswith("数据密钥与密封投标文件的密钥承诺不符")


def test_another_private_key_does_not_unwrap(package: bytes, stranger: IssuedPair,
                                             opening_keys: dict[str, Any]) -> None:
    header = read_header(io.BytesIO(package))
    with pytest.raises(WrongRecipientKey, match="wrapped to key"):
        unwrap_data_key(header, stranger.encryption.key, "bidder")
    with pytest.raises(WrongRecipientKey, match="the key is for hpke-x25519"):
        unwrap_data_key(header, opening_keys["x25519"], "opening")


def flip(package: bytes, offset: int) -> bytes:
    changed = bytearray(package)
    changed[offset] ^= 0x40
    return bytes(changed)


def test_a_flipped_byte_in_a_segment(package: bytes, opening_keys: dict[str, Any],
                                     tmp_path: Path) -> None:
    offset, _, _ = list(records(package))[3]
    changed = flip(package, offset + RECORD.size + 100)
    with pytest.raises(TamperedSegment) as caught:
        open_bytes(changed, data_key(package, opening_keys["p256"]), out_dir=tmp_path)
    assert caught.value.params["index"] == 3
    assert list(tmp_path.iterdir()) == []  # the file begun before the refusal is removed
    with pytest.raises(BadSignature, match="package signature"):
        inspect(io.BytesIO(changed))


def test_dropping_the_last_segment(package: bytes, opening_keys: dict[str, Any]) -> None:
    layout = list(records(package))
    (final, _, final_size), (trailer, _, _) = layout[-2], layout[-1]
    dropped = package[:final] + package[trailer:]
    key = data_key(package, opening_keys["p256"])
    for refuse in (lambda: open_bytes(dropped, key), lambda: inspect(io.BytesIO(dropped))):
        with pytest.raises(TruncatedPackage, match="without its final segment"):
            refuse()
    # The same, with the new last segment re-flagged as final: its nonce says otherwise.
    previous = layout[-3][0]
    reflagged = bytearray(dropped)
    reflagged[previous] = 0x02
    with pytest.raises(TruncatedPackage, match="was not the last one"):
        open_bytes(bytes(reflagged), key)
    assert final_size > 0


def test_a_package_cut_short(package: bytes, opening_keys: dict[str, Any]) -> None:
    key = data_key(package, opening_keys["p256"])
    for cut in (10, 500, len(package) // 2, len(package) - 1):
        with pytest.raises(TruncatedPackage):
            open_bytes(package[:cut], key)


def test_reordered_segments(package: bytes, opening_keys: dict[str, Any]) -> None:
    layout = list(records(package))
    (a, _, size), (b, _, _) = layout[1], layout[2]
    swapped = package[:a] + package[b:b + size] + package[a:a + size] + package[b + size:]
    with pytest.raises(TamperedSegment) as caught:
        open_bytes(swapped, data_key(package, opening_keys["p256"]))
    assert caught.value.params["index"] == 1


def test_a_tampered_header(package: bytes, opening_keys: dict[str, Any]) -> None:
    key = data_key(package, opening_keys["p256"])
    changed = package.replace(b'"tender":"T-2026-001"', b'"tender":"T-2026-002"', 1)
    assert changed != package
    with pytest.raises(BadSignature, match="package signature"):
        inspect(io.BytesIO(changed))
    with pytest.raises(TamperedSegment) as caught:  # the header is every segment's AAD
        open_bytes(changed, key)
    assert caught.value.params["index"] == 0
    with pytest.raises(WrongRecipientKey):  # and the wraps are bound to the tender
        unwrap_data_key(read_header(io.BytesIO(changed)), opening_keys["p256"], "opening")


def test_an_outer_signature_by_another_certificate(package: bytes,
                                                   stranger: IssuedPair) -> None:
    trailer = list(records(package))[-1][0]
    digest = hashlib.sha256(package[:trailer]).digest()
    forged = sign_detached(digest, key=stranger.signing.key,
                           certificate=stranger.signing.certificate, chain=stranger.chain)
    replaced = package[:trailer] + RECORD.pack(SIGNATURE, len(forged)) + forged
    with pytest.raises(BadSignature, match="another certificate than the header names"):
        inspect(io.BytesIO(replaced))


def test_a_manifest_whose_hash_does_not_match_a_file(
    bidders: dict[str, IssuedPair], opening_keys: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    honest = seal_module.manifest_bytes

    def lying(bid: BidFields, *, bidder: str, files: Any) -> bytes:
        files = [f if f.name != "商务标.xlsx" else type(f)(f.name, "0" * 64, f.size)
                 for f in files]
        return honest(bid, bidder=bidder, files=files)

    monkeypatch.setattr(seal_module, "manifest_bytes", lying)
    package = make(bidders["ec"], opening_keys["p256"])
    inspect(io.BytesIO(package))  # the outer signature is fine: the bidder signed the lie
    with pytest.raises(ManifestMismatch, match=r"商务标\.xlsx") as caught:
        open_bytes(package, data_key(package, opening_keys["p256"]), out_dir=tmp_path)
    assert "SHA-256" in caught.value.message("zh-CN")
    assert list(tmp_path.iterdir()) == []


def test_a_manifest_for_another_tender(
    bidders: dict[str, IssuedPair], opening_keys: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    honest = seal_module.manifest_bytes
    monkeypatch.setattr(seal_module, "manifest_bytes", lambda bid, **kw: honest(
        BidFields(tender="T-OTHER", lot=bid.lot, price=bid.price), **kw))
    package = make(bidders["ec"], opening_keys["p256"])
    with pytest.raises(ManifestMismatch, match="another tender or lot"):
        open_bytes(package, data_key(package, opening_keys["p256"]))


def test_a_manifest_signed_by_another_certificate(
    bidders: dict[str, IssuedPair], stranger: IssuedPair, opening_keys: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(seal_module, "_manifest_signature", lambda manifest, *_: sign_detached(
        manifest, key=stranger.signing.key, certificate=stranger.signing.certificate))
    package = make(bidders["ec"], opening_keys["p256"])
    with pytest.raises(BadSignature, match=r"manifest signature.*another certificate"):
        open_bytes(package, data_key(package, opening_keys["p256"]))


def test_not_a_package_and_unknown_versions(package: bytes) -> None:
    with pytest.raises(MalformedPackage, match="not a sealed bid"):
        inspect(io.BytesIO(b"PK\x03\x04" + os.urandom(100)))
    with pytest.raises(UnsupportedAlgorithm, match="Unsupported version: 2"):
        inspect(io.BytesIO(package[:8] + struct.pack(">H", 2) + package[10:]))
    newer = package.replace(b"aes-256-gcm-seg-v1", b"sm4-gcm-seg-v1xxxx", 1)
    with pytest.raises(UnsupportedAlgorithm, match="sm4-gcm-seg-v1xxxx"):
        read_header(io.BytesIO(newer))
    with pytest.raises(MalformedPackage, match="bytes follow the package signature"):
        inspect(io.BytesIO(package + b"\x00"))


def test_every_refusal_is_a_sealed_bid_refusal() -> None:
    for error in (MalformedPackage, WrongDataKey, TamperedSegment, TruncatedPackage,
                  BadSignature, ManifestMismatch, WrongRecipientKey, BothKeysNeeded,
                  PackageChanged):
        assert issubclass(error, SealedBidRefused)


def test_sealing_refuses_unfit_input(bidders: dict[str, IssuedPair],
                                     opening_keys: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="path separator"):
        make(bidders["ec"], opening_keys["p256"], files={"../etc/passwd": b"x"})
    with pytest.raises(TypeError, match="float"):
        make(bidders["ec"], opening_keys["p256"],
             bid=BidFields(tender="T", lot=None, price=0.1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="credit code"):
        make(bidders["ec"], opening_keys["p256"],
             bid=BidFields(tender="T", lot=None, price=1, bidder="91110000000000000X"))
    rsa_key = bidders["rsa"].signing.key.public_key()
    with pytest.raises(UnsupportedAlgorithm, match="P-256 or X25519"):
        make(bidders["ec"], opening_keys["p256"], bidder_public_key=rsa_key)


def test_an_external_manifest_signature_must_fit(
    bidders: dict[str, IssuedPair], stranger: IssuedPair, opening_keys: dict[str, Any]
) -> None:
    pair = bidders["ec"]
    manifest = manifest_for(files=file_streams(), bid=BID, certificate=pair.signing.certificate)
    by_stranger = sign_detached(manifest, key=stranger.signing.key,
                                certificate=stranger.signing.certificate)
    with pytest.raises(BadSignature, match="another certificate"):
        make(pair, opening_keys["p256"], manifest_signature=by_stranger)
    other_files = sign_detached(
        manifest_for(files=file_streams({"x.pdf": b"x"}), bid=BID,
                     certificate=pair.signing.certificate),
        key=pair.signing.key, certificate=pair.signing.certificate)
    with pytest.raises(BadSignature, match="digest does not match"):
        make(pair, opening_keys["p256"], manifest_signature=other_files)


# --- interoperability -----------------------------------------------------------------------


@needs_openssl
@pytest.mark.parametrize("family", ["rsa", "ec"])
def test_a_manifest_signed_by_openssl_is_the_inner_signature(
    bidders: dict[str, IssuedPair], opening_keys: dict[str, Any], tmp_path: Path, family: str
) -> None:
    pair = bidders[family]
    manifest = manifest_for(files=file_streams(), bid=BID, certificate=pair.signing.certificate)
    (tmp_path / "manifest.json").write_bytes(manifest)
    (tmp_path / "cert.pem").write_bytes(
        pair.signing.certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(pair.signing.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    made = subprocess.run(
        ["openssl", "cms", "-sign", "-binary", "-outform", "DER",
         "-signer", tmp_path / "cert.pem", "-inkey", tmp_path / "key.pem",
         "-in", tmp_path / "manifest.json", "-out", tmp_path / "manifest.p7s"],
        capture_output=True, check=False)
    assert made.returncode == 0, made.stderr.decode()
    signature = (tmp_path / "manifest.p7s").read_bytes()

    package = make(pair, opening_keys["x25519"], manifest_signature=signature)
    opened = open_bytes(package, data_key(package, opening_keys["x25519"]))
    assert opened.manifest_signature == signature
    assert opened.manifest_bytes == manifest


@needs_openssl
def test_the_documented_openssl_recipe_makes_a_valid_package_signature(
    package: bytes, bidders: dict[str, IssuedPair], tmp_path: Path
) -> None:
    pair = bidders["ec"]
    trailer = list(records(package))[-1][0]
    (tmp_path / "unsigned.bin").write_bytes(package[:trailer])
    (tmp_path / "cert.pem").write_bytes(
        pair.signing.certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(pair.signing.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    for command in (
        ["dgst", "-sha256", "-binary", "-out", "digest.bin", "unsigned.bin"],
        ["cms", "-sign", "-binary", "-outform", "DER", "-signer", "cert.pem",
         "-inkey", "key.pem", "-in", "digest.bin", "-out", "package.p7s"],
    ):
        done = subprocess.run(["openssl", *command], cwd=tmp_path, capture_output=True,
                              check=False)
        assert done.returncode == 0, done.stderr.decode()
    signature = (tmp_path / "package.p7s").read_bytes()
    resigned = package[:trailer] + RECORD.pack(SIGNATURE, len(signature)) + signature
    assert inspect(io.BytesIO(resigned)).signer == pair.signing.certificate


@pytest.mark.parametrize("value", ["1e400000000000", "1E31", "1e-31"])
def test_amounts_out_of_range_are_refused_before_they_are_written_out(value: str) -> None:
    from signing.sealed.manifest import amount

    with pytest.raises(ValueError, match="out of range"):
        amount(value, "price")
    assert amount("1e30", "price") == "1" + "0" * 30
    assert amount("0", "price") == "0"


# --- opening a package verified at intake (intake_package_sha256) ---------------------------


def test_the_intake_hash_stands_in_for_the_outer_signature(
    package: bytes, bidders: dict[str, IssuedPair], opening_keys: dict[str, Any], tmp_path: Path,
) -> None:
    recorded = inspect(io.BytesIO(package)).package_sha256  # what intake records
    key = data_key(package, opening_keys["p256"])
    opened = open_bytes(package, key, out_dir=tmp_path, intake_package_sha256=recorded)
    default = open_bytes(package, key)
    assert opened.package.package_signature == "at intake"
    assert default.package.package_signature == "verified"
    # The signer is the header's certificate all the same, named by the manifest signature.
    assert opened.package.signer == default.package.signer == bidders["ec"].signing.certificate
    assert opened.package.package_sha256 == recorded == hashlib.sha256(package).hexdigest()
    assert {f.name: f.path.read_bytes() for f in opened.files if f.path} == FILES
    assert opened.manifest == default.manifest


def test_a_package_that_is_not_the_one_received(
    package: bytes, bidders: dict[str, IssuedPair], opening_keys: dict[str, Any], tmp_path: Path,
) -> None:
    """Another package of the same bidder, complete and valid (an earlier, replaced bid, say),
    put where the recorded one was: every tag and signature holds, the hash does not."""
    recorded = hashlib.sha256(package).hexdigest()
    other = make(bidders["ec"], opening_keys["p256"])
    with pytest.raises(PackageChanged) as caught:
        open_bytes(other, data_key(other, opening_keys["p256"]), out_dir=tmp_path,
                   intake_package_sha256=recorded)
    assert caught.value.params == {"found": hashlib.sha256(other).hexdigest(),
                                   "expected": recorded}
    assert list(tmp_path.iterdir()) == []  # every file written is removed again


def test_with_the_intake_hash_everything_inside_is_still_checked(
    package: bytes, bidders: dict[str, IssuedPair], stranger: IssuedPair,
    opening_keys: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Even a hash that matches (as a platform that recorded a bad package would have) does not
    spare the GCM tags, the manifest's signature or the files' hashes."""
    def opened(changed: bytes) -> Any:
        return open_bytes(changed, data_key(changed, opening_keys["p256"]),
                          intake_package_sha256=hashlib.sha256(changed).hexdigest())

    offset, _, _ = list(records(package))[3]
    with pytest.raises(TamperedSegment):
        opened(flip(package, offset + RECORD.size + 100))
    honest = seal_module.manifest_bytes
    monkeypatch.setattr(seal_module, "manifest_bytes", lambda bid, *, bidder, files: honest(
        bid, bidder=bidder, files=[type(f)(f.name, "0" * 64, f.size) for f in files]))
    with pytest.raises(ManifestMismatch, match="SHA-256"):
        opened(make(bidders["ec"], opening_keys["p256"]))
    monkeypatch.undo()
    monkeypatch.setattr(seal_module, "_manifest_signature", lambda manifest, *_: sign_detached(
        manifest, key=stranger.signing.key, certificate=stranger.signing.certificate))
    with pytest.raises(BadSignature, match=r"manifest signature.*another certificate"):
        opened(make(bidders["ec"], opening_keys["p256"]))
    with pytest.raises(MalformedPackage, match="bytes follow the package signature"):
        opened(package + b"\x00")
    with pytest.raises(ValueError, match="64 lower-case hex"):
        open_bytes(package, data_key(package, opening_keys["p256"]),
                   intake_package_sha256="ABC")


def test_files_are_handed_on_as_views_that_a_file_copies(
    bidders: dict[str, IssuedPair], opening_keys: dict[str, Any],
) -> None:
    """One segment buffer is reused: a writer that keeps what it is given must copy it, as
    files do. Opening twice in a row (the buffer reused) gives the same bytes."""
    package = make(bidders["rsa"], opening_keys["x25519"], segment_size=1 << 20)
    key = data_key(package, opening_keys["x25519"])
    for _ in range(2):
        seen: dict[str, io.BytesIO] = {}

        def collect(name: str, seen: dict[str, io.BytesIO] = seen) -> io.BytesIO:
            seen[name] = io.BytesIO()
            seen[name].close = lambda: None  # type: ignore[method-assign]
            return seen[name]

        open_bytes(package, key, open_file=collect)
        assert {name: stream.getvalue() for name, stream in seen.items()} == FILES
