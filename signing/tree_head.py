"""Signed tree heads of the receipts log: the log's size and root at an instant, signed.

The signed bytes are RFC 6962 §3.5's TreeHeadSignature, 50 bytes, all integers big-endian:

    offset  size  field
    0       1     version          0 (v1)
    1       1     signature_type   1 (tree_hash)
    2       8     timestamp        milliseconds since 1970-01-01T00:00:00Z, uint64
    10      8     tree_size        uint64
    18      32    sha256_root_hash the Merkle tree hash (signing/merkle.py)

Ed25519 signs those bytes as they are; ECDSA P-256 signs them with SHA-256 and gives a DER
signature. The JSON form (see :meth:`SignedTreeHead.to_dict`) carries the three fields, the
algorithm's name, the key id (SHA-256 of the public key's DER SubjectPublicKeyInfo, as RFC 6962's
LogID) and the signature, bytes in standard base64 with padding. docs/transparency-log.md tells
a client how to check one with nothing but a SHA-256 and a signature library.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "ECDSA_P256_SHA256",
    "ED25519",
    "MalformedTreeHead",
    "SignedTreeHead",
    "TreeHead",
    "key_id",
    "sign_tree_head",
    "verify_tree_head",
]

ED25519 = "ed25519"
ECDSA_P256_SHA256 = "ecdsa-p256-sha256"

_VERSION_V1 = 0
_SIGNATURE_TYPE_TREE_HASH = 1
_LAYOUT = struct.Struct(">BBQQ32s")
_UINT64_LIMIT = 1 << 64
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
_JSON_FIELDS = frozenset(
    {"tree_size", "timestamp", "sha256_root_hash", "signature_algorithm", "key_id", "signature"}
)

PrivateKey = Ed25519PrivateKey | ec.EllipticCurvePrivateKey
PublicKey = Ed25519PublicKey | ec.EllipticCurvePublicKey


class MalformedTreeHead(ValueError):
    """A tree head that does not follow the documented format."""


@dataclass(frozen=True)
class TreeHead:
    """The log had ``tree_size`` entries with Merkle root ``root_hash`` at ``timestamp`` (ms)."""

    tree_size: int
    root_hash: bytes
    timestamp: int

    def __post_init__(self) -> None:
        for name in ("tree_size", "timestamp"):
            value = getattr(self, name)
            if type(value) is not int or not 0 <= value < _UINT64_LIMIT:
                raise MalformedTreeHead(f"{name} must be an unsigned 64-bit integer")
        if type(self.root_hash) is not bytes or len(self.root_hash) != 32:
            raise MalformedTreeHead("root_hash must be 32 bytes")

    @classmethod
    def at(cls, tree_size: int, root_hash: bytes, when: datetime) -> TreeHead:
        """A head stamped with an aware instant, truncated to the millisecond."""
        if when.tzinfo is None:
            raise ValueError("a tree head needs an aware datetime")
        return cls(tree_size, root_hash, (when - _EPOCH) // _MILLISECOND)

    @property
    def issued_at(self) -> datetime:
        return _EPOCH + self.timestamp * _MILLISECOND

    def to_bytes(self) -> bytes:
        """The 50 signed bytes (module docstring)."""
        return _LAYOUT.pack(
            _VERSION_V1, _SIGNATURE_TYPE_TREE_HASH, self.timestamp, self.tree_size, self.root_hash
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> TreeHead:
        if len(data) != _LAYOUT.size:
            raise MalformedTreeHead(f"a tree head encodes to {_LAYOUT.size} bytes")
        version, signature_type, timestamp, tree_size, root_hash = _LAYOUT.unpack(data)
        if (version, signature_type) != (_VERSION_V1, _SIGNATURE_TYPE_TREE_HASH):
            raise MalformedTreeHead("not a v1 tree head")
        return cls(tree_size, root_hash, timestamp)


@dataclass(frozen=True)
class SignedTreeHead:
    head: TreeHead
    algorithm: str
    key_id: bytes
    signature: bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "tree_size": self.head.tree_size,
            "timestamp": self.head.timestamp,
            "sha256_root_hash": _b64(self.head.root_hash),
            "signature_algorithm": self.algorithm,
            "key_id": _b64(self.key_id),
            "signature": _b64(self.signature),
        }

    def to_json(self) -> str:
        """Compact JSON with sorted keys; the signature does not depend on this text."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Any) -> SignedTreeHead:
        """Parse the JSON form strictly: exactly the documented fields, right types."""
        if not isinstance(data, dict) or set(data) != _JSON_FIELDS:
            fields = ", ".join(sorted(_JSON_FIELDS))
            raise MalformedTreeHead(f"a signed tree head has exactly the fields {fields}")
        if data["signature_algorithm"] not in (ED25519, ECDSA_P256_SHA256):
            raise MalformedTreeHead("unknown signature_algorithm")
        head = TreeHead(data["tree_size"], _unb64(data, "sha256_root_hash"), data["timestamp"])
        key = _unb64(data, "key_id")
        if len(key) != 32:
            raise MalformedTreeHead("key_id must be 32 bytes")
        return cls(head, data["signature_algorithm"], key, _unb64(data, "signature"))

    @classmethod
    def from_json(cls, text: str | bytes) -> SignedTreeHead:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise MalformedTreeHead(f"not JSON: {exc}") from exc
        return cls.from_dict(data)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(data: dict[str, Any], name: str) -> bytes:
    value = data[name]
    if not isinstance(value, str):
        raise MalformedTreeHead(f"{name} must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedTreeHead(f"{name} is not valid base64") from exc


def key_id(public_key: PublicKey) -> bytes:
    """SHA-256 of the key's DER SubjectPublicKeyInfo: names the key that signed a head."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).digest()


def _algorithm(key: PrivateKey | PublicKey) -> str:
    if isinstance(key, Ed25519PrivateKey | Ed25519PublicKey):
        return ED25519
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if isinstance(key.curve, ec.SECP256R1):
            return ECDSA_P256_SHA256
        raise TypeError(f"ECDSA tree heads use P-256, not {key.curve.name}")
    raise TypeError(f"tree heads are signed with Ed25519 or ECDSA P-256, not {type(key).__name__}")


def sign_tree_head(head: TreeHead, private_key: PrivateKey) -> SignedTreeHead:
    """Sign ``head`` with the log's Ed25519 or ECDSA P-256 key."""
    algorithm = _algorithm(private_key)
    message = head.to_bytes()
    if isinstance(private_key, Ed25519PrivateKey):
        signature = private_key.sign(message)
    else:
        signature = private_key.sign(message, ec.ECDSA(hashes.SHA256()))
    return SignedTreeHead(head, algorithm, key_id(private_key.public_key()), signature)


def verify_tree_head(signed: SignedTreeHead, public_key: PublicKey) -> bool:
    """Whether ``public_key`` signed this head, under the algorithm and key id it names."""
    if signed.algorithm != _algorithm(public_key) or signed.key_id != key_id(public_key):
        return False
    message = signed.head.to_bytes()
    try:
        if isinstance(public_key, Ed25519PublicKey):
            public_key.verify(signed.signature, message)
        else:
            public_key.verify(signed.signature, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True
