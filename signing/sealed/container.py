"""The plaintext inside the segments: a stream of named entries, ``ebid-entries-v1``.

    entry    kind u8 | name_len u16 | name (UTF-8) | chunk* | 00 00 00 00
    chunk    length u32 (1..1 MiB) | bytes
    end      kind 0x00, and nothing after it

Kinds: 0x01 a bid file, 0x02 the manifest (JSON), 0x03 the manifest's detached CMS signature,
0x00 the end. Files come first, so a sealer reads each file once, hashing it as it encrypts it;
the manifest, which names every file's SHA-256, follows them. Chunked bodies mean no length
has to be known in advance, and an opener never holds more than one chunk.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Iterator
from typing import BinaryIO, Protocol

from signing.sealed.format import malformed

END, FILE, MANIFEST, MANIFEST_SIGNATURE = 0x00, 0x01, 0x02, 0x03
KIND_NAMES = {END: "end", FILE: "file", MANIFEST: "manifest",
              MANIFEST_SIGNATURE: "manifest signature"}
ENTRY = struct.Struct(">BH")
NAME_LENGTH = struct.Struct(">H")
CHUNK = struct.Struct(">I")
READ_SIZE = 64 << 10
MAX_CHUNK = 1 << 20
MAX_NAME_BYTES = 255
MAX_FILES = 10_000
MAX_MANIFEST = 16 << 20
MAX_MANIFEST_SIGNATURE = 1 << 20
_FORBIDDEN = set("/\\") | {chr(c) for c in range(0x20)} | {"\x7f"}


# What an opener hands on: a memoryview into the decrypted segment where a chunk lies within
# one segment (the usual case, no copy), else the bytes joined across two segments.
Chunk = bytes | bytearray | memoryview


class Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...


class Source(Protocol):
    def read_exact(self, length: int) -> Chunk: ...


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a bid file (it becomes a file name at the opening), or None."""
    encoded = name.encode("utf-8", "surrogatepass")
    if not 0 < len(encoded) <= MAX_NAME_BYTES:
        return f"a file name must be 1 to {MAX_NAME_BYTES} bytes of UTF-8"
    if name in (".", "..") or any(c in _FORBIDDEN for c in name):
        return f"the file name {name!r} holds a path separator or a control character"
    return None


class EntryWriter:
    """Writes entries into ``sink`` (the segment encryptor)."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    def _open(self, kind: int, name: str) -> None:
        encoded = name.encode("utf-8")
        self.sink.write(ENTRY.pack(kind, len(encoded)) + encoded)

    def file(self, name: str, stream: BinaryIO) -> tuple[int, str]:
        """Copy ``stream`` in bounded chunks; return its size and SHA-256 (hex)."""
        problem = name_problem(name)
        if problem is not None:
            raise ValueError(problem)
        self._open(FILE, name)
        digest, size = hashlib.sha256(), 0
        while chunk := stream.read(READ_SIZE):
            digest.update(chunk)
            size += len(chunk)
            self.sink.write(CHUNK.pack(len(chunk)) + chunk)
        self.sink.write(CHUNK.pack(0))
        return size, digest.hexdigest()

    def blob(self, kind: int, data: bytes) -> None:
        self._open(kind, "")
        for start in range(0, len(data), MAX_CHUNK):
            piece = data[start:start + MAX_CHUNK]
            self.sink.write(CHUNK.pack(len(piece)) + piece)
        self.sink.write(CHUNK.pack(0))

    def end(self) -> None:
        self.sink.write(bytes([END]))


class EntryReader:
    """Reads entries back from ``source``, refusing anything the writer would not write."""

    def __init__(self, source: Source) -> None:
        self.source = source

    def next_entry(self) -> tuple[int, str]:
        kind = self.source.read_exact(1)[0]
        if kind == END:
            return END, ""
        (length,) = NAME_LENGTH.unpack(self.source.read_exact(NAME_LENGTH.size))
        return kind, self._name(kind, length)

    def _name(self, kind: int, length: int) -> str:
        if kind not in KIND_NAMES:
            raise malformed(f"unknown entry kind {kind}", f"未知的条目类型 {kind}")
        raw = self.source.read_exact(length)
        try:
            name = bytes(raw).decode("utf-8")
        except UnicodeDecodeError as error:
            raise malformed("an entry name is not UTF-8", "条目名称不是 UTF-8") from error
        problem = name_problem(name) if kind == FILE else (
            None if name == "" else "only files have names")
        if problem is not None:
            raise malformed(problem, f"条目名称不合规：{name!r}")
        return name

    def chunks(self) -> Iterator[Chunk]:
        """Each chunk of the current entry: valid only until the next one is asked for (it may
        be a view into a buffer the source reuses)."""
        while True:
            (length,) = CHUNK.unpack(self.source.read_exact(CHUNK.size))
            if length == 0:
                return
            if length > MAX_CHUNK:
                raise malformed(f"a chunk of {length} bytes exceeds {MAX_CHUNK}",
                                f"数据块长 {length} 字节，超过上限 {MAX_CHUNK}")
            yield self.source.read_exact(length)

    def blob(self, limit: int, what: str) -> bytes:
        data = bytearray()
        for chunk in self.chunks():
            data += chunk
            if len(data) > limit:
                raise malformed(f"the {what} exceeds {limit} bytes", f"{what} 超过 {limit} 字节")
        return bytes(data)

    def copy(self, write: Callable[[Chunk], object]) -> tuple[int, str]:
        """Hash and hand on each chunk of the current entry; ``write`` must not keep a chunk
        beyond the call (a file's write copies it)."""
        digest, size = hashlib.sha256(), 0
        for chunk in self.chunks():
            digest.update(chunk)
            size += len(chunk)
            write(chunk)
        return size, digest.hexdigest()
