"""CLI glue for the audit trail: open the database, run the kernel's verifier."""

from __future__ import annotations

from ebid.config import tortoise_config
from kernel import db
from kernel.audit.chain import AuditLog
from kernel.clock import SystemClock
from kernel.settings import Settings


async def verify(settings: Settings) -> tuple[bool, list[str]]:
    await db.init(tortoise_config(settings))
    try:
        report = await AuditLog.from_settings(settings).verify()
    finally:
        await db.close()
    return report.ok, list(report.lines())


async def checkpoint(settings: Settings) -> str:
    await db.init(tortoise_config(settings))
    try:
        cp = await AuditLog.from_settings(settings).checkpoint(at=SystemClock().now())
    finally:
        await db.close()
    return "checkpoint written" if cp else "nothing new to checkpoint"
