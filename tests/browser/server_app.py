"""Test-only server for the browser walkthrough: the real app, with a clock the test moves.

Run as a script (``python tests/browser/server_app.py --help``); it applies the migrations,
creates the first centre admin through the accounts service, then serves the app with uvicorn
and the in-process scheduler. Everything else the walkthrough needs is made through the pages.

The clock is a ``FileClock``: each ``now()`` reads an ISO 8601 instant with its offset from a
file, so the test moves time by rewriting that file (atomically) instead of sleeping.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

from starlette.applications import Starlette

from ebid.app import build_context, create_app
from ebid.config import tortoise_config
from ebid.migrate import migrate
from kernel import db
from kernel.accounts import services as accounts
from kernel.settings import Settings


class FileClock:
    """A clock whose current instant is the ISO 8601 text (with an offset) in ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def now(self) -> datetime:
        at = datetime.fromisoformat(self.path.read_text(encoding="utf-8").strip())
        if at.tzinfo is None:
            raise ValueError(f"{self.path}: the instant needs a UTC offset")
        return at.astimezone(UTC)

    def set(self, at: datetime) -> None:
        """Write ``at`` so that a concurrent reader never sees a half-written file."""
        if at.tzinfo is None:
            raise ValueError("FileClock needs an aware datetime")
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(at.isoformat(), encoding="utf-8")
        os.replace(tmp, self.path)


def make_settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        secret_key="browser-test-only",
        max_upload_bytes=2 * 1024 * 1024,
        job_backend="inprocess",
        # The scheduler looks at the (file) clock every second; the test polls the page.
        scheduler_interval_seconds=1,
    )


def build(settings: Settings, clock_file: Path) -> Starlette:
    """The app under test: production wiring, file clock, scheduler on."""
    return create_app(settings, clock=FileClock(clock_file), run_jobs=True)


async def seed(settings: Settings, clock_file: Path, username: str, password: str) -> None:
    """Apply the migrations and create the first centre admin (the only seeded account)."""
    await migrate(settings)
    await db.init(tortoise_config(settings))
    try:
        ctx = build_context(settings, FileClock(clock_file))
        await accounts.create_first_admin(
            ctx, username=username, password=password, display_name="陈明"
        )
    finally:
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--clock-file", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--admin-username", default="admin")
    parser.add_argument("--admin-password", required=True)
    args = parser.parse_args()

    import uvicorn

    settings = make_settings(args.database_url, args.data_dir)
    asyncio.run(seed(settings, args.clock_file, args.admin_username, args.admin_password))
    uvicorn.run(
        build(settings, args.clock_file),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
