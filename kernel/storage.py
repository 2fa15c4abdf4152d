"""Content-addressed store on local disk for uploaded tender documents and bids.

Why content addressing. A blob is filed under the SHA-256 of its bytes
(``root/ab/cd/abcd…``), so the name *is* the integrity check: the digest recorded in the
database (and in the audit trail) at upload time says exactly which bytes were received, and
:meth:`BlobStore.verify` can prove years later that the file on disk is still those bytes. A
blob is never rewritten in place — different content gets a different name — so there is no
update to get half-done. The same file uploaded twice (a standard form attached to several
tenders) is stored once. Two levels of two-hex-digit directories keep any one directory small.

Why fsync before acknowledging. A bidder who has been told "your bid was received" before the
deadline must not lose that bid to a power cut a second later. So the bytes are written to a
temporary file under ``root/.tmp/`` (same filesystem, so the rename is atomic), flushed and
``fsync``-ed, renamed into place, and then the directory holding the new name is ``fsync``-ed
too, since a rename is only durable once its directory entry is. Only then does ``put_*``
return, and only then may the caller record the digest and answer the request. A crash at any
earlier point leaves at most a stray file in ``.tmp`` and never a truncated blob under a
valid name. Anything that goes wrong while receiving (size limit, client disconnect, a
cancelled request) removes the temporary file before the error propagates.

Blocking file I/O runs in a worker thread (``anyio.to_thread``), about 1 MiB per hop, so a
large upload does not stall the event loop for other requests.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import anyio.to_thread
from starlette.datastructures import UploadFile

from kernel.errors import PayloadTooLarge
from kernel.files import fsync_dir as _fsync_dir
from kernel.threads import run_abandonable

__all__ = ["BlobStore", "StoredBlob"]

_MIB = 1024 * 1024
# Bytes collected from the source before one hop to a worker thread (hash + write).
_WRITE_BATCH = _MIB
# Size of each read from an UploadFile.
_READ_CHUNK = 256 * 1024
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    path: Path


def limit_mb(max_bytes: int) -> int | float:
    """The limit as shown to the user (MiB, like ``Settings.max_upload_bytes``)."""
    mb = max_bytes / _MIB
    return int(mb) if mb.is_integer() else round(mb, 2)


def _make_dirs(path: Path) -> list[Path]:
    """``mkdir -p`` returning the parents whose entries changed and so need an fsync."""
    missing: list[Path] = []
    p = path
    while not p.is_dir():
        missing.append(p)
        p = p.parent
    if missing:
        path.mkdir(parents=True, exist_ok=True)
    return [m.parent for m in reversed(missing)]


class _TempBlob:
    """One upload in progress: a temporary file and the running hash of what was written.

    Every method is blocking and is called from a worker thread, one call at a time; only
    :meth:`discard` is also called directly (it must work while a task is being cancelled).
    """

    def __init__(self, tmp_dir: Path) -> None:
        self._tmp_dir = tmp_dir
        self._file: BinaryIO | None = None
        self.path: Path | None = None
        self.hash = hashlib.sha256()
        self.size = 0
        self._committed = False
        self._new_dirs: list[Path] = []

    def open(self) -> None:
        self._new_dirs = _make_dirs(self._tmp_dir)
        fd, name = tempfile.mkstemp(dir=self._tmp_dir, prefix="upload-")
        self.path = Path(name)
        self._file = os.fdopen(fd, "wb")

    def write(self, chunks: list[bytes]) -> None:
        assert self._file is not None
        for chunk in chunks:
            self.hash.update(chunk)
            self._file.write(chunk)
            self.size += len(chunk)

    def commit(self, store: BlobStore) -> StoredBlob:
        """fsync the data, rename it to its digest's path and fsync the directory."""
        assert self._file is not None and self.path is not None
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        sha256 = self.hash.hexdigest()
        dest = store.path_for(sha256)
        to_sync = _make_dirs(dest.parent)
        if dest.exists():
            # Same name, same bytes: keep the blob already there.
            self.path.unlink()
        else:
            os.replace(self.path, dest)
        self._committed = True
        # Also when the blob existed: a concurrent upload may have renamed it but not yet
        # synced the directory, and this caller is about to acknowledge it too.
        _fsync_dir(dest.parent)
        for directory in dict.fromkeys([*to_sync, *self._new_dirs]):
            _fsync_dir(directory)
        return StoredBlob(sha256=sha256, size=self.size, path=dest)

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
        if self.path is not None and not self._committed:
            self.path.unlink(missing_ok=True)


class BlobStore:
    """Files named by the SHA-256 of their content, under ``root`` (``Settings.blob_dir``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.tmp_dir = self.root / ".tmp"
        self._known_dirs: set[Path] = set()

    # -- writing ---------------------------------------------------------------------------

    async def put_stream(self, chunks: AsyncIterator[bytes], *, max_bytes: int) -> StoredBlob:
        """Store the bytes of ``chunks``; durable on disk when this returns.

        Raises :class:`PayloadTooLarge` as soon as more than ``max_bytes`` arrive (the rest is
        not read). On that or any other error, cancellation included, nothing is left behind.
        """
        return await self._store(chunks, max_bytes)

    async def put_bytes(self, data: bytes, *, max_bytes: int | None = None) -> StoredBlob:
        """Store ``data``; ``max_bytes=None`` means no limit."""

        async def one_chunk() -> AsyncIterator[bytes]:
            yield data

        return await self._store(one_chunk(), max_bytes)

    async def put_upload(self, upload: UploadFile, *, max_bytes: int) -> StoredBlob:
        """Store the whole of an uploaded file (read from its start, in chunks)."""
        if upload.size is not None and upload.size > max_bytes:
            raise PayloadTooLarge(limit_mb=limit_mb(max_bytes))
        await upload.seek(0)

        async def read_chunks() -> AsyncIterator[bytes]:
            while chunk := await upload.read(_READ_CHUNK):
                yield chunk

        return await self._store(read_chunks(), max_bytes)

    async def put_file(self, path: Path, *, sha256: str, size: int) -> StoredBlob:
        """Store the file at ``path``, whose bytes the caller has just hashed to ``sha256``.

        The file is hard-linked into the store rather than read and written again (a sealed
        bid is read once to be checked, not twice more to be stored); ``path`` stays the
        caller's, who must not change it afterwards. Falls back to a copy where a link cannot
        be made (another file system).
        """
        # Safe to leave running if the caller goes: a link under the digest's name is whole
        # or absent (kernel.threads).
        return await run_abandonable(self.link_file, Path(path), sha256, size)

    def link_file(self, path: Path, sha256: str, size: int) -> StoredBlob:
        """Blocking :meth:`put_file`, for code already in a worker thread."""
        dest = self.path_for(sha256)
        to_sync = self._made_dirs(dest.parent)
        if not dest.exists():
            # The bytes are made durable under the caller's name, then given the digest's
            # name in one link(): a crash leaves no blob or the whole one, never a torn one,
            # in a third of the system calls of a link to a temporary name and a rename.
            with path.open("rb") as source:
                os.fsync(source.fileno())
            try:
                os.link(path, dest)
            except FileExistsError:
                pass  # a concurrent put of the same bytes got there first
            except OSError:
                self._copy(path, dest)
        # Also when the blob existed: see _TempBlob.commit.
        _fsync_dir(dest.parent)
        for directory in dict.fromkeys(to_sync):
            _fsync_dir(directory)
        return StoredBlob(sha256=sha256, size=size, path=dest)

    def _copy(self, path: Path, dest: Path) -> None:
        """Where no link can be made (another file system): copy aside, fsync, rename."""
        self._made_dirs(self.tmp_dir)
        fd, name = tempfile.mkstemp(dir=self.tmp_dir, prefix="link-")
        temporary = Path(name)
        try:
            with path.open("rb") as source, os.fdopen(fd, "wb") as target:
                while chunk := source.read(1 << 20):
                    target.write(chunk)
                target.flush()
                os.fsync(target.fileno())
            os.replace(temporary, dest)
        finally:
            temporary.unlink(missing_ok=True)

    def _made_dirs(self, path: Path) -> list[Path]:
        """:func:`_make_dirs`, remembering the directories known to exist: every submission
        of a deadline rush would otherwise look them up and try to make them again."""
        if path in self._known_dirs:
            return []
        made = _make_dirs(path)
        self._known_dirs.add(path)
        return made

    async def _store(self, chunks: AsyncIterator[bytes], max_bytes: int | None) -> StoredBlob:
        temp = _TempBlob(self.tmp_dir)
        try:
            await anyio.to_thread.run_sync(temp.open)
            pending: list[bytes] = []
            pending_size = 0
            total = 0
            async for chunk in chunks:
                if not chunk:
                    continue
                total += len(chunk)
                if max_bytes is not None and total > max_bytes:
                    raise PayloadTooLarge(limit_mb=limit_mb(max_bytes))
                pending.append(bytes(chunk))
                pending_size += len(chunk)
                if pending_size >= _WRITE_BATCH:
                    await anyio.to_thread.run_sync(temp.write, pending)
                    pending, pending_size = [], 0
            if pending:
                await anyio.to_thread.run_sync(temp.write, pending)
            return await anyio.to_thread.run_sync(temp.commit, self)
        except BaseException:
            # Synchronous on purpose: awaiting inside a cancelled task would be cut short.
            temp.discard()
            raise

    # -- reading ---------------------------------------------------------------------------

    def path_for(self, sha256: str) -> Path:
        """Where the blob with this digest lives. Only 64 lowercase hex digits are accepted,
        so a digest coming from a request can never point outside the store."""
        if not isinstance(sha256, str) or not _SHA256_HEX.fullmatch(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r:.80}")
        return self.root / sha256[0:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def open(self, sha256: str) -> BinaryIO:
        """Open a blob for reading (blocking; raises FileNotFoundError if it is absent)."""
        return self.path_for(sha256).open("rb")

    def verify(self, sha256: str) -> bool:
        """Re-hash the blob on disk: False if it is missing or its bytes no longer match.

        Blocking and reads the whole file: call it from a thread or a background job.
        """
        path = self.path_for(sha256)
        try:
            with path.open("rb") as f:
                return hashlib.file_digest(f, "sha256").hexdigest() == sha256
        except FileNotFoundError:
            return False
