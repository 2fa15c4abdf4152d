"""Winnowing fingerprints (Schleimer, Wilkerson and Aiken, SIGMOD 2003: the algorithm behind
MOSS) over normalised text, and the inverted index that finds the passages bids share.

A document's k-grams (k normalised characters) are hashed; in every window of ``w`` consecutive
k-gram hashes the smallest (rightmost on ties) is kept with its position. Any passage two
documents share of at least ``k + w - 1`` normalised characters therefore gives both the same
fingerprint, and passages shorter than ``k`` never match. Base files (the tender documents and a
built-in boilerplate list) give the set of *all* their k-gram hashes, and a bid's fingerprints in
that set are dropped before matching, so text copied from the tender never makes a passage.

Matching never compares texts pairwise: every fingerprint of every bid goes into one array
sorted by hash (the inverted index), and only hashes held by two or more bidders produce pairs of
positions. Pairs of positions on (nearly) the same diagonal, close together, merge into passages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from collusion.text.normalise import Codes

Hashes = npt.NDArray[np.uint64]
Positions = npt.NDArray[np.int64]

K = 10
W = 10
# A hash found more often than this in one document is that document's own repetition (table
# headers, "详见附件" in every row): it would pair every copy with every copy and locate nothing.
MAX_REPEATS = 8

_BASE = np.uint64(0x100000001B3)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


@dataclass(frozen=True)
class Fingerprints:
    hashes: Hashes
    positions: Positions  # start of each fingerprint's k-gram in the normalised text

    def __len__(self) -> int:
        return len(self.hashes)


@dataclass(frozen=True)
class Passage:
    """Text two documents share, in normalised offsets ``[start, end)`` of each."""

    doc_a: int
    doc_b: int
    start_a: int
    end_a: int
    start_b: int
    end_b: int
    fingerprints: int  # matched fingerprints inside it

    @property
    def length(self) -> int:
        return min(self.end_a - self.start_a, self.end_b - self.start_b)


def kgram_hashes(codes: Codes, k: int = K) -> Hashes:
    """The hash of every k-gram: a polynomial over the code points, then a 64-bit mix (so the
    minimum of a window is not biased towards low code points)."""
    count = len(codes) - k + 1
    if count <= 0:
        return np.zeros(0, dtype=np.uint64)
    values = codes.astype(np.uint64)
    hashes = np.zeros(count, dtype=np.uint64)
    for j in range(k):
        hashes *= _BASE
        hashes += values[j:j + count]
    hashes ^= hashes >> np.uint64(30)
    hashes *= _M1
    hashes ^= hashes >> np.uint64(27)
    hashes *= _M2
    hashes ^= hashes >> np.uint64(31)
    return hashes


def winnow(hashes: Hashes, w: int = W) -> Fingerprints:
    """The rightmost minimum of every window of ``w`` hashes, each position once."""
    if len(hashes) == 0:
        return Fingerprints(hashes, np.zeros(0, dtype=np.int64))
    if len(hashes) <= w:
        last = len(hashes) - 1 - int(np.argmin(hashes[::-1]))
        return Fingerprints(hashes[last:last + 1].copy(), np.array([last], dtype=np.int64))
    windows = np.lib.stride_tricks.sliding_window_view(hashes, w)
    rightmost = (w - 1) - np.argmin(windows[:, ::-1], axis=1)
    positions = np.arange(len(windows), dtype=np.int64) + rightmost
    keep = np.ones(len(positions), dtype=bool)
    keep[1:] = positions[1:] != positions[:-1]
    positions = positions[keep]
    return Fingerprints(hashes[positions], positions)


def fingerprint(codes: Codes, k: int = K, w: int = W) -> Fingerprints:
    return winnow(kgram_hashes(codes, k), w)


class Base:
    """All k-gram hashes of the base texts, sorted, for membership tests."""

    def __init__(self, texts: Sequence[Codes], k: int = K) -> None:
        parts = [kgram_hashes(codes, k) for codes in texts]
        self.hashes: Hashes = (np.unique(np.concatenate(parts)) if parts
                               else np.zeros(0, dtype=np.uint64))

    def contains(self, hashes: Hashes) -> npt.NDArray[np.bool_]:
        if len(self.hashes) == 0:
            return np.zeros(len(hashes), dtype=bool)
        index = np.searchsorted(self.hashes, hashes)
        index[index == len(self.hashes)] = 0
        return self.hashes[index] == hashes

    def subtract(self, prints: Fingerprints) -> tuple[Fingerprints, Fingerprints]:
        """(fingerprints not in the base, fingerprints in it)."""
        inside = self.contains(prints.hashes)
        return (Fingerprints(prints.hashes[~inside], prints.positions[~inside]),
                Fingerprints(prints.hashes[inside], prints.positions[inside]))


def covered(prints: Fingerprints, length: int, k: int = K) -> npt.NDArray[np.bool_]:
    """Which normalised characters the fingerprints' k-grams cover."""
    steps = np.zeros(length + k + 1, dtype=np.int64)
    np.add.at(steps, prints.positions, 1)
    np.add.at(steps, prints.positions + k, -1)
    return np.cumsum(steps)[:length] > 0


def shared_pairs(docs: Sequence[Fingerprints], owners: Sequence[int],
                 max_repeats: int = MAX_REPEATS) -> tuple[npt.NDArray[np.int64], ...]:
    """Every pair of equal fingerprints in documents of different owners, through one index
    sorted by hash: arrays (doc_a, pos_a, doc_b, pos_b) with doc_a < doc_b."""
    empty = np.zeros(0, dtype=np.int64)
    if not docs:
        return empty, empty, empty, empty
    hashes = np.concatenate([d.hashes for d in docs])
    positions = np.concatenate([d.positions for d in docs])
    doc_ids = np.repeat(np.arange(len(docs), dtype=np.int64), [len(d) for d in docs])
    owner_of = np.asarray(owners, dtype=np.int64)
    # Entries arrive by document, then position: a stable sort by hash alone keeps that order
    # within each hash (one pass instead of lexsort's three).
    order = np.argsort(hashes, kind="stable")
    hashes, positions, doc_ids = hashes[order], positions[order], doc_ids[order]
    if len(hashes) < 2:
        return empty, empty, empty, empty
    # Entries whose hash occurs at least twice anywhere: usually a small part of the index.
    same_next = hashes[1:] == hashes[:-1]
    dup = np.zeros(len(hashes), dtype=bool)
    dup[1:] |= same_next
    dup[:-1] |= same_next
    hashes, positions, doc_ids = hashes[dup], positions[dup], doc_ids[dup]
    if len(hashes) < 2:
        return empty, empty, empty, empty
    # Drop a document's own repetitions of a hash beyond max_repeats.
    run_start = np.ones(len(hashes), dtype=bool)
    run_start[1:] = (hashes[1:] != hashes[:-1]) | (doc_ids[1:] != doc_ids[:-1])
    run_id = np.cumsum(run_start) - 1
    run_len = np.bincount(run_id)
    keep = run_len[run_id] <= max_repeats
    hashes, positions, doc_ids = hashes[keep], positions[keep], doc_ids[keep]
    owner = owner_of[doc_ids]
    # Groups of equal hash; only those held by two or more owners produce pairs.
    starts = np.flatnonzero(np.r_[True, hashes[1:] != hashes[:-1]]) if len(hashes) else empty
    if not len(starts):
        return empty, empty, empty, empty
    sizes = np.diff(np.r_[starts, len(hashes)])
    several = (np.minimum.reduceat(owner, starts) != np.maximum.reduceat(owner, starts))
    starts, sizes = starts[several], sizes[several]
    if not len(starts):
        return empty, empty, empty, empty
    # Each entry pairs with every later entry of its group.
    members = _ranges(starts, sizes)
    group_end = np.repeat(starts + sizes, sizes)
    later = group_end - members - 1
    left = np.repeat(members, later)
    offsets = np.arange(len(left), dtype=np.int64) - np.repeat(np.cumsum(later) - later, later)
    right = left + 1 + offsets
    differ = owner[left] != owner[right]
    left, right = left[differ], right[differ]
    doc_l, doc_r = doc_ids[left], doc_ids[right]
    swap = doc_l > doc_r
    doc_a = np.where(swap, doc_r, doc_l)
    doc_b = np.where(swap, doc_l, doc_r)
    pos_a = np.where(swap, positions[right], positions[left])
    pos_b = np.where(swap, positions[left], positions[right])
    return doc_a, pos_a, doc_b, pos_b


def _ranges(starts: npt.NDArray[np.int64], sizes: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Concatenated ``arange(start, start + size)`` without a Python loop."""
    total = int(sizes.sum())
    firsts = np.repeat(starts - (np.cumsum(sizes) - sizes), sizes)
    return firsts + np.arange(total, dtype=np.int64)


def passages(docs: Sequence[Fingerprints], owners: Sequence[int], *, k: int = K, w: int = W,
             gap: int | None = None, min_length: int = 30, min_fingerprints: int = 3,
             max_repeats: int = MAX_REPEATS) -> list[Passage]:
    """The passages documents of different owners share, longest evidence first per pair.

    Matched fingerprints on one diagonal (same shift between the two documents) at most ``gap``
    characters apart form runs; runs follow each other into one passage when the next starts
    within ``gap`` characters in both documents, which bridges small edits (insertions and
    deletions move the diagonal a little). A passage needs ``min_length`` characters and
    ``min_fingerprints`` matches.
    """
    # One edited character removes the k-grams over it: the fingerprints on either side are then
    # at most k + 2w - 1 apart, that is at most 2w - 1 characters between their k-grams.
    gap = 2 * w if gap is None else gap
    doc_a, pos_a, doc_b, pos_b = shared_pairs(docs, owners, max_repeats)
    if not len(doc_a):
        return []
    diagonal = pos_b - pos_a
    order = np.lexsort((pos_a, diagonal, doc_b, doc_a))
    doc_a, pos_a, doc_b, pos_b, diagonal = (doc_a[order], pos_a[order], doc_b[order],
                                            pos_b[order], diagonal[order])
    new_run = np.ones(len(doc_a), dtype=bool)
    new_run[1:] = ((doc_a[1:] != doc_a[:-1]) | (doc_b[1:] != doc_b[:-1])
                   | (diagonal[1:] != diagonal[:-1]) | (pos_a[1:] - pos_a[:-1] - k > gap))
    starts = np.flatnonzero(new_run)
    runs = np.stack([
        doc_a[starts], doc_b[starts],
        np.minimum.reduceat(pos_a, starts), np.maximum.reduceat(pos_a, starts) + k,
        np.minimum.reduceat(pos_b, starts), np.maximum.reduceat(pos_b, starts) + k,
        np.diff(np.r_[starts, len(doc_a)]),
    ], axis=1)
    runs = runs[np.lexsort((runs[:, 4], runs[:, 2], runs[:, 1], runs[:, 0]))]
    found: list[Passage] = []
    current: list[int] | None = None
    for row in runs.tolist():
        if (current is not None and row[0] == current[0] and row[1] == current[1]
                and row[2] - current[3] <= gap
                and current[4] - gap <= row[4] and row[4] - current[5] <= gap):
            current[3] = max(current[3], row[3])
            current[4] = min(current[4], row[4])
            current[5] = max(current[5], row[5])
            current[6] += row[6]
            continue
        if current is not None:
            found.append(Passage(*current))
        current = row
    if current is not None:
        found.append(Passage(*current))
    return [p for p in found if p.length >= min_length and p.fingerprints >= min_fingerprints]


def extend(passage: Passage, codes_a: Codes, codes_b: Codes, reach: int) -> Passage:
    """Grow a passage over the equal characters just outside its first and last fingerprint
    (winnowing only guarantees a fingerprint every ``w`` k-grams)."""
    back = min(reach, passage.start_a, passage.start_b)
    before = 0
    if back:
        a = codes_a[passage.start_a - back:passage.start_a][::-1]
        b = codes_b[passage.start_b - back:passage.start_b][::-1]
        unequal = np.flatnonzero(a != b)
        before = int(unequal[0]) if len(unequal) else back
    ahead = min(reach, len(codes_a) - passage.end_a, len(codes_b) - passage.end_b)
    after = 0
    if ahead > 0:
        a = codes_a[passage.end_a:passage.end_a + ahead]
        b = codes_b[passage.end_b:passage.end_b + ahead]
        unequal = np.flatnonzero(a != b)
        after = int(unequal[0]) if len(unequal) else ahead
    return Passage(passage.doc_a, passage.doc_b, passage.start_a - before, passage.end_a + after,
                   passage.start_b - before, passage.end_b + after, passage.fingerprints)
