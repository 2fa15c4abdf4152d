"""Detector 2: passages two bids share that neither took from the tender documents.

Every file of every bid is extracted and normalised (collusion/text/normalise.py), fingerprinted
by winnowing, and stripped of the fingerprints of the tender documents and the built-in
boilerplate. One index sorted by fingerprint then yields, for all pairs of bids at once, the
positions they share, merged into passages (collusion/text/winnow.py). rapidfuzz only aligns
the passages shown, so a supervisor sees the exact differences.

A passage counts however many bids share it: a ring is several bids.
"""

from __future__ import annotations

import math
import typing
from collections import defaultdict
from dataclasses import dataclass

from rapidfuzz.distance import Indel, Levenshtein

from collusion.base import EMPTY_HISTORY, Flag, History, Strength, TenderSnapshot
from collusion.text import winnow
from collusion.text.corpus import TextDoc, bid_docs, boilerplate, tender_docs
from collusion.text.normalise import normalise


@dataclass(frozen=True)
class _Side:
    doc: TextDoc
    start: int  # normalised offsets
    end: int

    def original(self) -> tuple[int, int]:
        offsets = self.doc.norm.offsets
        return int(offsets[self.start]), int(offsets[self.end - 1]) + 1


class SharedPassages:
    name = "shared_passages"
    title_zh = "雷同文字段落"
    title_en = "Shared passages"
    strength: Strength = "strong"

    def __init__(self, *, k: int = winnow.K, w: int = winnow.W, min_passage: int = 30,
                 min_shared_chars: int = 200, min_share: float = 0.02,
                 min_shared_chars_alone: int = 3000, full_share: float = 0.2,
                 chars_scale: float = 2000.0, max_passages: int = 10,
                 max_excerpt: int = 300) -> None:
        self.k = k
        self.w = w
        self.min_passage = min_passage
        self.min_shared_chars = min_shared_chars
        self.min_share = min_share
        self.min_shared_chars_alone = min_shared_chars_alone
        self.full_share = full_share
        self.chars_scale = chars_scale
        self.max_passages = max_passages
        self.max_excerpt = max_excerpt

    def detect(self, tender: TenderSnapshot, history: History = EMPTY_HISTORY) -> list[Flag]:
        docs = bid_docs(tender)
        if len({doc.bid for doc in docs}) < 2:
            return []
        base = winnow.Base([doc.norm.codes for doc in tender_docs(tender)]
                           + [normalise(line).codes for line in boilerplate()], self.k)
        prints = []
        own = [0] * len(tender.bids)  # normalised characters not from the base
        for doc in docs:
            kept, dropped = base.subtract(winnow.fingerprint(doc.norm.codes, self.k, self.w))
            prints.append(kept)
            own[doc.bid] += len(doc.norm) - int(
                winnow.covered(dropped, len(doc.norm), self.k).sum())
        found = winnow.passages(prints, [doc.bid for doc in docs], k=self.k, w=self.w,
                                min_length=self.min_passage)
        by_pair: dict[tuple[int, int], list[tuple[_Side, _Side]]] = defaultdict(list)
        reach = self.k + self.w
        for passage in found:
            a, b = docs[passage.doc_a], docs[passage.doc_b]
            grown = winnow.extend(passage, a.norm.codes, b.norm.codes, reach)
            by_pair[(a.bid, b.bid)].append((_Side(a, grown.start_a, grown.end_a),
                                            _Side(b, grown.start_b, grown.end_b)))
        flags = []
        for (i, j), pairs in sorted(by_pair.items()):
            flag = self._flag(tender, i, j, pairs, own)
            if flag is not None:
                flags.append(flag)
        return flags

    def _flag(self, tender: TenderSnapshot, i: int, j: int,
              pairs: list[tuple[_Side, _Side]], own: list[int]) -> Flag | None:
        key_i, key_j = tender.bids[i].key, tender.bids[j].key
        if key_i == key_j:
            return None
        shared_i = _union([side for side, _ in pairs])
        shared_j = _union([side for _, side in pairs])
        shared = min(shared_i, shared_j)
        share_i = min(1.0, shared_i / own[i]) if own[i] else 0.0
        share_j = min(1.0, shared_j / own[j]) if own[j] else 0.0
        share = max(share_i, share_j)
        if shared < self.min_shared_chars or (
                share < self.min_share and shared < self.min_shared_chars_alone):
            return None
        # How sure, not how much: a fifth of a bid's own text, or a few pages of it, copied from
        # a competitor is already as damning as it gets.
        score = max(min(1.0, share / self.full_share),
                    1.0 - math.exp(-shared / self.chars_scale))
        if key_i > key_j:
            key_i, key_j, share_i, share_j = key_j, key_i, share_j, share_i
            pairs = [(b, a) for a, b in pairs]
        longest = sorted(pairs, key=lambda p: (-(p[0].end - p[0].start), p[0].doc.name,
                                               p[0].start))
        evidence: dict[str, typing.Any] = {
            "shared_chars": shared,
            "share": {key_i: round(share_i, 4), key_j: round(share_j, 4)},
            "passages_total": len(pairs),
            "passages": [self._show(a, b) for a, b in longest[:self.max_passages]],
            "method": {"k": self.k, "w": self.w, "min_passage": self.min_passage},
        }
        summary = (f"{key_i} 与 {key_j} 有 {len(pairs)} 段相同文字（投标文件自有文字，"
                   f"不含招标文件），共 {shared} 字，分别占 {share_i:.0%} 和 {share_j:.0%}")
        return Flag(detector=self.name, bidders=(key_i, key_j), score=score,
                    strength=self.strength, evidence=evidence, summary=summary)

    def _show(self, a: _Side, b: _Side) -> dict[str, typing.Any]:
        start_a, end_a = a.original()
        start_b, end_b = b.original()
        text_a = a.doc.text[start_a:min(end_a, start_a + self.max_excerpt)]
        text_b = b.doc.text[start_b:min(end_b, start_b + self.max_excerpt)]
        return {
            "a": {"file": a.doc.name, "start": start_a, "end": end_a, "text": text_a},
            "b": {"file": b.doc.name, "start": start_b, "end": end_b, "text": text_b},
            "length": min(a.end - a.start, b.end - b.start),
            "similarity": round(Indel.normalized_similarity(text_a, text_b), 4),
            "alignment": _alignment(text_a, text_b),
            "truncated": end_a - start_a > self.max_excerpt or end_b - start_b > self.max_excerpt,
        }


def _union(sides: list[_Side]) -> int:
    """Normalised characters covered, counting overlapping passages once."""
    total = 0
    by_doc: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for side in sides:
        by_doc[id(side.doc)].append((side.start, side.end))
    for spans in by_doc.values():
        spans.sort()
        end = -1
        for start, stop in spans:
            if stop <= end:
                continue
            total += stop - max(start, end)
            end = stop
    return total


def _alignment(a: str, b: str) -> list[list[str]]:
    """The excerpts as runs of [tag, text in a, text in b]: "equal", "replace", "delete",
    "insert" (rapidfuzz's Levenshtein opcodes), for showing the two side by side."""
    return [[op.tag, a[op.src_start:op.src_end], b[op.dest_start:op.dest_end]]
            for op in Levenshtein.opcodes(a, b)]
