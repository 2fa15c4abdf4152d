"""Reading a sealed package: who sealed it (without the key), its data key, and its content.

``inspect`` needs no key: it walks the records, hashing them, and checks the outer signature,
which is how the platform tells who submitted a package it cannot read. ``open_sealed`` decrypts
in one streaming pass holding one segment at a time, then checks the inner signature and every
file against the manifest. Each refusal is its own ``SealedBidRefused`` subclass.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from signing.certificates import credit_code_of
from signing.sealed import keys
from signing.sealed.cms import VerifiedSignature, verify_detached
from signing.sealed.container import (
    END,
    FILE,
    KIND_NAMES,
    MANIFEST,
    MANIFEST_SIGNATURE,
    MAX_FILES,
    MAX_MANIFEST,
    MAX_MANIFEST_SIGNATURE,
    EntryReader,
)
from signing.sealed.errors import (
    BadSignature,
    BothKeysNeeded,
    ManifestMismatch,
    TamperedSegment,
    TruncatedPackage,
)
from signing.sealed.format import (
    FINAL_SEGMENT,
    MAX_SIGNATURE_LENGTH,
    SEGMENT,
    SIGNATURE,
    TAG_LENGTH,
    Reader,
    Recipient,
    SealedHeader,
    malformed,
    nonce,
    parse_header,
)
from signing.sealed.manifest import FileDigest, Manifest, parse_manifest

OpenFile = Callable[[str], BinaryIO]


@dataclass(frozen=True)
class InspectedPackage:
    header: SealedHeader
    signer: x509.Certificate  # NOT yet validated: pass it to verify_certificate
    certificates: tuple[x509.Certificate, ...]  # the chain candidates the signature carried
    signing_time: datetime | None  # the bidder's claim; the receipt's time is what counts
    segments: int
    size: int
    package_sha256: str
    signed_sha256: str


@dataclass(frozen=True)
class OpenedFile:
    name: str
    size: int
    sha256: str
    path: Path | None  # where it was written, with ``out_dir``


@dataclass(frozen=True)
class OpenedBid:
    package: InspectedPackage
    manifest: Manifest
    manifest_bytes: bytes
    manifest_signature: bytes  # DER, kept as evidence
    files: tuple[OpenedFile, ...]


def _segments(reader: Reader, header: SealedHeader) -> Iterator[tuple[int, bool, bytes]]:
    """(index, final, ciphertext) of each segment record, up to and including the final one."""
    full = header.segment_size + TAG_LENGTH
    index = 0
    while True:
        tag, length = reader.record()
        if tag == SIGNATURE:
            raise TruncatedPackage(
                f"its {index} segment(s) end without its final segment",
                f"文件的 {index} 段密文之后缺少最后一段",
            )
        if tag not in (SEGMENT, FINAL_SEGMENT):
            raise malformed(f"unknown record tag {tag} at segment {index}",
                            f"第 {index} 段处的记录类型 {tag} 未知")
        final = tag == FINAL_SEGMENT
        if length > full or (not final and length != full) or length < TAG_LENGTH:
            raise malformed(f"segment {index} is {length} bytes long, not {full}",
                            f"第 {index} 段长 {length} 字节，而不是 {full}")
        if index >= 1 << 32:
            raise malformed("more than 2**32 segments", "分段数超过 2**32")
        yield index, final, reader.read(length, f"segment {index}", f"第 {index} 段")
        if final:
            return
        index += 1


def _package_signature(reader: Reader, header: SealedHeader, segments: int,
                       ) -> InspectedPackage:
    """After the final segment: the signature record, the end, and the signature's check."""
    signed_digest = reader.signed.digest()
    tag, length = reader.record()
    if tag != SIGNATURE:
        raise malformed("a record follows the final segment", "最后一段之后仍有记录")
    if not 0 < length <= MAX_SIGNATURE_LENGTH:
        raise malformed(f"the signature record is {length} bytes long",
                        f"签名记录长 {length} 字节")
    der = reader.read(length, "package signature", "封装签名")
    if not reader.at_end():
        raise malformed("bytes follow the package signature", "封装签名之后还有多余数据")
    verified: VerifiedSignature = verify_detached(der, content=signed_digest, what="package")
    if verified.signer.fingerprint(hashes.SHA256()).hex() != header.bidder_certificate_sha256:
        raise BadSignature(signature="package",
                           reason="it is signed by another certificate than the header names",
                           reason_zh="签名证书与文件头所列的投标人证书不符")
    return InspectedPackage(
        header=header, signer=verified.signer, certificates=verified.certificates,
        signing_time=verified.signing_time, segments=segments, size=reader.offset,
        package_sha256=reader.whole.hexdigest(), signed_sha256=signed_digest.hex(),
    )


def read_header(stream: BinaryIO) -> SealedHeader:
    """Only the header: enough to unwrap the data key; nothing is verified yet."""
    return parse_header(Reader(stream))


def inspect(stream: BinaryIO) -> InspectedPackage:
    """Check the package's structure and outer signature without any key; name its signer."""
    reader = Reader(stream)
    header = parse_header(reader)
    count = sum(1 for _ in _segments(reader, header))
    return _package_signature(reader, header, count)


def unwrap_share(header: SealedHeader, private_key: keys.RecipientPrivateKey,
                 which: Recipient) -> bytes:
    """What was wrapped to ``which``: the data key ("either") or that recipient's share."""
    info = keys.wrap_info(which=which, mode=header.key_mode, tender=header.tender,
                          lot=header.lot, key_commitment=header.key_commitment)
    return keys.unwrap(header.wrap(which), private_key, info=info)


def unwrap_data_key(
    header: SealedHeader, private_key: keys.RecipientPrivateKey,
    which: Recipient = "opening", *, other_share: bytes | None = None,
) -> bytes:
    """The data key, checked against the header's commitment; dangerous to log or store.

    In "both" mode ``other_share`` must be the other recipient's ``unwrap_share``.
    """
    secret = unwrap_share(header, private_key, which)
    if header.key_mode == "both":
        if other_share is None:
            raise BothKeysNeeded()
        secret = keys.join(secret, other_share)
    where = "the key unwrapped with the " + ("opening key" if which == "opening" else
                                              "bidder's key")
    where_zh = "用" + ("开标密钥" if which == "opening" else "投标人密钥") + "解出的密钥"
    return keys.check_commitment(header, secret, source=where, source_zh=where_zh)


class _Plaintext:
    """The decrypted payload as a byte source, one segment in memory at a time."""

    def __init__(self, reader: Reader, header: SealedHeader, data_key: bytes) -> None:
        self.header = header
        self.aead = AESGCM(data_key)
        self.records = _segments(reader, header)
        self.segment = memoryview(b"")
        self.position = 0
        self.count = 0
        self.final = False

    def _decrypt(self, index: int, final: bool, ciphertext: bytes) -> bytes:
        aad = self.header.sha256
        try:
            return self.aead.decrypt(nonce(self.header.nonce_prefix, index, final), ciphertext,
                                     aad)
        except InvalidTag:
            pass
        if final:  # the segments after it were cut off, and it was re-flagged as the last
            try:
                self.aead.decrypt(nonce(self.header.nonce_prefix, index, False), ciphertext, aad)
            except InvalidTag:
                pass
            else:
                raise TruncatedPackage(
                    f"segment {index} was not the last one: the segments after it are missing",
                    f"第 {index} 段并非最后一段：其后的分段已缺失",
                ) from None
        raise TamperedSegment(index=index)

    def _next(self) -> bool:
        if self.final:
            return False
        index, self.final, ciphertext = next(self.records)
        self.segment = memoryview(self._decrypt(index, self.final, ciphertext))
        self.position = 0
        self.count = index + 1
        return True

    def read_exact(self, length: int) -> bytes:
        if self.position + length <= len(self.segment):
            # The usual case for file chunks: one copy out of the segment, not two.
            start, self.position = self.position, self.position + length
            return bytes(self.segment[start:self.position])
        parts = bytearray()
        while len(parts) < length:
            if self.position == len(self.segment) and not self._next():
                raise malformed("the payload ends inside an entry", "载荷在某条目中间结束")
            take = min(length - len(parts), len(self.segment) - self.position)
            parts += self.segment[self.position:self.position + take]
            self.position += take
        return bytes(parts)

    def exhausted(self) -> bool:
        return self.final and self.position == len(self.segment)


def _writer(name: str, out_dir: Path | None, open_file: OpenFile | None,
            written: list[Path]) -> tuple[BinaryIO | None, Path | None]:
    if out_dir is not None:
        path = out_dir / name
        # O_EXCL: never follow a planted symlink nor overwrite a file already there.
        handle = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
        written.append(path)
        return handle, path
    return (open_file(name) if open_file is not None else None), None


def _read_payload(
    source: _Plaintext, out_dir: Path | None, open_file: OpenFile | None, written: list[Path],
) -> tuple[list[OpenedFile], bytes, bytes]:
    entries = EntryReader(source)
    files: list[OpenedFile] = []
    names: set[str] = set()
    blobs: dict[int, bytes] = {}
    expected = FILE
    while True:
        kind, name = entries.next_entry()
        if kind != expected and not (expected == FILE and kind == MANIFEST):
            raise malformed(f"a {KIND_NAMES.get(kind, kind)} entry is out of order",
                            f"条目“{KIND_NAMES.get(kind, kind)}”的顺序错误")
        if kind == END:
            break
        if kind == FILE:
            if name in names or len(files) >= MAX_FILES:
                raise malformed(f"the file {name!r} occurs twice, or too many files",
                                f"文件 {name!r} 重复出现，或文件过多")
            names.add(name)
            handle, path = _writer(name, out_dir, open_file, written)
            try:
                size, sha256 = entries.copy(handle.write if handle else lambda _: None)
            finally:
                if handle is not None:
                    handle.close()
            files.append(OpenedFile(name, size, sha256, path))
            continue
        limit = MAX_MANIFEST if kind == MANIFEST else MAX_MANIFEST_SIGNATURE
        blobs[kind] = entries.blob(limit, KIND_NAMES[kind])
        expected = MANIFEST_SIGNATURE if kind == MANIFEST else END
    if not source.exhausted():
        raise malformed("data follows the end of the payload", "载荷结束标记之后仍有数据")
    return files, blobs[MANIFEST], blobs[MANIFEST_SIGNATURE]


def _check_manifest(package: InspectedPackage, manifest_bytes: bytes, signature: bytes,
                    files: list[OpenedFile]) -> Manifest:
    header = package.header
    verified = verify_detached(signature, content=manifest_bytes, what="manifest")
    if verified.signer.fingerprint(hashes.SHA256()).hex() != header.bidder_certificate_sha256:
        raise BadSignature(signature="manifest",
                           reason="it is signed by another certificate than the package",
                           reason_zh="它与封装签名不是同一证书所签")
    manifest = parse_manifest(manifest_bytes)
    if (manifest.tender, manifest.lot) != (header.tender, header.lot):
        raise ManifestMismatch("it names another tender or lot than the package header",
                               "清单所列的项目或标段与文件头不符")
    code = credit_code_of(verified.signer)
    if code is not None and manifest.bidder != code:
        raise ManifestMismatch("it names another bidder than the signing certificate",
                               "清单所列投标人与签名证书不符")
    found = tuple(FileDigest(f.name, f.sha256, f.size) for f in files)
    if manifest.files != found:
        listed = {f.name: f for f in manifest.files}
        odd = next((f.name for f in found if listed.get(f.name) != f),
                   next((f.name for f in manifest.files if f not in found), "?"))
        raise ManifestMismatch(
            f"the file {odd!r} does not match its name, size or SHA-256 in the manifest",
            f"文件 {odd!r} 与清单所列的名称、大小或 SHA-256 不符",
        )
    return manifest


def open_sealed(
    stream: BinaryIO, data_key: bytes, *, out_dir: Path | None = None,
    open_file: OpenFile | None = None,
) -> OpenedBid:
    """Decrypt and verify a whole package in one pass; write its files, or only check them.

    With ``out_dir`` each file is created there (it must not exist yet) and every file written
    is removed again on a refusal. With ``open_file(name)`` the caller gets each file's bytes
    and must discard them if this raises. With neither, the files are only checked.
    """
    reader = Reader(stream)
    header = parse_header(reader)
    keys.check_commitment(header, data_key, source="the data key given",
                          source_zh="所提供的数据密钥")
    written: list[Path] = []
    try:
        source = _Plaintext(reader, header, data_key)
        files, manifest_bytes, signature = _read_payload(source, out_dir, open_file, written)
        package = _package_signature(reader, header, source.count)
        manifest = _check_manifest(package, manifest_bytes, signature, files)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return OpenedBid(package=package, manifest=manifest, manifest_bytes=manifest_bytes,
                     manifest_signature=signature, files=tuple(files))
