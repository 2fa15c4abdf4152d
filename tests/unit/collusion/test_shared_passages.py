"""Detector 2, shared passages: fixture tenders with the flags expected."""

from __future__ import annotations

import json
import random

from collusion.base import BidSnapshot, TenderSnapshot
from collusion.detectors.shared_passages import SharedPassages
from tests.unit.collusion.files import document, docx

HAN = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]


def chinese(seed: int, n: int) -> str:
    """Chinese-looking prose: random characters with punctuation every few words."""
    rng = random.Random(seed)
    out = []
    for index in range(n):
        out.append(rng.choice(HAN))
        if index % 13 == 12:
            out.append("，" if index % 3 else "。")
    return "".join(out)


def english(seed: int, words: int) -> str:
    rng = random.Random(seed)
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
             for _ in range(3000)]
    return " ".join(rng.choice(vocab) for _ in range(words)) + "."


def dressed(text: str) -> str:
    """The same passage as another bidder would reformat it: full-width letters and digits,
    punctuation changed, spaces and line breaks added, one character in 60 replaced."""
    out = []
    for index, char in enumerate(text):
        if char in "，。":
            out.append("；" if char == "，" else ".\n")
        elif char.isascii() and char.isalnum():
            out.append(chr(ord(char.upper()) + 0xFEE0))
        elif index % 60 == 59 and "\u4e00" <= char <= "\u9fff":
            out.append("改")
        else:
            out.append(char)
        if index % 40 == 39:
            out.append("  ")
    return "".join(out)


def bid(key: str, *texts: str) -> BidSnapshot:
    return BidSnapshot(key=key, files=tuple(document(f"{key}-{n}.txt", t.encode())
                                            for n, t in enumerate(texts)))


def tender(*bids: BidSnapshot, documents: tuple[str, ...] = ()) -> TenderSnapshot:
    return TenderSnapshot(key="T-1", bids=bids, documents=tuple(
        document(f"tender-{n}.txt", t.encode()) for n, t in enumerate(documents)))


TENDER_TEXT = chinese(1, 6000)


def test_thirty_percent_copied_paragraphs_found_and_located() -> None:
    common = [chinese(100 + n, 300) for n in range(5)]  # 1,500 of about 5,000 characters
    own_a = [chinese(200 + n, 700) for n in range(5)]
    own_b = [chinese(300 + n, 700) for n in range(5)]
    text_a = "\n".join(p for pair in zip(own_a, common, strict=True) for p in pair)
    text_b = "\n".join(p for pair in zip(reversed(common), own_b, strict=True) for p in pair)
    flags = SharedPassages().detect(tender(bid("甲公司", text_a), bid("乙公司", dressed(text_b)),
                                           bid("丙公司", chinese(400, 5000))))
    assert [f.bidders for f in flags] == [("乙公司", "甲公司")]
    flag = flags[0]
    assert flag.evidence["passages_total"] == 5
    assert 0.25 <= flag.evidence["share"]["甲公司"] <= 0.35
    assert flag.score == 1.0  # 29% of each bid's own text
    assert flag.evidence["shared_chars"] >= 1400
    passage = flag.evidence["passages"][0]
    # Original offsets: the excerpt is the text at those offsets in that file.
    side = passage["b"]
    assert side["file"] == "甲公司-0.txt"
    assert text_a[side["start"]:side["end"]].startswith(side["text"])
    assert passage["a"]["file"] == "乙公司-0.txt"
    assert any(tag == "replace" for tag, _, _ in passage["alignment"])
    assert type(flag.score) is float
    assert 0.5 < passage["similarity"] < 1
    json.dumps(flag.as_json(), ensure_ascii=False)


def test_honest_bids_quoting_the_tender_are_not_flagged() -> None:
    quotes = [TENDER_TEXT[i:i + 800] for i in range(0, 6000, 800)]
    bids = []
    for n in range(4):
        # Each quotes most of the tender, reformatted its own way, between its own paragraphs.
        parts = []
        for index, quote in enumerate(quotes):
            parts.append(dressed(quote) if (index + n) % 2 else quote)
            parts.append(chinese(500 + 10 * n + index, 300))
        parts.append("我方已仔细研究了招标文件的全部内容，愿意以上述投标总报价按合同约定实施和完成承包工程，"
                     "修补工程中的任何缺陷")
        bids.append(bid(f"bidder-{n}", "\n".join(parts)))
    assert SharedPassages().detect(tender(*bids, documents=(TENDER_TEXT,))) == []
    # Without the tender documents as the base the same bids all share passages.
    assert len(SharedPassages().detect(tender(*bids))) == 6


def test_passage_shared_by_a_ring_counts_for_every_pair() -> None:
    common = chinese(600, 1200)
    bids = [bid(f"ring-{n}", chinese(610 + n, 2000) + common + chinese(620 + n, 1000))
            for n in range(3)]
    bids.append(bid("honest", chinese(700, 4000)))
    flags = SharedPassages().detect(tender(*bids, documents=(TENDER_TEXT,)))
    assert [f.bidders for f in flags] == [("ring-0", "ring-1"), ("ring-0", "ring-2"),
                                          ("ring-1", "ring-2")]
    assert len({round(f.score, 6) for f in flags}) == 1


def test_english_reformatted_and_edited_across_file_types() -> None:
    shared = english(1, 400)
    text_a = english(2, 300) + "\n\n" + shared + "\n" + english(3, 300)
    edited = shared.upper().replace(" ", "  ").replace("E", "Ｅ", 3)
    text_b = english(4, 500) + "\n" + edited
    bids = (BidSnapshot(key="a", files=(document("a.docx", docx(text_a.split("\n\n"))),)),
            bid("b", text_b), bid("c", english(5, 900)))
    flags = SharedPassages().detect(tender(*bids))
    assert [f.bidders for f in flags] == [("a", "b")]
    assert flags[0].evidence["passages"][0]["a"]["file"] == "a.docx"


def test_short_coincidences_and_same_bidder_files_are_not_flagged() -> None:
    phrase = "本工程质量目标为合格"  # ten characters, shorter than any passage
    a = bid("a", chinese(800, 3000) + phrase + chinese(801, 3000))
    b = bid("b", chinese(802, 3000) + phrase + chinese(803, 3000))
    same = bid("a2", chinese(804, 3000))
    twice = BidSnapshot(key="solo", files=same.files + same.files)
    assert SharedPassages().detect(tender(a, b, twice)) == []


def test_thresholds_are_parameters() -> None:
    common = chinese(900, 150)
    a = bid("a", chinese(901, 5000) + common)
    b = bid("b", chinese(902, 5000) + common)
    assert SharedPassages().detect(tender(a, b)) == []  # 150 characters: below 200
    flags = SharedPassages(min_shared_chars=100).detect(tender(a, b))
    assert [f.bidders for f in flags] == [("a", "b")]
    assert 0.1 < flags[0].score < 0.2  # 150 characters of about 5,000
    limited = SharedPassages(min_shared_chars=100, max_excerpt=20).detect(tender(a, b))
    assert len(limited[0].evidence["passages"][0]["a"]["text"]) == 20
    assert limited[0].evidence["passages"][0]["truncated"] is True
