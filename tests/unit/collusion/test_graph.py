"""The relationship graph: typed edges, groups by combined evidence, and the SVG drawing."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from itertools import combinations

import pytest

from collusion.base import Flag
from collusion.graph import build_graph, combine, find_groups, graph_svg, group_key


def flag(detector: str, bidders: tuple[str, ...], score: float, strength: str = "strong",
         entities: list[dict[str, str]] | None = None) -> Flag:
    return Flag(detector=detector, bidders=bidders, score=score, strength=strength,  # type: ignore[arg-type]
                evidence={"entities": entities or []}, summary=f"{detector} summary")


MACHINE = [{"kind": "machine", "id": "mac:abc", "label": "mac abc"}]
RING = [
    flag("same_machine", ("a", "b"), 0.99, entities=MACHINE),
    flag("shared_deposit", ("b", "c"), 0.95,
         entities=[{"kind": "account", "id": "acct1", "label": "acct1"}]),
    flag("file_metadata", ("x", "y"), 0.9, "supporting"),
    flag("file_metadata", ("p", "q"), 0.8, "supporting"),
    flag("shared_errors", ("p", "q"), 0.8, "supporting"),
    flag("price_screens", ("a", "b", "c", "d", "e"), 0.6),
]


def test_combined_evidence_weighs_strong_flags_more() -> None:
    assert combine([]) == 0.0
    assert combine([flag("d", ("a", "b"), 0.9)]) == pytest.approx(0.9)
    assert combine([flag("d", ("a", "b"), 0.9, "supporting")]) == pytest.approx(0.45)
    assert combine([flag("d", ("a", "b"), 0.5), flag("e", ("a", "b"), 0.5)]) == pytest.approx(0.75)
    # One detector saying the same thing again (another tender, the same history) adds nothing.
    assert combine([flag("d", ("a", "b"), 0.5), flag("d", ("a", "b"), 0.7)]) == pytest.approx(0.7)


def test_groups_over_edges_above_the_threshold_ranked() -> None:
    groups = find_groups(RING)
    assert [g.bidders for g in groups] == [("a", "b", "c"), ("p", "q")]
    ring, pq = groups
    # The tender-wide price flag adds to the ring's score but pulls nobody in (d, e).
    assert ring.score == pytest.approx(1 - 0.01 * 0.05 * 0.4)
    assert {f.detector for f in ring.flags} == {"same_machine", "shared_deposit", "price_screens"}
    # Two supporting flags make a group; one supporting flag (x, y) alone does not.
    assert pq.score == pytest.approx(1 - 0.6 * 0.6)
    assert all("x" not in g.bidders for g in groups)
    assert ring.key == group_key(["c", "b", "a"]) and ring.key.startswith("g-")
    assert ring.as_json() == {"bidders": ["a", "b", "c"], "score": round(ring.score, 4)}


def test_a_higher_threshold_drops_the_weaker_group() -> None:
    groups = find_groups(RING, threshold=0.7)
    assert [g.bidders for g in groups] == [("a", "b", "c")]  # p, q: 0.64


def test_flags_naming_many_bidders_count_spread_over_their_pairs() -> None:
    wide = [flag("price_screens", tuple("abcdefgh"), 0.9, "supporting"),
            flag("history", ("a", "b", "c", "d"), 0.8, "supporting")]
    assert find_groups(wide) == []
    # The history detector restates the same history in every tender of a series.
    series = [flag("history", ("a", "b", "c", "h"), 0.8, "supporting") for _ in range(12)]
    assert find_groups(series) == []
    three = [flag("itemised_prices", ("a", "b", "c"), 0.9)]
    assert [g.bidders for g in find_groups(three)] == [("a", "b", "c")]


def test_nodes_for_the_things_firms_share() -> None:
    graph = build_graph(RING)
    assert graph.nodes["machine:mac:abc"]["kind"] == "machine"
    assert set(graph.neighbors("machine:mac:abc")) == {"firm:a", "firm:b"}
    assert graph.nodes["account:acct1"]["label"] == "acct1"
    assert graph.number_of_edges("firm:a", "firm:b") == 2  # same_machine and price_screens
    assert not graph.has_node("firm:z")


def test_svg_is_deterministic_escaped_and_self_contained() -> None:
    hostile = [flag("same_machine", ("<script>alert(1)</script>", "a&b"), 0.99,
                    entities=[{"kind": "person", "id": "legal_rep:x", "label": '张"三<'}])]
    (group,) = find_groups(hostile)
    svg = graph_svg(group, labels={"a&b": "甲&乙公司"})
    assert svg == graph_svg(group, labels={"a&b": "甲&乙公司"})
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "甲&amp;乙公司" in svg
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "href" not in svg and "http://www.w3.org/2000/svg" in svg
    circles = root.findall("{http://www.w3.org/2000/svg}circle")
    assert len(circles) == 2
    assert len(root.findall("{http://www.w3.org/2000/svg}rect")) == 2  # background + person


def test_svg_of_a_larger_group_draws_every_member() -> None:
    ring = find_groups(RING)[0]
    root = ET.fromstring(graph_svg(ring))
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert {"a", "b", "c"} <= set(texts) and "d" not in texts
    assert any(t and t.startswith("机器") for t in texts)


def test_things_every_firm_shares_are_spread_out_inside_the_picture() -> None:
    things = [{"kind": "machine", "id": f"m{n}", "label": f"m{n}"} for n in range(4)]
    (group,) = find_groups([flag("same_machine", ("a", "b", "c"), 0.99, entities=things)])
    root = ET.fromstring(graph_svg(group))
    width, height = (float(v) for v in root.attrib["viewBox"].split()[2:])
    squares = [(float(r.attrib["x"]), float(r.attrib["y"]))
               for r in root.iter("{http://www.w3.org/2000/svg}rect") if "x" in r.attrib]
    assert len(squares) == 4 and len(set(squares)) == 4
    for x, y in squares:
        assert 0 <= x <= width - 16 and 0 <= y <= height - 16
    for left, right in combinations(squares, 2):
        assert abs(left[0] - right[0]) + abs(left[1] - right[1]) > 30, "things overlap"
