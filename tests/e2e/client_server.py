"""Test-only server for tests/e2e/test_client.py: the real app under uvicorn on a database the
test has already migrated and seeded, with the browser test's file clock.

Unlike tests/browser/server_app.py it seeds nothing and runs no scheduler: the test seeds
through the services in its own process (same database, same data directory, so the same
platform keys and blobs) and moves the tender's state itself, so every step happens when the
test says and never because a second ticked.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))

from server_app import FileClock

from ebid.app import create_app
from kernel.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--clock-file", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--max-upload-bytes", type=int, required=True)
    args = parser.parse_args()

    import uvicorn

    settings = Settings(database_url=args.database_url, data_dir=args.data_dir,
                        max_upload_bytes=args.max_upload_bytes)
    app = create_app(settings, clock=FileClock(args.clock_file), run_jobs=False)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
