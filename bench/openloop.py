"""An open-loop load generator for uploads: requests start on a fixed schedule, whatever the
server's answers, so a slow server shows up as latency instead of as a lower offered rate.

wrk is closed-loop (each connection waits for its answer before sending the next request) and
wrk2, which fixes the rate, is not packaged for Debian. One Python process cannot push 1 MiB
bodies fast enough (about 115 a second with httpx), so the schedule is split over several
processes, each with its share of the connections as threads: sending a body releases the GIL.

Latency is measured from the instant a request was *scheduled*, not from when it was sent, so a
request delayed behind a busy connection counts as slow (no coordinated omission).
"""

from __future__ import annotations

import http.client
import multiprocessing
import os
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Request:
    path: str  # path and query
    body_file: str
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class Outcome:
    scheduled: float
    latency: float
    status: int
    error: str = ""


@dataclass
class Summary:
    offered_rate: float
    sent: int
    ok: int
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    p50: float = 0.0
    p99: float = 0.0
    max: float = 0.0
    achieved_rate: float = 0.0

    def line(self) -> str:
        return (f"offered {self.offered_rate:6.0f}/s  sent {self.sent:5d}  ok {self.ok:5d}  "
                f"achieved {self.achieved_rate:6.1f}/s  p50 {self.p50 * 1000:7.1f} ms  "
                f"p99 {self.p99 * 1000:7.1f} ms  max {self.max * 1000:7.1f} ms  "
                f"statuses {dict(sorted(self.statuses.items()))}"
                + (f"  errors {len(self.errors)}: {self.errors[0]}" if self.errors else ""))


def _connection(base: str) -> http.client.HTTPConnection:
    parts = urlsplit(base)
    return http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80,
                                      timeout=60)


def _send(conn: http.client.HTTPConnection, request: Request) -> None:
    """POST the body file with sendfile(): the kernel copies it from the page cache to the
    socket, so the generator spends no CPU reading 1 MiB into Python and writing it out again
    (it shares the machine's two cores with the server it measures)."""
    with open(request.body_file, "rb") as body:
        conn.putrequest("POST", request.path, skip_accept_encoding=True)
        conn.putheader("Content-Type", "application/octet-stream")
        conn.putheader("Content-Length", str(os.fstat(body.fileno()).st_size))
        for name, value in request.headers:
            conn.putheader(name, value)
        conn.endheaders()
        assert conn.sock is not None
        conn.sock.sendfile(body)


def _run_connection(base: str, jobs: list[tuple[float, Request]], start: float,
                    out: list[Outcome]) -> None:
    conn = _connection(base)
    for offset, request in jobs:
        scheduled = start + offset
        delay = scheduled - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        try:
            _send(conn, request)
            response = conn.getresponse()
            response.read()
            status = response.status
            error = ""
            if response.getheader("connection", "").lower() == "close":
                conn.close()
                conn = _connection(base)
        except (OSError, http.client.HTTPException) as exc:
            status, error = 0, f"{type(exc).__name__}: {exc}"
            conn.close()
            conn = _connection(base)
        out.append(Outcome(scheduled, time.perf_counter() - scheduled, status, error))
    conn.close()


def _process(base: str, connections: list[list[tuple[float, Request]]], start: float,
             queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    results: list[Outcome] = []
    threads = [threading.Thread(target=_run_connection, args=(base, jobs, start, results))
               for jobs in connections]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put([(o.scheduled, o.latency, o.status, o.error) for o in results])


def run(base: str, requests: Sequence[Request], *, rate: float, connections: int,
        processes: int, ok: Callable[[int], bool] = lambda s: 200 <= s < 300) -> Summary:
    """Offer ``requests`` at ``rate`` per second over ``connections`` connections."""
    # Request i starts at i / rate on connection i % connections.
    per_connection: list[list[tuple[float, Request]]] = [[] for _ in range(connections)]
    for index, request in enumerate(requests):
        per_connection[index % connections].append((index / rate, request))
    groups = [per_connection[n::processes] for n in range(processes)]
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    # Every process gets the same start instant, a little ahead, so that forking does not eat
    # into the first requests' budget.
    start = time.perf_counter() + 1.0
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_process, args=(base, group, start, queue))
               for group in groups if group]
    for worker in workers:
        worker.start()
    outcomes: list[Outcome] = []
    for _ in workers:
        outcomes += [Outcome(*row) for row in queue.get()]
    for worker in workers:
        worker.join()
    return summarise(rate, outcomes, ok)


def summarise(rate: float, outcomes: list[Outcome], ok: Callable[[int], bool]) -> Summary:
    summary = Summary(offered_rate=rate, sent=len(outcomes), ok=0)
    latencies = []
    for outcome in outcomes:
        summary.statuses[outcome.status] = summary.statuses.get(outcome.status, 0) + 1
        if ok(outcome.status):
            summary.ok += 1
        elif outcome.error:
            summary.errors.append(outcome.error)
        latencies.append(outcome.latency)
    if latencies:
        latencies.sort()
        summary.p50 = statistics.median(latencies)
        summary.p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        summary.max = latencies[-1]
        first = min(o.scheduled for o in outcomes)
        last = max(o.scheduled + o.latency for o in outcomes)
        summary.achieved_rate = summary.ok / max(last - first, 1e-9)
    return summary
