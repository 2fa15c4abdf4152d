"""The portal benchmark's load side: the server process, wrk, and the machine's other load.

``serve`` runs the real app in one uvicorn process (``bench.portal_app:make``). ``run_wrk``
drives one endpoint with wrk and reads p50/p90/p95/p99 from a Lua ``done()`` hook
(``wrk --latency`` prints no p95). Every request goes to 127.0.0.1 and every run is bounded
by its duration.

The machine may be shared (other sessions run test suites on it). Before each endpoint the
benchmark waits for the machine to be quiet (``wait_quiet``), and during the run it measures
how much CPU went to processes other than the server, wrk and the bench database's own
PostgreSQL backends: the "other" column, in cores. A run with too much of it is repeated.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.database import ROOT, VAR, Target, pg_dsn

P95_LIMIT_MS = 100.0


def command(cmd: list[str]) -> str:
    """The stripped output of a short command, or "?" when it cannot run."""
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10,
                              check=False).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(target: Target) -> Iterator[tuple[str, int]]:
    """Run the real app in one uvicorn process; yield its base URL and process id."""
    port = _free_port()
    env = dict(os.environ)
    env.update({
        "EBID_DATABASE_URL": target.url,
        "EBID_DATA_DIR": str(target.settings.data_dir),
        "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
    })
    log_path = VAR / f"server-{target.name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "bench.portal_app:make",
             "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
             "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"the server exited; see {log_path}:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(base + "/tenders", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"the server did not answer within 60 s; see {log_path}")
            time.sleep(0.2)
        yield base, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- other load on the machine (see the module docstring) ----------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _machine_busy() -> float:
    """CPU seconds the whole machine has spent busy (not idle or iowait) since boot."""
    try:
        fields_ = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0.0
    idle = fields_[3] + (fields_[4] if len(fields_) > 4 else 0)
    # user nice system idle iowait irq softirq steal (guest is already in user)
    return (sum(fields_[:8]) - idle) / CLK_TCK


def _pids_cpu(pids: list[int]) -> dict[int, float]:
    """CPU seconds (user + system) used so far by each of these processes still running."""
    found = {}
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        parts = stat.rsplit(")", 1)[1].split()
        found[pid] = (int(parts[11]) + int(parts[12])) / CLK_TCK
    return found


def _cpu_since(before: dict[int, float]) -> float:
    """CPU seconds the processes sampled in ``before`` have used since (those still running)."""
    after = _pids_cpu(list(before))
    return sum(max(0.0, after[pid] - before[pid]) for pid in after)


def _pg_backends(url: str) -> list[int]:
    """Process ids of the PostgreSQL backends connected to the bench database (the pool)."""
    out = command(["psql", pg_dsn(url), "-Atc",
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()"])
    return [int(line) for line in out.split() if line.isdigit()]


def wait_quiet(limit_cores: float, timeout: float) -> float:
    """Wait (at most ``timeout`` s) until the machine used under ``limit_cores`` for a second;
    return the load seen last, in cores."""
    deadline = time.monotonic() + timeout
    while True:
        before = _machine_busy()
        time.sleep(1.0)
        busy = _machine_busy() - before
        if busy <= limit_cores or time.monotonic() >= deadline:
            return busy
        print(f"    waiting for a quiet machine ({busy:.2f} cores busy)", flush=True)


LUA_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%.0f duration_us=%.0f connect=%.0f read=%.0f write=%.0f status=%.0f " ..
    "timeout=%.0f p50=%.0f p90=%.0f p95=%.0f p99=%.0f max=%.0f\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max))
end
"""

LUA_RANDOM_IDS = r"""
local ids = {%(ids)s}
local prefix = "%(prefix)s"
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("seed", threads)
end
init = function(args)
  math.randomseed(os.time() * 1000 + (seed or 0) * 7919)
end
request = function()
  return wrk.format("GET", prefix .. ids[math.random(#ids)])
end
"""


@dataclass
class Endpoint:
    label: str
    path: str  # for the random-id endpoints, the prefix the id is appended to
    ids: list[int] | None = None

    def url_path(self) -> str:
        return self.path + (str(self.ids[0]) if self.ids else "")


@dataclass
class Result:
    database: str
    endpoint: str
    rps: float
    p50: float
    p90: float
    p95: float
    p99: float
    max: float
    requests: int
    errors: int
    server_cpu: float = 0.0  # cores used by the uvicorn process during the run
    db_cpu: float = 0.0  # cores used by the bench database's PostgreSQL backends
    other: float = 0.0  # cores used by anything else on the machine (not wrk)

    @property
    def passed(self) -> bool:
        return self.p95 <= P95_LIMIT_MS and self.errors == 0 and self.requests > 0


def lua_script(endpoint: Endpoint, folder: Path) -> Path:
    script = LUA_DONE
    if endpoint.ids:
        script = LUA_RANDOM_IDS % {
            "ids": ",".join(map(str, endpoint.ids)), "prefix": endpoint.path,
        } + script
    path = folder / f"{abs(hash(endpoint.label))}.lua"
    path.write_text(script)
    return path


def run_wrk(base: str, endpoint: Endpoint, lua: Path, *, duration: float, connections: int,
            threads: int) -> dict[str, float]:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s",
           "--latency", "--timeout", "10s", "-s", str(lua), base + endpoint.url_path()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60,
                          check=False)
    match = re.search(r"^BENCH (.*)$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or match is None:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return {key: float(value) for key, value in
            (pair.split("=") for pair in match.group(1).split())}


def one_run(target: Target, base: str, server_pid: int, endpoint: Endpoint, lua: Path,
            args: argparse.Namespace) -> Result:
    """Wait for a quiet machine, warm up, then one timed run; with the cores the server, the
    bench database and everything else used meanwhile."""
    wait_quiet(args.quiet_cores, args.quiet_wait)
    if args.warmup > 0:
        run_wrk(base, endpoint, lua, duration=args.warmup, connections=args.connections,
                threads=args.threads)
    backends = _pg_backends(target.url) if target.is_postgres else []
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy, server_before, db_before = (
        _machine_busy(), _pids_cpu([server_pid]), _pids_cpu(backends))
    started = time.monotonic()
    raw = run_wrk(base, endpoint, lua, duration=args.duration, connections=args.connections,
                  threads=args.threads)
    elapsed = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    busy = _machine_busy() - busy
    server = _cpu_since(server_before)
    database = _cpu_since(db_before)
    errors = int(sum(raw[k] for k in ("connect", "read", "write", "status", "timeout")))
    return Result(
        database=target.name, endpoint=endpoint.label,
        rps=raw["requests"] / (raw["duration_us"] / 1e6),
        p50=raw["p50"] / 1000, p90=raw["p90"] / 1000, p95=raw["p95"] / 1000,
        p99=raw["p99"] / 1000, max=raw["max"] / 1000, requests=int(raw["requests"]),
        errors=errors, server_cpu=server / elapsed, db_cpu=database / elapsed,
        other=max(0.0, busy - server - database - wrk) / elapsed,
    )
