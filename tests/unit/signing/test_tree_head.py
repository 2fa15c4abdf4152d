"""Signed tree heads: the documented 50-byte layout, signing, JSON, and tamper detection."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signing.tree_head import (
    ECDSA_P256_SHA256,
    ED25519,
    MalformedTreeHead,
    SignedTreeHead,
    TreeHead,
    key_id,
    sign_tree_head,
    verify_tree_head,
)

# The CT reference tree of eight leaves (see test_merkle.py).
ROOT_8 = bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
HEAD = TreeHead(tree_size=8, root_hash=ROOT_8, timestamp=1_700_000_000_000)

# Written out by hand from docs/transparency-log.md, not produced by the code under test.
HEAD_BYTES_HEX = (
    "00"  # version v1
    "01"  # signature_type tree_hash
    "0000018bcfe56800"  # timestamp 1700000000000 ms = 2023-11-14T22:13:20Z
    "0000000000000008"  # tree_size 8
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
)

# RFC 8032 §7.1 test 1 secret key. Ed25519 is deterministic, so the signature of HEAD is fixed;
# the value below was checked with `openssl pkeyutl -verify -rawin` (docs/transparency-log.md).
RFC8032_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
HEAD_SIGNATURE_B64 = (
    "IBrx+8agG+VP4a4sOnAkjvR19lx+scmWG0OoDfvXo8yhNywWyMgcD0EsYzJugPYiiOnLPYgpbHSwpU4O7k4SAg=="
)
RFC8032_KEY_ID_HEX = "06e3fd8fda29bb60ab59557de61edb0aecdb231134be30e75b455f8e1b792fa9"


def ed25519_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(RFC8032_SECRET)


def keys() -> list[Ed25519PrivateKey | ec.EllipticCurvePrivateKey]:
    return [ed25519_key(), ec.generate_private_key(ec.SECP256R1())]


def test_encoding_is_the_documented_layout() -> None:
    assert HEAD.to_bytes().hex() == HEAD_BYTES_HEX
    assert len(HEAD.to_bytes()) == 50
    assert TreeHead.from_bytes(bytes.fromhex(HEAD_BYTES_HEX)) == HEAD


def test_encoding_refuses_other_versions_and_lengths() -> None:
    raw = bytes.fromhex(HEAD_BYTES_HEX)
    for wrong in (raw[:-1], raw + b"\x00", b"\x01" + raw[1:], raw[:1] + b"\x00" + raw[2:]):
        with pytest.raises(MalformedTreeHead):
            TreeHead.from_bytes(wrong)


@pytest.mark.parametrize(
    ("size", "root", "timestamp"),
    [
        (-1, ROOT_8, 0),
        (1 << 64, ROOT_8, 0),
        (8, ROOT_8, -1),
        (8, ROOT_8[:31], 0),
        (True, ROOT_8, 0),
        (8, ROOT_8, 1.5),
        (8, ROOT_8.hex(), 0),
    ],
)
def test_tree_head_fields_are_checked(size: object, root: object, timestamp: object) -> None:
    with pytest.raises(MalformedTreeHead):
        TreeHead(size, root, timestamp)  # type: ignore[arg-type]


def test_timestamps_from_the_clock() -> None:
    when = datetime(2023, 11, 14, 22, 13, 20, 999, tzinfo=UTC)
    head = TreeHead.at(8, ROOT_8, when)
    assert head == HEAD, "truncated to the millisecond"
    assert head.issued_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    beijing = when.astimezone(ZoneInfo("Asia/Shanghai"))
    assert TreeHead.at(8, ROOT_8, beijing) == HEAD
    assert TreeHead.at(8, ROOT_8, when + timedelta(milliseconds=1)).timestamp == HEAD.timestamp + 1
    with pytest.raises(ValueError):
        TreeHead.at(8, ROOT_8, datetime(2023, 11, 14))


def test_ed25519_signature_is_over_the_documented_bytes() -> None:
    signed = sign_tree_head(HEAD, ed25519_key())
    assert signed.algorithm == ED25519
    assert base64.b64encode(signed.signature).decode() == HEAD_SIGNATURE_B64
    assert signed.key_id.hex() == RFC8032_KEY_ID_HEX
    # What another client does: rebuild the bytes by hand, check with its own library.
    ed25519_key().public_key().verify(signed.signature, bytes.fromhex(HEAD_BYTES_HEX))
    spki = (
        ed25519_key()
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert signed.key_id == hashlib.sha256(spki).digest()


def test_ecdsa_signature_is_over_the_documented_bytes() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    signed = sign_tree_head(HEAD, key)
    assert signed.algorithm == ECDSA_P256_SHA256
    key.public_key().verify(
        signed.signature, bytes.fromhex(HEAD_BYTES_HEX), ec.ECDSA(hashes.SHA256())
    )


@pytest.mark.parametrize("key", keys(), ids=["ed25519", "p256"])
def test_round_trip_through_json(key: Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> None:
    signed = sign_tree_head(HEAD, key)
    assert verify_tree_head(signed, key.public_key())
    text = signed.to_json()
    parsed = SignedTreeHead.from_json(text)
    assert parsed == signed
    assert verify_tree_head(parsed, key.public_key())
    data = json.loads(text)
    assert data["tree_size"] == 8
    assert data["timestamp"] == 1_700_000_000_000
    assert base64.b64decode(data["sha256_root_hash"]) == ROOT_8
    assert base64.b64decode(data["key_id"]) == key_id(key.public_key())
    assert SignedTreeHead.from_dict(signed.to_dict()) == signed


@pytest.mark.parametrize("key", keys(), ids=["ed25519", "p256"])
def test_tampering_is_detected(key: Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> None:
    signed = sign_tree_head(HEAD, key)
    public = key.public_key()
    flipped_root = bytes([ROOT_8[0] ^ 1]) + ROOT_8[1:]
    forged_heads = [
        replace(HEAD, tree_size=7),
        replace(HEAD, tree_size=9),
        replace(HEAD, timestamp=HEAD.timestamp + 1),
        replace(HEAD, root_hash=flipped_root),
    ]
    for head in forged_heads:
        assert not verify_tree_head(replace(signed, head=head), public), head
    bad_signature = bytes([signed.signature[0] ^ 1]) + signed.signature[1:]
    assert not verify_tree_head(replace(signed, signature=bad_signature), public)
    assert not verify_tree_head(replace(signed, signature=signed.signature[:-1]), public)
    assert not verify_tree_head(replace(signed, signature=b""), public)
    assert not verify_tree_head(replace(signed, key_id=bytes(32)), public)
    other_algorithm = ECDSA_P256_SHA256 if signed.algorithm == ED25519 else ED25519
    assert not verify_tree_head(replace(signed, algorithm=other_algorithm), public)
    # Another key of each kind.
    assert not verify_tree_head(signed, Ed25519PrivateKey.generate().public_key())
    assert not verify_tree_head(signed, ec.generate_private_key(ec.SECP256R1()).public_key())
    # The same tampering through the JSON form.
    data = signed.to_dict()
    data["tree_size"] = 9
    assert not verify_tree_head(SignedTreeHead.from_dict(data), public)


def test_only_ed25519_and_p256_keys_sign() -> None:
    for key in (
        ec.generate_private_key(ec.SECP384R1()),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
    ):
        with pytest.raises(TypeError):
            sign_tree_head(HEAD, key)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        verify_tree_head(
            sign_tree_head(HEAD, ed25519_key()),
            ec.generate_private_key(ec.SECP384R1()).public_key(),
        )


def _valid() -> dict[str, object]:
    return sign_tree_head(HEAD, ed25519_key()).to_dict()


@pytest.mark.parametrize(
    "change",
    [
        {"tree_size": True},
        {"tree_size": "8"},
        {"tree_size": -1},
        {"timestamp": 1.7e12},
        {"sha256_root_hash": "not base64!"},
        {"sha256_root_hash": "Xcnae*acGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg="},
        {"sha256_root_hash": base64.b64encode(ROOT_8[:31]).decode()},
        {"sha256_root_hash": ROOT_8.hex()},
        {"key_id": base64.b64encode(b"short").decode()},
        {"signature": 42},
        {"signature_algorithm": "rsa-pkcs1-sha256"},
        {"extra": 1},
    ],
)
def test_malformed_json_is_refused(change: dict[str, object]) -> None:
    data = {**_valid(), **change}
    with pytest.raises(MalformedTreeHead):
        SignedTreeHead.from_dict(data)


def test_missing_fields_and_non_json_are_refused() -> None:
    for name in _valid():
        data = _valid()
        del data[name]
        with pytest.raises(MalformedTreeHead):
            SignedTreeHead.from_dict(data)
    for text in ("", "[]", "{", "null"):
        with pytest.raises(MalformedTreeHead):
            SignedTreeHead.from_json(text)
