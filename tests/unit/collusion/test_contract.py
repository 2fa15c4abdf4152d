"""The contract every detector of ``all_detectors()`` keeps (STYLE.md rule 7, collusion/base.py):
on generic snapshots (empty, one bid, bids without files, identical bids, odd values) it returns
a list of well-formed flags, deterministically, without raising or touching its input."""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from collusion.base import (
    Bidder,
    BidSnapshot,
    Deposit,
    Detector,
    Document,
    Flag,
    History,
    Item,
    PastBid,
    PastTender,
    TenderSnapshot,
)
from collusion.detectors import all_detectors
from collusion.offline import hash_account
from signing.fingerprint import fingerprint

KEY = b"contract" * 4
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
TEXT = ("本工程为某某道路改造工程施工。投标人应按照招标文件的要求编制投标文件，"
        "施工组织设计包括质量保证措施、安全文明施工措施和工期保证措施。" * 20)


def document(name: str, data: bytes) -> Document:
    return Document(name=name, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                    open=lambda: io.BytesIO(data))


def docx(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("word/document.xml",
                         '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://'
                         'schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p>'
                         f"<w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>")
        archive.writestr("docProps/core.xml",
                         '<?xml version="1.0"?><cp:coreProperties xmlns:cp="http://schemas.'
                         'openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc='
                         '"http://purl.org/dc/elements/1.1/"><dc:creator>张三</dc:creator>'
                         "</cp:coreProperties>")
    return buffer.getvalue()


def items(scale: str = "1") -> tuple[Item, ...]:
    return tuple(Item(code=f"0101010{n:02d}", description=f"项目{n}", quantity=Decimal(10 * n),
                      unit_price=Decimal(n * 7) * Decimal(scale)) for n in range(1, 13))


def full_bid(key: str, *, same: bool = False) -> BidSnapshot:
    """A bid with every field filled; ``same`` makes it identical to every other ``same`` bid
    except its key."""
    tag = "x" if same else key
    return BidSnapshot(
        key=key,
        bidder=Bidder(name=f"{tag}建设有限公司", credit_code=f"9144030{tag}",
                      legal_rep=f"法人{tag}",
                      phone="0755-12345678" if same else f"1380013{len(key):04d}",
                      email=f"bid@{tag}.example", address=f"深圳市南山区科技园路{len(tag)}号",
                      project_manager=f"经理{tag}", shareholders=(f"股东{tag}",)),
        price=Decimal("1234567.89") if same else Decimal(1000000 + 1000 * len(key)),
        submitted_at=T0 + timedelta(minutes=0 if same else 5 * len(key)),
        fingerprint=fingerprint(KEY, {"mac": f"3c:97:0e:00:00:{len(tag):02x}",
                                      "machine_id": f"4c4c4544{tag.encode().hex()}",
                                      "hostname": f"DESKTOP-{tag}"}),
        upload_address=f"ip-{tag}",
        deposit=Deposit(payer_account=hash_account(KEY, f"6222{tag.encode().hex()}"),
                        payer_name=f"{tag}建设有限公司", paid_at=T0 - timedelta(days=2)),
        items=items("1.00" if same else f"1.0{len(key) % 10}"),
        files=(document("技术标.txt", (TEXT + tag).encode()),
               document("商务标.docx", docx(TEXT + tag)),
               document("pictures/logo.png", b"\x89PNG\r\n\x1a\n" + tag.encode())),
    )


TENDER_DOCS = (document("招标文件.txt", TEXT.encode()),)
REFERENCE = items()
HISTORY = History(tenders=tuple(
    PastTender(key=f"past-{n}", opened_at=T0 - timedelta(days=30 * (12 - n)),
               estimate=Decimal(1000000),
               bids=tuple(PastBid(bidder=b, price=Decimal(990000 + 1000 * i), won=(n % 3 == i))
                          for i, b in enumerate(("a", "bb", "ccc"))))
    for n in range(12)))

SNAPSHOTS = {
    "empty": TenderSnapshot(key="empty"),
    "documents only": TenderSnapshot(key="docs", documents=TENDER_DOCS, reference_items=REFERENCE,
                                     estimate=Decimal(1000000)),
    "one bid": TenderSnapshot(key="one", documents=TENDER_DOCS, bids=(full_bid("a"),),
                              estimate=Decimal(1000000), price_ceiling=Decimal(1100000)),
    "bids without files": TenderSnapshot(key="nofiles", bids=tuple(
        BidSnapshot(key=k, bidder=Bidder(name=f"{k}公司"), price=Decimal(1000000 + 977 * n),
                    submitted_at=T0 + timedelta(minutes=n))
        for n, k in enumerate(("a", "bb", "ccc", "dddd")))),
    "bare bids": TenderSnapshot(key="bare", bids=(BidSnapshot(key="a"), BidSnapshot(key="b"))),
    "distinct full bids": TenderSnapshot(
        key="distinct", documents=TENDER_DOCS, reference_items=REFERENCE,
        estimate=Decimal(1100000), price_ceiling=Decimal(1200000),
        bids=tuple(full_bid(k) for k in ("a", "bb", "ccc", "dddd", "eeeee"))),
    "identical bids": TenderSnapshot(
        key="identical", documents=TENDER_DOCS, reference_items=REFERENCE,
        estimate=Decimal(1300000), bids=tuple(full_bid(k, same=True) for k in ("a", "b", "c"))),
    "odd values": TenderSnapshot(key="odd", estimate=Decimal(0), price_ceiling=Decimal(0), bids=(
        BidSnapshot(key="zero", price=Decimal(0), items=(Item("", "", None, None),),
                    files=(document("broken.pdf", b"%PDF-1.7 not really"),
                           document("broken.docx", b"PK\x03\x04 not a zip"),
                           document("gbk.txt", "投标文件".encode("gb18030")),
                           document("empty.txt", b""))),
        BidSnapshot(key="huge", price=Decimal("1E+12"), items=(
            Item("1", "x", Decimal(0), Decimal(0)), Item("2", "y", Decimal(-1), Decimal(5)))),
        BidSnapshot(key="none", deposit=Deposit()),
    )),
}


def detectors() -> list[Detector]:
    return all_detectors()


def run(detector: Detector, tender: TenderSnapshot, history: History | None = None) -> list[Flag]:
    return detector.detect(tender) if history is None else detector.detect(tender, history)


def as_json(flags: list[Flag]) -> str:
    return json.dumps([flag.as_json() for flag in flags], ensure_ascii=False, sort_keys=True)


def test_there_are_detectors() -> None:
    assert len(detectors()) >= 3


@pytest.mark.parametrize("detector", detectors(), ids=lambda d: d.name)
def test_describes_itself(detector: Detector) -> None:
    assert detector.name and detector.name.isidentifier()
    module = importlib.import_module(f"collusion.detectors.{detector.name}")
    assert type(detector).__module__ == module.__name__, "one detector per module, named by it"
    assert detector.title_zh.strip() and detector.title_en.strip()
    assert detector.strength in ("strong", "supporting")
    assert len({d.name for d in detectors()}) == len(detectors())


@pytest.mark.parametrize("detector", detectors(), ids=lambda d: d.name)
def test_the_constructor_only_stores_parameters(detector: Detector) -> None:
    """scikit-learn's rule: parameters in, no learned state; all_detectors() uses defaults."""
    fresh = type(detector)()
    assert vars(fresh) == vars(detector)
    for name, value in vars(detector).items():
        assert not name.startswith("_") and not name.endswith("_"), name
        assert isinstance(value, int | float | str | bool | tuple | frozenset | None), name


@pytest.mark.parametrize("name", SNAPSHOTS)
@pytest.mark.parametrize("detector", detectors(), ids=lambda d: d.name)
def test_well_formed_deterministic_flags_without_touching_the_input(
    detector: Detector, name: str
) -> None:
    tender = SNAPSHOTS[name]
    before = repr(tender)
    parameters = repr(vars(detector))
    for history in (None, HISTORY):
        first = run(detector, tender, history)
        assert isinstance(first, list)
        keys = {bid.key for bid in tender.bids} | {b.bidder for t in HISTORY.tenders
                                                    for b in t.bids}
        for flag in first:
            assert isinstance(flag, Flag)
            assert flag.detector == detector.name
            assert isinstance(flag.bidders, tuple) and flag.bidders
            assert list(flag.bidders) == sorted(set(flag.bidders)), "bidders sorted, distinct"
            assert set(flag.bidders) <= keys
            assert isinstance(flag.score, float | int) and 0.0 <= flag.score <= 1.0
            assert flag.strength in ("strong", "supporting")
            assert isinstance(flag.summary, str)
            json.dumps(flag.as_json(), ensure_ascii=False)  # no default=: plain JSON only
        again = run(detector, tender, history)
        assert as_json(again) == as_json(first), "same input, same flags"
    assert repr(tender) == before, "the snapshot was changed"
    assert repr(vars(detector)) == parameters, "detect() changed the detector"


@pytest.mark.parametrize("detector", detectors(), ids=lambda d: d.name)
def test_flags_nothing_in_a_tender_without_bids(detector: Detector) -> None:
    assert run(detector, SNAPSHOTS["empty"]) == []
    assert run(detector, SNAPSHOTS["documents only"]) == []


def test_identical_bids_are_flagged_by_some_detector() -> None:
    tender = SNAPSHOTS["identical bids"]
    flagged = {bidder for d in detectors() for f in run(d, tender) for bidder in f.bidders}
    assert flagged == {"a", "b", "c"}
