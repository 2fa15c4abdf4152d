"""Durable file helpers shared by the blob store, the audit trail and the platform keys."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Flush a directory entry, so a file just created or renamed in it survives a crash."""
    if os.name != "posix":  # pragma: no cover - the platform runs on POSIX servers
        return
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_or_create_secret(path: Path, make: Callable[[], bytes]) -> bytes:
    """Read a key file, creating it (mode 0600, directory 0700) first if absent.

    Safe against racing starts: the new file is written aside and linked into place, and
    link() fails if the name exists, so the first process wins and every process then uses
    its key.
    """
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(make())
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        tmp.unlink()
    fsync_dir(path.parent)
    return path.read_bytes()
