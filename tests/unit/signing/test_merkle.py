"""signing.merkle against the RFC 6962 reference vectors and an independent reference tree.

The known answers are the certificate-transparency project's (cpp/merkletree/merkle_tree_test.cc,
repeated in transparency-dev/merkle proof/verify_test.go and rfc6962/rfc6962_test.go): its
eight-leaf tree, roots for sizes 1..8, audit paths and consistency proofs. The paths there use
1-based leaf numbers; here indexes are 0-based.
"""

from __future__ import annotations

import hashlib

import pytest

from signing.merkle import (
    EMPTY_ROOT,
    CompactRange,
    Node,
    ProofBuilder,
    consistency_plan,
    consistency_proof,
    inclusion_plan,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

INPUTS = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
LEAVES = [leaf_hash(d) for d in INPUTS]

EMPTY_TREE_HEX = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
ROOTS_HEX = {
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}

# (0-based leaf index, tree size, audit path)
INCLUSION_VECTORS = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

# (old size, new size, consistency proof)
CONSISTENCY_VECTORS = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

OTHER = hashlib.sha256(b"some other hash").digest()
MAX_N = 64


def h(hexes: list[str]) -> list[bytes]:
    return [bytes.fromhex(x) for x in hexes]


# An independent reference, written from the RFC's recursive definitions with hashlib alone.


def ref_split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(data: list[bytes]) -> bytes:
    if not data:
        return hashlib.sha256(b"").digest()
    if len(data) == 1:
        return hashlib.sha256(b"\x00" + data[0]).digest()
    k = ref_split(len(data))
    return hashlib.sha256(b"\x01" + ref_mth(data[:k]) + ref_mth(data[k:])).digest()


def ref_path(m: int, data: list[bytes]) -> list[bytes]:
    if len(data) == 1:
        return []
    k = ref_split(len(data))
    if m < k:
        return [*ref_path(m, data[:k]), ref_mth(data[k:])]
    return [*ref_path(m - k, data[k:]), ref_mth(data[:k])]


def ref_subproof(m: int, data: list[bytes], whole: bool) -> list[bytes]:
    n = len(data)
    if m == n:
        return [] if whole else [ref_mth(data)]
    k = ref_split(n)
    if m <= k:
        return [*ref_subproof(m, data[:k], whole), ref_mth(data[k:])]
    return [*ref_subproof(m - k, data[k:], False), ref_mth(data[:k])]


def ref_proof(m: int, data: list[bytes]) -> list[bytes]:
    return [] if m == 0 else ref_subproof(m, data, True)


# One leaf more than the largest tree tested, for the root of "the next size".
DATA = [bytes([i]) * (i % 5) + i.to_bytes(2, "big") for i in range(MAX_N + 1)]
DATA_LEAVES = [leaf_hash(d) for d in DATA]
DATA_ROOTS = [ref_mth(DATA[:n]) for n in range(len(DATA) + 1)]


def flip(proof: list[bytes], i: int) -> list[bytes]:
    wrong = list(proof)
    wrong[i] = bytes([wrong[i][0] ^ 0x08]) + wrong[i][1:]
    return wrong


# Known answers


def test_hash_known_answers() -> None:
    assert EMPTY_ROOT.hex() == EMPTY_TREE_HEX
    assert root([]).hex() == EMPTY_TREE_HEX
    # rfc6962_test.go: the empty leaf, a leaf, and a node over two (non-hash) strings.
    assert leaf_hash(b"").hex() == ROOTS_HEX[1]
    assert (
        leaf_hash(b"L123456").hex()
        == "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    )
    assert (
        node_hash(b"N123", b"N456").hex()
        == "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    )


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_reference_vectors(size: int) -> None:
    assert root(LEAVES[:size]).hex() == ROOTS_HEX[size]


def test_compact_range_matches_reference_vectors() -> None:
    frontier = CompactRange()
    assert frontier.root().hex() == EMPTY_TREE_HEX
    for size, leaf in enumerate(LEAVES, start=1):
        frontier.append(leaf)
        assert frontier.size == size
        assert frontier.root().hex() == ROOTS_HEX[size]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION_VECTORS)
def test_inclusion_known_answers(index: int, size: int, path: list[str]) -> None:
    assert inclusion_proof(LEAVES[:size], index) == h(path)
    assert verify_inclusion(LEAVES[index], index, size, h(path), bytes.fromhex(ROOTS_HEX[size]))


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_VECTORS)
def test_consistency_known_answers(old: int, new: int, proof: list[str]) -> None:
    assert consistency_proof(LEAVES[:new], old) == h(proof)
    old_root, new_root = bytes.fromhex(ROOTS_HEX[old]), bytes.fromhex(ROOTS_HEX[new])
    assert verify_consistency(old, new, old_root, new_root, h(proof))


# Every size up to MAX_N against the reference


@pytest.mark.parametrize("n", range(MAX_N + 1))
def test_root_and_proofs_match_reference(n: int) -> None:
    assert root(DATA_LEAVES[:n]) == DATA_ROOTS[n]
    for index in range(n):
        assert inclusion_proof(DATA_LEAVES[:n], index) == ref_path(index, DATA[:n])
    for old in range(n + 1):
        assert consistency_proof(DATA_LEAVES[:n], old) == ref_proof(old, DATA[:n])


@pytest.mark.parametrize("n", range(1, MAX_N + 1))
def test_inclusion_proofs_verify_and_resist_tampering(n: int) -> None:
    leaves, good_root = DATA_LEAVES[:n], DATA_ROOTS[n]
    for index in range(n):
        proof = inclusion_proof(leaves, index)
        leaf = leaves[index]
        assert verify_inclusion(leaf, index, n, proof, good_root)

        other_leaf = leaves[(index + 1) % n] if n > 1 else OTHER
        assert not verify_inclusion(other_leaf, index, n, proof, good_root), "wrong leaf"
        assert not verify_inclusion(OTHER, index, n, proof, good_root), "foreign leaf"
        for wrong_index in {index - 1, index + 1, index ^ 2, n} - {index}:
            assert not verify_inclusion(leaf, wrong_index, n, proof, good_root), wrong_index
        # Sizes whose audit path has another shape (the probes of CT's and Trillian's tests).
        for wrong_size in {2 * n, n // 2} - {n}:
            assert not verify_inclusion(leaf, index, wrong_size, proof, good_root), wrong_size
        # Nor does the proof show the leaf in the true tree of any other size. (With the
        # root left unchanged, a neighbouring size can share the path's shape: the hashes
        # do not encode the size, which is why a signed tree head binds size and root.)
        for other_size in range(index + 1, MAX_N + 1):
            if other_size != n:
                other_root = DATA_ROOTS[other_size]
                assert not verify_inclusion(leaf, index, other_size, proof, other_root)
        for wrong_root in (OTHER, EMPTY_ROOT, DATA_ROOTS[n - 1], DATA_ROOTS[n + 1]):
            assert not verify_inclusion(leaf, index, n, proof, wrong_root), "wrong root"

        tampered = [[*proof, b""], [*proof, good_root], [b"", *proof], [good_root, *proof]]
        tampered += [flip(proof, i) for i in range(len(proof))]
        if proof:
            tampered.append(proof[:-1])
            tampered.append(proof[1:])
        if len(proof) > 1:
            tampered.append([proof[0], OTHER, *proof[1:]])
            tampered.append(proof[::-1])
        for wrong in tampered:
            assert not verify_inclusion(leaf, index, n, wrong, good_root), wrong
        # An element past the path, folded into a made-up root: the path's length is fixed
        # by index and size, so the verifier must stop rather than keep hashing.
        assert not verify_inclusion(leaf, index, n, [*proof, OTHER], node_hash(OTHER, good_root))


@pytest.mark.parametrize("n", range(1, MAX_N + 1))
def test_consistency_proofs_verify_and_resist_tampering(n: int) -> None:
    new_root = DATA_ROOTS[n]
    for old in range(n + 1):
        old_root = DATA_ROOTS[old]
        proof = consistency_proof(DATA_LEAVES[:n], old)
        assert verify_consistency(old, n, old_root, new_root, proof)
        if old in (0, n):
            assert proof == []
            continue

        # As for inclusion: other sizes with the same roots (CT's and Trillian's probes), and
        # every other pair of sizes with their true roots.
        for wrong_old in {old - 1, old + 1, old ^ 2} - {old}:
            assert not verify_consistency(wrong_old, n, old_root, new_root, proof), wrong_old
        for wrong_new in {2 * n, n // 2} - {n}:
            assert not verify_consistency(old, wrong_new, old_root, new_root, proof), wrong_new
        for other_old in range(1, n):
            if other_old != old:
                other_root = DATA_ROOTS[other_old]
                assert not verify_consistency(other_old, n, other_root, new_root, proof)
        for other_new in range(old + 1, MAX_N + 1):
            if other_new != n:
                other_root = DATA_ROOTS[other_new]
                assert not verify_consistency(old, other_new, old_root, other_root, proof)
        assert not verify_consistency(old, n, OTHER, new_root, proof), "wrong old root"
        assert not verify_consistency(old, n, old_root, OTHER, proof), "wrong new root"
        assert not verify_consistency(old, n, new_root, old_root, proof), "swapped roots"
        assert not verify_consistency(old, n, DATA_ROOTS[old - 1], new_root, proof)

        tampered = [
            [],
            [*proof, b""],
            [*proof, old_root],
            [*proof, new_root],
            [b"", *proof],
            [old_root, *proof],
            [new_root, *proof],
            [proof[0], *proof],
            proof[:-1],
        ]
        tampered += [flip(proof, i) for i in range(len(proof))]
        for wrong in tampered:
            assert not verify_consistency(old, n, old_root, new_root, wrong), wrong
        made_up = node_hash(OTHER, new_root)
        assert not verify_consistency(old, n, old_root, made_up, [*proof, OTHER])


def test_consistency_edge_cases() -> None:
    a, b = DATA_ROOTS[1], DATA_ROOTS[2]
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(0, 5, EMPTY_ROOT, DATA_ROOTS[5], [])
    assert verify_consistency(1, 1, a, a, [])
    assert not verify_consistency(0, 5, OTHER, DATA_ROOTS[5], []), "size 0 has the empty root"
    assert not verify_consistency(1, 1, a, b, []), "same size, different roots"
    assert not verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])
    assert not verify_consistency(0, 1, EMPTY_ROOT, a, [EMPTY_ROOT])
    assert not verify_consistency(1, 1, a, a, [EMPTY_ROOT])
    assert not verify_consistency(2, 1, b, a, []), "time travel"
    assert not verify_consistency(1, 2, a, b, []), "a real extension needs a proof"
    assert not verify_consistency(-1, 2, a, b, [a])


def test_inclusion_edge_cases() -> None:
    leaf = DATA_LEAVES[0]
    assert verify_inclusion(leaf, 0, 1, [], leaf)
    for index, size in [(0, 0), (1, 0), (1, 1), (2, 1), (-1, 1)]:
        assert not verify_inclusion(leaf, index, size, [], leaf)
    assert not verify_inclusion(b"", 0, 1, [], b""), "hashes are 32 bytes"
    assert not verify_inclusion(leaf[:31], 0, 1, [], leaf[:31])


def test_proof_requests_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError):
        inclusion_proof(DATA_LEAVES[:4], 4)
    with pytest.raises(ValueError):
        inclusion_proof([], 0)
    with pytest.raises(ValueError):
        consistency_proof(DATA_LEAVES[:4], 5)
    with pytest.raises(ValueError):
        consistency_proof(DATA_LEAVES[:4], -1)


# The compact range


@pytest.mark.parametrize("n", range(MAX_N + 1))
def test_compact_range_root_equals_root(n: int) -> None:
    frontier = CompactRange()
    for leaf in DATA_LEAVES[:n]:
        frontier.append(leaf)
    assert frontier.root() == root(DATA_LEAVES[:n]) == DATA_ROOTS[n]
    assert len(frontier.hashes) == n.bit_count()


def test_compact_range_resumes_from_stored_state() -> None:
    first = CompactRange()
    for leaf in DATA_LEAVES[:37]:
        first.append(leaf)
    resumed = CompactRange.from_state(first.size, first.hashes)
    for n, leaf in enumerate(DATA_LEAVES[37:], start=38):
        resumed.append(leaf)
        assert resumed.root() == DATA_ROOTS[n]
    with pytest.raises(ValueError):
        CompactRange.from_state(37, first.hashes[:-1])
    with pytest.raises(ValueError):
        CompactRange.from_state(37, [*first.hashes[:-1], b"short"])
    with pytest.raises(ValueError):
        CompactRange().append(b"not a hash")


def test_compact_range_reports_every_perfect_subtree_once() -> None:
    frontier = CompactRange()
    seen: dict[Node, bytes] = {}
    for leaf in DATA_LEAVES:
        for node, value in frontier.append(leaf):
            assert node not in seen
            assert value == ref_mth(DATA[node.start : node.end]), node
            seen[node] = value
    # n leaves hold 2n - popcount(n) complete perfect subtrees.
    assert len(seen) == 2 * len(DATA) - len(DATA).bit_count()


# Proofs from storage


class CountingLeaves:
    def __init__(self, leaves: list[bytes]) -> None:
        self.leaves = leaves
        self.calls: list[tuple[int, int]] = []

    def __call__(self, start: int, end: int) -> list[bytes]:
        self.calls.append((start, end))
        return self.leaves[start:end]


def test_proof_builder_reads_leaves_in_bounded_batches() -> None:
    n = 1000
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
    store = CountingLeaves(leaves)
    builder = ProofBuilder(store, batch=16)
    assert builder.root(n) == root(leaves)
    for index in (0, 1, 511, 512, 767, 998, 999):
        assert builder.inclusion_proof(index, n) == inclusion_proof(leaves, index)
    for old in (1, 2, 3, 500, 512, 513, 999, 1000):
        assert builder.consistency_proof(old, n) == consistency_proof(leaves, old)
    assert store.calls
    assert max(end - start for start, end in store.calls) <= 16
    assert all(end <= n for _, end in store.calls)


def test_proof_builder_uses_the_nodes_the_compact_range_reported() -> None:
    n = 300
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
    cache: dict[Node, bytes] = {}
    frontier = CompactRange()
    for leaf in leaves:
        cache.update(frontier.append(leaf))

    def no_leaf_reads(start: int, end: int) -> list[bytes]:
        raise AssertionError(f"read leaves [{start}, {end}) although the cache holds them")

    builder = ProofBuilder(no_leaf_reads, cache=cache)
    assert builder.root(n) == frontier.root()
    for size in (1, 7, 128, 255, 300):
        for index in range(0, size, 7):
            assert builder.inclusion_proof(index, size) == inclusion_proof(leaves[:size], index)
        for old in range(0, size + 1, 5):
            assert builder.consistency_proof(old, size) == consistency_proof(leaves[:size], old)


def test_proof_builder_fills_its_cache() -> None:
    n = 200
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
    store = CountingLeaves(leaves)
    builder = ProofBuilder(store, cache={}, batch=8)
    builder.inclusion_proof(3, n)
    reads = len(store.calls)
    assert builder.inclusion_proof(3, n) == inclusion_proof(leaves, 3)
    assert len(store.calls) == reads, "the second proof came from the cache"


def test_proof_builder_refuses_a_store_that_returns_the_wrong_leaves() -> None:
    builder = ProofBuilder(lambda start, end: DATA_LEAVES[start : end - 1])
    with pytest.raises(ValueError):
        builder.inclusion_proof(0, 4)


def test_plans_name_the_nodes_an_async_store_must_fetch() -> None:
    n = 21
    leaves = DATA_LEAVES[:n]
    nodes: dict[Node, bytes] = {}
    frontier = CompactRange()
    for leaf in leaves:
        nodes.update(frontier.append(leaf))
    # Leaf 5 of 21: siblings leaf 4, [6,8), [0,4), [8,16), then [16,21) = [16,20) + leaf 20.
    plan = inclusion_plan(5, n)
    assert plan.parts == (
        (Node(0, 4),),
        (Node(1, 3),),
        (Node(2, 0),),
        (Node(3, 1),),
        (Node(2, 4), Node(0, 20)),
    )
    assert plan.assemble({k: nodes[k] for k in plan.nodes}) == inclusion_proof(leaves, 5)
    cplan = consistency_plan(6, n)
    assert cplan.assemble(nodes) == consistency_proof(leaves, 6)
    with pytest.raises(KeyError):
        plan.assemble({})
