"""``verify-receipt``: is this receipt the platform's, for this package, and in the public log?

The checks are the library's (signing.receipts, signing.tree_head, signing.merkle), the ones
``ebid log verify`` runs offline; here the head and the proof are fetched from the platform.
Which certificate counts as the platform's: ``--platform-cert`` when given (the certificate the
centre publishes, or its CA); else the one this client pinned the first time it received a
receipt from that server; else only the certificate the receipt carries, which the output says.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from ebid.client.errors import Refused, ServerRefused
from ebid.client.http import Api
from ebid.client.upload import digest
from signing import merkle
from signing.certificates import TrustStore
from signing.cms import verify_attached
from signing.receipts import BadReceipt, Receipt, entry_data, verify_receipt_signer
from signing.sealed.errors import BadSignature
from signing.tree_head import MalformedTreeHead, SignedTreeHead, verify_tree_head


@dataclass
class Report:
    """Prints each check as ``ebid log verify`` does: OK or FAIL with the reason."""

    say: Callable[[str], None]
    failed: bool = False

    def ok(self, what: str) -> None:
        self.say(f"OK    {what}")

    def fail(self, what: str) -> None:
        self.failed = True
        self.say(f"FAIL  {what}")


def load_certificates(path: Path) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(path.read_bytes())
    except OSError as error:
        raise Refused(f"cannot read {path}: {error.strerror}",
                      f"无法读取 {path}：{error.strerror}") from error
    except ValueError as error:
        raise Refused(f"{path} holds no PEM certificate", f"{path} 中没有 PEM 证书") from error


def load_crls(paths: Sequence[Path]) -> list[x509.CertificateRevocationList]:
    crls = []
    for path in paths:
        try:
            data = path.read_bytes()
            crls.append(x509.load_pem_x509_crl(data) if data.lstrip().startswith(b"-----")
                        else x509.load_der_x509_crl(data))
        except OSError as error:
            raise Refused(f"cannot read {path}: {error.strerror}",
                          f"无法读取 {path}：{error.strerror}") from error
        except ValueError as error:
            raise Refused(f"{path} is not a CRL", f"{path} 不是 CRL") from error
    return crls


def pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def receipt_signer(der: bytes) -> x509.Certificate | None:
    try:
        return verify_attached(der, what="receipt")[1].signer
    except BadSignature:
        return None


def check_signature(der: bytes, *, trust: TrustStore | None, pinned: x509.Certificate | None,
                    report: Report) -> Receipt | None:
    try:
        if trust is not None:
            verified = verify_receipt_signer(der, trust)
            report.ok("receipt signed by the platform certificate "
                      f"{verified.signer.subject.rfc4514_string()}")
            return verified.receipt
        if pinned is not None:
            verified = verify_receipt_signer(der, [pinned])
            report.ok("receipt signed by the platform certificate this client pinned "
                      f"(SHA-256 {pinned.fingerprint(hashes.SHA256()).hex()[:16]}...)")
            return verified.receipt
        content, signature = verify_attached(der, what="receipt")
        receipt = Receipt.from_json(content)
    except (BadReceipt, BadSignature) as error:
        report.fail(f"receipt: {error.message('en')}")
        return None
    report.ok("receipt signature, by the certificate it carries: "
              f"{signature.signer.subject.rfc4514_string()}; give --platform-cert to check "
              "that it is the platform's")
    return receipt


def check_package(receipt: Receipt, package: Path, report: Report) -> None:
    try:
        sha256, _ = digest(package)
    except OSError as error:
        report.fail(f"package: cannot read {package}: {error.strerror}")
        return
    if sha256 == receipt.package_sha256:
        report.ok(f"{package.name} is the package the receipt names (SHA-256 {sha256})")
    else:
        report.fail(f"{package.name} is not the package the receipt names: its SHA-256 is "
                    f"{sha256}, the receipt's {receipt.package_sha256}")


def _hashes(values: Any) -> list[bytes]:
    if not isinstance(values, list):
        raise Refused("the inclusion proof has no audit path", "包含证明缺少审计路径")
    try:
        return [base64.b64decode(value, validate=True) for value in values]
    except (binascii.Error, ValueError, TypeError) as error:
        raise Refused("the inclusion proof is not base64", "包含证明不是 base64") from error


def check_log(api: Api, der: bytes, receipt: Receipt, *, log_key: Any,
              report: Report) -> None:
    """Inclusion of the receipt in the latest signed head, and that head's signature."""
    try:
        head = SignedTreeHead.from_dict(api.get_json("/api/v1/log/heads/latest"))
    except ServerRefused as error:
        report.fail(f"log: {error.reason}")
        return
    except MalformedTreeHead as error:
        report.fail(f"log: the latest head is malformed: {error}")
        return
    size = head.head.tree_size
    issued = f"{head.head.issued_at:%Y-%m-%d %H:%M:%S} UTC"
    if log_key is None:
        report.ok(f"latest head fetched (tree size {size}, {issued}); its signature was not "
                  "checked: give --log-key")
    elif verify_tree_head(head, log_key):
        report.ok(f"head signature (tree size {size}, {issued})")
    else:
        report.fail(f"head signature (tree size {size}): not signed by this log key")
        return
    if size < receipt.tree_size:
        report.fail(f"inclusion: the latest signed head ({size} entries) is older than the "
                    f"receipt (entry {receipt.log_index}); try again after the next head")
        return
    proof = api.get_json("/api/v1/log/proof/inclusion",
                         query={"index": receipt.log_index, "tree_size": size})
    path = _hashes(proof.get("audit_path") if isinstance(proof, dict) else None)
    leaf = merkle.leaf_hash(entry_data(der))
    if merkle.verify_inclusion(leaf, receipt.log_index, size, path, head.head.root_hash):
        report.ok(f"receipt is entry {receipt.log_index} of the head's tree of {size}")
    else:
        report.fail(f"inclusion: the proof does not put this receipt at entry "
                    f"{receipt.log_index} of the head's tree of {size}")


def load_log_key(path: Path) -> Any:
    try:
        return serialization.load_pem_public_key(path.read_bytes())
    except OSError as error:
        raise Refused(f"cannot read {path}: {error.strerror}",
                      f"无法读取 {path}：{error.strerror}") from error
    except ValueError as error:
        raise Refused(f"{path} holds no PEM public key", f"{path} 中没有 PEM 公钥") from error
