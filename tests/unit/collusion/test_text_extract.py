"""Text and metadata from .txt, .pdf and .docx (collusion/text/extract.py), on real small files."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime
from typing import BinaryIO

from collusion.base import Document
from collusion.text.extract import clear_cache, decode_text, extract, extract_bytes
from tests.unit.collusion.files import docx, pdf

PICTURE = bytes(range(256)) * 8


def test_txt_utf8_bom_and_gb18030() -> None:
    text = "投标文件：施工组织设计"
    assert decode_text(text.encode("utf-8")) == text
    assert decode_text(text.encode("utf-8-sig")) == text
    assert decode_text(text.encode("gb18030")) == text
    assert extract_bytes("a.TXT", text.encode("gb18030")).text == text


def test_pdf_text_metadata_id_and_images() -> None:
    data = pdf(["Construction plan for the road", "Bid security 50000"],
               info={"/Author": "Zhang San", "/Creator": "WPS Writer", "/Producer": "PDFlib 9",
                     "/CreationDate": "D:20260301090000+08'00'", "/ModDate": "D:20260302"},
               doc_id=b"0123456789abcdef", image=PICTURE)
    found = extract_bytes("bid.pdf", data)
    assert found.error == ""
    assert "Construction plan for the road" in found.text
    assert "Bid security 50000" in found.text
    meta = found.meta
    assert meta.author == "Zhang San"
    assert meta.software == "WPS Writer / PDFlib 9"
    assert meta.created == datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
    assert meta.modified == datetime(2026, 3, 2, tzinfo=UTC)
    assert meta.doc_id == b"0123456789abcdef".hex()
    assert len(meta.images) == 1


def test_docx_text_and_metadata() -> None:
    data = docx(["第一章 施工组织设计", "Quality & safety <plan>"], author="李四",
                modified_by="王五", company="某某建设有限公司", application="WPS Office",
                version="11.1", created="2026-03-01T09:00:00Z", modified="2026-03-01T10:30:00Z",
                rsid_root="00A1B2C3", custom={"ICV": "4F2A9C", "KSOProductBuildVer": "2052-11"},
                images={"image1.png": PICTURE, "tiny.png": b"x" * 10})
    found = extract_bytes("bid.docx", data)
    assert found.text == "第一章 施工组织设计\tx\nQuality & safety <plan>\tx"
    meta = found.meta
    assert (meta.author, meta.last_modified_by) == ("李四", "王五")
    assert meta.company == "某某建设有限公司"
    assert meta.software == "WPS Office 11.1"
    assert meta.serials == ("ICV=4F2A9C",)
    assert meta.created == datetime(2026, 3, 1, 9, tzinfo=UTC)
    assert meta.doc_id == "00A1B2C3"
    assert len(meta.images) == 1  # the tiny one says nothing


def test_broken_and_unknown_files_give_empty_text_and_a_reason() -> None:
    broken = extract_bytes("bid.pdf", b"%PDF-1.7 not really")
    assert broken.text == "" and broken.error
    assert extract_bytes("bid.docx", b"PK not a zip").error
    assert extract_bytes("photo.jpg", PICTURE).text == ""


def test_cache_by_content_reads_each_file_once() -> None:
    clear_cache()
    data = "同一份文件".encode()
    opened: list[str] = []

    def counting(name: str) -> Document:
        def open_() -> BinaryIO:
            opened.append(name)
            return io.BytesIO(data)

        return Document(name, hashlib.sha256(data).hexdigest(), len(data), open_)

    first = extract(counting("a.txt"))
    second = extract(counting("b.txt"))
    assert first.text == second.text == "同一份文件"
    assert second.name == "b.txt"
    assert opened == ["a.txt"]
