"""The assembled app's process-wide settings while it serves."""

from __future__ import annotations

import sys

from starlette.testclient import TestClient

from ebid.app import create_app
from kernel.settings import Settings
from kernel.threads import SWITCH_INTERVAL_S


def test_the_server_shortens_the_interpreter_lock_switch_interval_while_it_serves(
    settings: Settings,
) -> None:
    # Why it matters: bench/RESULTS.md P1 and docs/decisions/0018-gil-switch-interval.md.
    before = sys.getswitchinterval()
    assert before != SWITCH_INTERVAL_S  # CPython's default (5 ms); else the test proves nothing
    app = create_app(settings, run_jobs=False)
    with TestClient(app):
        assert sys.getswitchinterval() == SWITCH_INTERVAL_S
    assert sys.getswitchinterval() == before
