"""kill -9 in the middle of a submission storm (issue 3's fault test).

A real server process takes sealed bids from several bidders at once over HTTP; the test kills
it with SIGKILL while packages are in flight, starts it again on the same database and data
directory, and checks: every bid that got a receipt is present, with the very receipt the
bidder holds, its package intact in the blob store and its log entry in place; no package is
recorded twice; re-sending the packages whose answer was lost ends with exactly one bid each.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import factories
import pytest
from starlette.testclient import TestClient

from bidding.models import Bid
from kernel.accounts import services as accounts
from kernel.clock import FixedClock
from signing.models import LogEntry

SERVER = Path(__file__).with_name("fault_server.py")
ROOT = Path(__file__).resolve().parents[2]
BIDDERS = 4
PER_BIDDER = 12


@pytest.fixture(autouse=True)
def _cheap(monkeypatch: pytest.MonkeyPatch) -> None:
    factories.cheap_password_hashing(monkeypatch)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _server(settings: Any, clock_file: Path,
            log: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = _free_port()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, str(SERVER), "--database-url", settings.database_url,
             "--data-dir", str(settings.data_dir), "--clock-file", str(clock_file),
             "--port", str(port)],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        give_up = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the server exited with {proc.returncode}:\n{log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > give_up:
                    pytest.fail(f"the server did not come up:\n{log.read_text()}")
                time.sleep(0.05)  # waiting for a real process to listen, bounded above
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass
class Storm:
    port: int
    tender_id: int
    receipts: dict[str, bytes] = field(default_factory=dict)  # package sha256 -> receipt
    unanswered: list[tuple[str, bytes]] = field(default_factory=list)  # (token, package)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def post(self, token: str, package: bytes) -> tuple[int, dict[str, Any]]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("POST", f"/api/v1/tenders/{self.tender_id}/bids?lot=1", body=package,
                         headers={"Authorization": f"Bearer {token}",
                                  "Content-Type": "application/octet-stream"})
            response = conn.getresponse()
            return response.status, json.loads(response.read() or b"{}")
        finally:
            conn.close()

    def bidder(self, token: str, packages: list[bytes]) -> None:
        for n, package in enumerate(packages):
            if self.stop.is_set():
                with self.lock:
                    self.unanswered += [(token, p) for p in packages[n:]]
                return
            try:
                status, body = self.post(token, package)
            except (OSError, http.client.HTTPException):
                with self.lock:
                    self.unanswered += [(token, p) for p in packages[n:]]
                return
            assert status in (200, 201), (status, body)
            with self.lock:
                self.receipts[hashlib.sha256(package).hexdigest()] = base64.b64decode(
                    body["receipt"])


def test_kill_9_during_a_submission_storm(
    client: TestClient, run: Any, ctx: Any, clock: FixedClock, settings: Any, tmp_path: Path
) -> None:
    agency = factories.make_agency(run, ctx)
    bidders = [factories.make_bidder(run, ctx, f"fault{n}") for n in range(BIDDERS)]
    made = factories.make_tender(run, ctx, clock, agency, "published", bidders=bidders)
    clock.set(made.deadline_at - timedelta(hours=2))
    tokens = [run(accounts.login, ctx, username=b.username, password=b.password,
                  remote_addr="127.0.0.1") for b in bidders]
    # Distinct packages, big enough that some are mid-upload when the server dies.
    packages = [[factories.seal_bid(run, ctx, bidder, made.id, f"{10_000_000 + 100 * i + n}.00",
                                    files={"投标文件.bin": os.urandom(256 * 1024)})
                 for n in range(PER_BIDDER)] for i, bidder in enumerate(bidders)]

    clock_file = tmp_path / "clock.txt"
    clock_file.write_text(clock.now().isoformat(), encoding="utf-8")
    log = tmp_path / "server.log"
    with _server(settings, clock_file, log) as (proc, port):
        storm = Storm(port, made.id)
        threads = [threading.Thread(target=storm.bidder, args=(token, mine))
                   for token, mine in zip(tokens, packages, strict=True)]
        for thread in threads:
            thread.start()
        give_up = time.monotonic() + 120
        while len(storm.receipts) < BIDDERS * PER_BIDDER // 3:
            assert time.monotonic() < give_up, f"too few receipts:\n{log.read_text()}"
            assert any(t.is_alive() for t in threads), "the storm ended before the kill"
            time.sleep(0.01)  # polling the storm's progress, bounded above
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        storm.stop.set()
        for thread in threads:
            thread.join(timeout=60)
    held = dict(storm.receipts)
    assert held and storm.unanswered, "the kill should fall in the middle of the storm"

    # Restarted: every receipt the bidders hold is there, intact, once.
    with _server(settings, clock_file, log) as (_, port):
        async def stored() -> tuple[list[Bid], list[int]]:
            return (list(await Bid.filter(tender_id=made.id)),
                    list(await LogEntry.filter(tender_id=made.id).values_list("index", flat=True)))

        bids, entries = run(stored)
        by_hash = {b.sha256: b for b in bids}
        assert not [h for h, n in Counter(b.sha256 for b in bids).items() if n > 1], "twice"
        for sha256, receipt in held.items():
            bid = by_hash.get(sha256)
            assert bid is not None, f"a receipted package is missing: {sha256}"
            assert bytes(bid.receipt) == receipt, "the stored receipt differs from the bidder's"
            with ctx.blobs.open(sha256) as stream:
                assert hashlib.sha256(stream.read()).hexdigest() == sha256, "package damaged"
        assert sorted(entries) == sorted(b.log_index for b in bids), "log entries and bids differ"
        assert len(set(entries)) == len(entries)

        # The bidders send again whatever got no answer: each package ends up exactly once.
        again = Storm(port, made.id)
        for token, package in storm.unanswered:
            status, body = again.post(token, package)
            assert status in (200, 201), (status, body)
        bids, entries = run(stored)
        assert len(bids) == BIDDERS * PER_BIDDER
        assert len({b.sha256 for b in bids}) == len(bids)
        assert sorted(entries) == sorted(b.log_index for b in bids)
    report = run(ctx.audit.verify)
    assert report.ok, report.lines()
