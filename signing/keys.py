"""The platform's keys for receipts and the log, kept in ``Settings.key_dir`` (never the database).

Two keys, for two jobs, so that replacing one does not touch the other:

- ``receipt-key.pem`` / ``receipt-cert.pem``: signs receipts (CMS). An operator may put a key
  and a certificate from an accredited CA there (the PEM file holds the certificate first, then
  its chain); otherwise the first start creates an EC P-256 key and a self-signed certificate,
  which is then what bidders pin (docs/receipts.md).
- ``log-head-ed25519.pem``: signs the log's tree heads (signing/tree_head.py); its public key
  is what ``ebid log verify --log-key`` takes.
- ``fingerprint-hmac.key``: 32 random bytes, the centre-wide HMAC key under which clients hash
  machine identifiers (signing/fingerprint.py). Served to every logged-in user, so it hides raw
  serial numbers from the database and the published manifests, not from bidders.

Private key files are created with mode 0600, like the audit keys (kernel/audit/chain.py), and
a process starting at the same moment that created a file first wins: both then use its key.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from kernel.files import load_or_create_secret as _load_or_create
from kernel.settings import Settings
from signing.cms import SignerKey

__all__ = [
    "FINGERPRINT_KEY_FILE",
    "LOG_KEY_FILE",
    "RECEIPT_CERT_FILE",
    "RECEIPT_KEY_FILE",
    "PlatformKeys",
    "ReceiptSigner",
    "load",
    "public_pem",
    "self_signed",
]

LOG_KEY_FILE = "log-head-ed25519.pem"
RECEIPT_KEY_FILE = "receipt-key.pem"
RECEIPT_CERT_FILE = "receipt-cert.pem"
FINGERPRINT_KEY_FILE = "fingerprint-hmac.key"
FINGERPRINT_KEY_BYTES = 32
SELF_SIGNED_DAYS = 10 * 365

_cache: dict[Path, PlatformKeys] = {}


@dataclass(frozen=True)
class ReceiptSigner:
    key: SignerKey
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()  # issuing CA first; empty for a self-signed one


@dataclass(frozen=True)
class PlatformKeys:
    receipt: ReceiptSigner
    log: Ed25519PrivateKey
    fingerprint: bytes  # the HMAC key of machine fingerprints


def _pkcs8(key: Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def public_pem(key: Ed25519PrivateKey | SignerKey) -> bytes:
    """The public half as a PEM SubjectPublicKeyInfo, as published for verifiers."""
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def self_signed(key: SignerKey, *, now: datetime, days: int = SELF_SIGNED_DAYS) -> x509.Certificate:
    """A self-signed certificate for the receipt key: fit for CMS signing, not a CA."""
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ebid platform"),
        x509.NameAttribute(NameOID.COMMON_NAME, "ebid platform receipts"),
    ])
    start = now.replace(microsecond=0) - timedelta(days=1)  # a verifier's clock may lag
    usage = x509.KeyUsage(
        digital_signature=True, content_commitment=True, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
        encipher_only=False, decipher_only=False,
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256())
    )


def _receipt_signer(key_dir: Path, now: datetime) -> ReceiptSigner:
    pem = _load_or_create(key_dir / RECEIPT_KEY_FILE,
                          lambda: _pkcs8(ec.generate_private_key(ec.SECP256R1())))
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError(f"{RECEIPT_KEY_FILE} does not hold an RSA or EC key")
    certs = x509.load_pem_x509_certificates(_load_or_create(
        key_dir / RECEIPT_CERT_FILE,
        lambda: self_signed(key, now=now).public_bytes(serialization.Encoding.PEM),
    ))
    if public_pem(key) != certs[0].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise ValueError(f"{RECEIPT_CERT_FILE} does not certify the key in {RECEIPT_KEY_FILE}")
    return ReceiptSigner(key, certs[0], tuple(certs[1:]))


def _log_key(key_dir: Path) -> Ed25519PrivateKey:
    pem = _load_or_create(key_dir / LOG_KEY_FILE, lambda: _pkcs8(Ed25519PrivateKey.generate()))
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{LOG_KEY_FILE} does not hold an Ed25519 key")
    return key


def _fingerprint_key(key_dir: Path) -> bytes:
    key = _load_or_create(key_dir / FINGERPRINT_KEY_FILE,
                          lambda: secrets.token_bytes(FINGERPRINT_KEY_BYTES))
    if len(key) != FINGERPRINT_KEY_BYTES:
        raise ValueError(f"{FINGERPRINT_KEY_FILE} must hold exactly {FINGERPRINT_KEY_BYTES} bytes")
    return key


def load(settings: Settings, *, now: datetime) -> PlatformKeys:
    """The platform's keys from ``settings.key_dir``, created on first use; read once per dir.

    ``now`` dates a self-signed receipt certificate if one has to be made.
    """
    # By the path as configured first: resolving it costs a system call per component, and
    # every batch of a deadline rush asks (bench/RESULTS.md, P1). Absolute paths only: a
    # relative one means another directory after a chdir. A symlinked key directory pointed
    # elsewhere is therefore read again only by a new process (as a changed key file is).
    absolute = settings.key_dir.is_absolute()
    keys = _cache.get(settings.key_dir) if absolute else None
    if keys is not None:
        return keys
    key_dir = settings.key_dir.resolve()
    keys = _cache.get(key_dir)
    if keys is None:
        keys = _cache[key_dir] = PlatformKeys(_receipt_signer(key_dir, now), _log_key(key_dir),
                                              _fingerprint_key(key_dir))
    if absolute:
        _cache[settings.key_dir] = keys
    return keys
