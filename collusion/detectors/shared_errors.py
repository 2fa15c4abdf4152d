"""Detector 4: the same rare errors in the bids of different bidders.

Independent writers make independent mistakes; bids written by one hand share them. An error
here is a form that (1) appears in the bids of at least two bidders, (2) is one edit away from a
correct form that the tender documents use (or, for Latin words, that another bidder uses), and
(3) is used by no bidder outside the group and not by the tender. Three kinds:

- ``han``: a Chinese character substituted inside one of the tender's own four-character
  sequences (``施攻方案`` for ``施工方案``), and only when both character pairs the wrong
  character forms with its neighbours appear nowhere in the tender or in any other bid, so a
  different real word (``施工方法``) is not taken for an error;
- ``word``: a Latin word of five letters or more, one letter substituted, inserted, deleted or
  two swapped, against a word of the tender or of a bidder outside the group;
- ``number``: a figure of five significant digits or more (four with decimals) with one digit
  changed or two adjacent digits swapped against a figure of the tender (``12,345.60`` for
  ``12,354.60``).

A form that more than half of the bidders share (``max_share``) is the usual one, not a rare
error: a figure the tender's amendment changed, a spelling everyone uses.

The tender and the bids are the frequency list: what they use is taken as correct. A centre can
add its own list of words never to count (``known_words``).
"""

from __future__ import annotations

import re
import typing
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import numpy.typing as npt

from collusion.base import EMPTY_HISTORY, Flag, History, Strength, TenderSnapshot
from collusion.text.corpus import TextDoc, bid_docs, boilerplate, tender_docs

_HAN_FIRST = 0x3400  # CJK extension A, then the unified ideographs up to 0x9FFF
_HAN_LAST = 0x9FFF
_BITS = 15  # 0x9FFF - 0x3400 < 2 ** 15: four characters fit exactly in 60 bits
_WILD = (1 << _BITS) - 1
# Numerals: 第一章 / 第二章 differ by design.
_NUMERALS = frozenset("一二三四五六七八九十百千万亿零〇两壹贰叁肆伍陆柒捌玖拾佰仟")
_WORD = re.compile(r"[a-z]{5,}")
_NUMBER = re.compile(r"(?<![\d.,])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\d,]*\d)")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclass
class _Bidder:
    key: str
    docs: list[TextDoc] = field(default_factory=list)
    grams: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    pairs: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    words: set[str] = field(default_factory=set)
    numbers: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class _Error:
    kind: str
    wrong: str
    right: str
    needle: str  # what to look for in a bid's text to show it in context


class SharedErrors:
    name = "shared_errors"
    title_zh = "相同错误"
    title_en = "Shared errors"
    strength: Strength = "strong"

    def __init__(self, *, min_errors: int = 2, min_digits: int = 5, min_decimal_digits: int = 4,
                 min_word: int = 5, max_share: float = 0.5,
                 known_words: frozenset[str] = frozenset(), max_examples: int = 10,
                 context: int = 15) -> None:
        self.min_errors = min_errors
        self.min_digits = min_digits
        self.min_decimal_digits = min_decimal_digits
        self.max_share = max_share
        self.min_word = min_word
        self.known_words = known_words
        self.max_examples = max_examples
        self.context = context

    def detect(self, tender: TenderSnapshot, history: History = EMPTY_HISTORY) -> list[Flag]:
        bidders: dict[str, _Bidder] = {}
        for doc in bid_docs(tender):
            key = tender.bids[doc.bid].key
            bidders.setdefault(key, _Bidder(key)).docs.append(doc)
        if len(bidders) < 2:
            return []
        base_texts = [_fold(doc.text) for doc in tender_docs(tender)] + [
            _fold(line) for line in boilerplate()]
        for bidder in bidders.values():
            texts = [_fold(doc.text) for doc in bidder.docs]
            if texts:
                bidder.grams = _unique(np.concatenate([_han_grams(text) for text in texts]))
                bidder.pairs = _unique(np.concatenate([_han_pairs(text) for text in texts]))
            for text in texts:
                bidder.words |= set(_WORD.findall(text))
                bidder.numbers |= self._numbers(text)
        found: dict[_Error, frozenset[str]] = {}
        found.update(self._han(bidders, base_texts))
        found.update(self._latin(bidders, base_texts))
        found.update(self._figures(bidders, base_texts))
        # A form most bidders share is the usual one (a figure the tender's amendment changed,
        # a common spelling), not a rare error.
        most = max(2, int(self.max_share * len(bidders)))
        found = {error: owners for error, owners in found.items() if len(owners) <= most}
        by_pair: dict[tuple[str, str], list[_Error]] = defaultdict(list)
        for error, owners in sorted(found.items(), key=lambda item: (item[0].kind,
                                                                     item[0].wrong)):
            for a, b in combinations(sorted(owners), 2):
                by_pair[(a, b)].append(error)
        flags = []
        for (a, b), errors in sorted(by_pair.items()):
            if len(errors) < self.min_errors:
                continue
            shown = [self._show(error, [bidders[a], bidders[b]])
                     for error in errors[:self.max_examples]]
            examples = "、".join(f"“{e.wrong}”（应为“{e.right}”）" for e in errors[:3])
            flags.append(Flag(
                detector=self.name, bidders=(a, b), score=1.0 - 0.5 ** len(errors),
                strength=self.strength,
                evidence={"errors_total": len(errors), "errors": shown},
                summary=f"{a} 与 {b} 有 {len(errors)} 处相同的错误：{examples}"))
        return flags

    # --- Chinese ---------------------------------------------------------------------------

    def _han(self, bidders: dict[str, _Bidder], base_texts: list[str]
             ) -> dict[_Error, frozenset[str]]:
        keys = list(bidders)
        base_grams = _unique(np.concatenate([_han_grams(t) for t in base_texts] or [
            np.zeros(0, np.int64)]))
        base_pairs = _unique(np.concatenate([_han_pairs(t) for t in base_texts] or [
            np.zeros(0, np.int64)]))
        everything = np.concatenate([bidders[k].grams for k in keys])
        owner = np.repeat(np.arange(len(keys)), [len(bidders[k].grams) for k in keys])
        order = np.argsort(everything, kind="stable")
        everything, owner = everything[order], owner[order]
        if len(everything) < 2:
            return {}
        starts = np.flatnonzero(np.r_[True, everything[1:] != everything[:-1]])
        sizes = np.diff(np.r_[starts, len(everything)])
        candidates = everything[starts[sizes >= 2]]
        candidates = candidates[~_isin(candidates, base_grams)]
        if not len(candidates) or not len(base_grams):
            return {}
        # Wildcard index of the tender's 4-grams, characters 2 and 3 (inner positions: the wrong
        # character then has a neighbour on each side).
        found: dict[_Error, frozenset[str]] = {}
        for slot in (1, 2):
            shift = _BITS * (3 - slot)
            mask = np.int64(_WILD << shift)
            wild_base = (base_grams | mask)
            order = np.argsort(wild_base, kind="stable")
            wild_sorted, base_sorted = wild_base[order], base_grams[order]
            wild_cand = candidates | mask
            at = np.searchsorted(wild_sorted, wild_cand)
            at[at == len(wild_sorted)] = 0
            hit = wild_sorted[at] == wild_cand
            for gram, right in zip(candidates[hit].tolist(), base_sorted[at[hit]].tolist(),
                                   strict=True):
                chars = _decode(gram)
                wrong_char, right_char = chars[slot], _decode(right)[slot]
                if wrong_char in _NUMERALS or right_char in _NUMERALS:
                    continue
                left, after = chars[slot - 1], chars[slot + 1]
                owners = frozenset(k for k in keys
                                   if _isin(np.array([gram], np.int64), bidders[k].grams)[0])
                pairs = np.array([_pair(left, wrong_char), _pair(wrong_char, after)], np.int64)
                if _isin(pairs, base_pairs).any():
                    continue
                if any(_isin(pairs, bidders[k].pairs).any() for k in keys if k not in owners):
                    continue
                error = _Error("han", left + wrong_char + after, left + right_char + after,
                               left + wrong_char + after)
                found[error] = found.get(error, frozenset()) | owners
        return found

    # --- Latin words -------------------------------------------------------------------------

    def _latin(self, bidders: dict[str, _Bidder], base_texts: list[str]
               ) -> dict[_Error, frozenset[str]]:
        base_words: set[str] = set()
        for text in base_texts:
            base_words |= set(_WORD.findall(text))
        users: dict[str, set[str]] = defaultdict(set)
        for key, bidder in bidders.items():
            for word in bidder.words:
                users[word].add(key)
        found: dict[_Error, frozenset[str]] = {}
        for word, owners in sorted(users.items()):
            if (len(owners) < 2 or len(word) < self.min_word or word in base_words
                    or word in self.known_words):
                continue
            for variant in _edits(word, _LETTERS, insert=True):
                if len(variant) < self.min_word:
                    continue
                if variant in base_words or (users.get(variant, set()) - owners):
                    found[_Error("word", word, variant, word)] = frozenset(owners)
                    break
        return found

    # --- figures -----------------------------------------------------------------------------

    def _numbers(self, text: str) -> set[str]:
        found = set()
        for match in _NUMBER.findall(text):
            plain = match.replace(",", "")
            digits = plain.replace(".", "").lstrip("0")
            if len(digits) >= (self.min_decimal_digits if "." in plain else self.min_digits):
                found.add(plain)
        return found

    def _figures(self, bidders: dict[str, _Bidder], base_texts: list[str]
                 ) -> dict[_Error, frozenset[str]]:
        base_numbers: set[str] = set()
        for text in base_texts:
            base_numbers |= self._numbers(text)
        users: dict[str, set[str]] = defaultdict(set)
        for key, bidder in bidders.items():
            for number in bidder.numbers:
                users[number].add(key)
        found: dict[_Error, frozenset[str]] = {}
        for number, owners in sorted(users.items()):
            if len(owners) < 2 or number in base_numbers:
                continue
            for variant in _edits(number, "0123456789", insert=False):
                if variant in base_numbers:
                    found[_Error("number", number, variant, number)] = frozenset(owners)
                    break
        return found

    # --- evidence ----------------------------------------------------------------------------

    def _show(self, error: _Error, pair: list[_Bidder]) -> dict[str, typing.Any]:
        contexts = {}
        for bidder in pair:
            for doc in bidder.docs:
                folded = _fold(doc.text)
                # Figures are compared without their thousands separators.
                pattern = (",?".join(re.escape(c) for c in error.needle) if error.kind == "number"
                           else re.escape(error.needle))
                match = re.search(pattern, folded)
                at = match.start() if match else -1
                width = len(match.group()) if match else 0
                if at >= 0 and len(folded) == len(doc.text):
                    start = max(0, at - self.context)
                    contexts[bidder.key] = {
                        "file": doc.name, "start": at,
                        "text": doc.text[start:at + width + self.context]}
                    break
                if at >= 0:
                    contexts[bidder.key] = {"file": doc.name, "start": None,
                                            "text": folded[max(0, at - self.context):
                                                           at + width + self.context]}
                    break
        return {"kind": error.kind, "wrong": error.wrong, "right": error.right,
                "contexts": contexts}


# Full-width ASCII and the ideographic space to their half-width forms: the part of NFKC that
# bids differ by, as a table (NFKC itself takes about 70 ms on a 200,000-character bid).
_HALF_WIDTH = {point: point - 0xFEE0 for point in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def _fold(text: str) -> str:
    """Full-width to half-width and Latin lower-cased, as in the normalised text, but keeping
    spaces and punctuation (they separate words and figures) and every offset."""
    return text.translate(_HALF_WIDTH).lower()


def _codes(text: str) -> npt.NDArray[np.int64]:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.int64)


def _han_grams(text: str) -> npt.NDArray[np.int64]:
    """Every run of four Chinese characters, exactly encoded in 60 bits."""
    codes = _codes(text)
    if len(codes) < 4:
        return np.zeros(0, np.int64)
    han = (codes >= _HAN_FIRST) & (codes <= _HAN_LAST)
    index = np.where(han, codes - _HAN_FIRST, 0)
    ok = han[:-3] & han[1:-2] & han[2:-1] & han[3:]
    grams = ((index[:-3] << (3 * _BITS)) | (index[1:-2] << (2 * _BITS))
             | (index[2:-1] << _BITS) | index[3:])
    return grams[ok]  # callers take the distinct values of all of a bidder's files at once


def _han_pairs(text: str) -> npt.NDArray[np.int64]:
    codes = _codes(text)
    if len(codes) < 2:
        return np.zeros(0, np.int64)
    han = (codes >= _HAN_FIRST) & (codes <= _HAN_LAST)
    ok = han[:-1] & han[1:]
    return (codes[:-1][ok] << 21) | codes[1:][ok]


def _unique(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Sorted distinct values (numpy's hash-based unique is several times slower here)."""
    ordered = np.sort(values)
    if len(ordered) < 2:
        return ordered
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]]


def _pair(a: str, b: str) -> int:
    return (ord(a) << 21) | ord(b)


def _decode(gram: int) -> str:
    return "".join(chr(((gram >> (_BITS * (3 - j))) & _WILD) + _HAN_FIRST) for j in range(4))


def _isin(values: npt.NDArray[np.int64], sorted_set: npt.NDArray[np.int64]
          ) -> npt.NDArray[np.bool_]:
    if not len(sorted_set):
        return np.zeros(len(values), dtype=bool)
    at = np.searchsorted(sorted_set, values)
    at[at == len(sorted_set)] = 0
    return sorted_set[at] == values


def _edits(word: str, alphabet: str, *, insert: bool) -> typing.Iterator[str]:
    """Every form one edit away: adjacent swap, substitution, and (for words) deletion and
    insertion."""
    for i in range(len(word) - 1):
        if word[i] != word[i + 1]:
            yield word[:i] + word[i + 1] + word[i] + word[i + 2:]
    for i, char in enumerate(word):
        if char not in alphabet:
            continue
        for other in alphabet:
            if other != char:
                yield word[:i] + other + word[i + 1:]
    if insert:
        for i in range(len(word)):
            yield word[:i] + word[i + 1:]
        for i in range(len(word) + 1):
            for other in alphabet:
                yield word[:i] + other + word[i:]
