"""ebid-client end to end: the installed console script against a real server process.

The test seeds the database through the services (the conftest's app, same database and data
directory as the server), starts uvicorn on a free port (tests/e2e/client_server.py, with a
file clock), and then does what a bidder and the officers do, each as its own ``ebid-client``
process: certificate login and the browser link, sealing with a bill of quantities, a resumable
upload that loses a connection halfway and the answer to another chunk (through a proxy that
cuts them), the receipt checked against the platform certificate, the package and the log, the
bidder's key at the opening, and two officers' shares.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import factories
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import Encoding

from bidding import services as bidding
from signing import accounts as certificates
from signing.keys import LOG_KEY_FILE, RECEIPT_CERT_FILE
from signing.pki.devpki import write_pair

ROOT = Path(__file__).resolve().parents[2]
SERVER_APP = Path(__file__).with_name("client_server.py")
CLIENT = Path(sys.executable).with_name("ebid-client")
P12_PASSWORD = "client-e2e"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Live:
    url: str
    clock_file: Path

    def set_clock(self, at: datetime) -> None:
        tmp = self.clock_file.with_suffix(".tmp")
        tmp.write_text(at.isoformat(), encoding="utf-8")
        os.replace(tmp, self.clock_file)


@contextlib.contextmanager
def serve(settings, at: datetime, tmp_path: Path) -> Iterator[Live]:  # type: ignore[no-untyped-def]
    port = _free_port()
    live = Live(f"http://127.0.0.1:{port}", tmp_path / "clock.txt")
    live.set_clock(at)
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, str(SERVER_APP), "--database-url", settings.database_url,
             "--data-dir", str(settings.data_dir), "--clock-file", str(live.clock_file),
             "--port", str(port), "--max-upload-bytes", str(settings.max_upload_bytes)],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            give_up = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"the server exited:\n{log_path.read_text()}")
                try:
                    with urllib.request.urlopen(live.url + "/api/v1/tenders", timeout=2):
                        break
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    if time.monotonic() > give_up:
                        pytest.fail(f"the server did not come up:\n{log_path.read_text()}")
                time.sleep(0.1)  # polling for the server to come up, with a timeout
            yield live
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class CuttingProxy:
    """Forwards TCP to the server, except that it cuts the request of the ``cut_request``-th
    PUT halfway and swallows the answer to the ``lose_answer``-th: a dropped connection, and a
    chunk the server stored whose answer never arrived."""

    def __init__(self, target_port: int, *, cut_request: int, lose_answer: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.cut_request, self.lose_answer = cut_request, lose_answer
        self.puts = 0
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self.target)
        try:
            first = client.recv(65536)
            number = 0
            if first.startswith(b"PUT "):
                with self.lock:
                    self.puts += 1
                    number = self.puts
            if number == self.cut_request:
                upstream.sendall(first[: len(first) // 2])
                return
            upstream.sendall(first)
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            while data := upstream.recv(65536):
                if number == self.lose_answer:
                    return  # the server has answered; the answer is lost on the way back
                client.sendall(data)
        finally:
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)  # also wakes the pump's recv
                sock.close()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)

    def close(self) -> None:
        self.listener.close()


def client(home: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """One run of the installed console script, as the bidder or an officer would type it."""
    env = {**os.environ, "EBID_CLIENT_HOME": str(home), "EBID_P12_PASSWORD": P12_PASSWORD,
           "EBID_PASSWORD": factories.PASSWORD}
    return subprocess.run([str(CLIENT), "--lang", "en", *argv], capture_output=True,
                          text=True, env=env, cwd=home.parent, timeout=120, check=False)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@dataclass
class Seeded:
    made: factories.MadeTender
    bidder: factories.Account
    officers: dict[str, factories.Account]  # by opening role
    enc_files: dict[str, Path]  # the officers' encryption PKCS#12, by role
    p12: Path  # the bidder's signing certificate
    enc_p12: Path  # and its paired encryption certificate


def seed(run, ctx, clock, tmp_path: Path, **tender: str) -> Seeded:  # type: ignore[no-untyped-def]
    """CAs, three officers with encryption certificates (kept as PKCS#12 files), the client's
    bidder and two others who bid in-process, and a published tender."""
    factories.trust_dev_pki(run, ctx)
    agency = factories.make_agency(run, ctx)
    supervisor = factories.make_supervisor(run, ctx)
    admin = factories.make_admin(run, ctx)
    officers = {"agency": agency, "supervisor": supervisor, "centre": admin}
    enc_files = {}
    for role, account in officers.items():
        pair = factories.dev_pki().issue(kind="officer", name=account.username, role=role,
                                         now=factories.PKI_NOW, family="ec",
                                         days=factories.PKI_DAYS)
        run(certificates.register_certificate, ctx, actor=account.actor,
            der=pair.encryption.certificate.public_bytes(Encoding.DER))
        _, enc_files[role] = write_pair(pair, tmp_path / f"{role}.p12", password=P12_PASSWORD)
    bidder = factories.make_bidder(run, ctx, "client")
    others = [factories.make_bidder(run, ctx, seed) for seed in ("other-1", "other-2")]
    made = factories.make_tender(run, ctx, clock, agency, "published",
                                 bidders=[bidder, *others], **tender)
    for other, price in zip(others, factories.DEFAULT_PRICES[1:], strict=False):
        made.bid_ids[other.username], _ = factories.submit_sealed(run, ctx, other, made.id,
                                                                 price)
    p12, enc_p12 = write_pair(factories.bidder_credentials(bidder).pair,
                              tmp_path / "company.p12", password=P12_PASSWORD)
    return Seeded(made, bidder, officers, enc_files, p12, enc_p12)


def start_opening(run, ctx, clock, settings, live: Live, made) -> None:  # type: ignore[no-untyped-def]
    """Moves both clocks to the end of the intake grace and starts the opening."""
    opening_at = made.deadline_at + timedelta(seconds=settings.intake_grace_seconds)
    clock.set(opening_at)
    live.set_clock(opening_at)
    run(bidding.advance_due, ctx)


def test_bidder_and_officers_with_the_client(run, ctx, clock, settings, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # --- seeding: CAs, officers with encryption certificates, three bidders, a tender ---------
    factories.cheap_password_hashing(monkeypatch)  # the server verifies them all the same
    seeded = seed(run, ctx, clock, tmp_path)
    made, bidder, p12, enc_p12 = seeded.made, seeded.bidder, seeded.p12, seeded.enc_p12
    agency, supervisor = seeded.officers["agency"], seeded.officers["supervisor"]
    enc_files = seeded.enc_files
    bidder_home, officer_homes = tmp_path / "bidder", {r: tmp_path / r for r in enc_files}
    technical = tmp_path / "技术标.pdf"
    technical.write_bytes(os.urandom(300_000))
    items = tmp_path / "items.csv"
    items.write_bytes("项目编码,项目名称,工程量,综合单价\n010101001,平整场地,1200.5,3.20\n"
                      .encode("gb18030"))

    with serve(settings, clock.now(), tmp_path) as live:
        port = int(live.url.rsplit(":", 1)[1])
        proxy = CuttingProxy(port, cut_request=2, lose_answer=4)
        try:
            # --- login: bearer token stored, one-time browser link ---------------------------
            out = ok(client(bidder_home, "--server", live.url, "login", "--p12", str(p12),
                            "--no-browser"))
            link = next(line.split(": ", 1)[1] for line in out.splitlines()
                        if "login link" in line)
            assert link.startswith(f"{live.url}/login/link/")
            sessions = json.loads((bidder_home / "sessions.json").read_text())
            assert sessions[live.url]["token"]
            # the link logs a browser in once: a session cookie and the way home
            browser = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            browser.request("GET", urlsplit(link).path)
            answer = browser.getresponse()
            assert answer.status in (302, 303), answer.status
            assert "ebid_session=" in (answer.getheader("Set-Cookie") or "")
            browser.close()

            # --- seal ------------------------------------------------------------------------
            package = tmp_path / "bid.sealed"
            out = ok(client(bidder_home, "--server", live.url, "seal", "--tender", str(made.id),
                            "--price", "10990000.00", "--items", str(items), "--duration-days",
                            "280", "--quality", "合格", "--project-manager", "王工", "--p12",
                            str(p12), "--enc-p12", str(enc_p12), "-o", str(package),
                            str(technical)))
            assert "key mode either" in out

            # --- submit through the cutting proxy: it resumes and gets the receipt -----------
            sessions = json.loads((bidder_home / "sessions.json").read_text())
            sessions[proxy.url] = sessions[live.url]
            (bidder_home / "sessions.json").write_text(json.dumps(sessions))
            result = client(bidder_home, "--server", proxy.url, "submit", str(package),
                            "--tender", str(made.id), "--chunk-size", "65536",
                            "--retry-delay", "0")
            ok(result)
            # one retry for the cut request, one for the lost answer, each resumed
            assert result.stderr.count("retrying") == 2, result.stderr
            assert result.stderr.count("resuming upload") == 2, result.stderr
            assert proxy.puts >= 6
            receipt = tmp_path / "bid.sealed.receipt.p7m"
            assert receipt.exists()
            again = ok(client(bidder_home, "--server", live.url, "submit", str(package),
                              "--tender", str(made.id)))
            assert "already accepted" in again

            # --- the receipt: platform certificate, package --------------------------------
            key_dir = Path(settings.data_dir) / "keys"
            out = ok(client(bidder_home, "--server", live.url, "verify-receipt", str(receipt),
                            "--package", str(package), "--platform-cert",
                            str(key_dir / RECEIPT_CERT_FILE)))
            assert "OK    receipt signed by the platform certificate" in out
            assert "OK    bid.sealed is the package the receipt names" in out

            # --- the deadline passes: the opening starts -------------------------------------
            start_opening(run, ctx, clock, settings, live, made)

            log_key = tmp_path / "log-key.pem"
            private = serialization.load_pem_private_key((key_dir / LOG_KEY_FILE).read_bytes(),
                                                         None)
            log_key.write_bytes(private.public_key().public_bytes(
                Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
            out = ok(client(bidder_home, "--server", live.url, "verify-receipt", str(receipt),
                            "--log-key", str(log_key)))
            assert "OK    head signature" in out and "of the head's tree of" in out

            # --- the bidder decrypts (its session ran out meanwhile); two officers share ------
            expired = client(bidder_home, "--server", live.url, "decrypt", "--tender",
                             str(made.id), "--enc-p12", str(enc_p12))
            assert expired.returncode == 1 and "ebid-client login" in expired.stderr
            ok(client(bidder_home, "--server", live.url, "login", "--p12", str(p12),
                      "--no-browser"))
            # a package sent after the deadline is refused, with no receipt
            late = tmp_path / "late.sealed"
            ok(client(bidder_home, "--server", live.url, "seal", "--tender", str(made.id),
                      "--price", "10000000.00", "--p12", str(p12), "--enc-p12", str(enc_p12),
                      "-o", str(late), str(technical)))
            refused = client(bidder_home, "--server", live.url, "submit", str(late),
                             "--tender", str(made.id))
            assert refused.returncode == 1 and "the platform refused" in refused.stderr
            assert not late.with_name("late.sealed.receipt.p7m").exists()
            out = ok(client(bidder_home, "--server", live.url, "decrypt", "--tender",
                            str(made.id), "--enc-p12", str(enc_p12)))
            assert ": decrypted" in out, out
            for number, (account, role) in enumerate(((agency, "agency"),
                                                      (supervisor, "supervisor")), start=1):
                home = officer_homes[role]
                ok(client(home, "--server", live.url, "login", "--username", account.username))
                out = ok(client(home, "--server", live.url, "share", "--tender", str(made.id),
                                "--enc-p12", str(enc_files[role])))
                assert f"share accepted: {number} of 2" in out
            refused = client(officer_homes["agency"], "--server", live.url, "share",
                             "--tender", str(made.id), "--enc-p12", str(enc_files["centre"]))
            assert refused.returncode == 1 and refused.stderr.strip()
        finally:
            proxy.close()

    state = run(bidding.opening_view, ctx, actor=bidder.actor, tender_id=made.id)
    mine = [bid for bid in state["bids"] if bid["mine"]]
    assert [bid["decryption"] for bid in mine] == ["decrypted"]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl binary")
def test_both_keys_with_a_client_key_and_an_openssl_signed_manifest(
        run, ctx, clock, settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A "both keys needed" tender: the bidder seals to an X25519 key ``keygen`` made, with
    the manifest signed by stock openssl; at the opening it sends its half, two officers
    their shares, and the platform opens the bid with both."""
    factories.cheap_password_hashing(monkeypatch)
    seeded = seed(run, ctx, clock, tmp_path, key_mode="both")
    made, home = seeded.made, tmp_path / "bidder"
    pair = factories.bidder_credentials(seeded.bidder).pair
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_bytes(pair.signing.certificate.public_bytes(Encoding.PEM))
    key.write_bytes(pair.signing.key.private_bytes(Encoding.PEM,
                                                   serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
    bid_file = tmp_path / "投标文件.pdf"
    bid_file.write_bytes(b"%PDF-1.7 both keys" * 1000)
    declared = ["--tender", str(made.id), "--price", "10990000.00", "--duration-days", "300"]

    with serve(settings, clock.now(), tmp_path) as live:
        ok(client(home, "--server", live.url, "login", "--p12", str(seeded.p12),
                  "--no-browser"))
        ok(client(home, "keygen"))
        manifest = tmp_path / "manifest.json"
        ok(client(home, "--server", live.url, "manifest", *declared, "--cert", str(cert),
                  "-o", str(manifest), str(bid_file)))
        subprocess.run(["openssl", "cms", "-sign", "-binary", "-outform", "DER", "-signer",
                        str(cert), "-inkey", str(key), "-in", str(manifest), "-out",
                        str(tmp_path / "manifest.p7s")], check=True, capture_output=True)
        package = tmp_path / "bid.sealed"
        out = ok(client(home, "--server", live.url, "seal", *declared, "--p12",
                        str(seeded.p12), "--signature", str(tmp_path / "manifest.p7s"),
                        "-o", str(package), str(bid_file)))
        assert "key mode both" in out
        ok(client(home, "--server", live.url, "submit", str(package), "--tender",
                  str(made.id)))

        start_opening(run, ctx, clock, settings, live, made)
        ok(client(home, "--server", live.url, "login", "--p12", str(seeded.p12),
                  "--no-browser"))
        out = ok(client(home, "--server", live.url, "decrypt", "--tender", str(made.id),
                        "--p12", str(seeded.p12), "--package", str(package)))
        assert "pending" in out or "decrypted" in out, out
        for role in ("supervisor", "centre"):
            officer_home = tmp_path / role
            ok(client(officer_home, "--server", live.url, "login", "--username",
                      seeded.officers[role].username))
            ok(client(officer_home, "--server", live.url, "share", "--tender", str(made.id),
                      "--enc-p12", str(seeded.enc_files[role])))

    for other in made.bidders[1:]:
        factories.send_key(run, ctx, other, made.bid_ids[other.username])
    run(bidding.advance_due, ctx)
    state = run(bidding.opening_view, ctx, actor=seeded.bidder.actor, tender_id=made.id)
    mine = [bid for bid in state["bids"] if bid["mine"]]
    assert [bid["decryption"] for bid in mine] == ["decrypted"], state
    assert mine[0]["price"] is not None
