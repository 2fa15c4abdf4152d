"""The ASGI factory the rush benchmark serves: ``uvicorn --factory bench.rush_app:make``.

The production application (``ebid.app.create_app``) with settings from the environment and
no in-process scheduler, like bench/portal_app.py. One difference: its clock is the system
clock shifted by EBID_BENCH_CLOCK_OFFSET seconds, so that a tender made by the test factories
(which date everything in March 2026) is still open for bids. Time still flows.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from starlette.applications import Starlette

from ebid.app import create_app
from kernel.clock import SystemClock
from kernel.settings import from_env


class ShiftedClock(SystemClock):
    def __init__(self, offset_seconds: float) -> None:
        self.offset = timedelta(seconds=offset_seconds)

    def now(self) -> datetime:
        return super().now() + self.offset


def make() -> Starlette:
    clock = ShiftedClock(float(os.environ.get("EBID_BENCH_CLOCK_OFFSET", "0")))
    return create_app(from_env(), clock=clock, run_jobs=False)
