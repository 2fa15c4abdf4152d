"""Small real PDF and DOCX files built in the tests (pypdf's writer, zipfile)."""

from __future__ import annotations

import hashlib
import io
import zipfile
from xml.sax.saxutils import escape

from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    ByteStringObject,
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    NumberObject,
)

from collusion.base import Document


def document(name: str, data: bytes) -> Document:
    return Document(name=name, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                    open=lambda: io.BytesIO(data))


def pdf(lines: list[str], *, info: dict[str, str] | None = None, doc_id: bytes = b"",
        image: bytes = b"") -> bytes:
    """A one-page PDF with Latin text in Helvetica, an optional grey image and /ID."""
    writer = PdfWriter()
    page = writer.add_blank_page(400, 400)
    font = DictionaryObject({NameObject("/Type"): NameObject("/Font"),
                             NameObject("/Subtype"): NameObject("/Type1"),
                             NameObject("/BaseFont"): NameObject("/Helvetica")})
    resources = DictionaryObject({NameObject("/Font"): DictionaryObject(
        {NameObject("/F1"): writer._add_object(font)})})
    ops = ["BT /F1 12 Tf 20 360 Td 14 TL"]
    ops += [f"({line}) Tj T*" for line in lines]
    ops.append("ET")
    if image:
        picture = DecodedStreamObject()
        picture.set_data(image)
        picture.update({NameObject("/Type"): NameObject("/XObject"),
                        NameObject("/Subtype"): NameObject("/Image"),
                        NameObject("/Width"): NumberObject(len(image)),
                        NameObject("/Height"): NumberObject(1),
                        NameObject("/ColorSpace"): NameObject("/DeviceGray"),
                        NameObject("/BitsPerComponent"): NumberObject(8)})
        resources[NameObject("/XObject")] = DictionaryObject(
            {NameObject("/Im1"): writer._add_object(picture)})
        ops.append("q 100 0 0 10 20 20 cm /Im1 Do Q")
    page[NameObject("/Resources")] = resources
    content = DecodedStreamObject()
    content.set_data("\n".join(ops).encode("latin-1"))
    page[NameObject("/Contents")] = writer._add_object(content)
    if info:
        writer.add_metadata(info)
    if doc_id:
        writer._ID = ArrayObject([ByteStringObject(doc_id), ByteStringObject(b"changes-each-save")])
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def docx(paragraphs: list[str], *, author: str = "", modified_by: str = "", company: str = "",
         application: str = "Microsoft Office Word", version: str = "16.0000",
         created: str = "", modified: str = "", rsid_root: str = "",
         custom: dict[str, str] | None = None, images: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    body = "".join(f'<w:p><w:r><w:t xml:space="preserve">{escape(p)}</w:t></w:r>'
                   f"<w:r><w:tab/><w:t>x</w:t></w:r></w:p>" for p in paragraphs)
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("word/document.xml",
                         f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{W}">'
                         f"<w:body>{body}</w:body></w:document>")
        archive.writestr(
            "docProps/core.xml",
            '<?xml version="1.0" encoding="UTF-8"?><cp:coreProperties xmlns:cp="http://schemas.'
            'openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/'
            'dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3'
            '.org/2001/XMLSchema-instance">'
            f"<dc:creator>{escape(author)}</dc:creator>"
            f"<cp:lastModifiedBy>{escape(modified_by)}</cp:lastModifiedBy>"
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{created}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{modified}</dcterms:modified>'
            "</cp:coreProperties>")
        archive.writestr(
            "docProps/app.xml",
            '<?xml version="1.0" encoding="UTF-8"?><Properties xmlns="http://schemas.openxmlformats'
            '.org/officeDocument/2006/extended-properties">'
            f"<Application>{escape(application)}</Application><AppVersion>{version}</AppVersion>"
            f"<Company>{escape(company)}</Company><Template>Normal.dotm</Template></Properties>")
        if custom:
            props = "".join(
                f'<property fmtid="{{D5CDD505-2E9C-101B-9397-08002B2CF9AE}}" pid="{n + 2}" '
                f'name="{escape(k)}"><vt:lpwstr>{escape(v)}</vt:lpwstr></property>'
                for n, (k, v) in enumerate(custom.items()))
            archive.writestr(
                "docProps/custom.xml",
                '<?xml version="1.0" encoding="UTF-8"?><Properties xmlns="http://schemas.openxml'
                'formats.org/officeDocument/2006/custom-properties" xmlns:vt="http://schemas.'
                f'openxmlformats.org/officeDocument/2006/docPropsVTypes">{props}</Properties>')
        if rsid_root:
            archive.writestr("word/settings.xml",
                             f'<?xml version="1.0"?><w:settings xmlns:w="{W}"><w:rsids>'
                             f'<w:rsidRoot w:val="{rsid_root}"/><w:rsid w:val="{rsid_root}"/>'
                             "</w:rsids></w:settings>")
        for name, data in (images or {}).items():
            archive.writestr(f"word/media/{name}", data)
    return buffer.getvalue()
