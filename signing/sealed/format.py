"""The sealed package, byte by byte (docs/sealed-bid-format.md is the reference).

    prefix   "EBIDSEAL" | version u16 | header_len u32 | header (UTF-8 JSON)
    records  tag u8 | length u32 | body       (all integers big-endian)
             0x01 segment, 0x02 final segment: AES-256-GCM ciphertext + 16-byte tag
             0x03 signature: detached CMS over SHA-256(every byte before this record)

Every algorithm is named by an identifier string in the header, so another suite (SM2/SM3/SM4)
is a new identifier, not a new format. This module parses and lays out; sealing and opening
live in ``seal`` and ``open``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import struct
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal

from signing.sealed.errors import MalformedPackage, TruncatedPackage, UnsupportedAlgorithm

MAGIC = b"EBIDSEAL"
VERSION = 1
FORMAT_NAME = "ebid-sealed-bid"
PREFIX = struct.Struct(">8sHI")  # magic, version, header length
RECORD = struct.Struct(">BI")  # tag, body length
SEGMENT, FINAL_SEGMENT, SIGNATURE = 0x01, 0x02, 0x03
TAG_LENGTH = 16
NONCE_PREFIX_LENGTH = 7  # + 4-byte segment counter + 1-byte final flag = the 12-byte GCM nonce

# Algorithm identifiers of version 1.
PAYLOAD_AES256GCM = "aes-256-gcm-seg-v1"
SIGNATURE_CMS_SHA256 = "cms-sha256"
DIGEST_SHA256 = "sha256"
COMMITMENT_HMAC_SHA256 = "hmac-sha256-v1"
CONTAINER_ENTRIES = "ebid-entries-v1"
HPKE_P256 = "hpke-p256-hkdf-sha256-aes256gcm"
HPKE_X25519 = "hpke-x25519-hkdf-sha256-aes256gcm"
ALGORITHMS = {
    "payload": (PAYLOAD_AES256GCM,),
    "signature": (SIGNATURE_CMS_SHA256,),
    "digest": (DIGEST_SHA256,),
    "commitment": (COMMITMENT_HMAC_SHA256,),
    "container": (CONTAINER_ENTRIES,),
}
WRAP_ALGORITHMS = (HPKE_P256, HPKE_X25519)

KeyMode = Literal["either", "both"]
Recipient = Literal["opening", "bidder"]
KEY_MODES: tuple[KeyMode, ...] = ("either", "both")
RECIPIENTS: tuple[Recipient, ...] = ("opening", "bidder")

DEFAULT_SEGMENT_SIZE = 1 << 20
MIN_SEGMENT_SIZE = 1 << 10
MAX_SEGMENT_SIZE = 16 << 20  # an opener holds one segment in memory: a header may not ask more
MAX_HEADER_LENGTH = 64 << 10
MAX_SIGNATURE_LENGTH = 256 << 10
MAX_SEGMENTS = 1 << 32  # the counter is 32 bits wide

_HEX64 = re.compile(r"[0-9a-f]{64}")
_ZH = {
    "payload": "载荷加密算法", "signature": "签名算法", "digest": "摘要算法",
    "commitment": "密钥承诺算法", "container": "容器格式", "wrap": "密钥封装算法",
    "version": "格式版本", "key_mode": "开启方式",
}


def malformed(reason: str, reason_zh: str) -> MalformedPackage:
    return MalformedPackage(reason, reason_zh)


@dataclass(frozen=True)
class Wrap:
    """The data key, or one share of it, HPKE-encrypted to one recipient's public key."""

    to: Recipient
    alg: str
    key_id: str  # SHA-256 of the recipient's SubjectPublicKeyInfo DER, hex
    enc: bytes  # the HPKE encapsulated key
    ct: bytes  # the HPKE ciphertext of the 32-byte secret, with its tag

    def as_json(self) -> dict[str, str]:
        return {"to": self.to, "alg": self.alg, "key_id": self.key_id,
                "enc": base64.b64encode(self.enc).decode(),
                "ct": base64.b64encode(self.ct).decode()}


@dataclass(frozen=True)
class SealedHeader:
    version: int
    tender: str
    lot: str | None
    bidder_certificate_sha256: str
    algorithms: dict[str, str]
    segment_size: int
    nonce_prefix: bytes
    key_mode: KeyMode
    key_commitment: str
    wraps: tuple[Wrap, ...]
    raw: bytes  # the whole prefix as stored: magic, version, length, JSON
    sha256: bytes  # SHA-256 of ``raw``: the AAD of every segment

    def wrap(self, which: Recipient) -> Wrap:
        return next(w for w in self.wraps if w.to == which)


def header_json(
    *, tender: str, lot: str | None, bidder_certificate_sha256: str, segment_size: int,
    nonce_prefix: bytes, key_mode: KeyMode, key_commitment: str, wraps: tuple[Wrap, ...],
) -> dict[str, Any]:
    return {
        "format": FORMAT_NAME,
        "tender": tender,
        "lot": lot,
        "bidder": {"certificate_sha256": bidder_certificate_sha256},
        "algorithms": {name: ids[0] for name, ids in ALGORITHMS.items()},
        "segment_size": segment_size,
        "nonce_prefix": base64.b64encode(nonce_prefix).decode(),
        "key_mode": key_mode,
        "key_commitment": key_commitment,
        "wraps": [w.as_json() for w in wraps],
    }


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8 unescaped: the one encoding this format writes."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      allow_nan=False).encode("utf-8")


def encode_prefix(header: dict[str, Any]) -> bytes:
    body = canonical_json(header)
    if len(body) > MAX_HEADER_LENGTH:
        raise ValueError(f"header of {len(body)} bytes exceeds {MAX_HEADER_LENGTH}")
    return PREFIX.pack(MAGIC, VERSION, len(body)) + body


def nonce(prefix: bytes, index: int, final: bool) -> bytes:
    """STREAM nonce: the random prefix, the segment counter, and whether it is the last one."""
    return prefix + index.to_bytes(4, "big") + (b"\x01" if final else b"\x00")


class Reader:
    """Reads a package front to back, hashing as it goes, refusing short reads.

    ``signed`` is the running SHA-256 of the bytes the outer signature covers (all but the
    signature record); ``whole`` is the SHA-256 of the entire package, as receipts name it.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.signed = hashlib.sha256()
        # The whole-package hash forks from ``signed`` where the signature record starts
        # (hashlib's copy()), so the ciphertext is hashed once, not twice: at the opening of
        # 1,000 bids that was a third of all the hashing.
        self._whole: hashlib._Hash | None = None
        self.offset = 0

    @property
    def _in_signed(self) -> bool:
        return self._whole is None

    @property
    def whole(self) -> hashlib._Hash:
        return self.signed.copy() if self._whole is None else self._whole

    def _hash(self, data: bytes | memoryview) -> None:
        if self._whole is None:
            self.signed.update(data)
        else:
            self._whole.update(data)

    def read(self, length: int, what: str, what_zh: str) -> bytes:
        data = self.stream.read(length)
        if len(data) < length:  # a pipe or socket may return less than asked
            buffer = bytearray(data)
            while len(buffer) < length:
                more = self.stream.read(length - len(buffer))
                if not more:
                    raise TruncatedPackage(
                        f"it ends at byte {self.offset + len(buffer)}, inside the {what}",
                        f"文件在第 {self.offset + len(buffer)} 字节处中断，位于{what_zh}之内",
                    )
                buffer += more
            data = bytes(buffer)
        self.offset += length
        self._hash(data)
        return data

    def read_into(self, view: memoryview, what: str, what_zh: str) -> memoryview:
        """Fill ``view`` exactly (a reused segment buffer), hashing it; return it.

        The segments go through here: no fresh 1 MiB object per segment, and the hash runs
        over the whole segment at once.
        """
        readinto = getattr(self.stream, "readinto", None)
        filled = 0
        while filled < len(view):
            if readinto is not None:
                got = readinto(view[filled:]) or 0
            else:  # a stream without readinto (rare): read and copy
                more = self.stream.read(len(view) - filled)
                got = len(more)
                view[filled:filled + got] = more
            if not got:
                raise TruncatedPackage(
                    f"it ends at byte {self.offset + filled}, inside the {what}",
                    f"文件在第 {self.offset + filled} 字节处中断，位于{what_zh}之内",
                )
            filled += got
        self.offset += filled
        self._hash(view)
        return view

    def record(self) -> tuple[int, int]:
        """The next record's tag and body length; the tag byte starts the unsigned part."""
        start = self.stream.read(1)
        if not start:
            raise TruncatedPackage(
                f"it ends at byte {self.offset} before its final segment and signature",
                f"文件在第 {self.offset} 字节处结束，缺少最后一段密文和签名",
            )
        if start[0] == SIGNATURE and self._whole is None:
            self._whole = self.signed.copy()
        self.offset += 1
        self._hash(start)
        (length,) = struct.unpack(">I", self.read(4, "record header", "记录头"))
        return start[0], length

    def at_end(self) -> bool:
        return not self.stream.read(1)


def _field(header: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = header.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise malformed(f"the header field {name!r} is missing or of the wrong type",
                        f"头部字段 {name!r} 缺失或类型错误")
    return value


def _b64(value: Any, name: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, TypeError, ValueError) as error:
        raise malformed(f"{name} is not base64", f"{name} 不是 base64 编码") from error


def _hex64(value: Any, name: str) -> str:
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise malformed(f"{name} is not 64 lower-case hex digits", f"{name} 不是 64 位小写十六进制")
    return value


def _supported(what: str, value: Any, known: tuple[str, ...]) -> str:
    if value not in known:
        raise UnsupportedAlgorithm(what=what, what_zh=_ZH.get(what, what), value=value)
    return str(value)


def _wraps(value: Any) -> tuple[Wrap, ...]:
    if not isinstance(value, list) or len(value) != len(RECIPIENTS):
        raise malformed("there must be two key wraps", "必须有两个密钥封装")
    wraps = []
    for item in value:
        if not isinstance(item, dict):
            raise malformed("a key wrap is not an object", "密钥封装不是对象")
        if item.get("to") not in RECIPIENTS:
            raise malformed("a key wrap names no known recipient", "密钥封装的接收方未知")
        wraps.append(Wrap(
            to=item["to"],
            alg=_supported("wrap", item.get("alg"), WRAP_ALGORITHMS),
            key_id=_hex64(item.get("key_id"), "key_id"),
            enc=_b64(item.get("enc"), "enc"), ct=_b64(item.get("ct"), "ct"),
        ))
    if sorted(w.to for w in wraps) != sorted(RECIPIENTS):
        raise malformed("the key wraps must be one to the opening key, one to the bidder",
                        "密钥封装必须一个给开标密钥、一个给投标人")
    return tuple(wraps)


def parse_header(reader: Reader) -> SealedHeader:
    """Read and check the prefix; anything unexpected is MalformedPackage or Unsupported."""
    magic, version, length = PREFIX.unpack(reader.read(PREFIX.size, "prefix", "文件头"))
    if magic != MAGIC:
        raise malformed("it does not start with EBIDSEAL: not a sealed bid",
                        "文件不以 EBIDSEAL 开头：不是密封投标文件")
    if version != VERSION:
        raise UnsupportedAlgorithm(what="version", what_zh=_ZH["version"], value=version)
    if length > MAX_HEADER_LENGTH:
        raise malformed(f"the header is {length} bytes, more than {MAX_HEADER_LENGTH}",
                        f"头部长 {length} 字节，超过上限 {MAX_HEADER_LENGTH}")
    body = reader.read(length, "header", "头部")
    try:
        header = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise malformed("the header is not UTF-8 JSON", "头部不是 UTF-8 JSON") from error
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise malformed("the header does not name the format ebid-sealed-bid",
                        "头部未声明格式 ebid-sealed-bid")
    algorithms = _field(header, "algorithms", dict)
    for name, known in ALGORITHMS.items():
        _supported(name, algorithms.get(name), known)
    segment_size = _field(header, "segment_size", int)
    if not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE:
        raise malformed(f"segment size {segment_size} is outside "
                        f"{MIN_SEGMENT_SIZE}..{MAX_SEGMENT_SIZE}",
                        f"分段大小 {segment_size} 超出 {MIN_SEGMENT_SIZE}..{MAX_SEGMENT_SIZE}")
    nonce_prefix = _b64(_field(header, "nonce_prefix", str), "nonce_prefix")
    if len(nonce_prefix) != NONCE_PREFIX_LENGTH:
        raise malformed("nonce_prefix must be 7 bytes", "nonce_prefix 必须为 7 字节")
    mode = _supported("key_mode", header.get("key_mode"), KEY_MODES)
    lot = header.get("lot")
    if lot is not None and not isinstance(lot, str):
        raise malformed("the lot must be a string or null", "标段必须是字符串或 null")
    bidder = _field(header, "bidder", dict)
    raw = PREFIX.pack(magic, version, length) + body
    return SealedHeader(
        version=version, tender=_field(header, "tender", str), lot=lot,
        bidder_certificate_sha256=_hex64(bidder.get("certificate_sha256"), "certificate_sha256"),
        algorithms={name: str(algorithms[name]) for name in ALGORITHMS},
        segment_size=segment_size, nonce_prefix=nonce_prefix, key_mode=mode,  # type: ignore[arg-type]
        key_commitment=_hex64(header.get("key_commitment"), "key_commitment"),
        wraps=_wraps(header.get("wraps")),
        raw=raw, sha256=hashlib.sha256(raw).digest(),
    )
