from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest
from starlette.datastructures import UploadFile

from kernel.errors import PayloadTooLarge
from kernel.storage import BlobStore, StoredBlob

MIB = 1024 * 1024


def stored_files(root: Path) -> list[Path]:
    """Every file in the store proper (not under .tmp)."""
    return sorted(
        p for p in root.rglob("*") if p.is_file() and ".tmp" not in p.relative_to(root).parts
    )


def temp_files(root: Path) -> list[Path]:
    tmp = root / ".tmp"
    return sorted(tmp.iterdir()) if tmp.exists() else []


async def chunked(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        await anyio.lowlevel.checkpoint()
        yield part


def test_round_trip(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    data = b"%PDF-1.7 tender document"
    digest = hashlib.sha256(data).hexdigest()

    blob = anyio.run(lambda: store.put_bytes(data))

    assert blob == StoredBlob(sha256=digest, size=len(data), path=store.path_for(digest))
    assert blob.path == tmp_path / "blobs" / digest[:2] / digest[2:4] / digest
    assert blob.path.read_bytes() == data
    assert store.exists(digest)
    with store.open(digest) as f:
        assert f.read() == data
    assert store.verify(digest)
    assert temp_files(store.root) == []


def test_stream_round_trip_across_write_batches(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    parts = [bytes([i]) * (300 * 1024) for i in range(10)]  # ~3 MiB, several thread hops
    data = b"".join(parts)

    blob = anyio.run(lambda: store.put_stream(chunked(*parts), max_bytes=len(data)))

    assert blob.sha256 == hashlib.sha256(data).hexdigest()
    assert blob.size == len(data)
    assert blob.path.read_bytes() == data
    assert stored_files(tmp_path) == [blob.path]
    assert temp_files(tmp_path) == []


def test_same_content_is_stored_once(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = b"standard bid form"

    async def main() -> list[StoredBlob]:
        first = await store.put_bytes(data)
        second = await store.put_stream(chunked(data[:5], data[5:]), max_bytes=100)
        results: list[StoredBlob] = [first, second]

        async def put() -> None:
            results.append(await store.put_bytes(data))

        async with anyio.create_task_group() as tg:  # concurrent uploads of the same bytes
            for _ in range(5):
                tg.start_soon(put)
        return results

    results = anyio.run(main)

    assert len({(b.sha256, b.size, b.path) for b in results}) == 1
    assert stored_files(tmp_path) == [results[0].path]
    assert results[0].path.read_bytes() == data
    assert temp_files(tmp_path) == []


def test_different_content_gets_different_blobs(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    a = anyio.run(lambda: store.put_bytes(b"bid A"))
    b = anyio.run(lambda: store.put_bytes(b"bid B"))
    assert a.sha256 != b.sha256
    assert stored_files(tmp_path) == sorted([a.path, b.path])


def test_exactly_max_bytes_is_accepted(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    blob = anyio.run(lambda: store.put_stream(chunked(b"12345", b"67890"), max_bytes=10))
    assert blob.size == 10


def test_size_limit_raises_and_leaves_nothing(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    read: list[int] = []

    async def source() -> AsyncIterator[bytes]:
        for i in range(100):
            read.append(i)
            yield b"x" * (512 * 1024)

    limit = 2 * MIB
    with pytest.raises(PayloadTooLarge) as excinfo:
        anyio.run(lambda: store.put_stream(source(), max_bytes=limit))

    assert excinfo.value.status_code == 413
    assert excinfo.value.params == {"limit_mb": 2}
    assert "2 MB" in excinfo.value.message("en")
    assert len(read) == 5  # stopped reading right after the chunk that crossed the limit
    assert temp_files(tmp_path) == []
    assert stored_files(tmp_path) == []


def test_put_bytes_size_limit(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    with pytest.raises(PayloadTooLarge):
        anyio.run(lambda: store.put_bytes(b"x" * 11, max_bytes=10))
    assert temp_files(tmp_path) == []
    assert stored_files(tmp_path) == []


def test_source_error_midway_leaves_nothing(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)

    async def source() -> AsyncIterator[bytes]:
        for _ in range(3):  # 1.5 MiB: at least one batch already written to the temp file
            yield b"y" * (512 * 1024)
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        anyio.run(lambda: store.put_stream(source(), max_bytes=10 * MIB))

    assert (tmp_path / ".tmp").is_dir()  # the temp file did exist ...
    assert temp_files(tmp_path) == []  # ... and is gone
    assert stored_files(tmp_path) == []


def test_cancellation_midway_leaves_nothing(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)

    async def source() -> AsyncIterator[bytes]:
        yield b"z" * (2 * MIB)
        await anyio.sleep_forever()
        yield b""  # pragma: no cover

    async def main() -> None:
        with anyio.move_on_after(0.5):
            await store.put_stream(source(), max_bytes=10 * MIB)

    anyio.run(main)

    assert temp_files(tmp_path) == []
    assert stored_files(tmp_path) == []


def test_put_upload(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = bytes(range(256)) * 4096  # 1 MiB, several read chunks
    upload = UploadFile(io.BytesIO(data), size=len(data), filename="bid.pdf")

    async def main() -> StoredBlob:
        await upload.read(10)  # someone peeked at the magic bytes: still stores it all
        return await store.put_upload(upload, max_bytes=len(data))

    blob = anyio.run(main)
    assert blob.sha256 == hashlib.sha256(data).hexdigest()
    assert blob.size == len(data)
    assert store.verify(blob.sha256)


@pytest.mark.parametrize("declared_size", [None, 11])
def test_put_upload_size_limit(tmp_path: Path, declared_size: int | None) -> None:
    store = BlobStore(tmp_path)
    upload = UploadFile(io.BytesIO(b"x" * 11), size=declared_size, filename="big.pdf")
    with pytest.raises(PayloadTooLarge):
        anyio.run(lambda: store.put_upload(upload, max_bytes=10))
    assert temp_files(tmp_path) == []
    assert stored_files(tmp_path) == []


GOOD = hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "../../etc/passwd",
        "../" * 21 + "a",
        "/etc/passwd",
        GOOD[:63],
        GOOD + "0",
        GOOD[:62] + "/x",
        GOOD[:60] + "/../",
        GOOD[:63] + "\n",
        GOOD + "\n",
        GOOD.upper(),
        "g" * 64,
        " " + GOOD[1:],
        GOOD[:63] + "\x00",
    ],
)
def test_bad_digest_is_refused(tmp_path: Path, bad: str) -> None:
    store = BlobStore(tmp_path)
    with pytest.raises(ValueError):
        store.path_for(bad)
    with pytest.raises(ValueError):
        store.exists(bad)
    with pytest.raises(ValueError):
        store.open(bad)
    with pytest.raises(ValueError):
        store.verify(bad)


def test_non_string_digest_is_refused(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    with pytest.raises(ValueError):
        store.path_for(GOOD.encode())  # type: ignore[arg-type]


def test_path_for_stays_inside_root(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    path = store.path_for(GOOD)
    assert path.resolve().is_relative_to(tmp_path.resolve())
    assert path.relative_to(tmp_path).parts == (GOOD[:2], GOOD[2:4], GOOD)


def test_missing_blob(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    assert not store.exists(GOOD)
    assert not store.verify(GOOD)
    with pytest.raises(FileNotFoundError):
        store.open(GOOD)


def test_verify_detects_corruption(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    blob = anyio.run(lambda: store.put_bytes(b"sealed bid: 1,000,000.00"))
    assert store.verify(blob.sha256)

    blob.path.write_bytes(b"sealed bid: 9,000,000.00")
    assert not store.verify(blob.sha256)

    blob.path.write_bytes(b"sealed bid: 1,000,000.00")  # restored: verifies again
    assert store.verify(blob.sha256)

    blob.path.write_bytes(b"sealed bid: 1,000,000.0")  # truncated
    assert not store.verify(blob.sha256)


def test_a_checked_file_is_linked_into_the_store_not_copied(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    received = tmp_path / "incoming.sealed"
    data = b"sealed package " * 1000
    received.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    blob = anyio.run(lambda: store.put_file(received, sha256=digest, size=len(data)))
    assert blob.path == store.path_for(digest) and blob.size == len(data)
    assert blob.path.stat().st_ino == received.stat().st_ino  # one set of bytes on disk
    received.unlink()  # the caller's name goes; the blob stays
    assert store.verify(digest)
    # Storing the same bytes again keeps the blob already there.
    again = tmp_path / "again.sealed"
    again.write_bytes(data)
    assert anyio.run(lambda: store.put_file(again, sha256=digest, size=len(data))).path == blob.path
    assert not store.tmp_dir.exists() or not list(store.tmp_dir.iterdir())  # no stray file
