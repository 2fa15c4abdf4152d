"""Detector 3, file metadata: fixture tenders of real DOCX and PDF files and the flags expected."""

from __future__ import annotations

import json

from collusion.base import Bidder, BidSnapshot, TenderSnapshot
from collusion.detectors.file_metadata import FileMetadata
from tests.unit.collusion.files import document, docx, pdf

LOGO = bytes(range(256)) * 10  # the tender's own logo, in every bid
PHOTO = bytes(reversed(range(256))) * 10  # a site photo only two bidders have


def bid(key: str, name: str, *files: tuple[str, bytes]) -> BidSnapshot:
    return BidSnapshot(key=key, bidder=Bidder(name=name),
                       files=tuple(document(n, data) for n, data in files))


def tender(*bids: BidSnapshot) -> TenderSnapshot:
    template = docx(["招标文件 投标函格式"], author="招标代理张工", company="某某招标代理有限公司",
                    rsid_root="00TEMPLATE", created="2026-02-01T08:00:00Z",
                    images={"logo.png": LOGO})
    return TenderSnapshot(key="T-1", documents=(document("招标文件.docx", template),), bids=bids)


def test_same_author_serial_and_image_flag_the_pair_with_evidence() -> None:
    a = docx(["甲方技术标"], author="王工", company="华东建设", created="2026-03-01T09:00:00Z",
             custom={"ICV": "ABCDEF0123"}, images={"photo.jpg": PHOTO, "logo.png": LOGO})
    b = docx(["乙方技术标"], author="王工", company="华西建设", created="2026-03-05T09:00:00Z",
             custom={"ICV": "ABCDEF0123"}, images={"site.jpg": PHOTO, "logo.png": LOGO})
    c = docx(["丙方技术标"], author="赵工", company="华北建设", created="2026-03-09T09:00:00Z",
             images={"logo.png": LOGO})
    flags = FileMetadata().detect(tender(bid("A", "华东建设有限公司", ("a.docx", a)),
                                         bid("B", "华西建设有限公司", ("b.docx", b)),
                                         bid("C", "华北建设有限公司", ("c.docx", c))))
    assert [f.bidders for f in flags] == [("A", "B")]
    flag = flags[0]
    assert flag.strength == "supporting"
    assert flag.evidence["kinds"] == ["serial", "image", "author"]
    assert 1 - 0.4 * 0.5 * 0.6 - 1e-9 <= flag.score <= 1 - 0.4 * 0.5 * 0.6 + 1e-9
    author = next(e for e in flag.evidence["shared"] if e["kind"] == "author")
    assert author == {"kind": "author", "value": "王工", "file_a": "a.docx", "file_b": "b.docx",
                      "bidder_a": "A", "bidder_b": "B"}
    assert flag.evidence["entities"] == [
        {"kind": "machine", "id": "icvabcdef0123", "label": "ICV=ABCDEF0123"},
        {"kind": "person", "id": "王工", "label": "王工"}]
    json.dumps(flag.as_json(), ensure_ascii=False)


def test_template_values_and_generic_names_are_not_evidence() -> None:
    # Both bids were written over the tender's DOCX: its author, company, rsidRoot, creation
    # time and logo came with it; "Administrator" is every pirated Windows.
    files = [docx([f"投标文件{n}"], author="招标代理张工", company="某某招标代理有限公司",
                  modified_by="Administrator", rsid_root="00TEMPLATE",
                  created="2026-02-01T08:00:00Z", modified=f"2026-03-0{n}T10:00:00Z",
                  images={"logo.png": LOGO}) for n in (1, 2, 3)]
    bids = [bid(k, f"{k}建设有限公司", (f"{k}.docx", data)) for k, data in zip("ABC", files,
                                                                         strict=True)]
    assert FileMetadata().detect(tender(*bids)) == []


def test_pdf_id_times_and_a_name_inside_another_bid() -> None:
    a = pdf(["Technical proposal"], doc_id=b"same-file-under-", info={
        "/CreationDate": "D:20260301090000Z", "/Producer": "Rare PDF Maker 1.2.3"})
    b = pdf(["Technical proposal, second bidder"], doc_id=b"same-file-under-", info={
        "/CreationDate": "D:20260301090100Z", "/Producer": "Rare PDF Maker 1.2.3"})
    c = docx(["项目经理由宏达建设有限公司派出"], created="2026-03-09T00:00:00Z")
    d = docx(["独立编制"], created="2026-03-12T00:00:00Z")
    flags = FileMetadata().detect(tender(bid("A", "宏达建设有限公司", ("a.pdf", a)),
                                         bid("B", "远大建设有限公司", ("b.pdf", b)),
                                         bid("C", "恒通建设有限公司", ("c.docx", c)),
                                         bid("D", "永安建设有限公司", ("d.docx", d))))
    assert [f.bidders for f in flags] == [("A", "B"), ("A", "C")]
    assert flags[0].evidence["kinds"] == ["doc_id", "created", "software"]
    inside = flags[1].evidence["shared"]
    assert inside == [{"kind": "name_inside", "value": "宏达建设有限公司", "name_of": "A",
                       "found_in": "C", "file": "c.docx"}]


def test_weak_signals_alone_stay_below_the_threshold() -> None:
    a = docx(["甲"], modified="2026-03-01T09:00:00Z", application="Rare Writer", version="9")
    b = docx(["乙"], modified="2026-03-01T09:01:00Z", application="Rare Writer", version="9")
    c = docx(["丙"], modified="2026-03-04T09:01:00Z")
    d = docx(["丁"], modified="2026-03-05T09:01:00Z")
    bids = (bid("A", "", ("a.docx", a)), bid("B", "", ("b.docx", b)), bid("C", "", ("c.docx", c)),
            bid("D", "", ("d.docx", d)))
    assert FileMetadata().detect(tender(*bids)) == []  # 0.2 and 0.1: about 0.28
    flags = FileMetadata(min_score=0.25).detect(tender(*bids))
    assert [f.evidence["kinds"] for f in flags] == [["modified", "software"]]
    # Software most bidders use says nothing, even with a low threshold.
    assert FileMetadata(min_score=0.25, software_share=0.4).detect(tender(*bids)) == []
