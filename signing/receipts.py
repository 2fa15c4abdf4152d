"""Receipts: the platform's signed statement that it accepted a sealed package (docs/receipts.md).

A receipt is canonical JSON (sorted keys, no spaces, UTF-8) carried inside a CMS SignedData
(DER) signed with the platform's receipt key, so that stock ``openssl cms -verify`` checks it
and prints the JSON. Its log entry is the SHA-256 of those DER bytes (signing.log), so the
receipt names the log index it occupies and the log commits to the receipt as issued.

Pure code: no database, no clock. Which certificates may sign receipts is the verifier's
``trust``: the platform certificate itself (pinned), or CAs whose chain and CRLs
``signing.certificates.verify_certificate`` checks.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kernel.errors import DomainError
from signing.certificates import TrustStore, verify_certificate
from signing.cms import SignerKey, sign_attached, verify_attached
from signing.exceptions import CertificateRefused
from signing.sealed.errors import BadSignature

__all__ = [
    "FORMAT",
    "BadReceipt",
    "Receipt",
    "VerifiedReceipt",
    "entry_data",
    "rfc3339",
    "sign_receipt",
    "verify_receipt",
    "verify_receipt_signer",
]

FORMAT = "ebid-receipt/1"
_HEX64 = re.compile(r"[0-9a-f]{64}")
# Always microseconds and "Z": one spelling per instant, so the JSON is canonical.
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
_FIELDS = frozenset({"format", "tender_id", "lot", "certificate_sha256", "package_sha256",
                     "received_at", "log_index", "tree_size"})
_MAX_INT = 2**63 - 1


class BadReceipt(DomainError):
    """A receipt that is malformed, badly signed or not signed by a trusted platform key."""

    status_code = 400
    code = "bad_receipt"
    zh = "回执无效：{reason_zh}"
    en = "The receipt is invalid: {reason}"

    def __init__(self, reason: str, reason_zh: str) -> None:
        super().__init__(reason=reason, reason_zh=reason_zh)
        self.reason = reason


def rfc3339(instant: datetime) -> str:
    """An aware instant as receipts write it: UTC, microseconds, "Z"."""
    if instant.tzinfo is None:
        raise ValueError("a receipt time must be timezone-aware")
    return instant.astimezone(UTC).strftime(_TIME_FORMAT)


def _int(data: dict[str, Any], name: str, minimum: int) -> int:
    value = data[name]
    if type(value) is not int or not minimum <= value <= _MAX_INT:
        raise BadReceipt(f"{name} must be an integer >= {minimum}",
                         f"{name} 须为不小于 {minimum} 的整数")
    return value


def _hex(data: dict[str, Any], name: str) -> str:
    value = data[name]
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise BadReceipt(f"{name} must be 64 lower-case hex digits",
                         f"{name} 须为 64 位小写十六进制数")
    return value


@dataclass(frozen=True)
class Receipt:
    """What the platform received: whose package, for which tender and lot, when, where logged.

    ``received_at`` is when the package's last byte arrived, the instant the deadline is judged
    by. ``tree_size`` is the log's size right after this entry (``log_index + 1``): the
    smallest signed head that can include it.
    """

    tender_id: int
    lot: int
    certificate_sha256: str  # SHA-256 of the bidder's signing certificate (DER), hex
    package_sha256: str  # SHA-256 of the sealed package as received, hex
    received_at: datetime
    log_index: int
    tree_size: int

    def __post_init__(self) -> None:
        # Not asdict(), which deep-copies: this runs for every receipt of a deadline rush.
        data = {name: getattr(self, name) for name in _FIELDS if name != "format"}
        for name, minimum in (("tender_id", 1), ("lot", 1), ("log_index", 0), ("tree_size", 1)):
            _int(data, name, minimum)
        for name in ("certificate_sha256", "package_sha256"):
            _hex(data, name)
        if self.received_at.tzinfo is None:
            raise BadReceipt("received_at must be timezone-aware", "received_at 须带时区")
        if self.tree_size <= self.log_index:
            raise BadReceipt("tree_size must exceed log_index", "tree_size 须大于 log_index")

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "tender_id": self.tender_id,
            "lot": self.lot,
            "certificate_sha256": self.certificate_sha256,
            "package_sha256": self.package_sha256,
            "received_at": rfc3339(self.received_at),
            "log_index": self.log_index,
            "tree_size": self.tree_size,
        }

    def to_json(self) -> bytes:
        """The canonical bytes that are signed: sorted keys, no spaces, UTF-8."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, content: bytes) -> Receipt:
        """Parse the signed bytes; only the canonical form is accepted."""
        try:
            data = json.loads(content)
        except (ValueError, UnicodeDecodeError) as error:
            raise BadReceipt(f"the content is not JSON ({error})", "内容不是 JSON") from error
        if not isinstance(data, dict) or set(data) != _FIELDS:
            names = ", ".join(sorted(_FIELDS))
            raise BadReceipt(f"a receipt has exactly the fields {names}",
                             f"回执须恰好包含字段 {names}")
        if data["format"] != FORMAT:
            raise BadReceipt(f"unknown format {data['format']!r} (expected {FORMAT})",
                             f"未知格式 {data['format']!r}（应为 {FORMAT}）")
        received = data["received_at"]
        if not isinstance(received, str) or not _TIME.fullmatch(received):
            raise BadReceipt("received_at must be RFC 3339 UTC with microseconds",
                             "received_at 须为带微秒的 RFC 3339 UTC 时间")
        try:
            received_at = datetime.strptime(received, _TIME_FORMAT).replace(tzinfo=UTC)
        except ValueError as error:
            raise BadReceipt(f"received_at is not a valid time ({error})",
                             "received_at 不是有效时间") from error
        receipt = cls(
            tender_id=_int(data, "tender_id", 1), lot=_int(data, "lot", 1),
            certificate_sha256=_hex(data, "certificate_sha256"),
            package_sha256=_hex(data, "package_sha256"), received_at=received_at,
            log_index=_int(data, "log_index", 0), tree_size=_int(data, "tree_size", 1),
        )
        if receipt.to_json() != content:
            raise BadReceipt("the content is not in canonical form", "内容不是规范格式")
        return receipt


@dataclass(frozen=True)
class VerifiedReceipt:
    receipt: Receipt
    signer: x509.Certificate  # the platform certificate that signed it


def entry_data(der: bytes) -> bytes:
    """What the log holds for a receipt: the SHA-256 of its DER bytes (its leaf's data)."""
    return hashlib.sha256(der).digest()


def sign_receipt(
    receipt: Receipt, platform_key: SignerKey, platform_cert: x509.Certificate,
    chain: Sequence[x509.Certificate] = (),
) -> bytes:
    """The receipt as CMS SignedData (DER) with its JSON attached, signed by the platform."""
    return sign_attached(receipt.to_json(), key=platform_key, certificate=platform_cert,
                         chain=chain)


def _same(a: x509.Certificate, b: x509.Certificate) -> bool:
    return a.public_bytes(serialization.Encoding.DER) == b.public_bytes(serialization.Encoding.DER)


def verify_receipt(
    der: bytes, trust: TrustStore | Sequence[x509.Certificate], *, now: datetime | None = None
) -> Receipt:
    """The receipt in ``der`` if a trusted platform key signed it; BadReceipt says why not."""
    return verify_receipt_signer(der, trust, now=now).receipt


def verify_receipt_signer(
    der: bytes, trust: TrustStore | Sequence[x509.Certificate], *, now: datetime | None = None
) -> VerifiedReceipt:
    """Like :func:`verify_receipt`, also naming the certificate that signed.

    ``trust`` is either the platform certificates to accept as they are (pinned: the signer must
    be one of them), or a TrustStore: the signer is accepted if it is one of its roots, or if
    ``verify_certificate`` accepts it at ``now`` (default: the current time) for signing,
    which needs the CAs' current CRLs in the store.
    """
    try:
        content, signature = verify_attached(der, what="receipt")
    except BadSignature as error:
        raise BadReceipt(str(error.params["reason"]), str(error.params["reason_zh"])) from error
    receipt = Receipt.from_json(content)
    signer = signature.signer
    pinned = trust.roots if isinstance(trust, TrustStore) else tuple(trust)
    if any(_same(signer, cert) for cert in pinned):
        return VerifiedReceipt(receipt, signer)
    if not isinstance(trust, TrustStore):
        raise BadReceipt(f"it is signed by {signer.subject.rfc4514_string()}, "
                         "which is not a trusted platform certificate",
                         f"签名证书 {signer.subject.rfc4514_string()} 不是受信任的平台证书")
    try:
        verify_certificate(signer, intermediates=signature.certificates, trust=trust,
                           now=now or datetime.now(UTC), usage="signing")
    except CertificateRefused as error:
        raise BadReceipt(error.message("en"), error.message("zh-CN")) from error
    return VerifiedReceipt(receipt, signer)
