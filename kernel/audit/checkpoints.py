"""The checkpoint store: ``checkpoints.jsonl``, an append-only file of signed claims "at this
time the committed chain ended at (seq, mac)", kept outside the database so that deleting the
newest rows shows up as truncation. Appends are locked across processes and fsynced; reading
the last line seeks from the end, because the file grows without bound.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kernel.audit.canonical import _canonical_bytes, _iso
from kernel.files import fsync_dir as _fsync_dir

CHECKPOINT_FILE = "checkpoints.jsonl"


@dataclass(frozen=True)
class Checkpoint:
    """The signed claim "at ``at`` the committed chain ended at ``seq`` with ``mac``"."""

    seq: int
    mac: str
    at: datetime
    signature: str  # hex Ed25519 signature over _payload()

    def _payload(self) -> bytes:
        return _canonical_bytes({"seq": self.seq, "mac": self.mac, "at": _iso(self.at)})

    def to_line(self) -> bytes:
        fields = {"seq": self.seq, "mac": self.mac, "at": _iso(self.at), "sig": self.signature}
        return _canonical_bytes(fields) + b"\n"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` so web and worker processes append one at a time."""
    if sys.platform == "win32":  # pragma: no cover - the platform runs on POSIX servers
        yield
        return
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _last_line(path: Path) -> bytes | None:
    """The file's last non-empty line, read from the end: the file grows without bound."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return None
    with handle:
        end = handle.seek(0, os.SEEK_END)
        chunk, pos = b"", end
        while pos > 0:
            step = min(4096, pos)
            pos -= step
            handle.seek(pos)
            chunk = handle.read(step) + chunk
            stripped = chunk.rstrip(b"\n")
            if b"\n" in stripped:
                return stripped.rsplit(b"\n", 1)[1]
        return chunk.rstrip(b"\n") or None


class CheckpointStore:
    """Append-only JSON-lines file of signed checkpoints, kept outside the database.

    Its methods block on file I/O; AuditLog calls them from a worker thread.
    """

    def __init__(self, directory: Path, signing_key: Ed25519PrivateKey) -> None:
        self.directory = directory
        self._signing_key = signing_key
        self._public_key = signing_key.public_key()

    @property
    def path(self) -> Path:
        return self.directory / CHECKPOINT_FILE

    def sign(self, *, seq: int, mac: str, at: datetime) -> Checkpoint:
        unsigned = Checkpoint(seq=seq, mac=mac, at=at, signature="")
        return Checkpoint(seq, mac, at, self._signing_key.sign(unsigned._payload()).hex())

    def parse(self, line: bytes) -> Checkpoint | None:
        """The checkpoint on ``line``, or None when it is malformed or its signature is bad."""
        try:
            raw = json.loads(line)
            checkpoint = Checkpoint(
                seq=int(raw["seq"]),
                mac=str(raw["mac"]),
                at=datetime.fromisoformat(str(raw["at"])),
                signature=str(raw["sig"]),
            )
            self._public_key.verify(bytes.fromhex(checkpoint.signature), checkpoint._payload())
        except (ValueError, TypeError, KeyError, InvalidSignature):
            return None
        return checkpoint

    def entries(self) -> list[tuple[int, Checkpoint | None]]:
        """Every line as (line number from 1, checkpoint or None when it does not verify)."""
        try:
            with self.path.open("rb") as handle:
                return [
                    (number, self.parse(line))
                    for number, line in enumerate(handle, start=1)
                    if line.strip()
                ]
        except FileNotFoundError:
            return []

    def append_if_moved(self, *, seq: int, mac: str, at: datetime) -> Checkpoint | None:
        """Sign and durably append (seq, mac) unless the last checkpoint already says so."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with _locked(self.directory / (CHECKPOINT_FILE + ".lock")):
            line = _last_line(self.path)
            last = self.parse(line) if line is not None else None
            if last is not None and (last.seq, last.mac) == (seq, mac):
                return None
            checkpoint = self.sign(seq=seq, mac=mac, at=at)
            created = not self.path.exists()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                # One write() of one short line: a reader never sees half a checkpoint.
                os.write(fd, checkpoint.to_line())
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:
                _fsync_dir(self.directory)
            return checkpoint
