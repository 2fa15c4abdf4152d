"""Shamir secret sharing over GF(2^8), byte by byte, with a checksum and per-share commitments.

Why GF(2^8) and not a prime field: the secrets split here are keys, fixed-length byte strings
(a 32-byte X25519 private key). Working byte-wise in GF(2^8), as SLIP-39 and ``ssss`` do, gives
shares exactly as long as what is split, needs no big-number arithmetic and no prime larger than
the secret, and needs no encoding of the secret as a field element (a prime field would need
p > 2^256 for a 32-byte key, and leading zero bytes would have to be kept apart). Its one limit,
at most 255 shares (the non-zero field elements), is far above any opening committee. The field
is the AES one: x^8 + x^4 + x^3 + x + 1, generator 3.

What is split is ``secret || SHA-256(label || secret)``: each byte position gets its own random
polynomial of degree k-1 whose constant term is that byte. Any k-1 shares are uniformly
distributed whatever the shared bytes are, checksum included, so they tell nothing about the
secret (information-theoretically, not merely computationally). ``combine`` interpolates at 0
and checks the checksum: a wrong, tampered or foreign share, or shares that lie about the
threshold, are refused (``SharesDoNotCombine``) instead of yielding a wrong key.

The dealer also publishes ``commitment(share)`` for each share, SHA-256 over its index,
threshold and value. They let a share be checked the moment it is submitted, and name the
share that is wrong rather than only saying that the set is. A commitment is a plain hash of a
value determined by the secret, so it hides the secret only as well as the secret resists
guessing: ``split`` is for keys, and refuses secrets shorter than 16 bytes.

Python cannot promise constant-time arithmetic; this runs once per tender, at the opening, on
shares that are then discarded.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from kernel.errors import DomainError

__all__ = [
    "MAX_SHARES",
    "MIN_SECRET_LENGTH",
    "DuplicateShare",
    "InconsistentShares",
    "RandomSource",
    "Share",
    "ShareRefused",
    "SharesDoNotCombine",
    "TamperedShare",
    "TooFewShares",
    "combine",
    "commitment",
    "split",
    "verify",
]

MAX_SHARES = 255
MIN_SECRET_LENGTH = 16
_CHECKSUM_LABEL = b"ebid-shamir-gf256 checksum v1"
_COMMITMENT_LABEL = b"ebid-shamir-gf256 share commitment v1"
_CHECKSUM_LENGTH = 32


class RandomSource(Protocol):
    """What ``split`` draws its coefficients from: the ``secrets`` module, or a test double."""

    def token_bytes(self, nbytes: int) -> bytes: ...


@dataclass(frozen=True)
class Share:
    """One point of the polynomials: x = ``index`` (1..255), y = ``value``; k = ``threshold``.

    ``value`` is left out of the repr, so a share never lands in a log or a traceback.
    """

    index: int
    value: bytes = field(repr=False)
    threshold: int


# --- refusals -------------------------------------------------------------------------------


class ShareRefused(DomainError):
    """Base of every reason a set of key shares is refused."""

    status_code = 400
    code = "share_refused"
    zh = "密钥份额不被接受"
    en = "The key share is refused"


class TooFewShares(ShareRefused):
    code = "too_few_shares"
    zh = "需要至少 {needed} 份密钥份额，目前只有 {given} 份"
    en = "At least {needed} key shares are needed, {given} given"

    def __init__(self, *, needed: int, given: int) -> None:
        super().__init__(needed=needed, given=given)


class DuplicateShare(ShareRefused):
    code = "duplicate_share"
    zh = "第 {index} 份密钥份额重复提交"
    en = "Key share {index} was given twice"

    def __init__(self, *, index: int) -> None:
        super().__init__(index=index)


class InconsistentShares(ShareRefused):
    code = "inconsistent_shares"
    zh = "密钥份额彼此不一致：{reason_zh}"
    en = "The key shares are inconsistent: {reason}"

    def __init__(self, reason: str, reason_zh: str) -> None:
        super().__init__(reason=reason, reason_zh=reason_zh)


class TamperedShare(ShareRefused):
    code = "tampered_share"
    zh = "第 {index} 份密钥份额与分发时公布的承诺值不符：份额有误、被改动或不属于本次分发"
    en = (
        "Key share {index} does not match the commitment published when it was dealt: it is "
        "wrong, altered or from another split"
    )

    def __init__(self, *, index: int) -> None:
        super().__init__(index=index)


class SharesDoNotCombine(ShareRefused):
    code = "shares_do_not_combine"
    zh = "密钥份额合成后校验失败：其中有份额有误、被改动或来自另一次分发"
    en = (
        "The key shares do not combine to a checked secret: one of them is wrong, altered or "
        "from another split"
    )


# --- GF(2^8) --------------------------------------------------------------------------------


def _tables() -> tuple[list[int], list[int]]:
    exp, log = [0] * 510, [0] * 256
    x = 1
    for power in range(255):
        exp[power], log[x] = x, power
        doubled = (x << 1) ^ (0x11B if x & 0x80 else 0)
        x = doubled ^ x  # times 3, the generator
    exp[255:] = exp[:255]  # so a sum of two logarithms needs no reduction
    return exp, log


_EXP, _LOG = _tables()


def _mul(a: int, b: int) -> int:
    if a == 0 or b == 0:
        return 0
    return _EXP[_LOG[a] + _LOG[b]]


def _div(a: int, b: int) -> int:
    if a == 0:
        return 0
    return _EXP[(_LOG[a] - _LOG[b]) % 255]


def _interpolate(points: Sequence[tuple[int, bytes]], x: int) -> bytes:
    """At ``x``, the byte-wise polynomials of least degree through ``points`` (distinct xs)."""
    result = bytearray(len(points[0][1]))
    for j, (xj, yj) in enumerate(points):
        # Lagrange basis polynomial j at x; subtraction is XOR in GF(2^8).
        basis = 1
        for m, (xm, _) in enumerate(points):
            if m != j:
                basis = _mul(basis, _div(xm ^ x, xm ^ xj))
        for position, byte in enumerate(yj):
            result[position] ^= _mul(byte, basis)
    return bytes(result)


def _checksummed(secret: bytes) -> bytes:
    return secret + hashlib.sha256(_CHECKSUM_LABEL + secret).digest()


# --- splitting and combining ----------------------------------------------------------------


def split(secret: bytes, k: int, n: int, rng: RandomSource = secrets) -> list[Share]:
    """``n`` shares of ``secret``, any ``k`` of which rebuild it; fewer tell nothing about it."""
    if not 2 <= k <= n <= MAX_SHARES:
        raise ValueError(f"need 2 <= k <= n <= {MAX_SHARES}, not k={k}, n={n}")
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(f"the secret must be a key of at least {MIN_SECRET_LENGTH} bytes "
                         "(the commitments would let a shorter one be guessed)")
    payload = _checksummed(bytes(secret))
    coefficients = [rng.token_bytes(len(payload)) for _ in range(k - 1)]
    if any(len(c) != len(payload) for c in coefficients):
        raise ValueError("the random source returned the wrong number of bytes")
    shares = []
    for x in range(1, n + 1):
        value = bytearray(len(payload))
        for position, constant in enumerate(payload):
            y = 0
            for coefficient in reversed(coefficients):  # Horner, highest degree first
                y = _mul(y, x) ^ coefficient[position]
            value[position] = _mul(y, x) ^ constant
        shares.append(Share(index=x, value=bytes(value), threshold=k))
    return shares


def commitment(share: Share) -> str:
    """What the dealer publishes for ``share``: SHA-256 over index, threshold and value, hex."""
    if not (1 <= share.index <= MAX_SHARES and 2 <= share.threshold <= MAX_SHARES):
        raise InconsistentShares(f"share {share.index} has an index or threshold out of range",
                                 f"第 {share.index} 份份额的序号或门限超出范围")
    data = _COMMITMENT_LABEL + bytes([share.index, share.threshold]) + share.value
    return hashlib.sha256(data).hexdigest()


def verify(share: Share, commitments: Mapping[int, str]) -> Share:
    """``share`` if it matches its published commitment, else TamperedShare naming it."""
    expected = commitments.get(share.index)
    if expected is None:
        raise InconsistentShares(f"no share {share.index} was dealt",
                                 f"分发时没有第 {share.index} 份份额")
    if not hmac.compare_digest(commitment(share), expected):
        raise TamperedShare(index=share.index)
    return share


def _checked_set(shares: Iterable[Share]) -> list[Share]:
    """The shares if they can belong to one split and are enough of them; else why not."""
    given = list(shares)
    if not given:
        raise TooFewShares(needed=2, given=0)
    threshold, length = given[0].threshold, len(given[0].value)
    seen: set[int] = set()
    for share in given:
        if not 1 <= share.index <= MAX_SHARES:
            raise InconsistentShares(f"share index {share.index} is not within 1..{MAX_SHARES}",
                                     f"份额序号 {share.index} 不在 1..{MAX_SHARES} 之内")
        if share.index in seen:
            raise DuplicateShare(index=share.index)
        seen.add(share.index)
        if share.threshold != threshold:
            raise InconsistentShares("they name different thresholds", "各份额所载门限不同")
        if len(share.value) != length:
            raise InconsistentShares("they have different lengths", "各份额长度不同")
    if not 2 <= threshold <= MAX_SHARES:
        raise InconsistentShares(f"the threshold {threshold} is out of range",
                                 f"门限 {threshold} 超出范围")
    if length < MIN_SECRET_LENGTH + _CHECKSUM_LENGTH:
        raise InconsistentShares("they are too short to hold a key and its checksum",
                                 "份额太短，容不下密钥及其校验值")
    if len(given) < threshold:
        raise TooFewShares(needed=threshold, given=len(given))
    return given


def combine(shares: Iterable[Share], *, commitments: Mapping[int, str] | None = None) -> bytes:
    """The secret, rebuilt from at least k shares and checked; dangerous to log or store.

    With ``commitments`` (index -> ``commitment``) each share is checked first, so a bad one
    is named. Every share given is used, so any one of them being wrong makes the checksum
    fail, even with more than k.
    """
    given = _checked_set(shares)
    if commitments is not None:
        for share in given:
            verify(share, commitments)
    payload = _interpolate([(share.index, share.value) for share in given], 0)
    secret = payload[:-_CHECKSUM_LENGTH]
    if not hmac.compare_digest(_checksummed(secret), payload):
        raise SharesDoNotCombine()
    return secret
