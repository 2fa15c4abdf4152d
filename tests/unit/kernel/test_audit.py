"""The audit chain: recording, and verify catching what an intruder does to the rows.

Runs on a temporary SQLite file, and on PostgreSQL too when EBID_TEST_DATABASE_URL names one
(in a schema of its own, dropped afterwards). Each test drives its coroutine with asyncio.run.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import hmac
import json
import os
import stat
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from tortoise import Tortoise
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.transactions import in_transaction

from kernel import db
from kernel.accounts.actor import SYSTEM, Actor
from kernel.accounts.models import Role
from kernel.audit import chain
from kernel.audit.chain import AuditLog, canonical_hash, events_for
from kernel.audit.models import AuditEvent, AuditHead
from kernel.settings import Settings

PG_URL = os.environ.get("EBID_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite", *(["postgres"] if PG_URL.startswith("postgres") else [])]
APPS = {"kernel": ["kernel.accounts.models", "kernel.audit.models"]}
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
CLERK = Actor(user_id=7, username="clerk", role=next(iter(Role)))

Body = Callable[[AuditLog], Awaitable[None]]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def run(backend: str, tmp_path: Path, body: Body) -> None:
    """Run ``body`` against a fresh database and a fresh data directory (keys, checkpoints)."""

    async def main() -> None:
        schema = f"audit_test_{os.getpid()}"
        if backend == "postgres":
            url = PG_URL + ("&" if "?" in PG_URL else "?") + f"schema={schema}"
        else:
            url = f"sqlite://{tmp_path / 'audit.sqlite3'}"
        # Tortoise caches each model's INSERT by connection name, not dialect: a SQLite
        # statement ("?") would be sent to PostgreSQL when both run in one process.
        EXECUTOR_CACHE.clear()
        await Tortoise.init(config=db.tortoise_config(url, APPS), _enable_global_fallback=True)
        try:
            if backend == "postgres":
                await _conn().execute_script(
                    f'DROP SCHEMA IF EXISTS "{schema}" CASCADE; CREATE SCHEMA "{schema}";'
                )
            await Tortoise.generate_schemas()
            await body(AuditLog.from_settings(Settings(data_dir=tmp_path / "data")))
        finally:
            if backend == "postgres":
                await _conn().execute_script(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE;')
            await Tortoise.close_connections()

    asyncio.run(main())


def _conn():  # type: ignore[no-untyped-def]
    return Tortoise.get_connection("default")


async def sql(query: str, *params: object) -> None:
    """Raw SQL behind the platform's back; ``?`` placeholders on either database."""
    conn = _conn()
    if conn.capabilities.dialect == "postgres":
        parts = query.split("?")
        query = parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], start=1))
    await conn.execute_query(query, list(params))


async def record(log: AuditLog, n: int, *, start: int = 0, **kwargs: object) -> None:
    """Record ``n`` events, each in its own transaction as a service would."""
    for i in range(start, start + n):
        async with in_transaction():
            await log.record(
                at=T0 + timedelta(minutes=i),
                actor=CLERK,
                action="bidding:tender:edited",
                object_type="tender",
                object_id=42,
                before={"title": f"v{i}", "budget": Decimal("100.50")},
                after={"title": f"v{i + 1}", "budget": Decimal("100.5")},
                scope="tender:42",
                detail={"step": i, "when": date(2025, 3, 1)},
                **kwargs,  # type: ignore[arg-type]
            )


async def problems(log: AuditLog) -> list[tuple[int, str]]:
    return (await log.verify()).problems


async def set_id(seq: int, new_id: int) -> None:
    await sql("UPDATE kernel_audit_event SET id = ? WHERE seq = ?", new_id, seq)


async def swap_ids(seq_a: int, seq_b: int) -> None:
    id_a = (await AuditEvent.get(seq=seq_a)).id
    id_b = (await AuditEvent.get(seq=seq_b)).id
    await set_id(seq_a, -1)
    await set_id(seq_b, id_a)
    await set_id(seq_a, id_b)


def forge_mac(row: AuditEvent, key: bytes) -> str:
    """What an intruder computes: the right recipe, but without the platform's key."""
    return hmac.new(key, chain._signed_bytes(row), hashlib.sha256).hexdigest()


# -- canonical_hash -------------------------------------------------------------------------


class Colour(enum.Enum):
    RED = "red"


def test_canonical_hash_is_independent_of_key_order_scale_and_timezone() -> None:
    shanghai = timezone(timedelta(hours=8))
    a = {"b": Decimal("1.10"), "a": datetime(2025, 3, 1, 17, 0, tzinfo=shanghai)}
    b = {"a": datetime(2025, 3, 1, 9, 0, tzinfo=UTC), "b": Decimal("1.1")}
    assert canonical_hash(a) == canonical_hash(b)
    assert canonical_hash({"x": Colour.RED}) == canonical_hash({"x": "red"})
    u = uuid.uuid4()
    assert canonical_hash({"u": u}) == canonical_hash({"u": str(u)})
    assert canonical_hash({"d": Decimal("1E+2")}) == canonical_hash({"d": "100"})
    assert canonical_hash({"n": 1}) != canonical_hash({"n": "1"})
    assert canonical_hash(None) == ""
    assert len(canonical_hash({})) == 64


def test_canonical_hash_refuses_values_without_a_deterministic_form() -> None:
    with pytest.raises(TypeError):
        canonical_hash({"x": object()})


# -- keys and order heuristics --------------------------------------------------------------


def test_from_settings_creates_private_keys_once_and_reuses_them(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = AuditLog.from_settings(settings)
    for name in (chain.HMAC_KEY_FILE, chain.SIGNING_KEY_FILE):
        mode = stat.S_IMODE((settings.key_dir / name).stat().st_mode)
        assert mode == 0o600, name
    second = AuditLog.from_settings(settings)
    assert first._key == second._key
    assert len(first._key) == 32
    assert first.checkpoints.path.parent == settings.checkpoint_dir


@pytest.mark.parametrize(
    ("seqs", "flagged"),
    [
        ([1, 2, 3, 4, 5], set()),
        ([1, 2, 4, 3, 5], {3, 4}),  # swap: both moved
        ([2, 1, 3], {1, 2}),
        ([1, 2, 3, 5, 4], {4, 5}),
        ([5, 1, 2, 3, 4], {5}),  # the newest moved to the front
        ([2, 3, 4, 5, 1], {1}),  # the oldest moved to the end
        ([1, 2, 8, 4, 5, 6, 7, 3, 9], {3, 8}),  # far swap
        ([1, 2, 6, 7, 8, 3, 4, 5, 9], {3, 4, 5}),  # a block moved
        ([1, 2, 4, 5], set()),  # a gap is not disorder
    ],
)
def test_order_check_blames_the_moved_rows(seqs: list[int], flagged: set[int]) -> None:
    check = chain._OrderCheck()
    for seq in seqs:
        check.feed(seq)
    check.finish()
    assert set(check.flagged) == flagged


# -- recording and a clean chain ------------------------------------------------------------


def test_clean_chain_verifies(backend: str, tmp_path: Path) -> None:
    async def body(log: AuditLog) -> None:
        log.checkpoint_every = 5
        await record(log, 4)
        assert not log.checkpoint_due
        await record(log, 1, start=4)
        assert log.checkpoint_due
        report = await log.verify()
        assert report.ok and report.count == 5
        assert report.lines() == ["OK 5 events"]
        assert await log.checkpoint(at=T0) is not None
        assert not log.checkpoint_due
        assert await log.checkpoint(at=T0) is None  # the head has not moved
        assert (await log.verify()).lines() == ["OK 5 events"]
        rows = await AuditEvent.all().order_by("seq")
        assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
        assert rows[0].prev_mac == "" and rows[1].prev_mac == rows[0].mac
        assert rows[0].before_hash == canonical_hash({"title": "v0", "budget": Decimal("100.5")})
        assert rows[0].actor_id == 7 and rows[0].actor_label == "clerk"
        head = await AuditHead.get(id=1)
        assert (head.seq, head.mac) == (5, rows[-1].mac)

    run(backend, tmp_path, body)


def test_empty_log_verifies(backend: str, tmp_path: Path) -> None:
    async def body(log: AuditLog) -> None:
        assert (await log.verify()).lines() == ["OK 0 events"]
        assert await log.checkpoint(at=T0) is None

    run(backend, tmp_path, body)


def test_record_refuses_to_run_outside_a_transaction(backend: str, tmp_path: Path) -> None:
    async def body(log: AuditLog) -> None:
        with pytest.raises(RuntimeError):
            await log.record(at=T0, actor=SYSTEM, action="a:b:c", object_type="x", object_id=1)
        async with in_transaction():
            with pytest.raises(RuntimeError):
                await log.checkpoint(at=T0)

    run(backend, tmp_path, body)


def test_rolled_back_event_leaves_no_trace(backend: str, tmp_path: Path) -> None:
    async def body(log: AuditLog) -> None:
        await record(log, 2)
        with pytest.raises(ZeroDivisionError):
            async with in_transaction():
                await log.record(at=T0, actor=SYSTEM, action="a:b:c", object_type="x", object_id=1)
                raise ZeroDivisionError
        await log.checkpoint(at=T0)
        async with in_transaction():
            event = await log.record(
                at=T0, actor=SYSTEM, action="a:b:c", object_type="x", object_id=1
            )
        assert event.seq == 3
        # The scheduler is "system" in the trail, not an anonymous member of the public.
        assert event.actor_label == "system" and event.actor_id is None
        assert (await log.verify()).lines() == ["OK 3 events"]

    run(backend, tmp_path, body)


def test_sealed_events_stay_in_the_chain_but_views_can_omit_them(
    backend: str, tmp_path: Path
) -> None:
    async def body(log: AuditLog) -> None:
        await record(log, 2)
        await record(log, 2, start=2, sealed=True)
        await record(log, 1, start=4)
        visible = await events_for("tender:42", include_sealed=False)
        assert [e.seq for e in visible] == [1, 2, 5]
        everything = await events_for("tender:42", include_sealed=True)
        assert [e.seq for e in everything] == [1, 2, 3, 4, 5]
        assert [e.seq for e in await events_for("tender:42", include_sealed=True, offset=3)] == [
            4,
            5,
        ]
        assert await events_for("tender:9", include_sealed=True) == []
        assert (await log.verify()).lines() == ["OK 5 events"]

    run(backend, tmp_path, body)


# -- tampering ------------------------------------------------------------------------------


def test_changed_rows_are_named_and_only_they(backend: str, tmp_path: Path) -> None:
    async def body(log: AuditLog) -> None:
        await record(log, 6)
        await sql("UPDATE kernel_audit_event SET action = ? WHERE seq = ?", "x:y:z", 3)
        await AuditEvent.filter(seq=5).update(detail={"step": 99})
        report = await log.verify()
        assert report.problems == [(3, "changed"), (5, "changed")]
        assert report.lines() == ["event 3: changed", "event 5: changed"]
        assert report.count == 6 and not report.ok

    run(backend, tmp_path, body)


def test_deleted_middle_row_is_missing(backend: str, tmp_path: Path) -> None:
    async def body(log: AuditLog) -> None:
        await record(log, 6)
        await sql("DELETE FROM kernel_audit_event WHERE seq IN (?, ?)", 3, 4)
        assert (await log.verify()).lines() == ["event 3: missing", "event 4: missing"]

    run(backend, tmp_path, body)


def test_swapped_rows_are_out_of_order(backend: str, tmp_path: Path) -> None:
    async def body(log: AuditLog) -> None:
        await record(log, 6)
        await swap_ids(3, 4)
        assert (await log.verify()).lines() == ["event 3: out of order", "event 4: out of order"]

    run(backend, tmp_path, body)


def test_swapped_contents_are_out_of_order(backend: str, tmp_path: Path) -> None:
    async def body(log: AuditLog) -> None:
        await record(log, 6)
        # Same as swapping ids, done the other way: every column but id trades places.
        columns = [f for f in AuditEvent._meta.db_fields if f != "id"]
        a, b = await AuditEvent.get(seq=3), await AuditEvent.get(seq=4)
        values_a = {c: getattr(a, c) for c in columns}
        values_b = {c: getattr(b, c) for c in columns}
        await AuditEvent.filter(id=a.id).update(seq=-3)
        await AuditEvent.filter(id=b.id).update(**values_a)
        await AuditEvent.filter(id=a.id).update(**values_b)
        assert await problems(log) == [(3, "out of order"), (4, "out of order")]

    run(backend, tmp_path, body)


def test_a_row_linked_to_another_predecessor_is_out_of_order(backend: str, tmp_path: Path) -> None:
    async def body(log: AuditLog) -> None:
        await record(log, 6)
        # A correctly keyed row from another chain, e.g. spliced in from an old backup.
        row = await AuditEvent.get(seq=4)
        row.prev_mac = "0" * 64
        row.mac = log._mac(row)
        await row.save()
        assert await problems(log) == [(4, "out of order")]

    run(backend, tmp_path, body)


def test_a_row_moved_far_is_the_only_one_out_of_order(backend: str, tmp_path: Path) -> None:
    async def body(log: AuditLog) -> None:
        await record(log, 6)
        await set_id(6, 0)  # the newest now sorts first
        assert await problems(log) == [(6, "out of order")]

    run(backend, tmp_path, body)


def test_recomputed_plain_hashes_are_detected(backend: str, tmp_path: Path) -> None:
    async def body(log: AuditLog) -> None:
        await record(log, 5)
        forged = canonical_hash({"title": "v3", "budget": Decimal("1")})
        await AuditEvent.filter(seq=3).update(after_hash=forged)
        assert await problems(log) == [(3, "changed")]

    run(backend, tmp_path, body)


def test_macs_forged_without_the_key_are_detected(backend: str, tmp_path: Path) -> None:
    async def body(log: AuditLog) -> None:
        await record(log, 6)
        wrong_key = b"k" * 32
        # Rewrite row 3 and re-chain every later row, as if the intruder knew the recipe.
        prev_mac = (await AuditEvent.get(seq=2)).mac
        for seq in range(3, 7):
            row = await AuditEvent.get(seq=seq)
            if seq == 3:
                row.detail = {"step": 2, "when": "2025-03-01", "price": "1.00"}
                row.after_hash = canonical_hash({"title": "forged"})
            row.prev_mac = prev_mac
            row.mac = prev_mac = forge_mac(row, wrong_key)
            await row.save()
        await AuditHead.filter(id=1).update(mac=prev_mac)
        # Each rewritten row is reported; nothing before them is.
        assert await problems(log) == [(s, "changed") for s in range(3, 7)]

    run(backend, tmp_path, body)


def test_one_forged_row_is_one_line(backend: str, tmp_path: Path) -> None:
    async def body(log: AuditLog) -> None:
        await record(log, 6)
        row = await AuditEvent.get(seq=3)
        row.action = "bidding:tender:cancelled"
        row.mac = forge_mac(row, b"k" * 32)
        await row.save()
        # Row 4 still links to row 3's old MAC: that is row 3's problem, not another line.
        assert await problems(log) == [(3, "changed")]

    run(backend, tmp_path, body)


def test_deleting_the_newest_rows_after_a_checkpoint_is_truncation(
    backend: str, tmp_path: Path
) -> None:
    async def body(log: AuditLog) -> None:
        await record(log, 5)
        await log.checkpoint(at=T0)
        row4 = await AuditEvent.get(seq=4)
        await sql("DELETE FROM kernel_audit_event WHERE seq >= ?", 5)
        await AuditHead.filter(id=1).update(seq=4, mac=row4.mac)  # cover the tracks
        assert (await log.verify()).lines() == ["event 5: truncated"]
        # Appending afterwards gives a valid chain again, but not the checkpointed one.
        await record(log, 3, start=10)
        await log.checkpoint(at=T0 + timedelta(hours=1))
        assert await problems(log) == [(5, "truncated")]

    run(backend, tmp_path, body)


def test_head_ahead_of_the_rows_is_truncation(backend: str, tmp_path: Path) -> None:
    async def body(log: AuditLog) -> None:
        await record(log, 5)
        await log.checkpoint(at=T0)
        await record(log, 2, start=5)
        await sql("DELETE FROM kernel_audit_event WHERE seq >= ?", 6)
        assert await problems(log) == [(7, "truncated")]

    run(backend, tmp_path, body)


def test_tampered_checkpoint_is_reported(backend: str, tmp_path: Path) -> None:
    async def body(log: AuditLog) -> None:
        await record(log, 3)
        await log.checkpoint(at=T0)
        await record(log, 2, start=3)
        await log.checkpoint(at=T0 + timedelta(minutes=5))
        path = log.checkpoints.path
        lines = path.read_bytes().splitlines(keepends=True)
        first = json.loads(lines[0])
        first["seq"] = 2  # claim less was written, signature left as it was
        lines[0] = json.dumps(first).encode() + b"\n"
        path.write_bytes(b"".join(lines))
        report = await log.verify()
        assert report.bad_checkpoints == [1] and report.problems == []
        assert report.lines() == ["checkpoints.jsonl line 1: bad signature"]

    run(backend, tmp_path, body)


# -- concurrency ----------------------------------------------------------------------------


def test_concurrent_records_make_a_gapless_chain(backend: str, tmp_path: Path) -> None:
    if backend != "postgres":
        pytest.skip("SQLite serialises every transaction on one connection")

    async def body(log: AuditLog) -> None:
        async def one(i: int) -> None:
            async with in_transaction():
                await log.record(
                    at=T0 + timedelta(seconds=i),
                    actor=CLERK,
                    action="bidding:bid:submitted",
                    object_type="bid",
                    object_id=i,
                    scope="tender:1",
                    sealed=True,
                )

        # The head does not exist yet: the first appends also race to create it.
        await asyncio.gather(*(one(i) for i in range(20)))
        assert sorted(await AuditEvent.all().values_list("seq", flat=True)) == list(range(1, 21))
        assert (await log.verify()).lines() == ["OK 20 events"]
        await log.checkpoint(at=T0)
        assert (await log.verify()).lines() == ["OK 20 events"]

    run(backend, tmp_path, body)
