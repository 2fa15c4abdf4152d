"""Detector 4, shared errors: fixture tenders with the flags expected."""

from __future__ import annotations

import json

from collusion.base import BidSnapshot, TenderSnapshot
from collusion.detectors.shared_errors import SharedErrors
from tests.unit.collusion.files import document

TENDER = (
    "第一章 招标公告。本工程为城区道路改造工程，建筑面积12,354.60平方米。"
    "投标人应编制施工方案，说明质量保证措施、安全文明施工措施和检测方法。"
    "The contractor shall supply aggregate and cement for the pavement. "
    "合同工期为180日历天，最高投标限价为3,456,789.00元。"
)


def bid(key: str, text: str) -> BidSnapshot:
    return BidSnapshot(key=key, files=(document(f"{key}.txt", text.encode()),))


def tender(*bids: BidSnapshot) -> TenderSnapshot:
    return TenderSnapshot(key="T-1", documents=(document("tender.txt", TENDER.encode()),),
                          bids=bids)


RING = (
    "我公司已认真研究招标文件，本工程建筑面积12,345.60平方米，我方将编制详细的施攻方案，"
    "落实质量保证措施。We will supply aggregrate of the required grade. {own}"
)
HONEST = (
    "我方对本工程建筑面积12,354.60平方米进行了复核，将按照招标文件编制施工方案和施工方法，"
    "落实质量保证措施和安全文明施工措施。We supply aggregate from our own quarry. {own}"
)


def test_ring_sharing_a_typo_a_misspelling_and_a_wrong_figure_is_flagged() -> None:
    bids = (bid("ring-a", RING.format(own="甲方自有内容")),
            bid("ring-b", RING.format(own="乙方另写一段").replace("我公司已认真", "本公司已仔细")),
            bid("honest-c", HONEST.format(own="丙方")),
            bid("honest-d", HONEST.format(own="丁方").replace("施工方法", "检测方法")))
    flags = SharedErrors().detect(tender(*bids))
    assert [f.bidders for f in flags] == [("ring-a", "ring-b")]
    flag = flags[0]
    found = {(e["kind"], e["wrong"], e["right"]) for e in flag.evidence["errors"]}
    assert found == {("han", "施攻方", "施工方"), ("word", "aggregrate", "aggregate"),
                     ("number", "12345.60", "12354.60")}
    assert flag.score >= 0.875
    han = next(e for e in flag.evidence["errors"] if e["kind"] == "han")
    assert "施攻方案" in han["contexts"]["ring-a"]["text"]
    assert han["contexts"]["ring-a"]["file"] == "ring-a.txt"
    figure = next(e for e in flag.evidence["errors"] if e["kind"] == "number")
    assert "12,345.60平方米" in figure["contexts"]["ring-b"]["text"]
    json.dumps(flag.as_json(), ensure_ascii=False)


def test_real_words_other_bidders_use_are_not_errors() -> None:
    # "施工方法" differs from the tender's "施工方案" by one character, but both of its pairs are
    # in the tender: a different word, not a typo. Same figure as the tender: not an error.
    bids = (bid("a", HONEST.format(own="甲")), bid("b", HONEST.format(own="乙")),
            bid("c", HONEST.format(own="丙")))
    assert SharedErrors().detect(tender(*bids)) == []


def test_one_error_is_below_the_default_and_thresholds_are_parameters() -> None:
    text = "本工程建筑面积12,345.60平方米，由我方负责。"
    bids = (bid("a", text), bid("b", text), bid("c", "本工程建筑面积12,354.60平方米。"))
    assert SharedErrors().detect(tender(*bids)) == []
    flags = SharedErrors(min_errors=1).detect(tender(*bids))
    assert [f.bidders for f in flags] == [("a", "b")]
    assert flags[0].score == 0.5
    assert flags[0].evidence["errors"][0]["wrong"] == "12345.60"


def test_known_words_short_figures_and_common_forms_are_not_errors() -> None:
    text = "We use aggregrate and colour; built 2024, 2042 tonnes, 12,345.60 square metres."
    bids = (bid("a", text), bid("b", text), bid("c", "other"), bid("d", "other"))
    flags = SharedErrors(min_errors=1, known_words=frozenset({"aggregrate"})).detect(
        tender(*bids))
    assert [(e["kind"], e["wrong"]) for f in flags for e in f.evidence["errors"]] == [
        ("number", "12345.60")]
    # The same forms in most bids are the usual ones.
    common = (bid("a", text), bid("b", text), bid("c", text), bid("d", "other"))
    assert SharedErrors(min_errors=1).detect(tender(*common)) == []
