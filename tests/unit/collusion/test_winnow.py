"""Normalisation and winnowing (collusion/text/normalise.py, collusion/text/winnow.py)."""

from __future__ import annotations

import random

import numpy as np

from collusion.text.normalise import normalise
from collusion.text.winnow import (
    Base,
    Fingerprints,
    covered,
    extend,
    fingerprint,
    kgram_hashes,
    passages,
    shared_pairs,
    winnow,
)

CHARS = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]


def prose(seed: int, n: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(CHARS) for _ in range(n))


def test_normalise_folds_width_case_punctuation_and_keeps_offsets() -> None:
    text = "ＡＢＣ　１２３，我们。Hello, World! ㎡"
    result = normalise(text)
    assert result.text == "abc123我们helloworldm2"
    assert result.offsets[:8].tolist() == [0, 1, 2, 4, 5, 6, 8, 9]
    assert text[result.offsets[-1]] == "㎡" and text[result.offsets[-2]] == "㎡"


def test_normalise_outside_the_basic_plane_and_empty() -> None:
    assert normalise("𠀋x").text == "𠀋x"
    assert len(normalise("")) == 0
    assert len(normalise("，。 \n")) == 0


def test_same_text_different_form_same_fingerprints() -> None:
    plain = "投标人应按照招标文件要求提交投标保证金人民币50000元整 Bid Security"
    dressed = "投标人应按照 招标文件要求，提交投标保证金：人民币５００００元整。ＢＩＤ  security"
    a = fingerprint(normalise(plain).codes)
    b = fingerprint(normalise(dressed).codes)
    assert a.hashes.tolist() == b.hashes.tolist()


def test_kgram_hashes_and_winnow_guarantee() -> None:
    codes = normalise(prose(1, 500)).codes
    hashes = kgram_hashes(codes, 10)
    assert len(hashes) == 491
    assert kgram_hashes(codes[:5], 10).size == 0
    prints = winnow(hashes, 10)
    # Every window of w hashes holds a chosen position.
    chosen = set(prints.positions.tolist())
    assert all(any(p in chosen for p in range(i, i + 10)) for i in range(len(hashes) - 9))
    assert np.array_equal(prints.hashes, hashes[prints.positions])
    short = winnow(hashes[:3], 10)
    assert len(short) == 1


def test_base_subtracts_and_covers() -> None:
    tender = normalise(prose(2, 1000)).codes
    bid = normalise(prose(3, 300) + prose(2, 1000)[200:500]).codes
    kept, dropped = Base([tender]).subtract(fingerprint(bid))
    assert len(dropped) and len(kept)
    mask = covered(dropped, len(bid))
    assert 280 <= int(mask.sum()) <= 300
    assert not mask[:290].any()
    empty = Base([])
    assert len(empty.subtract(fingerprint(bid))[1]) == 0


def test_passages_located_in_both_documents_through_the_index() -> None:
    shared = prose(4, 400)
    a = prose(5, 3000) + shared + prose(6, 2000)
    b = prose(7, 1000) + shared[:200] + "改" + shared[201:] + prose(8, 1000)
    docs = [normalise(a), normalise(b)]
    prints = [fingerprint(d.codes) for d in docs]
    found = passages(prints, [0, 1])
    assert len(found) == 1
    grown = extend(found[0], docs[0].codes, docs[1].codes, 20)
    assert (grown.start_a, grown.end_a) == (3000, 3400)
    assert (grown.start_b, grown.end_b) == (1000, 1400)


def test_same_owner_never_pairs_and_repeats_are_capped() -> None:
    text = prose(9, 500)
    prints = [fingerprint(normalise(text).codes) for _ in range(3)]
    assert passages(prints, [0, 0, 0]) == []
    doc_a, _, doc_b, _ = shared_pairs(prints, [0, 0, 1])
    assert set(zip(doc_a.tolist(), doc_b.tolist(), strict=True)) == {(0, 2), (1, 2)}
    repeated = fingerprint(normalise(prose(10, 40) * 50).codes)
    assert shared_pairs([repeated, repeated], [0, 1])[0].size == 0
    assert shared_pairs([], [])[0].size == 0
    nothing = Fingerprints(np.zeros(0, np.uint64), np.zeros(0, np.int64))
    assert shared_pairs([nothing], [0])[0].size == 0
