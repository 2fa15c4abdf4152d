"""How the case page shows evidence: pairs of texts side by side with the differences marked
(from the detector's own alignment when it gives one), identifiers by kind and prefix, and
SVG pictures that never let a bidder's text through unescaped."""

from __future__ import annotations

from collusion import charts, present

EVIL = "<script>alert(1)</script>"


def test_passages_use_the_detectors_alignment() -> None:
    evidence = {"passages": [{
        "a": {"file": "技术标.txt", "text": "采用C30混凝土"},
        "b": {"file": "施工组织.txt", "text": "采用C35混凝土"},
        "similarity": 0.9,
        "alignment": [["equal", "采用C3", "采用C3"], ["replace", "0", "5"],
                      ["equal", "混凝土", "混凝土"]],
    }]}
    (pair,) = present.pairs(evidence, ("k1", "k2"))
    assert str(pair.left) == "采用C3<mark>0</mark>混凝土"
    assert str(pair.right) == "采用C3<mark>5</mark>混凝土"
    assert pair.label == "技术标.txt ↔ 施工组织.txt" and "similarity: 0.9" in pair.note


def test_without_an_alignment_the_page_diffs_and_escapes() -> None:
    (pair,) = present.pairs({"matches": [{"field": "address", "values": [f"甲{EVIL}", "乙"]}]})
    assert "<script>" not in pair.left and "&lt;script&gt;" in pair.left
    assert "<mark>" in pair.left and pair.label == "address"


def test_errors_in_context_mark_the_shared_error_for_each_bidder() -> None:
    evidence = {"errors": [{"kind": "typo", "wrong": "砼土", "right": "混凝土",
                            "contexts": {"k2": {"text": "乙方浇筑砼土"},
                                         "k1": {"text": f"甲方浇筑砼土{EVIL}"}}}]}
    (pair,) = present.pairs(evidence, ("k1", "k2"))
    assert str(pair.left).startswith("甲方浇筑<mark>砼土</mark>&lt;script")
    assert str(pair.right) == "乙方浇筑<mark>砼土</mark>"
    assert "应为 混凝土" in pair.label


def test_identifiers_come_from_entities_and_hash_lists() -> None:
    evidence = {"entities": [{"kind": "machine", "id": "mac:" + "ab" * 32, "label": "mac abab"}],
                "shared": [{"kind": "disk_serial", "hash": "cd" * 32}]}
    found = present.identifiers(evidence)
    assert [(i.kind, i.value) for i in found] == [("machine", "ab" * 8),
                                                  ("disk_serial", "cd" * 8)]


def test_price_chart_is_deterministic_and_escaped() -> None:
    bids = [{"key": "k1", "price": "100.00"}, {"key": "k2", "price": "90.00"},
            {"key": "k3", "price": None}]
    names = {"k1": EVIL, "k2": "乙公司"}
    svg = charts.price_chart(bids, names=names, flagged=["k1"], estimate="120", ceiling="110")
    assert svg == charts.price_chart(bids, names=names, flagged=["k1"], estimate="120",
                                     ceiling="110")
    assert svg.startswith("<svg") and "<script>" not in svg and "&lt;script&gt;" in svg
    assert svg.count("<rect") == 2 and charts.RED in svg and "估算价" in svg
    assert charts.price_chart([], names={}) == ""
