"""The bid manifest: what the bidder signs inside the sealed package.

Canonical JSON (sorted keys, no spaces, UTF-8 unescaped), so the same fields always give the
same bytes and a signature made elsewhere (``openssl cms -sign``) over ``manifest_for``'s output
matches what ``seal`` writes. Amounts are decimal strings ("1234.50"), never floats.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, BinaryIO

from cryptography import x509

from signing.certificates import credit_code_of
from signing.sealed.container import READ_SIZE, name_problem
from signing.sealed.format import canonical_json, malformed

MANIFEST_FORMAT = "ebid-bid-manifest"
MANIFEST_VERSION = 1
_MAX_EXPONENT = 30  # no price, quantity or unit price needs more digits either way
_AMOUNT = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]+)?")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_MAX_TEXT = 100  # the opening record's columns


@dataclass(frozen=True)
class Item:
    """One line of the bill of quantities."""

    code: str
    description: str
    quantity: Decimal | str | int
    unit_price: Decimal | str | int


@dataclass(frozen=True)
class BidFields:
    """What the bidder declares; the files' names, sizes and hashes are added while sealing."""

    tender: str
    lot: str | None
    price: Decimal | str | int
    items: Sequence[Item] = ()
    # machine fingerprint: {"mac": hmac-hex, "machine_id": hmac-hex, ...}
    client_fingerprint: Mapping[str, str] = field(default_factory=dict)
    bidder: str | None = None  # credit code; by default read from the signing certificate
    # The opening record's other columns (开标记录表); written only when given, so a manifest
    # without them reads as before.
    duration_days: int | None = None  # 工期
    quality: str = ""  # 质量承诺
    project_manager: str = ""  # 项目经理


@dataclass(frozen=True)
class FileDigest:
    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Manifest:
    tender: str
    lot: str | None
    bidder: str
    files: tuple[FileDigest, ...]
    price: str
    items: tuple[Item, ...]  # amounts as their decimal strings
    client_fingerprint: dict[str, str]
    duration_days: int | None = None
    quality: str = ""
    project_manager: str = ""


def amount(value: Decimal | str | int, name: str) -> str:
    """A non-negative decimal as a plain string; floats are refused (0.1 is not exact)."""
    if isinstance(value, float | bool):
        raise TypeError(f"{name} must be a Decimal, int or str, not {type(value).__name__}")
    try:
        number = Decimal(value)
    except InvalidOperation as error:
        raise ValueError(f"{name} {value!r} is not a decimal number") from error
    # Before formatting: "1e400000000000" would be written out as that many digits.
    if number.is_finite() and number and not -_MAX_EXPONENT <= number.adjusted() <= _MAX_EXPONENT:
        raise ValueError(f"{name} {value!r} is out of range (10^-{_MAX_EXPONENT} to "
                         f"10^{_MAX_EXPONENT})")
    text = format(number, "f") if number.is_finite() else "NaN"
    if not _AMOUNT.fullmatch(text):
        raise ValueError(f"{name} {value!r} must be a finite number, zero or more")
    return text


def bidder_of(certificate: x509.Certificate, declared: str | None) -> str:
    """The credit code the manifest names: the certificate's, which ``declared`` must match."""
    code = credit_code_of(certificate)
    if code is None and declared is None:
        raise ValueError("the signing certificate carries no credit code: pass bidder=")
    if code is not None and declared is not None and declared != code:
        raise ValueError(f"bidder {declared} is not the certificate's credit code {code}")
    return code or str(declared)


def manifest_bytes(bid: BidFields, *, bidder: str, files: Sequence[FileDigest]) -> bytes:
    for name, value in bid.client_fingerprint.items():
        if not isinstance(name, str) or not isinstance(value, str) or not _HEX64.fullmatch(value):
            raise ValueError(f"client fingerprint {name!r} must be an HMAC-SHA256 in hex")
    document: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "tender": bid.tender,
        "lot": bid.lot,
        "bidder": bidder,
        "files": [{"name": f.name, "sha256": f.sha256, "size": f.size} for f in files],
        "price": amount(bid.price, "price"),
        "items": [
            {"code": item.code, "description": item.description,
             "quantity": amount(item.quantity, f"quantity of {item.code}"),
             "unit_price": amount(item.unit_price, f"unit price of {item.code}")}
            for item in bid.items
        ],
        "client_fingerprint": dict(bid.client_fingerprint),
    }
    if bid.duration_days is not None:
        if (not isinstance(bid.duration_days, int) or isinstance(bid.duration_days, bool)
                or bid.duration_days <= 0):
            raise ValueError("duration_days must be a whole number of days, more than zero")
        document["duration_days"] = bid.duration_days
    for name in ("quality", "project_manager"):
        value = getattr(bid, name)
        if not isinstance(value, str) or len(value) > _MAX_TEXT:
            raise ValueError(f"{name} must be text of at most {_MAX_TEXT} characters")
        if value:
            document[name] = value
    return canonical_json(document)


def manifest_for(
    *, files: Iterable[tuple[str, BinaryIO]], bid: BidFields, certificate: x509.Certificate
) -> bytes:
    """The manifest ``seal`` will write for these files, to sign elsewhere before sealing.

    Reads every file once. Seal the same bytes afterwards, or the signature will not match.
    """
    digests = []
    for name, stream in files:
        problem = name_problem(name)
        if problem is not None:
            raise ValueError(problem)
        digest, size = hashlib.sha256(), 0
        while chunk := stream.read(READ_SIZE):
            digest.update(chunk)
            size += len(chunk)
        digests.append(FileDigest(name, digest.hexdigest(), size))
    return manifest_bytes(bid, bidder=bidder_of(certificate, bid.bidder), files=digests)


def _bad(detail: str) -> Exception:
    return malformed(f"the manifest is not valid: {detail}", f"投标清单格式错误：{detail}")


def _text(document: Mapping[str, Any], key: str, *, optional: bool = False) -> Any:
    value = document.get(key)
    if not (isinstance(value, str) or (optional and value is None)):
        raise _bad(f"{key} must be a string")
    return value


def _amount(document: Mapping[str, Any], key: str) -> str:
    value = _text(document, key)
    if not _AMOUNT.fullmatch(value):
        raise _bad(f"{key} {value!r} is not a plain decimal")
    return str(value)


def _file(entry: Any) -> FileDigest:
    if not isinstance(entry, dict):
        raise _bad("a file entry is not an object")
    name, sha256, size = entry.get("name"), entry.get("sha256"), entry.get("size")
    if not isinstance(name, str) or name_problem(name) is not None:
        raise _bad("a file name is missing or unfit")
    if not isinstance(sha256, str) or not _HEX64.fullmatch(sha256):
        raise _bad(f"the SHA-256 of {name} is not 64 hex digits")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _bad(f"the size of {name} is not a whole number")
    return FileDigest(name, sha256, size)


def _item(entry: Any) -> Item:
    if not isinstance(entry, dict):
        raise _bad("an item is not an object")
    return Item(code=_text(entry, "code"), description=_text(entry, "description"),
                quantity=_amount(entry, "quantity"), unit_price=_amount(entry, "unit_price"))


def parse_manifest(data: bytes) -> Manifest:
    """The manifest's fields, checked for shape; whether they fit the package is open's job."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise _bad("it is not UTF-8 JSON") from error
    if not isinstance(document, dict) or document.get("format") != MANIFEST_FORMAT:
        raise _bad("it does not name the format ebid-bid-manifest")
    if document.get("version") != MANIFEST_VERSION:
        raise _bad(f"version {document.get('version')!r} is not supported")
    files, items = document.get("files"), document.get("items")
    fingerprint = document.get("client_fingerprint")
    if not isinstance(files, list) or not isinstance(items, list):
        raise _bad("files and items must be lists")
    if not isinstance(fingerprint, dict) or not all(
        isinstance(v, str) for v in fingerprint.values()
    ):
        raise _bad("client_fingerprint must map names to hex strings")
    duration = document.get("duration_days")
    if duration is not None and (not isinstance(duration, int) or isinstance(duration, bool)
                                 or duration <= 0):
        raise _bad("duration_days must be a whole number of days")
    extras: dict[str, str] = {}
    for name in ("quality", "project_manager"):
        value = document.get(name, "")
        if not isinstance(value, str) or len(value) > _MAX_TEXT:
            raise _bad(f"{name} must be a string of at most {_MAX_TEXT} characters")
        extras[name] = value
    return Manifest(
        duration_days=duration, **extras,
        tender=_text(document, "tender"), lot=_text(document, "lot", optional=True),
        bidder=_text(document, "bidder"), files=tuple(_file(f) for f in files),
        price=_amount(document, "price"), items=tuple(_item(i) for i in items),
        client_fingerprint=dict(fingerprint),
    )
