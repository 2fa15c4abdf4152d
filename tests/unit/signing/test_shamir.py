"""Shamir secret sharing over GF(2^8): every threshold rebuilds, fewer shares tell nothing, and
a wrong share is refused rather than yielding a wrong key."""

from __future__ import annotations

import dataclasses
import itertools
import os
import random

import pytest

from signing import shamir
from signing.shamir import (
    DuplicateShare,
    InconsistentShares,
    Share,
    SharesDoNotCombine,
    TamperedShare,
    TooFewShares,
    combine,
    commitment,
    split,
    verify,
)

SECRET = bytes(range(32))


def flipped(share: Share, position: int = 0) -> Share:
    value = bytearray(share.value)
    value[position] ^= 0x01
    return dataclasses.replace(share, value=bytes(value))


class CountingRandom:
    """A reproducible stand-in for ``secrets``."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.calls = 0

    def token_bytes(self, nbytes: int) -> bytes:
        self.calls += 1
        return self.random.randbytes(nbytes)


def test_the_field_is_the_aes_field() -> None:
    assert shamir._mul(0x57, 0x83) == 0xC1  # FIPS-197, section 4.2
    assert shamir._mul(0x57, 0x13) == 0xFE
    for a in range(1, 256):
        assert shamir._mul(a, shamir._div(1, a)) == 1


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_every_k_of_n_combination_rebuilds_the_secret(n: int) -> None:
    for k in range(2, n + 1):
        shares = split(SECRET, k, n)
        assert [share.index for share in shares] == list(range(1, n + 1))
        assert {share.threshold for share in shares} == {k}
        for size in range(1, n + 1):
            for subset in itertools.combinations(shares, size):
                if size >= k:
                    assert combine(subset) == SECRET
                    assert combine(reversed(subset)) == SECRET
                else:
                    with pytest.raises(TooFewShares) as refused:
                        combine(subset)
                    assert refused.value.params == {"needed": k, "given": size}


def test_secrets_of_any_key_length_and_the_largest_n() -> None:
    for length in (16, 33, 1000):
        secret = os.urandom(length)
        shares = split(secret, 3, 4)
        assert all(len(share.value) == length + 32 for share in shares)  # + the checksum
        assert combine(shares[1:]) == secret
    shares = split(SECRET, 2, 255)
    assert combine([shares[253], shares[254]]) == SECRET
    assert combine([shares[0], shares[127]]) == SECRET


@pytest.mark.parametrize("k", [2, 3, 4])
def test_fewer_than_k_shares_fit_every_secret_equally(k: int) -> None:
    # Perfect secrecy, shown constructively: for k-1 genuine shares and ANY other secret there
    # is a k-th share completing them to that secret, checksum and all. So the k-1 shares
    # cannot tell which secret was split.
    shares = split(SECRET, k, k + 1)
    held = shares[: k - 1]
    for _ in range(5):
        other = os.urandom(32)
        points = [(0, shamir._checksummed(other))] + [(s.index, s.value) for s in held]
        forged = Share(index=k + 1, value=shamir._interpolate(points, k + 1), threshold=k)
        assert combine([*held, forged]) == other


def test_shares_lying_about_the_threshold_do_not_combine() -> None:
    shares = split(SECRET, 3, 5)
    liars = [dataclasses.replace(share, threshold=2) for share in shares[:2]]
    with pytest.raises(SharesDoNotCombine):
        combine(liars)


@pytest.mark.parametrize("position", [0, 31, 32, 63])  # in the key part and the checksum part
def test_a_tampered_share_is_refused_not_combined_into_a_wrong_key(position: int) -> None:
    shares = split(SECRET, 2, 3)
    for index in range(3):
        tampered = list(shares)
        tampered[index] = flipped(shares[index], position)
        for subset in itertools.combinations(tampered, 2):
            if tampered[index] in subset:
                with pytest.raises(SharesDoNotCombine):
                    combine(subset)
        with pytest.raises(SharesDoNotCombine):  # more than k shares are all used
            combine(tampered)


def test_commitments_name_the_tampered_share() -> None:
    shares = split(SECRET, 2, 3)
    commitments = {share.index: commitment(share) for share in shares}
    assert verify(shares[1], commitments) == shares[1]
    assert combine(shares[1:], commitments=commitments) == SECRET
    bad = flipped(shares[2], 40)
    with pytest.raises(TamperedShare) as refused:
        combine([shares[0], bad], commitments=commitments)
    assert refused.value.params == {"index": 3}
    with pytest.raises(TamperedShare):  # the threshold is committed to as well
        verify(dataclasses.replace(shares[0], threshold=3), commitments)
    with pytest.raises(InconsistentShares, match="no share 4 was dealt"):
        verify(Share(index=4, value=shares[0].value, threshold=2), commitments)


def test_shares_of_two_splits_do_not_combine() -> None:
    first, second = split(SECRET, 2, 3), split(SECRET, 2, 3)
    with pytest.raises(SharesDoNotCombine):
        combine([first[0], second[1]])
    other = split(os.urandom(32), 2, 3)
    with pytest.raises(SharesDoNotCombine):
        combine([first[0], other[1]])


def test_duplicate_and_inconsistent_shares_are_refused() -> None:
    shares = split(SECRET, 2, 3)
    with pytest.raises(DuplicateShare) as refused:
        combine([shares[0], shares[0]])
    assert refused.value.params == {"index": 1}
    with pytest.raises(DuplicateShare):
        combine([shares[0], dataclasses.replace(shares[1], index=1)])
    cases = [
        (dataclasses.replace(shares[1], threshold=3), "different thresholds"),
        (dataclasses.replace(shares[1], value=shares[1].value[:-1]), "different lengths"),
        (dataclasses.replace(shares[1], index=0), "not within 1..255"),
        (dataclasses.replace(shares[1], index=256), "not within 1..255"),
    ]
    for other, reason in cases:
        with pytest.raises(InconsistentShares, match=reason):
            combine([shares[0], other])
    short = [Share(index=i, value=bytes(40), threshold=2) for i in (1, 2)]
    with pytest.raises(InconsistentShares, match="too short"):
        combine(short)
    with pytest.raises(TooFewShares):
        combine([])


@pytest.mark.parametrize(("k", "n"), [(1, 3), (0, 3), (4, 3), (2, 256), (300, 300)])
def test_split_refuses_impossible_thresholds(k: int, n: int) -> None:
    with pytest.raises(ValueError, match="2 <= k <= n <= 255"):
        split(SECRET, k, n)


def test_split_refuses_a_guessable_secret() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        split(b"password", 2, 3)


def test_the_random_source_is_the_one_passed_in() -> None:
    first, second = CountingRandom(7), CountingRandom(7)
    assert split(SECRET, 3, 4, rng=first) == split(SECRET, 3, 4, rng=second)
    assert first.calls == 2  # one coefficient string per degree above 0

    class Short:
        def token_bytes(self, nbytes: int) -> bytes:
            return bytes(nbytes - 1)

    with pytest.raises(ValueError, match="wrong number of bytes"):
        split(SECRET, 2, 3, rng=Short())


def test_a_share_never_shows_its_value() -> None:
    share = split(SECRET, 2, 3)[0]
    assert share.value.hex() not in repr(share)
    assert repr(share) == "Share(index=1, threshold=2)"
