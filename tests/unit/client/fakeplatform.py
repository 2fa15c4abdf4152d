"""A stand-in for the platform's HTTP API as issue3-contract describes it, in a thread.

It implements just enough of the contract (opening key, fingerprint key, certificate login,
resumable uploads, receipts and the log, the opening) for the client's unit tests to run the
real ``ebid-client`` code over real HTTP, including a connection that drops after the server
stored a chunk. The real server is exercised by tests/e2e/test_client.py.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from signing import merkle
from signing.cms import verify_detached
from signing.keys import self_signed
from signing.opening_key import OpeningKeySetup, verify_share
from signing.pki import IssuedPair
from signing.receipts import Receipt, entry_data, sign_receipt
from signing.sealed import inspect, read_header
from signing.sealed.keys import check_commitment
from signing.shamir import Share
from signing.tree_head import TreeHead, sign_tree_head

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
TOKEN = "fake-token"
PASSWORD = "client-test"  # of the test PKCS#12 files
TENDER = 7


@dataclass(frozen=True)
class Holder:
    """A certificate holder's PKCS#12 files, as the client is given them."""

    pair: IssuedPair
    p12: Path
    enc_p12: Path


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass
class Upload:
    tender_id: int
    lot: int
    size: int
    sha256: str
    data: bytearray = field(default_factory=bytearray)


@dataclass
class Bid:
    id: int
    tender_id: int
    lot: int
    package: bytes
    receipt: bytes
    decryption: str = "pending"
    status: str = "submitted"  # or "withdrawn", "superseded"


class Platform:
    def __init__(self, setup: OpeningKeySetup, tender_id: int, mode: str = "either") -> None:
        self.setup = setup
        self.tender_id = tender_id
        self.mode = mode
        self.fingerprint_key = bytes(range(32))
        self.receipt_key = ec.generate_private_key(ec.SECP256R1())
        self.receipt_cert = self_signed(self.receipt_key, now=NOW)
        self.log_key = ed25519.Ed25519PrivateKey.generate()
        self.leaves: list[bytes] = []
        self.uploads: dict[str, Upload] = {}
        self.bids: list[Bid] = []
        self.shares: dict[int, Share] = {}
        self.head_lag = 0  # entries the latest signed head does not include yet
        self.bad_proof = False
        self.drop_puts: set[int] = set()  # numbers of PUTs whose answer is lost
        # Bytes the first complete finds missing (acknowledged, then lost in a restart).
        self.lose_on_complete = 0
        self.puts = 0
        self.challenges: set[str] = set()
        self.logged_in: list[str] = []
        self.keys_received: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    # --- the routes ---------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, str], body: bytes,
               token: str | None) -> tuple[int, Any]:
        parts = path.strip("/").split("/")[2:]  # after api/v1
        public = {("POST", "auth/challenge"), ("POST", "auth/certificate"), ("POST", "session"),
                  ("GET", "log/heads/latest"), ("GET", "log/proof/inclusion")}
        route = "/".join(parts)
        if (method, route) not in public and not route.endswith("opening-key") \
                and token != TOKEN:
            return 401, {"error": "login_required", "message": "Please log in first"}
        if route == "auth/challenge":
            challenge = b64(hashlib.sha256(str(len(self.challenges)).encode()).digest())
            self.challenges.add(challenge)
            return 200, {"challenge": challenge, "expires_at": "2026-03-02T01:05:00Z"}
        if route == "auth/certificate":
            data = json.loads(body)
            if data["challenge"] not in self.challenges:
                return 400, {"error": "bad_challenge", "message": "unknown challenge"}
            verified = verify_detached(base64.b64decode(data["signature"]),
                                       content=base64.b64decode(data["challenge"]))
            self.logged_in.append(verified.signer.subject.rfc4514_string())
            return 200, {"token": TOKEN, "login_url": "/login/link/secret",
                         "user": {"username": "bidder", "display_name": "华东建设"}}
        if route == "session":
            data = json.loads(body)
            if (data.get("username"), data.get("password")) != ("officer-centre", "pw"):
                return 401, {"error": "login_failed", "message": "Wrong username or password"}
            return 200, {"token": TOKEN, "role": "admin", "expires_at": "2026-03-02T09:00:00Z"}
        if route == "fingerprint-key":
            return 200, {"key": b64(self.fingerprint_key)}
        if route == f"tenders/{self.tender_id}/opening-key":
            return 200, {"tender_id": self.tender_id, "key_id": self.setup.key_id,
                         "public_key_pem": self.setup.public_key_pem(), "mode": self.mode,
                         "threshold": self.setup.threshold,
                         "officers": [{"index": s.index, "officer": s.officer, "role": s.role,
                                       "key_id": s.key_id} for s in self.setup.shares],
                         "shares": [s.to_dict() for s in self.setup.shares]}
        if route == f"tenders/{self.tender_id}/uploads" and method == "POST":
            data = json.loads(body)
            upload_id = f"u{len(self.uploads) + 1}"
            self.uploads[upload_id] = Upload(self.tender_id, data["lot"], data["size"],
                                             data["sha256"])
            return 201, {"upload_id": upload_id, "offset": 0, "chunk_size": 4096}
        if parts[0] == "uploads":
            return self._upload(method, parts[1:], query, body)
        if route == "log/heads/latest":
            size = len(self.leaves) - self.head_lag
            head = sign_tree_head(TreeHead.at(size, self._root(size), NOW), self.log_key)
            return 200, head.to_dict()
        if route == "log/proof/inclusion":
            index, size = int(query["index"]), int(query["tree_size"])
            hashes_ = [merkle.leaf_hash(leaf) for leaf in self.leaves[:size]]
            path = merkle.inclusion_proof(hashes_, index)
            if self.bad_proof:
                path = [bytes(32)] * max(len(path), 1)
            return 200, {"leaf_index": index, "tree_size": size,
                         "audit_path": [b64(h) for h in path]}
        if route == f"tenders/{self.tender_id}" and method == "GET":
            return 200, {"id": self.tender_id, "mine": {"bids": [
                {"id": bid.id, "lot": bid.lot, "status": bid.status,
                 "sha256": hashlib.sha256(bid.package).hexdigest(),
                 "ended_at": None if bid.status == "submitted" else "2026-03-02T02:00:00Z"}
                for bid in self.bids]}}
        if route == f"tenders/{self.tender_id}/opening":
            return 200, {"status": "opening", "mode": self.mode, "bids": [
                {"bid_id": bid.id, "lot": bid.lot, "bidder": "华东建设",
                 "decryption": bid.decryption, "detail": "", "price": None, "mine": True,
                 "package_sha256": hashlib.sha256(bid.package).hexdigest()}
                for bid in self.bids], "shares": {"submitted": len(self.shares),
                                                  "threshold": self.setup.threshold}}
        if len(parts) == 5 and parts[2] == "bids" and parts[4] == "withdraw":
            bid = self._bid(int(parts[3]))
            if bid.status != "submitted":
                return 409, {"error": "bid_not_current", "message": "not the current bid"}
            bid.status = "withdrawn"
            return 200, {"id": bid.id, "status": "withdrawn", "ended_at": "2026-03-02T02:00:00Z"}
        if len(parts) == 5 and parts[2] == "bids" and parts[4] == "package":
            return 200, self._bid(int(parts[3])).package
        if len(parts) == 5 and parts[2] == "bids" and parts[4] == "key":
            return self._key(self._bid(int(parts[3])), json.loads(body))
        if route == f"tenders/{self.tender_id}/opening/shares":
            data = json.loads(body)
            share = verify_share(Share(data["index"], base64.b64decode(data["share"]),
                                       self.setup.threshold), self.setup)
            self.shares[share.index] = share
            return 200, {"submitted": len(self.shares), "threshold": self.setup.threshold}
        return 404, {"error": "not_found", "message": f"no route {method} {path}"}

    def _bid(self, bid_id: int) -> Bid:
        return next(bid for bid in self.bids if bid.id == bid_id)

    def _root(self, size: int) -> bytes:
        return merkle.root([merkle.leaf_hash(leaf) for leaf in self.leaves[:size]])

    def _upload(self, method: str, parts: list[str], query: dict[str, str],
                body: bytes) -> tuple[int, Any]:
        upload = self.uploads.get(parts[0])
        if upload is None:
            return 404, {"error": "not_found", "message": "no such upload"}
        if method == "GET":
            return 200, {"offset": len(upload.data), "size": upload.size, "lot": upload.lot,
                         "tender_id": upload.tender_id}
        if method == "PUT":
            if int(query["offset"]) != len(upload.data):
                return 409, {"offset": len(upload.data)}
            upload.data += body
            self.puts += 1
            if self.puts in self.drop_puts:
                return -1, None  # stored, but the answer is lost
            return 200, {"offset": len(upload.data)}
        if self.lose_on_complete:
            del upload.data[len(upload.data) - self.lose_on_complete:]
            self.lose_on_complete = 0
            return 409, {"error": "upload_incomplete", "offset": len(upload.data),
                         "message": "The upload is not complete"}
        data = bytes(upload.data)
        if hashlib.sha256(data).hexdigest() != upload.sha256:
            return 400, {"error": "upload_mismatch", "message": "SHA-256 differs"}
        del self.uploads[parts[0]]
        for bid in self.bids:
            if bid.package == data:
                return 200, {"bid_id": bid.id, "receipt": b64(bid.receipt)}
        package = inspect(io.BytesIO(data))
        receipt = Receipt(tender_id=upload.tender_id, lot=upload.lot,
                          certificate_sha256=package.signer.fingerprint(hashes.SHA256()).hex(),
                          package_sha256=upload.sha256, received_at=NOW,
                          log_index=len(self.leaves), tree_size=len(self.leaves) + 1)
        der = sign_receipt(receipt, self.receipt_key, self.receipt_cert)
        self.leaves.append(entry_data(der))
        bid = Bid(len(self.bids) + 1, upload.tender_id, upload.lot, data, der)
        self.bids.append(bid)
        return 201, {"bid_id": bid.id, "receipt": b64(der),
                     "receipt_fields": receipt.to_dict()}

    def _key(self, bid: Bid, data: dict[str, Any]) -> tuple[int, Any]:
        statement = json.dumps({"tender_id": bid.tender_id, "bid_id": bid.id,
                                "package_sha256": hashlib.sha256(bid.package).hexdigest(),
                                "data_key": data["data_key"]},
                               sort_keys=True, separators=(",", ":")).encode()
        verify_detached(base64.b64decode(data["signature"]), content=statement)
        self.keys_received.append(data)
        header = read_header(io.BytesIO(bid.package))
        if header.key_mode == "either":
            check_commitment(header, base64.b64decode(data["data_key"]), source="bidder",
                             source_zh="bidder")
        bid.decryption = "decrypted"
        return 200, {"decryption": "decrypted", "detail": ""}


def serve(platform: Platform) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _any(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            auth = self.headers.get("Authorization", "")
            token = auth[7:] if auth.startswith("Bearer ") else None
            with platform.lock:
                status, answer = platform.handle(self.command, url.path, query, body, token)
            if status < 0:
                self.close_connection = True
                return
            data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream"
                             if isinstance(answer, bytes) else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _any

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
