"""Detector 3: file metadata that ties the files of different bidders together.

Reads what the bids' files say about who made them (collusion/text/extract.py): author, last
editor and company; creating software and installation or licence serials; creation and
modification times; a PDF's permanent /ID or a DOCX's rsidRoot (both stay with a file and its
copies); embedded images; and whether one bidder's name appears in another bidder's file. One
flag per pair of bidders, listing what they share.

Templates pass metadata on (a bid written over the tender's own DOCX inherits its author,
rsidRoot and logo), so any value that also appears in the tender documents is left out, and the
detector's flags only support others.
"""

from __future__ import annotations

import typing
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from itertools import combinations

from collusion.base import (
    EMPTY_HISTORY,
    Flag,
    History,
    Strength,
    TenderSnapshot,
    any_of,
    pair_key,
)
from collusion.text.corpus import TextDoc, bid_docs, tender_docs
from collusion.text.normalise import normalise_str

# What one shared item says on its own; a pair's score is 1 - prod(1 - weight) over the kinds.
WEIGHTS: Mapping[str, float] = {
    "doc_id": 0.6,  # the same file underneath
    "serial": 0.6,  # the same installation of the office suite
    "name_inside": 0.6,  # one bidder's name inside the other's file
    "image": 0.5,  # the same picture file embedded
    "author": 0.4,
    "last_modified_by": 0.4,
    "company": 0.4,
    "created": 0.3,  # created within the time window
    "modified": 0.2,
    "software": 0.1,  # the same exact build of uncommon software
}
KIND_ZH = {"doc_id": "文件标识", "serial": "软件序列号", "name_inside": "文件中出现对方名称",
           "image": "相同图片", "author": "作者", "last_modified_by": "最后修改人",
           "company": "单位", "created": "创建时间接近", "modified": "修改时间接近",
           "software": "生成软件"}
ENTITY = {"author": "person", "last_modified_by": "person", "serial": "machine"}
# Values that many unrelated computers carry: installers' defaults and pirated Windows builds.
GENERIC = frozenset(normalise_str(v) for v in (
    "administrator", "admin", "user", "owner", "pc", "microsoft", "microsoft office user",
    "microsoft corporation", "微软用户", "微软中国", "微软", "windows 用户", "windows user",
    "unknown", "未知", "用户", "lenovo", "dell", "hp", "china", "sky123.org", "雨林木风",
    "番茄花园", "深度技术", "系统之家", "中国", "公司", "作者", "normal.dotm", "normal"))
_STRINGS = ("author", "last_modified_by", "company", "software", "doc_id")


class FileMetadata:
    name = "file_metadata"
    title_zh = "文件属性雷同"
    title_en = "File metadata"
    strength: Strength = "supporting"

    def __init__(self, *, window_seconds: float = 120.0, min_score: float = 0.3,
                 software_share: float = 0.5, min_name_chars: int = 4,
                 max_examples: int = 5) -> None:
        self.window_seconds = window_seconds
        self.min_score = min_score
        self.software_share = software_share
        self.min_name_chars = min_name_chars
        self.max_examples = max_examples

    def detect(self, tender: TenderSnapshot, history: History = EMPTY_HISTORY) -> list[Flag]:
        docs = bid_docs(tender)
        if len({tender.bids[doc.bid].key for doc in docs}) < 2:
            return []
        keys = [bid.key for bid in tender.bids]
        base = tender_docs(tender)
        found: dict[tuple[str, str], list[dict[str, typing.Any]]] = defaultdict(list)
        for kind, value, a, b in self._shared_values(docs, base, keys):
            found[pair_key(keys[a.bid], keys[b.bid])].append(_entry(kind, value, a, b, keys))
        for kind in ("created", "modified"):
            for value, a, b in self._close_times(kind, docs, base, keys):
                found[pair_key(keys[a.bid], keys[b.bid])].append(_entry(kind, value, a, b, keys))
        for named, shown, doc in self._names_inside(tender, docs, base):
            holder = keys[doc.bid]
            found[pair_key(named, holder)].append(
                {"kind": "name_inside", "value": shown, "name_of": named, "found_in": holder,
                 "file": doc.name})
        return [flag for pair, entries in sorted(found.items())
                if (flag := self._flag(pair, entries)) is not None]

    def _shared_values(self, docs: list[TextDoc], base: list[TextDoc], keys: list[str]
                       ) -> typing.Iterator[tuple[str, str, TextDoc, TextDoc]]:
        index: dict[tuple[str, str], list[TextDoc]] = defaultdict(list)
        shown: dict[tuple[str, str], str] = {}
        for doc in docs:
            for kind, value in _values(doc):
                index[(kind, normalise_str(value) or value)].append(doc)
                shown.setdefault((kind, normalise_str(value) or value), value)
        known = {(kind, normalise_str(value) or value) for doc in base for kind, value in
                 _values(doc)}
        bidders = len({keys[doc.bid] for doc in docs})
        for (kind, norm), holders in sorted(index.items(), key=lambda item: item[0]):
            if (kind, norm) in known or norm in GENERIC:
                continue
            owners = {keys[doc.bid] for doc in holders}
            if len(owners) < 2:
                continue
            if kind == "software" and len(owners) > self.software_share * bidders:
                continue  # everyone's word processor says nothing
            for a, b in _across(holders, keys):
                yield kind, shown[(kind, norm)], a, b

    def _close_times(self, kind: str, docs: list[TextDoc], base: list[TextDoc],
                     keys: list[str]) -> typing.Iterator[tuple[str, TextDoc, TextDoc]]:
        def when(doc: TextDoc) -> datetime | None:
            return doc.meta.created if kind == "created" else doc.meta.modified

        template_times = {t for doc in base if (t := when(doc)) is not None}
        timed = sorted(((t, doc) for doc in docs if (t := when(doc)) is not None
                        and not any(abs((t - s).total_seconds()) < 1 for s in template_times)),
                       key=lambda item: (item[0], item[1].bid, item[1].name))
        for i, (first, a) in enumerate(timed):
            for second, b in timed[i + 1:]:
                if (second - first).total_seconds() > self.window_seconds:
                    break
                if keys[a.bid] != keys[b.bid]:
                    yield f"{first.isoformat()} / {second.isoformat()}", a, b

    def _names_inside(self, tender: TenderSnapshot, docs: list[TextDoc], base: list[TextDoc]
                      ) -> typing.Iterator[tuple[str, str, TextDoc]]:
        """(bidder named, the name as written, the other bidder's file that has it)."""
        base_text = "\n".join(doc.norm.text for doc in base)
        names = []
        for bid in tender.bids:
            norm = normalise_str(bid.bidder.name)
            # A name the tender itself mentions (a former contractor, the owner) proves nothing.
            if len(norm) >= self.min_name_chars and norm not in base_text:
                names.append((bid.key, norm, bid.bidder.name))
        if not names:
            return
        for doc in docs:
            haystack = doc.norm.text + "\n" + "\n".join(
                normalise_str(value) for kind, value in _values(doc) if kind in _STRINGS)
            for key, norm, shown in names:
                if key != tender.bids[doc.bid].key and norm in haystack:
                    yield key, shown, doc

    def _flag(self, pair: tuple[str, str], entries: list[dict[str, typing.Any]]) -> Flag | None:
        kinds = sorted({entry["kind"] for entry in entries}, key=list(WEIGHTS).index)
        score = any_of(WEIGHTS[kind] for kind in kinds)
        if score < self.min_score:
            return None
        shown: list[dict[str, typing.Any]] = []
        for kind in kinds:
            same = [entry for entry in entries if entry["kind"] == kind]
            shown += same[:self.max_examples]
        # People and installations become nodes of the relationship graph (collusion/graph.py).
        entities = sorted({(ENTITY[e["kind"]], normalise_str(e["value"]) or e["value"], e["value"])
                           for e in entries if e["kind"] in ENTITY})
        evidence = {"shared": shown, "counts": {kind: sum(e["kind"] == kind for e in entries)
                                                for kind in kinds},
                    "kinds": kinds,
                    "entities": [{"kind": kind, "id": ident, "label": label}
                                 for kind, ident, label in entities]}
        summary = f"{pair[0]} 与 {pair[1]} 的文件属性相同：" + "、".join(KIND_ZH[k] for k in kinds)
        return Flag(detector=self.name, bidders=pair, score=score, strength=self.strength,
                    evidence=evidence, summary=summary)


def _values(doc: TextDoc) -> typing.Iterator[tuple[str, str]]:
    meta = doc.meta
    for kind in _STRINGS:
        value = getattr(meta, kind)
        if value:
            yield kind, value
    for serial in meta.serials:
        yield "serial", serial
    for image in meta.images:
        yield "image", image


def _across(holders: list[TextDoc], keys: list[str]) -> typing.Iterator[tuple[TextDoc, TextDoc]]:
    """One pair of files per pair of bidders holding the value (the first file of each)."""
    first: dict[str, TextDoc] = {}
    for doc in holders:
        first.setdefault(keys[doc.bid], doc)
    yield from combinations(sorted(first.values(), key=lambda d: keys[d.bid]), 2)


def _entry(kind: str, value: str, a: TextDoc, b: TextDoc, keys: list[str]
           ) -> dict[str, typing.Any]:
    if keys[a.bid] > keys[b.bid]:
        a, b = b, a
    return {"kind": kind, "value": value, "file_a": a.name, "file_b": b.name,
            "bidder_a": keys[a.bid], "bidder_b": keys[b.bid]}
