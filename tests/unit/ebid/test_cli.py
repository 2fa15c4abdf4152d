"""The ``ebid`` command as an operator runs it: migrate, create the admin, verify the audit
trail, and catch tampering done directly in the database."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


def _ebid(cwd: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EBID_")}
    env.update(EBID_DATABASE_URL="sqlite://./cli.sqlite3", EBID_DATA_DIR="data")
    return subprocess.run(
        [sys.executable, "-m", "ebid.cli", *args], cwd=cwd, env=env, input=stdin,
        capture_output=True, text=True, timeout=60, check=False,
    )


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    assert _ebid(tmp_path, "db", "migrate").returncode == 0
    for name in ("root", "second"):
        if name == "second":
            # The second admin is refused (only the first may be created here), no event.
            refused = _ebid(tmp_path, "admin", "create", name, stdin="Strong-Pass-123\n")
            assert refused.returncode == 1 and "refused" in refused.stderr
            continue
        assert _ebid(tmp_path, "admin", "create", name, stdin="Strong-Pass-123\n").returncode == 0
    assert _ebid(tmp_path, "audit", "checkpoint").returncode == 0
    return tmp_path


def test_verify_ok(installed: Path) -> None:
    result = _ebid(installed, "audit", "verify")
    assert result.returncode == 0
    assert result.stdout.strip().splitlines() == ["OK 1 events"]


def test_verify_reports_a_changed_row_and_exits_1(installed: Path) -> None:
    with sqlite3.connect(installed / "cli.sqlite3") as conn:
        conn.execute("UPDATE kernel_audit_event SET actor_label = 'someone-else' WHERE seq = 1")
    result = _ebid(installed, "audit", "verify")
    assert result.returncode == 1
    assert "event 1: changed" in result.stdout.splitlines()


def test_verify_reports_deleted_newest_rows_as_truncated(installed: Path) -> None:
    with sqlite3.connect(installed / "cli.sqlite3") as conn:
        conn.execute("DELETE FROM kernel_audit_event")
        conn.execute("UPDATE kernel_audit_head SET seq = 0, mac = ''")
    result = _ebid(installed, "audit", "verify")
    assert result.returncode == 1
    assert any(line.endswith(": truncated") for line in result.stdout.splitlines())


def test_serve_refuses_several_workers_on_sqlite_saying_why(tmp_path: Path) -> None:
    refused = _ebid(tmp_path, "serve", "--workers", "2")
    assert refused.returncode == 2
    assert "--workers above 1 needs PostgreSQL" in refused.stderr


def test_serve_runs_several_workers_from_the_app_factory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import uvicorn
    from uvicorn.importer import import_from_string

    from ebid import cli
    from kernel.settings import Settings

    pg = Settings(database_url="postgres://postgres@127.0.0.1:5432/x", job_backend="inprocess")
    monkeypatch.setattr(cli, "from_env", lambda: pg)
    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    # The in-process scheduler would run in every process: refused, nothing started.
    assert cli.main(["serve", "--workers", "2"]) == 2 and calls == []
    monkeypatch.setattr(cli, "from_env", lambda: Settings(
        database_url=pg.database_url, job_backend="procrastinate"))
    assert cli.main(["serve", "--workers", "2", "--port", "8123"]) == 0
    [(app, kwargs)] = calls
    assert app == "ebid.app:app_from_env" and kwargs["factory"] is True
    assert kwargs["workers"] == 2 and kwargs["port"] == 8123
    assert callable(import_from_string(app))
