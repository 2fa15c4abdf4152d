"""Collusion listens to bidding's opening through the kernel's events (bidding never imports
collusion). The app package calls ``register`` once per process that runs services.

``run_now``: analyse right away in the process that opened the tender (the in-process runner on
SQLite, or an ``ebid worker``, both background processes). Otherwise the handler only queues
the analysis, durably in the database, and a worker's periodic job runs what is queued
(docs/decisions/0006-job-queue.md). Either way a crash leaves a queued row that the next
catch-up runs, so no opened tender goes unanalysed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from collusion import services
from kernel.context import Context
from kernel.events import EventBus

OPENED = "bidding:tender:opened"


def register(bus: EventBus, ctx: Context, *, run_now: bool) -> None:
    async def on_opened(name: str, payload: Mapping[str, Any]) -> None:
        analysis = await services.request_analysis(ctx, tender_id=int(payload["tender_id"]))
        if run_now:
            await services.run_analysis(ctx, analysis_id=analysis.id)

    bus.subscribe(OPENED, on_opened)
