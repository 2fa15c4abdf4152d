"""Shared-passages benchmark: one tender of 100 bids of 200,000 characters each.

Generated Chinese text: a tender document of 100,000 characters that every bid quotes at length
(about 20% of each bid), five rings of two to four bids whose members all copy the same
paragraphs (30% of a bid) from a common source, each with its own light edits (punctuation
changed, characters substituted, full-width digits), and the rest of each bid written on its
own. Files are written as .txt and read back by the detector, so extraction counts in the time.

It times `SharedPassages().detect` over the whole tender (all 4,950 pairs, passage evidence
included), checks which pairs it flags against the planted rings, then times rapidfuzz's
`fuzz.ratio` on 20 random pairs of the same texts and extrapolates to 4,950 pairs.

    python bench/collusion_passages.py [--bids 100] [--chars 200000] [--naive-pairs 20]
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz

from collusion.base import BidSnapshot, Document, TenderSnapshot
from collusion.detectors.shared_passages import SharedPassages
from collusion.text.extract import clear_cache

# Common characters of Chinese technical prose (GB2312 level 1 is 0xB0A1-0xD7F9).
CHARS = [bytes([hi, lo]).decode("gb2312") for hi in range(0xB0, 0xD8) for lo in range(0xA1, 0xFF)
         if not (hi == 0xD7 and lo > 0xF9)]
PUNCT = "，，，，。。、；：“”（）"
RINGS = (4, 3, 3, 3, 2)


class Writer:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.vocab = np.array(["".join(random.Random(i).choices(CHARS, k=2 + i % 3))
                               for i in range(20000)])

    def prose(self, chars: int) -> str:
        picks = self.rng.integers(0, len(self.vocab), chars // 3 + 10)
        words = self.vocab[picks]
        words_seen = picks.tolist()
        out = []
        total = 0
        for index, word in enumerate(words):
            out.append(word)
            total += len(word)
            if index % 23 == 22:
                figure = f"{int(words_seen[index % len(words_seen)]) % 9973}m"
                out.append(figure)
                total += len(figure)
            if index % 7 == 6:
                out.append(PUNCT[index % len(PUNCT)])
                total += 1
            if index % 60 == 59:
                out.append("\n")
                total += 1
            if total >= chars:
                break
        return "".join(out)[:chars]

    def edit(self, text: str) -> str:
        """A light edit: punctuation changed or dropped, one character in 150 replaced, digits
        and Latin letters made full-width, line breaks moved."""
        rng = self.rng
        chars = list(text)
        for index, char in enumerate(chars):
            if char in PUNCT:
                chars[index] = "，" if rng.random() < 0.5 else " "
            elif char == "\n":
                chars[index] = ""
            elif rng.random() < 1 / 150:
                chars[index] = CHARS[int(rng.integers(0, len(CHARS)))]
            elif char.isascii() and char.isalnum():
                chars[index] = chr(ord(char) + 0xFEE0)
        return "".join(chars)


def paragraphs(text: str, size: int) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]


def build(bids: int, chars: int, seed: int) -> tuple[str, list[str], list[set[int]]]:
    writer = Writer(seed)
    rng = random.Random(seed)
    tender = writer.prose(chars // 2)
    tender_paras = paragraphs(tender, 2000)
    rings: list[set[int]] = []
    members = iter(rng.sample(range(bids), sum(RINGS)))
    for size in RINGS:
        rings.append({next(members) for _ in range(size)})
    ring_of = {m: r for r, ring in enumerate(rings) for m in ring}
    sources = [paragraphs(writer.prose(int(chars * 0.3)), 1500) for _ in rings]
    texts = []
    for bid in range(bids):
        quoted = rng.sample(tender_paras, k=chars // 5 // 2000)
        parts = quoted[:]
        if bid in ring_of:
            source = sources[ring_of[bid]]
            parts += [writer.edit(p) for p in source]
        own = chars - sum(len(p) for p in parts)
        parts += paragraphs(writer.prose(own), 1800)
        rng.shuffle(parts)
        texts.append("\n".join(parts)[:chars])
    return tender, texts, rings


def document(path: Path) -> Document:
    data = path.read_bytes()
    return Document(name=path.name, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                    open=lambda: path.open("rb"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bids", type=int, default=100)
    parser.add_argument("--chars", type=int, default=200_000)
    parser.add_argument("--naive-pairs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()

    started = time.perf_counter()
    tender_text, texts, rings = build(args.bids, args.chars, args.seed)
    print(f"generated {args.bids} bids of {args.chars:,} characters and a tender document of "
          f"{len(tender_text):,} in {time.perf_counter() - started:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "tender.txt").write_text(tender_text, "utf-8")
        bids = []
        for index, text in enumerate(texts):
            path = folder / f"bid-{index:03d}.txt"
            path.write_text(text, "utf-8")
            bids.append(BidSnapshot(key=f"bidder-{index:03d}", files=(document(path),)))
        tender = TenderSnapshot(key="bench", documents=(document(folder / "tender.txt"),),
                                bids=tuple(bids))
        clear_cache()
        print(f"load average before the run: {os.getloadavg()[0]:.1f}")
        started = time.perf_counter()
        cpu_started = time.process_time()
        flags = SharedPassages().detect(tender)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started

    pairs = args.bids * (args.bids - 1) // 2
    planted = {(f"bidder-{a:03d}", f"bidder-{b:03d}") for ring in rings
               for a, b in itertools.combinations(sorted(ring), 2)}
    flagged = {flag.bidders for flag in flags}
    passages = sum(flag.evidence["passages_total"] for flag in flags)
    print(f"shared_passages: {pairs:,} pairs in {elapsed:.2f} s wall, {cpu:.2f} s CPU; "
          f"{len(flags)} pairs flagged with {passages} passages")
    print(f"  planted ring pairs {len(planted)}: found {len(planted & flagged)}, "
          f"flagged outside the rings {len(flagged - planted)}")
    shares = sorted(max(flag.evidence["share"].values()) for flag in flags)
    if shares:
        print(f"  share of own text in flagged pairs: min {shares[0]:.0%}, max {shares[-1]:.0%}")

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{sys.version.split()[0]}, numpy {np.__version__}; load average now "
          f"{os.getloadavg()[0]:.1f} (the machine is shared: compare wall with CPU time)")
    if not args.naive_pairs:
        return
    rng = random.Random(args.seed)
    sample = [tuple(rng.sample(range(args.bids), 2)) for _ in range(args.naive_pairs)]
    started = time.perf_counter()
    cpu_started = time.process_time()
    ratios = [fuzz.ratio(texts[a], texts[b]) for a, b in sample]
    naive = time.perf_counter() - started
    naive_cpu = time.process_time() - cpu_started
    per_pair = naive / max(1, len(sample))
    per_pair_cpu = naive_cpu / max(1, len(sample))
    print(f"naive rapidfuzz fuzz.ratio: {len(sample)} pairs in {naive:.1f} s wall, "
          f"{naive_cpu:.1f} s CPU ({per_pair:.2f} s a pair), extrapolated to {pairs:,} pairs: "
          f"{per_pair * pairs:,.0f} s wall, {per_pair_cpu * pairs:,.0f} s CPU")
    print(f"  speed-up: {per_pair * pairs / elapsed:,.0f}x wall, "
          f"{per_pair_cpu * pairs / max(cpu, 1e-9):,.0f}x CPU")
    ring = sorted(rings[0])
    copied = fuzz.ratio(texts[ring[0]], texts[ring[1]])
    mean = f"{np.mean(ratios):.1f}" if ratios else "-"
    print(f"  fuzz.ratio of random pairs: mean {mean}; of a ring pair sharing 30% of its "
          f"paragraphs: {copied:.1f}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
