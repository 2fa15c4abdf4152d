"""P1, the deadline rush: distinct pre-sealed 1 MiB bids offered at a fixed rate to a real server.

Requirement (issue 3): at 200 bids a second, open loop over 200 connections, to a real server
process (uvicorn, PostgreSQL), every bid is accepted and p99 latency is <= 1 s; and the highest
sustainable rate is at least half that of a bare upload endpoint that only stores the bytes
(bench/bare_upload_app.py), measured in the same run.

How:
1. the bench database ``ebid_bench_rush`` is rebuilt from the project's migrations; a tender is
   published through the real services (tests/factories.py, the same code the tests use: dev
   PKI accepted, opening officers' certificates, 200 bidders registered), and each bidder gets
   a bearer session;
2. for each offered rate, ``rate x --seconds`` distinct packages (random 1 MiB files, sealed to
   the tender's opening key and signed by their bidder's certificate) are sealed beforehand,
   outside the clock;
3. the server is ``uvicorn --factory bench.rush_app:make`` (the production app, no in-process
   scheduler, its clock shifted so that the tender's deadline lies ahead); the load comes from
   bench/openloop.py (several processes, fixed schedule, latency from the scheduled instant);
4. after a warm-up of ``--warmup-seconds`` (3) at 50/s, not judged, the rate steps up from 100
   until a step fails (any refusal or error, or p99 > 1 s); the same
   steps are then offered to the bare endpoint. "Sustainable" = the highest step passed.
   ``--workers N`` serves both endpoints with N uvicorn processes (default: one per CPU, at
   most 4, as the README advises for a server taking a deadline rush; ``--workers 1`` for one
   process).

    python bench/rush.py                      # about 5 minutes
    python bench/rush.py --rates 200 --seconds 10
    python bench/rush.py --workers 1
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bench.database import pg_dsn  # noqa: E402
from bench.openloop import Request, Summary, run  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ebid_bench_rush"
P99_LIMIT = 1.0
# --workers: one per CPU, at most 4 (each keeps 20 PostgreSQL connections, decision 0019, and
# PostgreSQL's default max_connections is 100).
WORKERS = int(os.environ.get("EBID_BENCH_WORKERS", str(min(os.cpu_count() or 1, 4))))
MiB = 1 << 20


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _recreate(url: str) -> None:
    import asyncpg

    base, name = url.rsplit("/", 1)
    if "bench" not in name:
        raise SystemExit(f"refusing to drop {name}: bench databases have 'bench' in their name")
    conn = await asyncpg.connect(pg_dsn(base + "/postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


class Setup:
    """The tender, its bidders and their sessions, made through the real services."""

    def __init__(self, url: str, data_dir: Path, bidders: int) -> None:
        self.url, self.data_dir, self.n_bidders = url, data_dir, bidders
        self.loop = asyncio.new_event_loop()

    def run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return self.loop.run_until_complete(fn(*args, **kwargs))

    def build(self) -> None:
        import factories
        from tortoise import Tortoise

        from ebid.app import build_context
        from ebid.config import tortoise_config
        from ebid.migrate import migrate
        from kernel import db
        from kernel.accounts import passwords
        from kernel.accounts import services as accounts
        from kernel.clock import FixedClock
        from kernel.settings import Settings

        self.run(_recreate, self.url)
        shutil.rmtree(self.data_dir, ignore_errors=True)
        settings = Settings(database_url=self.url, data_dir=self.data_dir)
        self.run(migrate, settings)
        self.run(db.init, tortoise_config(settings))
        # Test-strength password hashing, as the tests use: 200 accounts at production cost
        # take minutes. The sessions the bench uses are ordinary bearer sessions.
        from argon2 import PasswordHasher

        passwords._hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
        start = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
        self.clock = FixedClock(start)
        self.ctx = build_context(settings, self.clock)
        agency = factories.make_agency(self.run, self.ctx)
        self.bidders = [factories.make_bidder(self.run, self.ctx, f"rush{n}")
                        for n in range(self.n_bidders)]
        self.made = factories.make_tender(self.run, self.ctx, self.clock, agency, "published",
                                          bidders=self.bidders)
        # Sessions opened at the instant the server's clock will read, so they are fresh.
        self.clock.set(self.made.deadline_at - timedelta(hours=1))
        self.tokens = [self.run(accounts.login, self.ctx, username=b.username,
                                password=b.password, remote_addr="127.0.0.1")
                       for b in self.bidders]
        self.factories = factories
        self.tortoise = Tortoise

    def seal(self, folder: Path, count: int, size: int) -> list[Request]:
        """``count`` distinct packages, package i by bidder i % bidders (= its connection)."""
        folder.mkdir(parents=True, exist_ok=True)
        requests = []
        for i in range(count):
            n = i % self.n_bidders
            package = self.factories.seal_bid(
                self.run, self.ctx, self.bidders[n], self.made.id, f"{10_000_000 + i}.00",
                files={"投标文件.bin": os.urandom(size)})
            path = folder / f"{i:05d}.sealed"
            path.write_bytes(package)
            requests.append(Request(f"/api/v1/tenders/{self.made.id}/bids?lot=1", str(path),
                                    (("Authorization", f"Bearer {self.tokens[n]}"),)))
        return requests

    def close(self) -> None:
        from kernel import db

        self.run(db.close)
        self.loop.close()


_workers = WORKERS


@contextmanager
def _uvicorn(factory: str, env: dict[str, str], log: Path) -> Iterator[str]:
    port = _free_port()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", factory, "--port", str(port),
             "--log-level", "warning", "--no-access-log", "--backlog", "4096",
             "--workers", str(_workers)],
            cwd=ROOT, env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if proc.poll() is not None:
                raise SystemExit(f"{factory} exited:\n{log.read_text()}")
            try:
                urllib.request.urlopen(base + "/", timeout=1)
                break
            except OSError as error:
                if getattr(error, "code", None):  # an HTTP error: the server answers
                    break
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _settle_disk() -> None:
    """Write the bodies just made to disk before the clock starts, for both endpoints alike:
    else the kernel writes a GiB of them back during the step, on the server's CPUs."""
    os.sync()


WARMUP_RATE = 50


def steps(rates: list[int], seconds: float, offer: Any, warmup: float = 0.0) -> list[Summary]:
    """Offer each rate until one fails, after ``warmup`` seconds at 50/s that are not judged."""
    if warmup > 0:
        summary = offer(WARMUP_RATE, max(1, int(WARMUP_RATE * warmup)))
        print("    warm-up (not judged):", summary.line(), flush=True)
    results = []
    for rate in rates:
        summary = offer(rate, max(1, int(rate * seconds)))
        results.append(summary)
        print("   ", summary.line(), "PASS" if passed(summary) else "FAIL", flush=True)
        if not passed(summary):
            break
    return results


def passed(summary: Summary) -> bool:
    return summary.ok == summary.sent and summary.p99 <= P99_LIMIT


def best(results: list[Summary]) -> float:
    return max((s.offered_rate for s in results if passed(s)), default=0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres-url", default=DEFAULT_URL)
    # From below the target, so that a platform short of 200/s still shows what it sustains.
    parser.add_argument("--rates", type=int, nargs="+",
                        default=[100, 150, 200, 250, 300, 350, 400, 500, 600])
    parser.add_argument("--workers", type=int, default=WORKERS,
                        help="uvicorn worker processes, the same for both endpoints")
    parser.add_argument("--seconds", type=float, default=5.0)
    # A server that has just started has cold caches, an idle thread pool and PostgreSQL
    # backends that have run nothing; a centre's server has been taking bids for days when a
    # deadline comes. Both endpoints get the same warm-up; 0 measures the cold start.
    parser.add_argument("--warmup-seconds", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--size-mib", type=float, default=1.0)
    args = parser.parse_args()
    global _workers
    _workers = args.workers
    size = int(args.size_mib * MiB)
    work = Path(tempfile.mkdtemp(prefix="ebid-rush-"))
    data_dir = ROOT / "var" / "bench" / "data-rush"
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, Python "
          f"{platform.python_version()}; load: {args.processes} processes, "
          f"{args.connections} connections, open loop; bids of {args.size_mib} MiB; "
          f"{args.workers} uvicorn worker(s) per endpoint")
    setup = Setup(args.postgres_url, data_dir, args.connections)
    print("setting up the tender, 200 bidders and their sessions ...", flush=True)
    setup.build()
    # The server's clock: real time shifted so that it reads one hour before the deadline now.
    offset = (setup.made.deadline_at - timedelta(hours=1)
              - datetime.now(UTC)).total_seconds()
    env = {"EBID_DATABASE_URL": args.postgres_url, "EBID_DATA_DIR": str(data_dir),
           "EBID_BENCH_CLOCK_OFFSET": str(offset), "EBID_DATA_DIR_BARE": str(work / "bare")}

    def sealed(rate: int, count: int) -> list[Request]:
        folder = work / f"rate{rate}"
        started = time.perf_counter()
        requests = setup.seal(folder, count, size)
        print(f"  sealed {count} packages for {rate}/s in {time.perf_counter() - started:.0f} s "
              "(not timed)", flush=True)
        _settle_disk()
        return requests

    platform_results: list[Summary] = []
    print("sealed bids, POST /api/v1/tenders/{id}/bids (uvicorn + PostgreSQL):", flush=True)
    with _uvicorn("bench.rush_app:make", env, work / "server.log") as base:
        def offer(rate: int, count: int) -> Summary:
            requests = sealed(rate, count)
            result = run(base, requests, rate=rate, connections=args.connections,
                         processes=args.processes)
            shutil.rmtree(work / f"rate{rate}", ignore_errors=True)
            return result

        platform_results = steps(args.rates, args.seconds, offer, args.warmup_seconds)
    setup.close()

    print("bare upload endpoint, POST /upload (uvicorn, blob store only):", flush=True)
    bodies = work / "bodies"
    bodies.mkdir()
    with _uvicorn("bench.bare_upload_app:make", {"EBID_DATA_DIR": str(work / "bare")},
                  work / "bare.log") as base:
        def offer_bare(rate: int, count: int) -> Summary:
            requests = []
            for i in range(count):
                path = bodies / f"{rate}-{i}.bin"
                path.write_bytes(os.urandom(size + 2048))  # a sealed package's overhead
                requests.append(Request("/upload", str(path)))
            _settle_disk()
            result = run(base, requests, rate=rate, connections=args.connections,
                         processes=args.processes)
            for request in requests:
                Path(request.body_file).unlink()
            return result

        bare_results = steps(args.rates, args.seconds, offer_bare, args.warmup_seconds)
    shutil.rmtree(work, ignore_errors=True)

    at_200 = next((s for s in platform_results if s.offered_rate == 200), None)
    sealed_best, bare_best = best(platform_results), best(bare_results)
    print()
    if at_200 is not None:
        print(f"at 200/s: {at_200.ok}/{at_200.sent} accepted, p99 {at_200.p99 * 1000:.0f} ms "
              f"-> {'PASS' if passed(at_200) else 'FAIL'}")
    print(f"highest sustainable rate: sealed bids {sealed_best:.0f}/s, bare upload "
          f"{bare_best:.0f}/s (highest step tried {max(args.rates)}/s)")
    if bare_best:
        ratio = sealed_best / bare_best
        print(f"ratio {ratio:.2f} (target >= 0.50: {'PASS' if ratio >= 0.5 else 'FAIL'})")


if __name__ == "__main__":
    main()
