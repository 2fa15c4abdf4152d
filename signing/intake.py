"""Checking a received sealed package before it is stored: what the platform may know unopened.

``check_package`` reads the package once (``signing.sealed.inspect``: structure, segment
records and the outer signature over the ciphertext, no key needed), then checks that it is
for this tender and lot, sealed to this tender's opening key in the tender's mode, signed by a
certificate the centre accepts at the instant the last byte arrived (chain, validity, key
usage, CRLs), and that the certificate's credit code is the submitting organisation's. It runs
outside any transaction and any lock: it is the slow part of a submission. Every refusal is a
DomainError naming its reason; the package is never decrypted here.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import anyio.to_thread

from kernel.clock import Clock
from kernel.context import Context
from kernel.errors import DomainError, PayloadTooLarge
from kernel.storage import BlobStore, limit_mb
from kernel.threads import run_abandonable
from signing import trust
from signing.certificates import TrustStore, verify_certificate
from signing.sealed import InspectedPackage, inspect

__all__ = [
    "CertificateNotTheBidders",
    "CheckedPackage",
    "PackageForAnotherLot",
    "PackageForAnotherTender",
    "Received",
    "WrongKeyMode",
    "WrongOpeningKey",
    "check_package",
    "inspect_file",
    "receive",
]


class PackageForAnotherTender(DomainError):
    status_code = 400
    code = "package_for_another_tender"
    zh = "该密封投标文件是为项目 {package_tender} 封装的，而不是本项目 {tender}"
    en = "This sealed package was sealed for tender {package_tender}, not tender {tender}"

    def __init__(self, *, package_tender: str, tender: str) -> None:
        super().__init__(package_tender=package_tender, tender=tender)


class PackageForAnotherLot(DomainError):
    status_code = 400
    code = "package_for_another_lot"
    zh = "该密封投标文件是为第 {package_lot} 标段封装的，而不是第 {lot} 标段"
    en = "This sealed package was sealed for lot {package_lot}, not lot {lot}"

    def __init__(self, *, package_lot: str, lot: str) -> None:
        super().__init__(package_lot=package_lot, lot=lot)


class WrongOpeningKey(DomainError):
    status_code = 400
    code = "wrong_opening_key"
    zh = "该密封投标文件未使用本项目的开标公钥（{key_id}）封装，开标时将无法解密"
    en = ("This sealed package is not sealed to the tender's opening key ({key_id}): it could "
          "not be opened")

    def __init__(self, *, key_id: str) -> None:
        super().__init__(key_id=key_id)


class WrongKeyMode(DomainError):
    status_code = 400
    code = "wrong_key_mode"
    zh = "该密封投标文件的开启方式为 {package_mode}，而本项目要求 {mode}"
    en = "This sealed package is sealed in mode {package_mode}, but the tender requires {mode}"

    def __init__(self, *, package_mode: str, mode: str) -> None:
        super().__init__(package_mode=package_mode, mode=mode)


class CertificateNotTheBidders(DomainError):
    status_code = 403
    code = "certificate_not_the_bidders"
    zh = ("签名证书 {subject} 的统一社会信用代码（{found}）与本账户所属单位的代码不符，"
          "不能以本单位名义投标")
    en = ("The signing certificate {subject} carries the credit code {found}, not your "
          "organisation's: it cannot bid in your organisation's name")

    def __init__(self, *, subject: str, found: str) -> None:
        super().__init__(subject=subject, found=found)


@dataclass(frozen=True)
class CheckedPackage:
    """What the platform knows of an accepted package before the opening, and nothing more."""

    tender: str
    lot: str
    key_mode: str
    package_sha256: str
    size: int
    certificate_sha256: str
    signer_subject: str
    credit_code: str
    signing_time: datetime | None  # the bidder's claim; received_at is what counts


@dataclass(frozen=True)
class Received:
    path: Path  # a temporary file: the caller deletes it
    size: int
    received_at: datetime  # when the last byte arrived


_KNOWN_DIRS: set[Path] = set()


class _Incoming:
    """The temporary file of one upload; blocking methods, called from a worker thread.

    The file is made by the first write and closed by ``finish``, so a package of up to a
    MiB costs one trip to a worker thread and a larger one a trip per MiB: in a deadline rush
    each trip is main-loop time that hundreds of uploads share (bench/RESULTS.md, P1).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path: Path | None = None
        self.file: BinaryIO | None = None

    def write(self, chunks: list[bytes]) -> None:
        if self.file is None:
            if self.directory not in _KNOWN_DIRS:  # one lookup per process, not per upload
                self.directory.mkdir(parents=True, exist_ok=True)
                _KNOWN_DIRS.add(self.directory)
            fd, name = tempfile.mkstemp(dir=self.directory, prefix="bid-", suffix=".sealed")
            self.path, self.file = Path(name), os.fdopen(fd, "wb")
        self.file.writelines(chunks)

    def finish(self, chunks: list[bytes]) -> Path:
        self.write(chunks)
        assert self.file is not None and self.path is not None
        self.file.close()
        return self.path

    def discard(self) -> None:
        if self.file is not None:
            self.file.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)


async def receive(
    chunks: AsyncIterator[bytes], *, directory: Path, max_bytes: int, clock: Clock,
) -> Received:
    """Write an upload to a temporary file in ``directory``, stamping when its last byte came.

    The clock is read as soon as the stream ends, before anything is checked, so a slow check
    never makes a bid late. Refuses (PayloadTooLarge) as soon as ``max_bytes`` is passed; on
    any error the file is removed. Not fsynced: the blob store does that for accepted bids.
    """
    incoming = _Incoming(directory)
    size = 0
    try:
        pending: list[bytes] = []
        pending_size = 0
        async for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                raise PayloadTooLarge(limit_mb=limit_mb(max_bytes))
            pending.append(chunk)
            pending_size += len(chunk)
            if pending_size >= 1 << 20:
                await anyio.to_thread.run_sync(incoming.write, pending)
                pending, pending_size = [], 0
        received_at = clock.now()
        path = await anyio.to_thread.run_sync(incoming.finish, pending)
    except BaseException:
        # Synchronous on purpose: awaiting inside a cancelled task would be cut short.
        incoming.discard()
        raise
    return Received(path=path, size=size, received_at=received_at)


def inspect_file(path: Path) -> InspectedPackage:
    """Blocking: ``signing.sealed.inspect`` over a file."""
    with path.open("rb") as stream:
        return inspect(stream)


async def check_package(
    ctx: Context, *, path: Path, tender_id: int, lot_number: int, opening_key_id: str,
    key_mode: str, credit_code: str, received_at: datetime, max_bytes: int | None = None,
    blobs: BlobStore | None = None,
) -> CheckedPackage:
    """Accept the package in ``path`` for this tender, lot and organisation, or say why not.

    The certificate is judged at ``received_at`` (when its last byte arrived), against the
    accepted CAs and CRLs as they stand now. A package over ``max_bytes`` is refused unread.
    With ``blobs``, an accepted package is also stored there durably, linked under its
    SHA-256, before this returns.
    """
    store = await trust.trust_store(ctx)
    # One trip to a worker thread for all of it: the certificate check in the event loop held
    # up every other upload of a deadline rush for its whole duration (bench/RESULTS.md, P1).
    return await run_abandonable(
        _check, path, tender_id=tender_id, lot_number=lot_number, opening_key_id=opening_key_id,
        key_mode=key_mode, credit_code=credit_code, received_at=received_at, store=store,
        max_bytes=max_bytes, blobs=blobs)


def _check(
    path: Path, *, tender_id: int, lot_number: int, opening_key_id: str, key_mode: str,
    credit_code: str, received_at: datetime, store: TrustStore, max_bytes: int | None,
    blobs: BlobStore | None,
) -> CheckedPackage:
    """Blocking: :func:`check_package` once the trust store is at hand."""
    if max_bytes is not None and path.stat().st_size > max_bytes:
        raise PayloadTooLarge(limit_mb=limit_mb(max_bytes))
    package = inspect_file(path)
    header = package.header
    if header.tender != str(tender_id):
        raise PackageForAnotherTender(package_tender=header.tender, tender=str(tender_id))
    if header.lot != str(lot_number):
        raise PackageForAnotherLot(package_lot=str(header.lot), lot=str(lot_number))
    if header.wrap("opening").key_id != opening_key_id:
        raise WrongOpeningKey(key_id=opening_key_id)
    if header.key_mode != key_mode:
        raise WrongKeyMode(package_mode=header.key_mode, mode=key_mode)
    accepted = verify_certificate(package.signer, intermediates=package.certificates,
                                  trust=store, now=received_at, usage="signing")
    if accepted.credit_code != credit_code:
        raise CertificateNotTheBidders(subject=accepted.subject,
                                       found=accepted.credit_code or "无 / none")
    if blobs is not None:
        blobs.link_file(path, package.package_sha256, package.size)
    return CheckedPackage(
        tender=header.tender, lot=str(header.lot), key_mode=header.key_mode,
        package_sha256=package.package_sha256, size=package.size,
        certificate_sha256=accepted.fingerprint, signer_subject=accepted.subject,
        credit_code=accepted.credit_code, signing_time=package.signing_time,
    )
