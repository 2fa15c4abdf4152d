"""Test-only server for the kill -9 fault test: the real app on the test's own database and
data directory, with a clock read from a file (tests/browser/server_app.py:FileClock).

``python tests/e2e/fault_server.py --database-url URL --data-dir DIR --clock-file F --port N``.
No migrations, no seeding: the test has built everything before it starts the server.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from server_app import FileClock

from ebid.app import create_app
from kernel.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--clock-file", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    import uvicorn

    settings = Settings(database_url=args.database_url, data_dir=args.data_dir,
                        max_upload_bytes=2 * 1024 * 1024)
    app = create_app(settings, clock=FileClock(args.clock_file), run_jobs=False)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
