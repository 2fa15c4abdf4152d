"""Sealing a bid: sign the manifest, encrypt everything in segments, sign the ciphertext.

Constant memory: each file is read once in 64 KiB chunks, hashed and encrypted as it goes; at
most one segment (1 MiB by default) is held at a time. ``out`` only needs ``write``.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from signing.sealed import keys
from signing.sealed.cms import SignerKey, sign_detached, verify_detached
from signing.sealed.container import MANIFEST, MANIFEST_SIGNATURE, MAX_FILES, EntryWriter
from signing.sealed.errors import BadSignature
from signing.sealed.format import (
    DEFAULT_SEGMENT_SIZE,
    FINAL_SEGMENT,
    KEY_MODES,
    MAX_SEGMENT_SIZE,
    MIN_SEGMENT_SIZE,
    NONCE_PREFIX_LENGTH,
    RECORD,
    SEGMENT,
    SIGNATURE,
    KeyMode,
    Reader,
    Recipient,
    SealedHeader,
    encode_prefix,
    header_json,
    nonce,
    parse_header,
)
from signing.sealed.manifest import BidFields, FileDigest, bidder_of, manifest_bytes


@dataclass(frozen=True)
class Signer:
    """The bidder's signing certificate and key; ``chain`` is sent along (issuing CA first)."""

    key: SignerKey
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()


@dataclass(frozen=True)
class Sealed:
    header: SealedHeader
    manifest: bytes  # exactly the bytes the inner signature covers
    files: tuple[FileDigest, ...]
    segments: int
    size: int
    package_sha256: str  # of the whole package: what a receipt names
    signed_sha256: str  # of everything before the signature record: the outer CMS content


class _Output:
    """Writes to ``out``, counting and hashing: the signed part and the whole package."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.signed = hashlib.sha256()
        self.whole = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes, *, signed: bool = True) -> None:
        self.out.write(data)
        self.whole.update(data)
        if signed:
            self.signed.update(data)
        self.size += len(data)


class _Segments:
    """Buffers plaintext and writes it as AES-256-GCM segment records.

    A full segment is held back until more data arrives, so the last one written is the one
    flagged final, and a payload that fills its last segment exactly needs no empty segment.
    """

    def __init__(self, output: _Output, header: SealedHeader, data_key: bytes) -> None:
        self.output = output
        self.header = header
        self.aead = AESGCM(data_key)
        self.buffer = bytearray()
        self.count = 0

    def write(self, data: bytes) -> None:
        self.buffer += data
        size = self.header.segment_size
        while len(self.buffer) > size:
            self._emit(bytes(self.buffer[:size]), final=False)
            del self.buffer[:size]

    def close(self) -> None:
        self._emit(bytes(self.buffer), final=True)
        self.buffer = bytearray()

    def _emit(self, plaintext: bytes, *, final: bool) -> None:
        if self.count >= 1 << 32:
            raise ValueError("more than 2**32 segments: use a larger segment size")
        ciphertext = self.aead.encrypt(nonce(self.header.nonce_prefix, self.count, final),
                                       plaintext, self.header.sha256)
        self.output.write(RECORD.pack(FINAL_SEGMENT if final else SEGMENT, len(ciphertext)))
        self.output.write(ciphertext)
        self.count += 1


def _header(
    *, tender: str, lot: str | None, certificate: x509.Certificate, mode: KeyMode,
    segment_size: int, data_key: bytes, opening_public_key: keys.RecipientPublicKey,
    bidder_public_key: keys.RecipientPublicKey,
) -> SealedHeader:
    commitment = keys.commitment(data_key)
    secrets = (data_key, data_key) if mode == "either" else keys.split(data_key)
    recipients: tuple[tuple[Recipient, keys.RecipientPublicKey, bytes], ...] = (
        ("opening", opening_public_key, secrets[0]), ("bidder", bidder_public_key, secrets[1]),
    )
    wraps = tuple(
        keys.wrap(secret, public_key, which=which, info=keys.wrap_info(
            which=which, mode=mode, tender=tender, lot=lot, key_commitment=commitment))
        for which, public_key, secret in recipients
    )
    prefix = encode_prefix(header_json(
        tender=tender, lot=lot,
        bidder_certificate_sha256=certificate.fingerprint(hashes.SHA256()).hex(),
        segment_size=segment_size, nonce_prefix=os.urandom(NONCE_PREFIX_LENGTH),
        key_mode=mode, key_commitment=commitment, wraps=wraps,
    ))
    # Parsed back, so a sealer never writes a header its own opener would refuse.
    return parse_header(Reader(io.BytesIO(prefix)))


def _public_key(key: keys.RecipientPublicKey | x509.Certificate) -> keys.RecipientPublicKey:
    public_key = key.public_key() if isinstance(key, x509.Certificate) else key
    keys.algorithm_for(public_key)
    return public_key  # type: ignore[return-value]


def seal(
    *, files: Iterable[tuple[str, BinaryIO]], bid: BidFields, signer: Signer,
    opening_public_key: keys.RecipientPublicKey | x509.Certificate,
    bidder_public_key: keys.RecipientPublicKey | x509.Certificate,
    out: BinaryIO, mode: KeyMode = "either", segment_size: int = DEFAULT_SEGMENT_SIZE,
    manifest_signature: bytes | None = None,
) -> Sealed:
    """Write the sealed package of ``files`` and ``bid`` to ``out``; see sealed-bid-format.md.

    ``bidder_public_key`` is the bidder's encryption key (P-256, or X25519) or its encryption
    certificate. ``manifest_signature`` is a detached CMS made elsewhere over the bytes
    ``manifest_for`` returns for the same files; it is checked before the package is finished.
    On any error ``out`` holds an unfinished package and must be discarded.
    """
    if mode not in KEY_MODES:
        raise ValueError(f"mode must be one of {KEY_MODES}, not {mode!r}")
    if not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE:
        raise ValueError(f"segment_size must be within {MIN_SEGMENT_SIZE}..{MAX_SEGMENT_SIZE}")
    bidder = bidder_of(signer.certificate, bid.bidder)
    data_key = keys.new_data_key()
    header = _header(tender=bid.tender, lot=bid.lot, certificate=signer.certificate, mode=mode,
                     segment_size=segment_size, data_key=data_key,
                     opening_public_key=_public_key(opening_public_key),
                     bidder_public_key=_public_key(bidder_public_key))
    output = _Output(out)
    output.write(header.raw)
    segments = _Segments(output, header, data_key)
    entries = EntryWriter(segments)
    digests: list[FileDigest] = []
    names: set[str] = set()
    for name, stream in files:
        if name in names:
            raise ValueError(f"two files are named {name!r}")
        if len(digests) >= MAX_FILES:
            raise ValueError(f"a bid holds at most {MAX_FILES} files")
        names.add(name)
        size, sha256 = entries.file(name, stream)
        digests.append(FileDigest(name, sha256, size))
    manifest = manifest_bytes(bid, bidder=bidder, files=digests)
    entries.blob(MANIFEST, manifest)
    entries.blob(MANIFEST_SIGNATURE, _manifest_signature(manifest, signer, manifest_signature))
    entries.end()
    segments.close()
    signed_digest = output.signed.digest()
    outer = sign_detached(signed_digest, key=signer.key, certificate=signer.certificate,
                          chain=signer.chain)
    output.write(RECORD.pack(SIGNATURE, len(outer)) + outer, signed=False)
    return Sealed(header=header, manifest=manifest, files=tuple(digests),
                  segments=segments.count, size=output.size,
                  package_sha256=output.whole.hexdigest(), signed_sha256=signed_digest.hex())


def _manifest_signature(manifest: bytes, signer: Signer, external: bytes | None) -> bytes:
    if external is None:
        return sign_detached(manifest, key=signer.key, certificate=signer.certificate,
                             chain=signer.chain)
    verified = verify_detached(external, content=manifest, what="manifest")
    if verified.signer != signer.certificate:
        raise BadSignature(signature="manifest",
                           reason="it is signed by another certificate than the package",
                           reason_zh="它与封装签名不是同一证书所签")
    return external
