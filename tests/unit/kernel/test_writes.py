"""kernel.writes: several writes of a transaction in one statement (PostgreSQL) or one by one.

Runs on the suite's database, so each leg of CI checks its own path: the ORM on SQLite, the
single ``WITH`` statement on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tortoise.exceptions import IntegrityError, ValidationError
from tortoise.transactions import in_transaction

from kernel.accounts import creditcode
from kernel.accounts.models import Notification, Organization, OrgKind
from kernel.audit.models import AuditEvent, AuditHead
from kernel.writes import Writes, _Part, _statement, joining

Run = Callable[..., Any]
T0 = datetime(2026, 12, 1, 9, 30, 0, 123456, tzinfo=UTC)
HOSTILE = "'); DROP TABLE kernel_notification; -- $1 \\x00 “引号”"


async def _organizations(count: int) -> list[Organization]:
    return [await Organization.create(kind=OrgKind.BIDDER, name=f"单位{n}",
                                      credit_code=creditcode.make_code(f"w{n}"), created_at=T0)
            for n in range(count)]


def _event(seq: int, **detail: Any) -> AuditEvent:
    return AuditEvent(seq=seq, at=T0 + timedelta(seconds=seq), actor_id=None,
                      actor_label="system", action="test:writes:made", object_type="t",
                      object_id=str(seq), scope="tender:1", sealed=seq % 2 == 0,
                      before_hash="", after_hash="a" * 64, detail=detail,
                      prev_mac="0" * 64, mac=f"{seq:064d}")


def test_one_flush_inserts_and_updates_everything(run: Run) -> None:
    async def body() -> None:
        orgs = await _organizations(3)
        async with in_transaction():
            writes = Writes()
            notes = [Notification(id=1000 + n, organization_id=org.id, title=f"通知{n}",
                                  body=HOSTILE if n == 0 else "", created_at=T0, read_at=None)
                     for n, org in enumerate(orgs)]
            writes.insert(Notification, notes)  # keys of our own
            writes.insert(AuditEvent, [_event(1, 说明="中文", n=[1, 2]), _event(2)])  # generated
            for org, name in zip(orgs[:2], ("甲", "乙"), strict=True):
                org.name, org.legal_rep = name, HOSTILE
            writes.update_rows(Organization, orgs[:2], fields=["name", "legal_rep"])
            await AuditHead.create(id=1)
            writes.update(AuditHead, 1, seq=2, mac="f" * 64)
            assert len(writes) == 4
            await writes.flush()
            assert len(writes) == 0
        stored = {n.id: n for n in await Notification.all()}
        assert sorted(stored) == [1000, 1001, 1002]
        assert stored[1000].body == HOSTILE and stored[1000].title == "通知0"
        assert stored[1000].created_at == T0 and stored[1000].read_at is None
        events = await AuditEvent.all().order_by("seq")
        assert [e.seq for e in events] == [1, 2] and all(e.id for e in events)
        assert events[0].detail == {"说明": "中文", "n": [1, 2]} and events[1].detail == {}
        assert [e.sealed for e in events] == [False, True]
        assert events[1].at == T0 + timedelta(seconds=2)
        names = await Organization.all().order_by("id").values_list("name", "legal_rep")
        assert names == [("甲", HOSTILE), ("乙", HOSTILE), ("单位2", "")]
        head = await AuditHead.get(id=1)
        assert (head.seq, head.mac) == (2, "f" * 64)

    run(body)


def test_a_failing_part_fails_the_whole_flush(run: Run) -> None:
    async def body() -> None:
        [org] = await _organizations(1)
        await Notification.create(id=7, organization_id=org.id, title="已有", created_at=T0)
        with pytest.raises(IntegrityError):
            async with in_transaction():
                writes = Writes()
                writes.insert(AuditEvent, [_event(1)])
                writes.insert(Notification, [Notification(id=7, organization_id=org.id,
                                                          title="重复", created_at=T0)])
                await writes.flush()
        assert await AuditEvent.all().count() == 0
        assert (await Notification.get(id=7)).title == "已有"

    run(body)


def test_a_row_written_twice_in_one_flush_is_refused() -> None:
    writes = Writes()
    writes.update(AuditHead, 1, seq=1)
    with pytest.raises(ValueError, match="kernel_audit_head row 1 is written twice"):
        writes.update(AuditHead, 1, mac="x")
    org = Organization(id=5, kind=OrgKind.BIDDER, name="x", credit_code="x", created_at=T0)
    writes.update_rows(Organization, [org], fields=["name"])
    with pytest.raises(ValueError, match="kernel_organization row 5"):
        writes.update_rows(Organization, [org], fields=["legal_rep"])


def test_nothing_to_write_is_no_write() -> None:
    writes = Writes()
    writes.insert(AuditEvent, [])
    writes.update_rows(Organization, [], fields=["name"])
    assert len(writes) == 0
    with pytest.raises(ValueError):
        writes.update_rows(Organization, [Organization(id=1)], fields=[])
    with pytest.raises(ValueError):
        writes.update(AuditHead, 1)


def test_the_statement_does_not_depend_on_how_many_rows() -> None:
    # So PostgreSQL prepares it once per connection, however many bids a batch holds.
    def text(count: int) -> str:
        part = _Part(AuditEvent, "insert", rows=tuple(_event(n) for n in range(1, count + 1)))
        assert len(part.params()) == len(part.shape[2])  # one array per column
        _statement.cache_clear()
        return _statement((part.shape,))

    assert text(1) == text(5)
    assert "unnest(" in text(1) and "'" not in text(1)  # every value is a parameter


def test_an_over_long_value_is_refused_not_cut(run: Run) -> None:
    # The ORM's own check refuses it before the database does (on PostgreSQL the arrays are
    # cast to text, not varchar(n), whose explicit cast would cut the value silently).
    async def body() -> None:
        [org] = await _organizations(1)
        with pytest.raises(ValidationError, match="301 > 300"):
            async with in_transaction():
                writes = Writes()
                writes.insert(Notification, [Notification(
                    id=9, organization_id=org.id, title="长" * 301, created_at=T0)])
                await writes.flush()
        assert not await Notification.exists()

    run(body)


def test_the_block_flushes_when_it_ends_and_not_after_an_error(run: Run) -> None:
    async def body() -> tuple[int, int]:
        async with in_transaction():
            async with Writes() as writes:
                writes.insert(AuditEvent, [_event(1)])
        with pytest.raises(RuntimeError):
            async with in_transaction():
                async with Writes() as writes:
                    writes.insert(AuditEvent, [_event(2)])
                    raise RuntimeError("the caller fails")
        return await AuditEvent.filter(seq=1).count(), await AuditEvent.filter(seq=2).count()

    assert run(body) == (1, 0)


def test_a_key_the_database_generates_must_be_left_unset() -> None:
    event = _event(1)
    event.id = 5
    with pytest.raises(ValueError, match="generates its keys"):
        Writes().insert(AuditEvent, [event])


def test_joining_adds_to_the_callers_writes_or_flushes_its_own(run: Run) -> None:
    async def body() -> tuple[int, int, int]:
        async with in_transaction():
            callers = Writes()
            async with joining(callers) as batch:
                batch.insert(AuditEvent, [_event(1)])
            assert batch is callers and len(callers) == 1  # not flushed: the caller's to do
            before = await AuditEvent.all().count()
            await callers.flush()
            async with joining(None) as own:
                own.insert(AuditEvent, [_event(2)])
            return before, await AuditEvent.all().count(), len(own)

    assert run(body) == (0, 2, 0)
