"""Load a tender run elsewhere from a folder into a ``TenderSnapshot`` (docs/collusion.md, "The
offline format").

    DIR/tender/                  the tender documents, found recursively
    DIR/tender.json              optional: {"title", "estimate", "price_ceiling", "items": [...],
                                            "shared_addresses": [...]}
    DIR/bids/<bidder-id>/        one folder per bid: its files, found recursively, and optionally
    DIR/bids/<bidder-id>/bid.json

Every field is optional. Raw machine identifiers, upload addresses and payer accounts are hashed
here with ``signing.fingerprint`` under ``key``, so detectors see the same kind of keyed hashes
as on the platform. A folder that is not in the format, malformed JSON or a bad value raises
``ScanFormatError`` naming the file and the field.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

from collusion.base import Bidder, BidSnapshot, Deposit, Document, Item, TenderSnapshot
from signing.fingerprint import KINDS, fingerprint, keyed_hash, normalise

__all__ = ["SCAN_KEY", "ScanFormatError", "hash_account", "load_folder"]

log = logging.getLogger("collusion.offline")

# The key offline scans hash identifiers under when no platform key is at hand. It is public on
# purpose: a folder's identifiers are only compared with each other, never with the platform's.
SCAN_KEY = b"ebid collusion offline scan v1"

BIDDER_FIELDS = ("name", "credit_code", "legal_rep", "phone", "email", "address",
                 "project_manager")
BID_FIELDS = ("bidder", "price", "submitted_at", "fingerprint", "deposit", "items")
DEPOSIT_FIELDS = ("payer_account", "payer_name", "paid_at")
TENDER_FIELDS = ("title", "estimate", "price_ceiling", "items", "shared_addresses")
# Files a bid folder carries that are not the bid: the bid.json itself, and what file managers
# and office suites leave behind.
_SKIPPED_NAMES = {"bid.json", "thumbs.db", "desktop.ini"}
_SKIPPED_DIRS = {"__macosx"}


class ScanFormatError(ValueError):
    """The folder is not in the offline format, or one of its files holds a bad value."""

    def __init__(self, where: Path | str, message: str, field: str = "") -> None:
        self.where = str(where)
        self.field = field
        located = f"{self.where}: {field}: " if field else f"{self.where}: "
        super().__init__(located + message)


def load_folder(root: Path | str, *, key: bytes = SCAN_KEY) -> TenderSnapshot:
    """The snapshot of the tender laid out in ``root``; bids ordered by folder name."""
    root = Path(root)
    if not root.is_dir():
        raise ScanFormatError(root, "not a folder")
    bids_dir = root / "bids"
    if not bids_dir.is_dir():
        raise ScanFormatError(root, "not a scan folder: it has no bids/ folder (docs/collusion.md)")
    tender_doc = _read_json(root / "tender.json") if (root / "tender.json").exists() else {}
    tender = _Fields(root / "tender.json", tender_doc)
    tender.warn_unknown(TENDER_FIELDS)
    tender_dir = root / "tender"
    documents = (_documents(tender_dir) if tender_dir.is_dir() and not tender_dir.is_symlink()
                 else ())
    bids = tuple(
        _bid(folder, key=key)
        for folder in sorted(bids_dir.iterdir(), key=lambda p: p.name)
        if folder.is_dir() and not folder.is_symlink() and not _skipped(folder.name)
    )
    return TenderSnapshot(
        key=root.resolve().name,
        title=tender.text("title"),
        estimate=tender.decimal("estimate"),
        price_ceiling=tender.decimal("price_ceiling"),
        reference_items=tender.items("items"),
        documents=documents,
        bids=bids,
        shared_addresses=frozenset(
            digest for raw in tender.text_list("shared_addresses")
            if (digest := _hash_one(key, "ip", raw)) is not None
        ),
    )


def hash_account(key: bytes, account: str) -> str:
    """A payer account as compared: digits and letters only, upper-cased, keyed-hashed."""
    compact = re.sub(r"[^0-9A-Za-z]", "", unicodedata.normalize("NFKC", account)).upper()
    return keyed_hash(key, "payer_account", compact) if compact else ""


def _bid(folder: Path, *, key: bytes) -> BidSnapshot:
    path = folder / "bid.json"
    doc = _read_json(path) if path.exists() else {}
    fields = _Fields(path, doc)
    bidder = fields.object("bidder")
    raw_fp = fields.object("fingerprint")
    fields.warn_unknown(BID_FIELDS)
    bidder.warn_unknown((*BIDDER_FIELDS, "shareholders"))
    fields.object("deposit").warn_unknown(DEPOSIT_FIELDS)
    ip = raw_fp.text("ip")
    return BidSnapshot(
        key=folder.name,
        bidder=Bidder(
            **{name: bidder.text(name) for name in BIDDER_FIELDS},
            shareholders=bidder.text_list("shareholders"),
        ),
        price=fields.decimal("price"),
        submitted_at=fields.time("submitted_at"),
        fingerprint=_fingerprint(raw_fp, key=key),
        upload_address=(_hash_one(key, "ip", ip) or "") if ip else "",
        deposit=_deposit(fields.object("deposit"), key=key) if doc.get("deposit") is not None
        else None,
        items=fields.items("items"),
        files=_documents(folder),
    )


def _fingerprint(raw: _Fields, *, key: bytes) -> dict[str, tuple[str, ...]]:
    values: dict[str, str | tuple[str, ...]] = {}
    for kind in KINDS:
        if kind == "ip" or kind not in raw.doc:
            continue
        value = raw.doc[kind]
        values[kind] = raw.text(kind) if isinstance(value, str) else raw.text_list(kind)
    unknown = sorted(set(raw.doc) - set(KINDS))
    if unknown:
        raise ScanFormatError(raw.path, f"unknown kind {unknown[0]!r}; known: {', '.join(KINDS)}",
                              raw.name(unknown[0]))
    return fingerprint(key, values)


def _deposit(fields: _Fields, *, key: bytes) -> Deposit:
    account = fields.text("payer_account")
    return Deposit(
        payer_account=hash_account(key, account) if account else "",
        payer_name=fields.text("payer_name"),
        paid_at=fields.time("paid_at"),
    )


def _hash_one(key: bytes, kind: str, raw: str) -> str | None:
    value = normalise(kind, raw)
    return keyed_hash(key, kind, value) if value is not None else None


def _documents(folder: Path) -> tuple[Document, ...]:
    found = []
    for path in sorted(_files(folder)):
        relative = path.relative_to(folder)
        if (any(_skipped(part) for part in relative.parts)
                or (len(relative.parts) == 1 and path.name.lower() in _SKIPPED_NAMES)):
            continue
        found.append(Document(name=relative.as_posix(), sha256=_sha256(path),
                              size=path.stat().st_size, open=_opener(path)))
    return tuple(found)


def _files(folder: Path) -> list[Path]:
    """Regular files under ``folder``, symbolic links left out: a folder received from
    elsewhere must not pull the scanning machine's own files (or a link loop) into a report."""
    found = []
    for directory, subdirectories, names in os.walk(folder, followlinks=False):
        subdirectories[:] = [d for d in subdirectories if not Path(directory, d).is_symlink()]
        for name in names:
            path = Path(directory, name)
            if not path.is_symlink() and path.is_file():
                found.append(path)
    return found


def _skipped(name: str) -> bool:
    # Hidden files, Office lock files ("~$bid.docx") and macOS archive debris.
    return name.startswith((".", "~$")) or name.lower() in _SKIPPED_DIRS


def _opener(path: Path) -> Callable[[], BinaryIO]:
    def opener() -> BinaryIO:
        return path.open("rb")

    return opener


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(partial(stream.read, 1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_json(path: Path) -> dict[str, Any]:
    if path.is_symlink():
        raise ScanFormatError(path, "a symbolic link: the scan follows none")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise ScanFormatError(path, f"cannot read: {error.strerror or error}") from error
    except UnicodeDecodeError as error:
        raise ScanFormatError(path, "not UTF-8 text") from error
    try:
        # Decimal keeps prices exact: 0.1 + 0.2 must not become 0.30000000000000004.
        doc = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise ScanFormatError(
            path, f"malformed JSON at line {error.lineno} column {error.colno}: {error.msg}"
        ) from error
    if not isinstance(doc, dict):
        raise ScanFormatError(path, "must hold one JSON object")
    return doc


class _Fields:
    """Typed reads of one JSON object's optional fields; a bad value names its file and field."""

    def __init__(self, path: Path, doc: Mapping[str, Any], prefix: str = "") -> None:
        self.path = path
        self.doc = doc
        self.prefix = prefix

    def name(self, field: str) -> str:
        return self.prefix + field

    def warn_unknown(self, known: tuple[str, ...]) -> None:
        # Not an error (a newer format may add fields), but a misspelt field would otherwise
        # vanish without a word: "fingerprints" is not "fingerprint".
        for field in sorted(set(self.doc) - set(known)):
            log.warning("%s: unknown field %s ignored", self.path, self.name(field))

    def _bad(self, field: str, message: str) -> ScanFormatError:
        return ScanFormatError(self.path, message, self.name(field))

    def _get(self, field: str) -> Any:
        return self.doc.get(field)

    def text(self, field: str) -> str:
        value = self._get(field)
        if value is None:
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise self._bad(field, f"must be a string, not {_kind(value)}")
        return str(value).strip()

    def text_list(self, field: str) -> tuple[str, ...]:
        value = self._get(field)
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._bad(field, "must be a list of strings")
        return tuple(v.strip() for v in value if v.strip())

    def decimal(self, field: str) -> Decimal | None:
        value = self._get(field)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
            raise self._bad(field, f"must be a number, not {_kind(value)}")
        try:
            number = Decimal(str(value).replace(",", "").strip())
        except InvalidOperation:
            raise self._bad(field, f"must be a number, not {value!r}") from None
        if not number.is_finite():
            raise self._bad(field, f"must be a finite number, not {value!r}")
        return number

    def time(self, field: str) -> datetime | None:
        value = self._get(field)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self._bad(field, f"must be an RFC 3339 time string, not {_kind(value)}")
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise self._bad(field, f"must be an RFC 3339 time such as "
                                   f"2026-03-01T09:30:00+08:00, not {value!r}") from None
        if moment.tzinfo is None:
            raise self._bad(field, f"needs a UTC offset (+08:00 or Z): {value!r}")
        return moment

    def object(self, field: str) -> _Fields:
        value = self._get(field)
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise self._bad(field, f"must be a JSON object, not {_kind(value)}")
        return _Fields(self.path, value, prefix=f"{self.name(field)}.")

    def items(self, field: str) -> tuple[Item, ...]:
        value = self._get(field)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self._bad(field, f"must be a list of items, not {_kind(value)}")
        items = []
        for number, entry in enumerate(value):
            where = f"{self.name(field)}[{number}]"
            if not isinstance(entry, dict):
                raise ScanFormatError(self.path, f"must be an object, not {_kind(entry)}", where)
            line = _Fields(self.path, entry, prefix=f"{where}.")
            items.append(Item(code=line.text("code"), description=line.text("description"),
                              quantity=line.decimal("quantity"),
                              unit_price=line.decimal("unit_price")))
        return tuple(items)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return "a string" if isinstance(value, str) else "a number"
