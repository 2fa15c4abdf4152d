"""Reading a sealed package: who sealed it (without the key), its data key, and its content.

``inspect`` needs no key: it walks the records, hashing them, and checks the outer signature,
which is how the platform tells who submitted a package it cannot read. ``open_sealed`` decrypts
in one streaming pass holding one segment at a time, then checks the inner signature and every
file against the manifest. Each refusal is its own ``SealedBidRefused`` subclass.

What ``open_sealed`` checks, always: the key against the header's commitment, every segment's
GCM tag (which also binds the header, the order and the end), the structure of every record and
entry, the manifest's CMS signature and that it is by the certificate the header names, and
every file's name, size and SHA-256 against that signed manifest. The outer (package) signature
is checked too, unless the caller passes ``intake_package_sha256``: the hash the platform
recorded when ``inspect`` verified that signature at intake. Then the bytes read in this pass
must hash to it instead (``PackageChanged``), which proves they are the bytes whose signature
was verified; verifying it again would prove nothing more (docs/sealed-bid-format.md,
"Checking a package").

The plaintext is handed on without copying: segments are read into one reused buffer and
decrypted into another, and a file chunk lying within one segment reaches the hash and the
writer as a memoryview into it.
"""

from __future__ import annotations

import hmac
import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Literal

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
    Chunk,
    EntryReader,
)
from signing.sealed.errors import (
    BadSignature,
    BothKeysNeeded,
    ManifestMismatch,
    PackageChanged,
    TamperedSegment,
    TruncatedPackage,
)
from signing.sealed.format import (
    DEFAULT_SEGMENT_SIZE,
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

_HEX64 = re.compile(r"[0-9a-f]{64}")

# One segment buffer (ciphertext and plaintext) kept per thread between packages. Why: a fresh
# 2 MiB buffer per package is handed back to the kernel when freed and faults its pages in
# again on the next package, which cost ~0.9 ms per package on the benchmark machine (as much
# as hashing 1.5 MiB). Kept only up to the default segment size, so a thread holds ~2 MiB at
# most; larger segments get a buffer of their own. Taken out of the pool while in use, so a
# nested opening in the same thread gets its own.
_POOL = threading.local()
_POOL_LARGEST = 2 * DEFAULT_SEGMENT_SIZE + TAG_LENGTH


@contextmanager
def _segment_buffer(segment_size: int, *, plaintext: bool) -> Iterator[memoryview]:
    """A buffer for one segment's ciphertext (+ its plaintext): views into it are valid
    only inside the ``with``."""
    size = segment_size + TAG_LENGTH + (segment_size if plaintext else 0)
    buffer: bytearray | None = getattr(_POOL, "buffer", None)
    if buffer is not None and len(buffer) >= size:
        _POOL.buffer = None
    else:
        buffer = bytearray(size)
    try:
        yield memoryview(buffer)[:size]
    finally:
        kept = getattr(_POOL, "buffer", None)
        if len(buffer) <= _POOL_LARGEST and (kept is None or len(kept) < len(buffer)):
            _POOL.buffer = buffer

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
    # "verified": the outer signature was verified in this pass. "at intake": open_sealed was
    # given the hash recorded when it was verified at intake, and the package hashed to it;
    # ``signer`` and ``certificates`` then come from the manifest signature (the same
    # certificate, the header's), and ``signing_time`` is None.
    package_signature: Literal["verified", "at intake"] = "verified"


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


def _segments(reader: Reader, header: SealedHeader,
              whole: memoryview) -> Iterator[tuple[int, bool, memoryview]]:
    """(index, final, ciphertext) of each segment record, up to and including the final one.

    Each ciphertext is a view into ``whole`` (segment_size + 16 bytes, reused): it is valid
    until the next one is asked for.
    """
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
        yield index, final, reader.read_into(whole[:length], f"segment {index}",
                                             f"第 {index} 段")
        if final:
            return
        index += 1


def _signature_record(reader: Reader) -> bytes:
    """After the final segment: the signature record's DER, and nothing after it."""
    tag, length = reader.record()
    if tag != SIGNATURE:
        raise malformed("a record follows the final segment", "最后一段之后仍有记录")
    if not 0 < length <= MAX_SIGNATURE_LENGTH:
        raise malformed(f"the signature record is {length} bytes long",
                        f"签名记录长 {length} 字节")
    der = reader.read(length, "package signature", "封装签名")
    if not reader.at_end():
        raise malformed("bytes follow the package signature", "封装签名之后还有多余数据")
    return der


def _package_signature(reader: Reader, header: SealedHeader, segments: int,
                       ) -> InspectedPackage:
    """After the final segment: the signature record, the end, and the signature's check."""
    signed_digest = reader.signed.digest()
    der = _signature_record(reader)
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
    with _segment_buffer(header.segment_size, plaintext=False) as buffer:
        count = sum(1 for _ in _segments(reader, header, buffer))
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
    """The decrypted payload as a byte source, one segment in memory at a time.

    One buffer holds the ciphertext of the current segment and another its plaintext, both
    reused: ``read_exact`` hands out views into the plaintext that stay valid only until the
    next segment is decrypted. Only plaintext whose GCM tag verified is ever handed out
    (``decrypt_into`` checks the tag before it returns; on a failure we raise and nothing
    reads the buffer again).
    """

    def __init__(self, reader: Reader, header: SealedHeader, data_key: bytes,
                 buffer: memoryview) -> None:
        self.header = header
        self.aead = AESGCM(data_key)
        full = header.segment_size + TAG_LENGTH
        self.records = _segments(reader, header, buffer[:full])
        self.plaintext = buffer[full:]
        self.segment = memoryview(b"")
        self.position = 0
        self.count = 0
        self.final = False

    def _decrypt(self, index: int, final: bool, ciphertext: memoryview) -> memoryview:
        aad = self.header.sha256
        out = self.plaintext[:len(ciphertext) - TAG_LENGTH]
        try:
            self.aead.decrypt_into(nonce(self.header.nonce_prefix, index, final), ciphertext,
                                   aad, out)
            return out
        except InvalidTag:
            pass
        if final:  # the segments after it were cut off, and it was re-flagged as the last
            try:
                self.aead.decrypt_into(nonce(self.header.nonce_prefix, index, False),
                                       ciphertext, aad, out)
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
        self.segment = self._decrypt(index, self.final, ciphertext)
        self.position = 0
        self.count = index + 1
        return True

    def read_exact(self, length: int) -> Chunk:
        if self.position + length <= len(self.segment):
            # The usual case for file chunks: a view, no copy (see the class doc).
            start, self.position = self.position, self.position + length
            return self.segment[start:self.position]
        # Across a segment boundary: joined into a new buffer before the next segment
        # overwrites the plaintext buffer.
        parts = bytearray()
        while len(parts) < length:
            if self.position == len(self.segment) and not self._next():
                raise malformed("the payload ends inside an entry", "载荷在某条目中间结束")
            take = min(length - len(parts), len(self.segment) - self.position)
            parts += self.segment[self.position:self.position + take]
            self.position += take
        return parts

    def exhausted(self) -> bool:
        """Whether the payload ends here: nothing is left of this segment and none follows
        but an empty final one, which the format allows a writer to add (a payload that
        fills its last segment exactly). Its tag is checked all the same: a package cut
        after a full segment is only told from a whole one by it."""
        while self.position == len(self.segment):
            if self.final:
                return True
            self._next()
        return False


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


def _manifest_signature(header: SealedHeader, manifest_bytes: bytes,
                        signature: bytes) -> VerifiedSignature:
    """The bidder's signature over the manifest, by the certificate the header names."""
    verified = verify_detached(signature, content=manifest_bytes, what="manifest")
    if verified.signer.fingerprint(hashes.SHA256()).hex() != header.bidder_certificate_sha256:
        raise BadSignature(signature="manifest",
                           reason="it is signed by another certificate than the package",
                           reason_zh="它与封装签名不是同一证书所签")
    return verified


def _check_manifest(header: SealedHeader, verified: VerifiedSignature, manifest_bytes: bytes,
                    files: list[OpenedFile]) -> Manifest:
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


def _received_package(reader: Reader, header: SealedHeader, segments: int, expected: str,
                      manifest_bytes: bytes, signature: bytes,
                      ) -> tuple[InspectedPackage, VerifiedSignature]:
    """The package as verified at intake (it must hash to what was recorded then), and the
    manifest's signature, which then names the signer."""
    signed_digest = reader.signed.digest()
    _signature_record(reader)  # its structure and the end are checked all the same
    found = reader.whole.hexdigest()
    # Why this replaces verifying the outer signature: ``expected`` is the hash of the bytes
    # whose outer signature was verified at intake, and these are the very bytes decrypted
    # here (hashed in the same pass as they were decrypted), so verifying it again could only
    # repeat the intake's result. The hash is compared before anything else is judged: a
    # package that is not the one received is the platform's fault, whatever else is wrong.
    if not hmac.compare_digest(found, expected):
        raise PackageChanged(found=found, expected=expected)
    verified = _manifest_signature(header, manifest_bytes, signature)
    package = InspectedPackage(
        header=header, signer=verified.signer, certificates=verified.certificates,
        signing_time=None, segments=segments, size=reader.offset, package_sha256=found,
        signed_sha256=signed_digest.hex(), package_signature="at intake",
    )
    return package, verified


def open_sealed(
    stream: BinaryIO, data_key: bytes, *, out_dir: Path | None = None,
    open_file: OpenFile | None = None, intake_package_sha256: str | None = None,
) -> OpenedBid:
    """Decrypt and verify a whole package in one pass; write its files, or only check them.

    With ``out_dir`` each file is created there (it must not exist yet) and every file written
    is removed again on a refusal. With ``open_file(name)`` the caller gets each file's bytes
    and must discard them if this raises; ``write`` is given views into a buffer that is
    reused, so it must copy what it keeps (a file's write does). With neither, the files are
    only checked.

    ``intake_package_sha256``: pass it ONLY with the SHA-256 of this package as recorded when
    its outer signature was verified (``inspect(...).package_sha256`` at intake, or the
    platform's signed receipt of it). The outer signature is then not verified again; instead
    the bytes read here must hash to it, else ``PackageChanged``. Everything else is checked
    the same. By default (None) the outer signature is verified here.
    """
    if intake_package_sha256 is not None and not _HEX64.fullmatch(intake_package_sha256):
        raise ValueError("intake_package_sha256 must be 64 lower-case hex digits")
    reader = Reader(stream)
    header = parse_header(reader)
    keys.check_commitment(header, data_key, source="the data key given",
                          source_zh="所提供的数据密钥")
    written: list[Path] = []
    try:
        with _segment_buffer(header.segment_size, plaintext=True) as buffer:
            source = _Plaintext(reader, header, data_key, buffer)
            files, manifest_bytes, signature = _read_payload(source, out_dir, open_file,
                                                             written)
        if intake_package_sha256 is None:
            package = _package_signature(reader, header, source.count)
            verified = _manifest_signature(header, manifest_bytes, signature)
        else:
            package, verified = _received_package(reader, header, source.count,
                                                  intake_package_sha256, manifest_bytes,
                                                  signature)
        manifest = _check_manifest(header, verified, manifest_bytes, files)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return OpenedBid(package=package, manifest=manifest, manifest_bytes=manifest_bytes,
                     manifest_signature=signature, files=tuple(files))
