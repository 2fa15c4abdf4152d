"""What the client keeps between runs, in ``$EBID_CLIENT_HOME`` (default
``~/.config/ebid-client``): per platform, the bearer token of the last login and the receipt
certificate first seen from it; and the bidder's own X25519 key (``keygen``).

The token is as good as a password until it expires, so the files are written 0600 and
replaced atomically.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SESSIONS = "sessions.json"
DEFAULT_KEY = "bidder-x25519.pem"


def home(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("EBID_CLIENT_HOME"):
        return Path(env["EBID_CLIENT_HOME"])
    config = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(config) / "ebid-client"


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by its owner only, replacing it atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


class Store:
    """The per-platform records, keyed by the server's base URL."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / SESSIONS

    def _all(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except ValueError:
            return {}  # a damaged file only costs a new login
        return data if isinstance(data, dict) else {}

    def get(self, server: str) -> dict[str, Any]:
        record = self._all().get(server.rstrip("/"))
        return record if isinstance(record, dict) else {}

    def update(self, server: str, **fields: Any) -> None:
        records = self._all()
        record = records.setdefault(server.rstrip("/"), {})
        record.update(fields)
        write_private(self.path, json.dumps(records, indent=2, ensure_ascii=False).encode())

    def token(self, server: str) -> str | None:
        token = self.get(server).get("token")
        return token if isinstance(token, str) and token else None

    @property
    def default_key(self) -> Path:
        return self.directory / DEFAULT_KEY
