"""``ebid log verify``: check a receipt against signed heads of the log, offline.

    ebid log verify --receipt R.der --head H.json --proof P.json --log-key PUB.pem
                    [--old-head OLD.json] [--platform-cert CERT.pem] [--crl CRL ...]

Checks, each printed as OK or FAIL with its reason: the receipt's CMS signature (and, with
``--platform-cert``, that the platform signed it); each head's signature under the log key; the
receipt's entry in the head by the inclusion proof; and, with ``--old-head``, that the head
extends the old one by the consistency proof. ``--proof`` takes the API's inclusion answer, and
with ``--old-head`` also its consistency answer: in one file, or give ``--proof`` twice.
Exit status 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

__all__ = ["add_verify_arguments", "run_verify", "verify_main"]

# The checks import cryptography and the signing modules when they run, not when ebid/cli.py
# builds its parser: every other `ebid` command would pay for them otherwise.


def add_verify_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--receipt", required=True, metavar="R.der", type=Path,
                        help="the receipt (CMS, DER) the platform returned")
    parser.add_argument("--head", required=True, metavar="H.json", type=Path,
                        help="a signed tree head (GET /api/v1/log/heads/latest)")
    parser.add_argument("--old-head", metavar="OLD.json", type=Path,
                        help="an earlier signed head the new one must extend")
    parser.add_argument("--proof", required=True, action="append", metavar="P.json", type=Path,
                        help="the inclusion proof for the head, and with --old-head the "
                             "consistency proof (one merged file, or --proof twice)")
    parser.add_argument("--log-key", required=True, metavar="PUB.pem", type=Path,
                        help="the log's public key (PEM)")
    parser.add_argument("--platform-cert", metavar="CERT.pem", type=Path,
                        help="the platform's receipt certificate or its CA (PEM); without it "
                             "the receipt is checked only against the certificate it carries")
    parser.add_argument("--crl", action="append", default=[], metavar="CRL", type=Path,
                        help="CRLs (PEM or DER) for a CA given as --platform-cert")
    return parser


def verify_main(argv: Sequence[str] | None = None) -> int:
    """The command line: ``ebid log verify ARGS``; 0 when everything verifies, 1 otherwise."""
    parser = argparse.ArgumentParser(prog="ebid log verify", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    return run_verify(add_verify_arguments(parser).parse_args(argv))


class _Report:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.failed = False

    def ok(self, what: str) -> None:
        print(f"OK    {what}", file=self.out)

    def fail(self, what: str) -> None:
        self.failed = True
        print(f"FAIL  {what}", file=self.out)


class _Refused(Exception):
    """A file that cannot be used at all; ends the run."""


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise _Refused(f"cannot read {path}: {error.strerror or error}") from error


def _json(path: Path) -> Any:
    try:
        return json.loads(_read(path))
    except ValueError as error:
        raise _Refused(f"{path} is not JSON: {error}") from error


def _head(path: Path) -> Any:
    from signing.tree_head import MalformedTreeHead, SignedTreeHead

    data = _json(path)
    if isinstance(data, dict) and "head" in data:  # an item of GET /api/v1/log/heads
        data = data["head"]
    try:
        return SignedTreeHead.from_dict(data)
    except MalformedTreeHead as error:
        raise _Refused(f"{path}: {error}") from error


def _proofs(paths: Sequence[Path]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for path in paths:
        data = _json(path)
        if not isinstance(data, dict):
            raise _Refused(f"{path} is not a JSON object")
        merged.update(data)
    return merged


def _hashes(proof: dict[str, Any], name: str) -> list[bytes]:
    values = proof.get(name)
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise _Refused(f"the proof has no {name} list (pass the API's answer as --proof)")
    try:
        return [base64.b64decode(v, validate=True) for v in values]
    except (binascii.Error, ValueError) as error:
        raise _Refused(f"{name} holds something that is not base64") from error


def _number(proof: dict[str, Any], name: str) -> int | None:
    value = proof.get(name)
    return value if type(value) is int else None


def _log_key(path: Path) -> Any:
    from cryptography.hazmat.primitives import serialization

    try:
        return serialization.load_pem_public_key(_read(path))
    except ValueError as error:
        raise _Refused(f"{path} holds no PEM public key: {error}") from error


def _trust(cert_path: Path | None, crl_paths: Sequence[Path]) -> Any:
    from cryptography import x509

    from signing.certificates import TrustStore

    if cert_path is None:
        return None
    try:
        certs = x509.load_pem_x509_certificates(_read(cert_path))
    except ValueError as error:
        raise _Refused(f"{cert_path} holds no PEM certificate: {error}") from error
    crls = []
    for path in crl_paths:
        data = _read(path)
        try:
            crls.append(x509.load_pem_x509_crl(data) if data.lstrip().startswith(b"-----")
                        else x509.load_der_x509_crl(data))
        except ValueError as error:
            raise _Refused(f"{path} is not a CRL: {error}") from error
    return TrustStore.of(roots=certs, crls=crls)


def _check_receipt(der: bytes, trust: Any, report: _Report) -> Any:
    from cryptography.hazmat.primitives import hashes

    from signing.cms import verify_attached
    from signing.receipts import BadReceipt, Receipt, verify_receipt_signer
    from signing.sealed.errors import BadSignature

    try:
        if trust is not None:
            verified = verify_receipt_signer(der, trust)
            receipt, signer = verified.receipt, verified.signer
        else:
            content, signature = verify_attached(der, what="receipt")
            receipt, signer = Receipt.from_json(content), signature.signer
    except (BadReceipt, BadSignature) as error:
        report.fail(f"receipt: {error.message('en')}")
        return None
    who = signer.subject.rfc4514_string()
    fingerprint = signer.fingerprint(hashes.SHA256()).hex()
    if trust is None:
        report.ok(f"receipt signature, by the certificate it carries: {who} (SHA-256 "
                  f"{fingerprint}); give --platform-cert to check that it is the platform's")
    else:
        report.ok(f"receipt signed by the platform certificate {who}")
    print(f"      tender {receipt.tender_id} lot {receipt.lot}, package SHA-256 "
          f"{receipt.package_sha256}, received {receipt.to_dict()['received_at']}, "
          f"log index {receipt.log_index}", file=report.out)
    return receipt


def _check_head(name: str, head: Any, key: Any, report: _Report) -> bool:
    from signing.tree_head import verify_tree_head

    try:
        good = verify_tree_head(head, key)
    except TypeError as error:  # a key of a type that signs no tree heads
        report.fail(f"{name}: {error}")
        return False
    issued = f"{head.head.issued_at:%Y-%m-%d %H:%M:%S} UTC"
    what = f"{name} signature (tree size {head.head.tree_size}, {issued})"
    if good:
        report.ok(what)
    else:
        report.fail(f"{what}: not signed by this log key")
    return good


def _check_inclusion(der: bytes, receipt: Any, head: Any, proof: dict[str, Any],
                     report: _Report) -> None:
    from signing import merkle
    from signing.receipts import entry_data

    size = head.head.tree_size
    index = _number(proof, "leaf_index")
    if index is not None and receipt is not None and index != receipt.log_index:
        report.fail(f"inclusion: the proof is for entry {index}, the receipt names "
                    f"{receipt.log_index}")
        return
    if index is None:
        index = receipt.log_index if receipt is not None else None
    if index is None:
        report.fail("inclusion: no entry index (neither a readable receipt nor leaf_index)")
        return
    if _number(proof, "tree_size") not in (None, size):
        report.fail(f"inclusion: the proof is for tree size {proof['tree_size']}, the head "
                    f"has {size}")
        return
    path = _hashes(proof, "audit_path")
    leaf = merkle.leaf_hash(entry_data(der))
    if merkle.verify_inclusion(leaf, index, size, path, head.head.root_hash):
        report.ok(f"receipt is entry {index} of the head's tree of {size}")
    else:
        report.fail(f"inclusion: the proof does not put this receipt at entry {index} of the "
                    f"head's tree of {size}")


def _check_consistency(old: Any, new: Any, proof: dict[str, Any], report: _Report) -> None:
    from signing import merkle

    first, second = old.head.tree_size, new.head.tree_size
    if first > second:
        report.fail(f"consistency: the old head ({first}) is larger than the head ({second})")
        return
    for name, expected in (("first", first), ("second", second)):
        if _number(proof, name) not in (None, expected):
            report.fail(f"consistency: the proof's {name} is {proof[name]}, the heads say "
                        f"{expected}")
            return
    needed = first not in (0, second) or "consistency" in proof
    hashes = _hashes(proof, "consistency") if needed else []
    if merkle.verify_consistency(first, second, old.head.root_hash, new.head.root_hash, hashes):
        report.ok(f"the head ({second}) extends the old head ({first})")
    else:
        report.fail(f"consistency: the head ({second}) does not extend the old head ({first}): "
                    "different logs were shown")


def run_verify(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run the checks named by parsed arguments (see :func:`add_verify_arguments`)."""
    report = _Report(out or sys.stdout)
    try:
        der = _read(args.receipt)
        head = _head(args.head)
        old = _head(args.old_head) if args.old_head else None
        proof = _proofs(args.proof)
        key = _log_key(args.log_key)
        trust = _trust(args.platform_cert, args.crl)
        receipt = _check_receipt(der, trust, report)
        _check_head("head", head, key, report)
        if old is not None:
            _check_head("old head", old, key, report)
        _check_inclusion(der, receipt, head, proof, report)
        if old is not None:
            _check_consistency(old, head, proof, report)
    except _Refused as error:
        report.fail(str(error))
    print("FAILED" if report.failed else "OK", file=report.out)
    return 1 if report.failed else 0
