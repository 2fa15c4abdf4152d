"""Text and metadata of a bid's files (.txt, .pdf, .docx), read once per file content.

Every text detector asks for the same files, so results are cached by the file's SHA-256 for the
process (bounded by total characters). A file that cannot be read gives empty text and says why
in ``Extracted.error``: one broken file must not stop the analysis of a tender.

DOCX is read with zipfile and ElementTree (document.xml for text, docProps for the metadata,
settings.xml for rsidRoot, word/media for images). ElementTree resolves no external entities and
the bundled expat refuses entity-expansion bombs; member sizes are capped against zip bombs.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import threading
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import Any
from xml.etree import ElementTree

from collusion.base import Document

log = logging.getLogger(__name__)

TEXT_SUFFIXES = (".txt", ".pdf", ".docx")
# An image smaller than this (bullets, rules, 1-pixel spacers) says nothing about who made a file.
MIN_IMAGE_BYTES = 1024
_MAX_MEMBER = 64 * 1024 * 1024
_CACHE_CHARS = 64_000_000

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_NS = {
    "dc": "http://purl.org/dc/elements/1.1/",
    "cp": "http://schemas.openxmlformats.org/package/2006/metadata/core-properties",
    "dcterms": "http://purl.org/dc/terms/",
    "ep": "http://schemas.openxmlformats.org/officeDocument/2006/extended-properties",
    "cup": "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties",
}
# Custom properties that identify an installation or licence rather than the document: WPS
# writes ``ICV``; other suites name theirs with serial or licence.
_SERIAL_PROPERTY = re.compile(r"^icv$|serial|licen[cs]e|序列号|许可", re.IGNORECASE)


@dataclass(frozen=True)
class FileMeta:
    """What a file says about who made it and with what. Empty strings when absent."""

    author: str = ""
    last_modified_by: str = ""
    company: str = ""
    software: str = ""  # application and version (DOCX), creator and producer (PDF)
    template: str = ""
    serials: tuple[str, ...] = ()  # installation or licence serials from custom properties
    created: datetime | None = None
    modified: datetime | None = None
    doc_id: str = ""  # a PDF's permanent /ID (first half) or a DOCX's rsidRoot
    images: tuple[str, ...] = ()  # SHA-256 of embedded images of MIN_IMAGE_BYTES or more


@dataclass(frozen=True)
class Extracted:
    name: str
    sha256: str
    text: str
    meta: FileMeta = field(default_factory=FileMeta)
    error: str = ""


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030, the encoding of Chinese Windows text files."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030", errors="replace")


def extract_bytes(name: str, data: bytes, sha256: str = "") -> Extracted:
    """Text and metadata of one file's bytes, by its name's suffix; other suffixes give no text."""
    digest = sha256 or hashlib.sha256(data).hexdigest()
    suffix = PurePosixPath(name.lower()).suffix
    try:
        if suffix == ".txt":
            return Extracted(name, digest, decode_text(data))
        if suffix == ".pdf":
            text, meta = _pdf(data)
            return Extracted(name, digest, text, meta)
        if suffix == ".docx":
            text, meta = _docx(data)
            return Extracted(name, digest, text, meta)
    except Exception as exc:  # any malformed file: analyse the rest of the tender
        log.warning("collusion: cannot read %s: %s", name, exc)
        return Extracted(name, digest, "", error=f"{type(exc).__name__}: {exc}")
    return Extracted(name, digest, "")


class _Cache:
    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self.chars = 0
        self.items: OrderedDict[str, Extracted] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str) -> Extracted | None:
        with self.lock:
            found = self.items.get(key)
            if found is not None:
                self.items.move_to_end(key)
            return found

    def put(self, key: str, value: Extracted) -> None:
        with self.lock:
            if key in self.items:
                return
            self.items[key] = value
            self.chars += len(value.text) + 1
            while self.chars > self.max_chars and len(self.items) > 1:
                _, old = self.items.popitem(last=False)
                self.chars -= len(old.text) + 1

    def clear(self) -> None:
        with self.lock:
            self.items.clear()
            self.chars = 0


_cache = _Cache(_CACHE_CHARS)


def extract(doc: Document) -> Extracted:
    """``extract_bytes`` of a snapshot's document, cached by its SHA-256 (and suffix, since the
    same bytes named .txt and .pdf read differently)."""
    suffix = PurePosixPath(doc.name.lower()).suffix
    key = f"{doc.sha256}{suffix}" if doc.sha256 else ""
    if key:
        found = _cache.get(key)
        if found is not None:
            return found if found.name == doc.name else _renamed(found, doc.name)
    if suffix not in TEXT_SUFFIXES:
        return Extracted(doc.name, doc.sha256, "")
    with doc.open() as stream:
        data = stream.read()
    result = extract_bytes(doc.name, data, doc.sha256)
    if key:
        _cache.put(key, result)
    return result


def _renamed(found: Extracted, name: str) -> Extracted:
    return Extracted(name, found.sha256, found.text, found.meta, found.error)


def clear_cache() -> None:
    _cache.clear()


# --- PDF -------------------------------------------------------------------------------------


def _pdf(data: bytes) -> tuple[str, FileMeta]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    pages = []
    images: set[str] = set()
    for page in reader.pages:
        pages.append(page.extract_text() or "")
        images |= _pdf_images(page)
    info: Any = reader.metadata or {}
    doc_id = ""
    ids = reader.trailer.get("/ID")
    if ids:
        first = ids[0].get_object() if hasattr(ids[0], "get_object") else ids[0]
        raw = bytes(first.original_bytes) if hasattr(first, "original_bytes") else bytes(first)
        doc_id = raw.hex()
    software = " / ".join(s for s in (_info(info, "/Creator"), _info(info, "/Producer")) if s)
    meta = FileMeta(
        author=_info(info, "/Author"),
        software=software,
        created=_pdf_date(_info(info, "/CreationDate")),
        modified=_pdf_date(_info(info, "/ModDate")),
        doc_id=doc_id,
        images=tuple(sorted(images)),
    )
    return "\n".join(pages), meta


def _info(info: Any, key: str) -> str:
    try:
        value = info.get(key)
    except Exception:
        return ""
    return str(value).strip() if value is not None else ""


def _pdf_images(page: Any) -> set[str]:
    found: set[str] = set()
    try:
        xobjects = page["/Resources"]["/XObject"].get_object()
    except (KeyError, TypeError, AttributeError):
        return found
    for ref in xobjects.values():
        obj = ref.get_object()
        if obj.get("/Subtype") != "/Image":
            continue
        # The stored (encoded) stream: the same picture embedded twice has the same bytes.
        raw = getattr(obj, "_data", b"") or obj.get_data()
        if len(raw) >= MIN_IMAGE_BYTES:
            found.add(hashlib.sha256(raw).hexdigest())
    return found


_PDF_DATE = re.compile(
    r"D:(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?([Zz+\-])?(\d{2})?'?(\d{2})?"
)


def _pdf_date(value: str) -> datetime | None:
    match = _PDF_DATE.match(value)
    if not match:
        return None
    year, month, day, hour, minute, second, sign, tzh, tzm = match.groups()
    try:
        when = datetime(int(year), int(month or 1), int(day or 1), int(hour or 0),
                        int(minute or 0), int(second or 0), tzinfo=UTC)
    except ValueError:
        return None
    if sign in ("+", "-") and tzh:
        shift = timedelta(hours=int(tzh), minutes=int(tzm or 0))
        when = when - shift if sign == "+" else when + shift
    return when


# --- DOCX ------------------------------------------------------------------------------------


def _member(archive: zipfile.ZipFile, name: str) -> bytes | None:
    try:
        info = archive.getinfo(name)
    except KeyError:
        return None
    if info.file_size > _MAX_MEMBER:
        raise ValueError(f"{name} is larger than {_MAX_MEMBER} bytes")
    with archive.open(info) as stream:
        return stream.read(_MAX_MEMBER + 1)[:_MAX_MEMBER]


def _xml(archive: zipfile.ZipFile, name: str) -> ElementTree.Element | None:
    data = _member(archive, name)
    if data is None:
        return None
    return ElementTree.fromstring(data)  # noqa: S314 - see the module docstring


def _docx(data: bytes) -> tuple[str, FileMeta]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        body = _xml(archive, "word/document.xml")
        text = _docx_text(body) if body is not None else ""
        core = _xml(archive, "docProps/core.xml")
        app = _xml(archive, "docProps/app.xml")
        custom = _xml(archive, "docProps/custom.xml")
        settings = _xml(archive, "word/settings.xml")
        images = set()
        for info in archive.infolist():
            if info.filename.startswith("word/media/") and info.file_size >= MIN_IMAGE_BYTES:
                images.add(hashlib.sha256(_member(archive, info.filename) or b"").hexdigest())
    serials: list[str] = []
    if custom is not None:
        for prop in custom.findall("cup:property", _NS):
            if _SERIAL_PROPERTY.search(prop.get("name", "")):
                value = "".join(prop.itertext()).strip()
                if value:
                    serials.append(f"{prop.get('name')}={value}")
    root_rsid = ""
    if settings is not None:
        found = settings.find(f"{_W}rsids/{_W}rsidRoot")
        root_rsid = found.get(f"{_W}val", "") if found is not None else ""
    application = _text(app, "ep:Application")
    version = _text(app, "ep:AppVersion")
    meta = FileMeta(
        author=_text(core, "dc:creator"),
        last_modified_by=_text(core, "cp:lastModifiedBy"),
        company=_text(app, "ep:Company"),
        software=f"{application} {version}".strip(),
        template=_text(app, "ep:Template"),
        serials=tuple(sorted(serials)),
        created=_iso(_text(core, "dcterms:created")),
        modified=_iso(_text(core, "dcterms:modified")),
        doc_id=root_rsid,
        images=tuple(sorted(images)),
    )
    return text, meta


def _docx_text(body: ElementTree.Element) -> str:
    paragraphs = []
    for paragraph in body.iter(f"{_W}p"):
        parts = []
        for node in paragraph.iter():
            if node.tag == f"{_W}t" and node.text:
                parts.append(node.text)
            elif node.tag == f"{_W}tab":
                parts.append("\t")
            elif node.tag in (f"{_W}br", f"{_W}cr"):
                parts.append("\n")
        paragraphs.append("".join(parts))
    return "\n".join(paragraphs)


def _text(root: ElementTree.Element | None, path: str) -> str:
    if root is None:
        return ""
    found = root.find(path, _NS)
    return (found.text or "").strip() if found is not None else ""


def _iso(value: str) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
