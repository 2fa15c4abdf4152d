"""The receipts log service on the real database: appends, heads, proofs, the API and the CLI.

Proofs read from the database must equal those signing.merkle computes from the same leaves in
memory, and verify with its verifiers; `ebid log verify` checks them offline.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
from collections.abc import Callable, Iterator
from contextlib import redirect_stdout
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.testclient import TestClient
from tortoise.transactions import in_transaction

from kernel.audit.models import AuditEvent
from kernel.clock import FixedClock
from kernel.errors import InvalidInput
from kernel.settings import Settings
from signing import keys, log, merkle
from signing.api import api_routes
from signing.cli_log import verify_main
from signing.models import HeadReason, LogEntry, LogNode
from signing.receipts import entry_data, verify_receipt
from signing.tree_head import SignedTreeHead, verify_tree_head

Run = Callable[..., Any]
N = 37  # crosses several powers of two, so the right edge is ragged at most sizes
SIZES = (1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 32, 33, N)


def data(i: int) -> bytes:
    return hashlib.sha256(f"entry {i}".encode()).digest()


async def append_each(ctx: Any, items: list[bytes], **kwargs: Any) -> list[tuple[int, int]]:
    """Each entry in its own transaction, as the submission service would."""
    placed = []
    for item in items:
        async with in_transaction():
            placed.append(await log.append(ctx, leaf=item, **kwargs))
    return placed


async def issue(ctx: Any, *, tender_id: int = 42, n: int = 0) -> log.IssuedReceipt:
    async with in_transaction():
        return await log.issue_receipt(
            ctx, tender_id=tender_id, lot=1, certificate_sha256="ab" * 32,
            package_sha256=hashlib.sha256(f"package {n}".encode()).hexdigest(),
            received_at=ctx.clock.now(),
        )


def leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(data(i)) for i in range(n)]


@pytest.fixture
def filled(run: Run, ctx: Any) -> list[bytes]:
    """N entries and a periodic head over them; the leaf hashes."""
    assert run(append_each, ctx, [data(i) for i in range(N)]) == [
        (i, i + 1) for i in range(N)
    ]
    run(log.publish_head, ctx, reason="periodic")
    return leaves(N)


def log_public_key(ctx: Any) -> Any:
    return keys.load(ctx.settings, now=ctx.clock.now()).log.public_key()


# Appending.

def test_appends_fill_the_node_cache_and_the_state(run: Run, ctx: Any, filled: list[bytes]) -> None:
    rows = run(LogNode.all)
    assert len(rows) == 2 * N - N.bit_count()  # every perfect subtree completed, once
    by_node = {merkle.Node(row.level, row.index): bytes(row.hash) for row in rows}
    assert by_node[merkle.Node(5, 0)] == merkle.root(filled[:32])
    assert [bytes(e.leaf_hash) for e in run(LogEntry.all().order_by, "index")] == filled


def test_receipts_issued_in_batches_build_the_tree_one_at_a_time_would(
    run: Run, ctx: Any
) -> None:
    """issue_receipts (group commit) under one lock: the same gapless indexes, subtree cache
    and root as appending each receipt alone, across batches of ragged sizes."""

    async def batch(first: int, count: int) -> list[log.IssuedReceipt]:
        async with in_transaction():
            return await log.issue_receipts(ctx, [
                log.ReceiptRequest(
                    tender_id=42, lot=1, certificate_sha256="ab" * 32,
                    package_sha256=hashlib.sha256(f"package {n}".encode()).hexdigest(),
                    received_at=ctx.clock.now(),
                ) for n in range(first, first + count)
            ])

    issued = []
    for first, count in ((0, 1), (1, 6), (7, 2), (9, 12)):
        issued += run(batch, first, count)
    assert [r.index for r in issued] == list(range(21))
    assert [(r.receipt.log_index, r.receipt.tree_size) for r in issued] == [
        (n, n + 1) for n in range(21)]
    expected = [merkle.leaf_hash(entry_data(r.der)) for r in issued]
    assert [bytes(e.leaf_hash) for e in run(LogEntry.all().order_by, "index")] == expected
    assert len(run(LogNode.all)) == 2 * 21 - (21).bit_count()
    run(log.publish_head, ctx, reason="periodic")
    head = log.signed_tree_head(run(log.latest_head, ctx))
    assert (head.head.tree_size, head.head.root_hash) == (21, merkle.root(expected))
    for index in (0, 6, 7, 20):
        proof = run(log.inclusion, ctx, index=index, tree_size=21)
        assert merkle.verify_inclusion(expected[index], index, 21, proof, merkle.root(expected))


def test_append_needs_the_callers_transaction(run: Run, ctx: Any) -> None:
    with pytest.raises(RuntimeError, match="inside the caller's transaction"):
        run(log.append, ctx, leaf=data(0))


def test_a_rolled_back_append_leaves_no_trace(run: Run, ctx: Any) -> None:
    async def append_then_fail() -> None:
        async with in_transaction():
            await log.append(ctx, leaf=data(0))
            raise LookupError("the bid was refused after all")

    run(append_each, ctx, [data(0)])
    with pytest.raises(LookupError):
        run(append_then_fail)
    assert run(append_each, ctx, [data(1)]) == [(1, 2)]
    assert run(LogEntry.all().count) == 2
    run(log.publish_head, ctx, reason="periodic")
    head = run(log.latest_head, ctx)
    assert bytes(head.root_hash) == merkle.root(leaves(2))


def test_concurrent_appends_get_a_gapless_sequence(
    run: Run, ctx: Any, database_url: str
) -> None:
    if not database_url.startswith(("postgres://", "postgresql://")):
        pytest.skip("row locks need PostgreSQL: set EBID_TEST_DATABASE_URL=postgres://...")
    items = [data(i) for i in range(60)]

    async def one(item: bytes) -> tuple[int, int]:
        async with in_transaction():
            placed = await log.append(ctx, leaf=item)
            await asyncio.sleep(0)  # let the others queue on the lock
            return placed

    async def storm() -> list[tuple[int, int]]:
        return await asyncio.gather(*(one(item) for item in items))

    placed = run(storm)
    assert sorted(placed) == [(i, i + 1) for i in range(60)]
    order = sorted(range(60), key=lambda k: placed[k][0])  # which item got which index
    run(log.publish_head, ctx, reason="periodic")
    head = run(log.latest_head, ctx)
    assert bytes(head.root_hash) == merkle.root([merkle.leaf_hash(items[k]) for k in order])


# Heads.

def test_the_head_signs_the_root_of_the_same_leaves(
    run: Run, ctx: Any, filled: list[bytes]
) -> None:
    row = run(log.latest_head, ctx)
    signed = log.signed_tree_head(row)
    assert (signed.head.tree_size, signed.head.root_hash) == (N, merkle.root(filled))
    assert signed.head.issued_at == ctx.clock.now()
    assert verify_tree_head(signed, log_public_key(ctx))
    assert row.reason is HeadReason.PERIODIC


def test_a_periodic_head_is_skipped_when_nothing_changed_a_deadline_head_is_not(
    run: Run, ctx: Any, clock: FixedClock, filled: list[bytes]
) -> None:
    first = run(log.latest_head, ctx)
    clock.advance(minutes=5)
    assert run(log.publish_head, ctx, reason="periodic").id == first.id
    deadline = run(log.publish_head, ctx, reason="deadline", tender_id=42)
    assert deadline.id != first.id and deadline.tree_size == N
    assert run(log.tender_head, ctx, tender_id=42, reason="deadline").id == deadline.id
    assert run(log.tender_head, ctx, tender_id=42, reason="opening") is None
    assert [h.id for h in run(log.heads, ctx, limit=5)] == [deadline.id, first.id]
    events = run(AuditEvent.filter(action="signing:log_head:published").order_by, "seq")
    assert [(e.scope, e.detail["reason"]) for e in events] == [
        ("", "periodic"), ("tender:42", "deadline")
    ]


def test_the_first_head_is_of_the_empty_log(run: Run, ctx: Any) -> None:
    row = run(log.publish_head, ctx, reason="periodic")
    assert (row.tree_size, bytes(row.root_hash)) == (0, merkle.EMPTY_ROOT)


def test_heads_are_published_from_committed_state_only(run: Run, ctx: Any) -> None:
    async def inside() -> None:
        async with in_transaction():
            await log.publish_head(ctx, reason="periodic")

    with pytest.raises(RuntimeError, match="after the commit"):
        run(inside)


def test_the_log_key_is_ed25519_in_its_own_0600_file(run: Run, ctx: Any) -> None:
    run(log.publish_head, ctx, reason="periodic")
    path = ctx.settings.key_dir / keys.LOG_KEY_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    platform = keys.load(ctx.settings, now=ctx.clock.now())
    assert keys.public_pem(platform.log) != keys.public_pem(platform.receipt.key)


# Proofs.

def test_inclusion_proofs_from_the_database_match_and_verify(
    run: Run, ctx: Any, filled: list[bytes]
) -> None:
    for size in SIZES:
        root = merkle.root(filled[:size])
        for index in range(size):
            proof = run(log.inclusion, ctx, index=index, tree_size=size)
            assert proof == merkle.inclusion_proof(filled[:size], index), (index, size)
            assert merkle.verify_inclusion(filled[index], index, size, proof, root)


def test_consistency_proofs_from_the_database_match_and_verify(
    run: Run, ctx: Any, filled: list[bytes]
) -> None:
    for new in SIZES:
        for old in range(new + 1):
            proof = run(log.consistency, ctx, old_size=old, new_size=new)
            assert proof == merkle.consistency_proof(filled[:new], old), (old, new)
            assert merkle.verify_consistency(
                old, new, merkle.root(filled[:old]), merkle.root(filled[:new]), proof
            )


def test_proofs_stop_at_the_latest_signed_head(
    run: Run, ctx: Any, filled: list[bytes]
) -> None:
    run(append_each, ctx, [data(N)])  # committed, but no head shows it yet
    with pytest.raises(InvalidInput, match="latest signed head's size, 37"):
        run(log.inclusion, ctx, index=N, tree_size=N + 1)
    with pytest.raises(InvalidInput, match="second"):
        run(log.consistency, ctx, old_size=1, new_size=N + 1)
    with pytest.raises(InvalidInput, match="index"):
        run(log.inclusion, ctx, index=N, tree_size=N)
    with pytest.raises(InvalidInput, match="first"):
        run(log.consistency, ctx, old_size=5, new_size=4)


def test_no_proof_before_the_first_head(run: Run, ctx: Any) -> None:
    run(append_each, ctx, [data(0)])
    with pytest.raises(log.NoSignedHead):
        run(log.inclusion, ctx, index=0, tree_size=1)


# Receipts in the log.

def test_an_issued_receipt_names_its_place_and_its_hash_is_the_entry(run: Run, ctx: Any) -> None:
    run(append_each, ctx, [data(0), data(1)])
    issued = run(issue, ctx)
    assert (issued.index, issued.tree_size) == (2, 3)
    assert (issued.receipt.log_index, issued.receipt.tree_size) == (2, 3)
    platform = keys.load(ctx.settings, now=ctx.clock.now()).receipt
    assert verify_receipt(issued.der, [platform.certificate]) == issued.receipt
    entry = run(LogEntry.get, index=2)
    assert bytes(entry.receipt) == issued.der
    assert bytes(entry.leaf_hash) == merkle.leaf_hash(entry_data(issued.der))
    assert entry.tender_id == 42


def test_a_receipts_fields_are_shown_from_what_was_issued_or_read_from_its_bytes(
    run: Run, ctx: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = [run(issue, ctx, n=n) for n in range(3)]
    assert [log.receipt_fields(i.der) for i in issued] == [i.receipt for i in issued]
    monkeypatch.setattr(log, "_issued", {})  # another process, or a receipt read back
    assert [log.receipt_fields(i.der) for i in issued] == [i.receipt for i in issued]
    # Only the latest are kept.
    monkeypatch.setattr(log, "_ISSUED_KEPT", 2)
    run(issue, ctx, n=9)
    run(issue, ctx, n=10)
    assert len(log._issued) == 2


def test_a_tenders_entries_are_found_by_tender(run: Run, ctx: Any) -> None:
    mine = [run(issue, ctx, tender_id=7, n=n) for n in range(2)]
    run(issue, ctx, tender_id=8, n=9)
    run(append_each, ctx, [data(0)])
    entries = run(log.tender_entries, ctx, tender_id=7)
    assert [(e.index, bytes(e.receipt)) for e in entries] == [(r.index, r.der) for r in mine]


# The API.

@pytest.fixture
def api(client: TestClient) -> TestClient:
    """The conftest app, with the log routes added the way ebid/app.py will add them."""
    client.app.router.routes[:0] = api_routes  # type: ignore[attr-defined]
    return client


def test_the_api_serves_heads(api: TestClient, run: Run, ctx: Any, clock: FixedClock) -> None:
    assert api.get("/api/v1/log/heads/latest").json()["error"] == "no_signed_head"
    run(append_each, ctx, [data(0)])
    run(log.publish_head, ctx, reason="periodic")
    clock.advance(minutes=1)
    run(log.publish_head, ctx, reason="deadline", tender_id=42)
    latest = api.get("/api/v1/log/heads/latest")
    assert latest.status_code == 200
    head = SignedTreeHead.from_dict(latest.json())
    assert verify_tree_head(head, log_public_key(ctx))
    listed = api.get("/api/v1/log/heads", params={"limit": 1}).json()["items"]
    assert listed == [{"reason": "deadline", "head": latest.json()}]
    assert len(api.get("/api/v1/log/heads").json()["items"]) == 2
    # The tender the head was published for stays unsaid: no field names it and no value is its
    # id. (Searching the text for "42" failed whenever the random signature contained it.)
    # (from_dict above already refused any field beyond the head's own.)
    assert "tender" not in json.dumps(listed)
    assert 42 not in latest.json().values() and "42" not in latest.json().values()


def test_the_api_serves_proofs(api: TestClient, run: Run, filled: list[bytes]) -> None:
    answer = api.get("/api/v1/log/proof/inclusion", params={"index": 5, "tree_size": 17})
    assert answer.status_code == 200
    body = answer.json()
    assert body["leaf_index"] == 5 and body["tree_size"] == 17
    path = [base64.b64decode(h) for h in body["audit_path"]]
    assert merkle.verify_inclusion(filled[5], 5, 17, path, merkle.root(filled[:17]))
    answer = api.get("/api/v1/log/proof/consistency", params={"first": 9, "second": N})
    body = answer.json()
    assert (body["first"], body["second"]) == (9, N)
    proof = [base64.b64decode(h) for h in body["consistency"]]
    assert merkle.verify_consistency(9, N, merkle.root(filled[:9]), merkle.root(filled), proof)


@pytest.mark.parametrize(("path", "params", "field"), [
    ("/api/v1/log/proof/inclusion", {"tree_size": 3}, "index"),
    ("/api/v1/log/proof/inclusion", {"index": "x", "tree_size": 3}, "index"),
    ("/api/v1/log/proof/inclusion", {"index": "-1", "tree_size": 3}, "index"),
    ("/api/v1/log/proof/inclusion", {"index": 0, "tree_size": 2**63}, "tree_size"),
    ("/api/v1/log/proof/inclusion", {"index": 0, "tree_size": N + 1}, "tree_size"),
    ("/api/v1/log/proof/inclusion", {"index": 3, "tree_size": 3}, "index"),
    ("/api/v1/log/proof/inclusion", {"index": "１", "tree_size": 3}, "index"),
    ("/api/v1/log/proof/consistency", {"first": 1}, "second"),
    ("/api/v1/log/proof/consistency", {"first": 4, "second": 3}, "first"),
    ("/api/v1/log/proof/consistency", {"first": 1, "second": N + 1}, "second"),
    ("/api/v1/log/heads", {"limit": 0}, "limit"),
    ("/api/v1/log/heads", {"limit": 1001}, "limit"),
])
def test_bad_parameters_get_400_with_the_reason(
    api: TestClient, filled: list[bytes], path: str, params: dict[str, Any], field: str
) -> None:
    answer = api.get(path, params={**params, "lang": "en"})
    assert answer.status_code == 400
    body = answer.json()
    assert body["error"] == "invalid_input"
    assert body["message"].startswith(f"Invalid input: {field}: ")


def test_the_routes_are_documented_in_openapi(api: TestClient) -> None:
    paths = api.get("/api/openapi.json").json()["paths"]
    for route in api_routes:
        operation = paths[route.path]["get"]
        assert operation["security"] == [] and operation["tags"] == ["log"]
        assert operation["responses"]


# `ebid log verify`.

@pytest.fixture
def files(run: Run, ctx: Any, clock: FixedClock, api: TestClient,
          tmp_path: Path) -> Iterator[dict[str, Path]]:
    """A receipt, an old head, a new head, the proofs and the log key, as files."""
    run(append_each, ctx, [data(i) for i in range(5)])
    run(log.publish_head, ctx, reason="periodic")
    old = api.get("/api/v1/log/heads/latest").json()
    issued = run(issue, ctx)
    run(append_each, ctx, [data(i) for i in range(5, 12)])
    clock.advance(minutes=10)
    run(log.publish_head, ctx, reason="deadline", tender_id=42)
    new = api.get("/api/v1/log/heads").json()["items"][0]  # the list's form works too
    inclusion = api.get("/api/v1/log/proof/inclusion",
                        params={"index": issued.index, "tree_size": 13}).json()
    consistency = api.get("/api/v1/log/proof/consistency",
                          params={"first": old["tree_size"], "second": 13}).json()
    platform = keys.load(ctx.settings, now=ctx.clock.now())
    paths = {
        "receipt": (tmp_path / "r.der", issued.der),
        "head": (tmp_path / "h.json", json.dumps(new).encode()),
        "old_head": (tmp_path / "old.json", json.dumps(old).encode()),
        "inclusion": (tmp_path / "inclusion.json", json.dumps(inclusion).encode()),
        "consistency": (tmp_path / "consistency.json", json.dumps(consistency).encode()),
        "log_key": (tmp_path / "log.pem", keys.public_pem(platform.log)),
        "cert": (tmp_path / "platform.pem", (ctx.settings.key_dir / keys.RECEIPT_CERT_FILE)
                 .read_bytes()),
    }
    for path, content in paths.values():
        path.write_bytes(content)
    yield {name: path for name, (path, _) in paths.items()}


def verify(files: dict[str, Path], *extra: str, **replace: Path) -> tuple[int, str]:
    f = {**files, **replace}
    argv = ["--receipt", str(f["receipt"]), "--head", str(f["head"]),
            "--proof", str(f["inclusion"]), "--log-key", str(f["log_key"]), *extra]
    out = io.StringIO()
    with redirect_stdout(out):
        status = verify_main(argv)
    return status, out.getvalue()


def test_cli_verifies_receipt_inclusion_heads_and_consistency(files: dict[str, Path]) -> None:
    status, out = verify(files, "--old-head", str(files["old_head"]),
                         "--proof", str(files["consistency"]),
                         "--platform-cert", str(files["cert"]))
    assert status == 0, out
    assert "OK    receipt signed by the platform certificate" in out
    assert "OK    receipt is entry 5 of the head's tree of 13" in out
    assert "OK    the head (13) extends the old head (5)" in out
    assert out.rstrip().endswith("OK")


def test_cli_without_platform_certificate_says_what_it_did_not_check(
    files: dict[str, Path]
) -> None:
    status, out = verify(files)
    assert status == 0, out
    assert "give --platform-cert" in out


def test_cli_refuses_a_forged_head(files: dict[str, Path], tmp_path: Path) -> None:
    head = json.loads(files["head"].read_text())["head"]
    head["sha256_root_hash"] = base64.b64encode(b"\x00" * 32).decode()
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(head))
    status, out = verify(files, head=forged)
    assert status == 1
    assert "FAIL  head signature (tree size 13" in out
    assert "FAIL  inclusion" in out
    assert out.rstrip().endswith("FAILED")


def test_cli_refuses_another_log_key(files: dict[str, Path], tmp_path: Path) -> None:
    other = tmp_path / "other.pem"
    other.write_bytes(keys.public_pem(Ed25519PrivateKey.generate()))
    status, out = verify(files, log_key=other)
    assert status == 1 and "not signed by this log key" in out


def test_cli_refuses_a_changed_receipt(files: dict[str, Path], tmp_path: Path) -> None:
    forged = tmp_path / "forged.der"
    forged.write_bytes(files["receipt"].read_bytes().replace(b'"lot":1', b'"lot":2'))
    status, out = verify(files, receipt=forged)
    assert status == 1 and "FAIL  receipt: The receipt is invalid" in out


def test_cli_refuses_a_receipt_by_another_platform(files: dict[str, Path], tmp_path: Path) -> None:
    other = keys.load(Settings(data_dir=tmp_path / "elsewhere"), now=datetime.now(UTC))
    cert = tmp_path / "other.pem"
    cert.write_bytes(other.receipt.certificate.public_bytes(serialization.Encoding.PEM))
    status, out = verify(files, "--platform-cert", str(cert))
    assert status == 1
    assert "FAIL  receipt: The receipt is invalid: The certificate CN=ebid platform receipts" in out
    assert "unknown issuer" in out


def test_cli_refuses_inconsistent_heads(files: dict[str, Path], tmp_path: Path) -> None:
    consistency = json.loads(files["consistency"].read_text())
    consistency["consistency"] = [base64.b64encode(b"\x01" * 32).decode()] * len(
        consistency["consistency"]
    )
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(consistency))
    status, out = verify(files, "--old-head", str(files["old_head"]), "--proof", str(forged))
    assert status == 1 and "does not extend the old head" in out


def test_cli_needs_the_consistency_proof_with_an_old_head(files: dict[str, Path]) -> None:
    status, out = verify(files, "--old-head", str(files["old_head"]))
    assert status == 1 and "no consistency list" in out


def test_cli_refuses_a_proof_for_another_entry(files: dict[str, Path], tmp_path: Path) -> None:
    inclusion = json.loads(files["inclusion"].read_text())
    inclusion["leaf_index"] = 4
    other = tmp_path / "other.json"
    other.write_text(json.dumps(inclusion))
    status, out = verify(files, inclusion=other)
    assert status == 1 and "the proof is for entry 4, the receipt names 5" in out


def test_cli_reports_unreadable_files(files: dict[str, Path], tmp_path: Path) -> None:
    status, out = verify(files, head=tmp_path / "missing.json")
    assert status == 1 and "cannot read" in out


def test_the_receipt_keeps_the_instant_to_the_microsecond(
    run: Run, ctx: Any, clock: FixedClock
) -> None:
    clock.advance(seconds=1, microseconds=250)
    issued = run(issue, ctx)
    assert issued.receipt.received_at == clock.now()
    assert issued.receipt.to_dict()["received_at"] == "2026-03-02T01:00:01.000250Z"
