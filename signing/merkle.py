"""RFC 6962 / RFC 9162 §2.1 Merkle tree hashing for the receipts log: roots, proofs, checks.

Pure code: no storage, no clock. The hashing is SHA-256 with domain separation, so a leaf can
never be passed off as an inner node:

    leaf_hash(d)    = SHA-256(0x00 || d)
    node_hash(l, r) = SHA-256(0x01 || l || r)
    MTH({})         = SHA-256("")
    MTH(D[n])       = node_hash(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two < n

Three ways in, by how much of the log is at hand:

- the list functions (:func:`root`, :func:`inclusion_proof`, :func:`consistency_proof`) take
  every leaf hash; for tests, small logs and independent checkers;
- :class:`CompactRange` appends one leaf at a time keeping only the O(log n) hashes of the
  tree's perfect left subtrees (the "frontier"), and reports each perfect subtree it completes,
  so a store can keep them;
- :class:`ProofBuilder` makes proofs for a log too big to load: it asks for perfect subtree
  hashes through a cache (any ``MutableMapping[Node, bytes]``) and reads leaf hashes in bounded
  batches through ``get_leaf_hashes(start, end)`` only for what the cache lacks. For an async
  store, :func:`inclusion_plan` / :func:`consistency_plan` name the perfect subtrees a proof
  needs, and :meth:`ProofPlan.assemble` builds the proof once the store has fetched them.

Complete perfect subtrees never change in an append-only log, so a cached node hash, keyed by
(level, index), stays valid for every later tree size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "Node",
    "ProofBuilder",
    "ProofPlan",
    "consistency_plan",
    "consistency_proof",
    "inclusion_plan",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the hash of one log entry."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an inner node."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _mth(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    """MTH(leaves[lo:hi]) by the RFC's recursion; depth is log2(hi - lo)."""
    n = hi - lo
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[lo]
    k = _split(n)
    return node_hash(_mth(leaves, lo, lo + k), _mth(leaves, lo + k, hi))


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle tree hash of all the given leaf hashes (SHA-256("") for none)."""
    return _mth(leaf_hashes, 0, len(leaf_hashes))


@dataclass(frozen=True, slots=True)
class Node:
    """The perfect subtree of 2**level leaves starting at leaf index * 2**level."""

    level: int
    index: int

    @property
    def start(self) -> int:
        return self.index << self.level

    @property
    def end(self) -> int:
        return (self.index + 1) << self.level


def _perfect_nodes(start: int, end: int) -> list[Node]:
    """Split the RFC subtree D[start:end] into its perfect subtrees, largest (leftmost) first.

    Only valid for a subtree of the RFC tree shape, i.e. start is a multiple of the smallest
    power of two >= end - start; MTH(D[start:end]) is then the right fold of the parts.
    """
    size = end - start
    if size <= 0 or start % (1 << (size - 1).bit_length()):
        raise ValueError(f"[{start}, {end}) is not a subtree of an RFC 6962 tree")
    nodes = []
    while start < end:
        level = (end - start).bit_length() - 1
        nodes.append(Node(level, start >> level))
        start += 1 << level
    return nodes


def _fold(hashes: Sequence[bytes]) -> bytes:
    """Right fold: h0, h1, h2 -> node(h0, node(h1, h2))."""
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def _inclusion_spans(index: int, size: int) -> list[tuple[int, int]]:
    """The subtrees whose hashes form PATH(index, D[0:size]), in proof order (leaf upwards)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    spans = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            spans.append((lo + k, hi))
            hi = lo + k
        else:
            spans.append((lo, lo + k))
            lo += k
    spans.reverse()
    return spans


def _consistency_spans(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The subtrees whose hashes form PROOF(old_size, D[0:new_size]) (RFC 9162 §2.1.4.1)."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size in (0, new_size):
        return []
    spans = []
    lo, hi, m, whole = 0, new_size, old_size, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            spans.append((lo + k, hi))
            hi = lo + k
        else:
            spans.append((lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        # SUBPROOF(m, D[m], false) = {MTH(D[m])}: the old tree's subtree the verifier lacks.
        spans.append((lo, hi))
    spans.reverse()
    return spans


@dataclass(frozen=True)
class ProofPlan:
    """Which perfect subtrees a proof needs, and how to combine them.

    ``parts`` holds, per proof element, the perfect subtrees whose right fold is that element
    (one node, except for a subtree on the tree's ragged right edge). ``nodes`` is every node
    once, for a store to fetch in one query.
    """

    parts: tuple[tuple[Node, ...], ...]

    @property
    def nodes(self) -> tuple[Node, ...]:
        return tuple(dict.fromkeys(node for part in self.parts for node in part))

    def assemble(self, hashes: Mapping[Node, bytes]) -> list[bytes]:
        """The proof, from the hash of every node in :attr:`nodes` (KeyError if one lacks)."""
        return [_fold([hashes[node] for node in part]) for part in self.parts]


def _plan(spans: Iterable[tuple[int, int]]) -> ProofPlan:
    return ProofPlan(tuple(tuple(_perfect_nodes(lo, hi)) for lo, hi in spans))


def inclusion_plan(index: int, tree_size: int) -> ProofPlan:
    """What :func:`inclusion_proof` for leaf ``index`` of a tree of ``tree_size`` needs."""
    return _plan(_inclusion_spans(index, tree_size))


def consistency_plan(old_size: int, new_size: int) -> ProofPlan:
    """What :func:`consistency_proof` from ``old_size`` to ``new_size`` needs."""
    return _plan(_consistency_spans(old_size, new_size))


class ProofBuilder:
    """Proofs over a log read through ``get_leaf_hashes(start, end)`` and a subtree cache.

    ``get_leaf_hashes(start, end)`` must return the leaf hashes of entries start..end-1; it is
    never asked for more than ``batch`` leaves at once. ``cache`` maps :class:`Node` to its
    hash; missing nodes are computed (from their children, or from leaves once they span at
    most ``batch`` leaves) and written back.

    Cost of a proof for a tree of n leaves (about log2 n elements; at most one of them, on the
    ragged right edge, is a fold of up to log2 n perfect subtrees):

    - cache holding every node :class:`CompactRange` reported: O(log n) cache reads, no leaf
      read, O(log n) hashing;
    - no cache: every leaf of the tree is read once, in ceil(n / batch) calls, with O(n)
      hashing; memory stays O(batch + log n) hashes, never the whole log;
    - in between (say only levels >= 10 stored, or a cache filled by earlier proofs): a missing
      node at level L costs at most 2**L leaf reads below its nearest cached descendants.
    """

    def __init__(
        self,
        get_leaf_hashes: Callable[[int, int], Sequence[bytes]],
        *,
        cache: MutableMapping[Node, bytes] | None = None,
        batch: int = 1024,
    ) -> None:
        if batch < 1:
            raise ValueError("batch must be at least 1")
        self._get_leaf_hashes = get_leaf_hashes
        self._cache = cache
        self._batch = batch

    def node(self, node: Node) -> bytes:
        """The hash of one complete perfect subtree."""
        if self._cache is not None:
            cached = self._cache.get(node)
            if cached is not None:
                return cached
        size = 1 << node.level
        if size <= self._batch:
            leaves = self._get_leaf_hashes(node.start, node.end)
            if len(leaves) != size:
                raise ValueError(
                    f"asked for leaves [{node.start}, {node.end}), got {len(leaves)} hashes"
                )
            value = _mth(leaves, 0, size)
        else:
            value = node_hash(
                self.node(Node(node.level - 1, 2 * node.index)),
                self.node(Node(node.level - 1, 2 * node.index + 1)),
            )
        if self._cache is not None:
            self._cache[node] = value
        return value

    def _resolve(self, plan: ProofPlan) -> list[bytes]:
        return plan.assemble({node: self.node(node) for node in plan.nodes})

    def root(self, tree_size: int) -> bytes:
        """MTH of the first ``tree_size`` leaves."""
        if tree_size < 0:
            raise ValueError("tree size cannot be negative")
        if tree_size == 0:
            return EMPTY_ROOT
        return _fold([self.node(n) for n in _perfect_nodes(0, tree_size)])

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        """The audit path of leaf ``index`` in the tree of the first ``tree_size`` leaves."""
        return self._resolve(inclusion_plan(index, tree_size))

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """The proof that the tree of ``old_size`` leaves is a prefix of that of ``new_size``."""
        return self._resolve(consistency_plan(old_size, new_size))


def _in_memory(leaf_hashes: Sequence[bytes]) -> ProofBuilder:
    return ProofBuilder(lambda start, end: leaf_hashes[start:end])


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of all ``leaf_hashes`` (RFC 9162 §2.1.3.1)."""
    return _in_memory(leaf_hashes).inclusion_proof(index, len(leaf_hashes))


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """The proof that the first ``old_size`` leaves' tree is a prefix of the whole tree."""
    return _in_memory(leaf_hashes).consistency_proof(old_size, len(leaf_hashes))


def _well_formed(*hashes: bytes) -> bool:
    return all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in hashes)


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` puts ``leaf_hash`` at ``index`` in tree ``root`` (RFC 9162 §2.1.3.2)."""
    if not 0 <= index < tree_size or not _well_formed(leaf_hash, root, *proof):
        return False
    fn, sn, r = index, tree_size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows tree ``old_root`` is a prefix of ``new_root`` (RFC 9162 §2.1.4.2).

    Equal sizes need an empty proof and equal roots; from size 0 the proof is empty and the old
    root must be the empty tree's, since every tree extends the empty one.
    """
    if not 0 <= old_size <= new_size or not _well_formed(old_root, new_root, *proof):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


class CompactRange:
    """The right edge of the log: O(log n) hashes that give the root and take new leaves.

    ``hashes`` are the roots of the perfect subtrees that make up [0, size), largest first,
    one per set bit of ``size``: 6 leaves -> MTH(D[0:4]), MTH(D[4:6]). Persist ``size`` and
    ``hashes`` with each tree head and restore with :meth:`from_state`; nothing else is needed
    to keep appending.

    :meth:`append` costs O(1) hashes amortised (O(log n) at worst) and returns the perfect
    subtrees the new leaf completed, the leaf itself first; a store that keeps them all (fewer
    than 2n nodes for n leaves) lets :class:`ProofBuilder` answer every proof with O(log n) reads.
    """

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @classmethod
    def from_state(cls, size: int, hashes: Sequence[bytes]) -> CompactRange:
        """Resume from a stored ``size`` and ``hashes``."""
        if size < 0 or len(hashes) != size.bit_count() or not _well_formed(*hashes):
            raise ValueError(f"a compact range of size {size} has {size.bit_count()} hashes")
        frontier = cls()
        frontier._size = size
        frontier._hashes = list(hashes)
        return frontier

    @property
    def size(self) -> int:
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        return tuple(self._hashes)

    def append(self, leaf: bytes) -> list[tuple[Node, bytes]]:
        """Add the next leaf hash; returns each perfect subtree completed, with its hash."""
        if not _well_formed(leaf):
            raise ValueError(f"a leaf hash has {HASH_SIZE} bytes")
        index = self._size
        completed = [(Node(0, index), leaf)]
        value, level = leaf, 0
        while (index >> level) & 1:
            value = node_hash(self._hashes.pop(), value)
            level += 1
            completed.append((Node(level, index >> level), value))
        self._hashes.append(value)
        self._size += 1
        return completed

    def root(self) -> bytes:
        """MTH of the leaves appended so far."""
        return _fold(self._hashes) if self._hashes else EMPTY_ROOT
