"""kernel.db's hand-written queries for the hot paths, on the suite's database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from kernel import db
from kernel.audit.models import AuditHead

Run = Callable[..., Any]
LOCK = "SELECT seq, mac FROM kernel_audit_head WHERE id = $1 FOR UPDATE"


def test_a_locked_read_returns_the_row_on_either_database(run: Run) -> None:
    async def body() -> list[dict[str, Any]]:
        await AuditHead.create(id=1, seq=5, mac="ab" * 32)
        async with in_transaction():
            return await db.fetch_locked(LOCK, 1) + await db.fetch_locked(LOCK, 2)

    assert [(int(row["seq"]), row["mac"]) for row in run(body)] == [(5, "ab" * 32)]


def test_a_locked_read_must_say_for_update() -> None:
    with pytest.raises(ValueError, match="FOR UPDATE"):
        asyncio.run(db.fetch_locked("SELECT seq FROM kernel_audit_head WHERE id = $1", 1))


def test_json_columns_come_back_as_text_and_are_read() -> None:
    assert db.json_value('["a", 1]') == ["a", 1]
    assert db.json_value(b"{}") == {}
    assert db.json_value([1]) == [1]  # already decoded: left as it is


def test_a_single_row_is_made_when_absent_then_locked(run: Run) -> None:
    async def body() -> tuple[dict[str, Any], dict[str, Any]]:
        async with in_transaction():
            made = await db.lock_single_row(AuditHead, LOCK, 1)
        await AuditHead.filter(id=1).update(seq=3)
        async with in_transaction():
            return made, await db.lock_single_row(AuditHead, LOCK, 1)

    made, again = run(body)
    assert (int(made["seq"]), made["mac"]) == (0, "")
    assert int(again["seq"]) == 3
