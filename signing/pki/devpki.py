"""``DevPKI``: test CAs kept in a directory, for the demo and the tests only.

Layout: ``index.json`` (what was issued and revoked, CRL numbers) and, per CA family
(``rsa``: RSA-3072 CAs; ``ec``: EC P-256 CAs), ``<family>/{root,intermediate}.{key,crt}.pem``
and the published ``<family>/{root,intermediate}.crl.{der,pem}``. Private keys lie unencrypted
on disk: that is what makes this tooling unfit for production.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from signing.pki import authority as ca
from signing.pki.subjects import Kind, OfficerRole, subject_for

Family = Literal["rsa", "ec"]
Level = Literal["root", "intermediate"]
FAMILIES: tuple[Family, ...] = ("rsa", "ec")
LEVELS: tuple[Level, ...] = ("root", "intermediate")
# (key of the CAs, signing key of the holders); encryption keys are always P-256, for HPKE.
_ALGORITHMS: dict[Family, tuple[ca.KeyAlgorithm, ca.KeyAlgorithm, str]] = {
    "rsa": ("rsa3072", "rsa2048", "RSA"),
    "ec": ("p256", "p256", "EC"),
}
INDEX = "index.json"
ROOT_DAYS = 20 * 365
INTERMEDIATE_DAYS = 10 * 365
CRL_DAYS = 7


@dataclass(frozen=True)
class Authority:
    id: str  # "rsa/intermediate"
    certificate: x509.Certificate
    key: ca.PrivateKey


@dataclass(frozen=True)
class Issued:
    certificate: x509.Certificate
    key: ca.PrivateKey


@dataclass(frozen=True)
class IssuedPair:
    """A holder's signing certificate and its paired encryption certificate, same subject."""

    signing: Issued
    encryption: Issued
    chain: tuple[x509.Certificate, ...]  # issuing CA first, root last


def serial_hex(serial: int) -> str:
    return format(serial, "x")


def parse_serial(text: str) -> int:
    """A serial as openssl or a CA prints it: hex, with or without colons, any case."""
    return int(text.replace(":", "").strip(), 16)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def write_pkcs12(issued: Issued, chain: tuple[x509.Certificate, ...], path: Path, *,
                 password: str, name: str) -> Path:
    """Write key, certificate and chain as a password-protected PKCS#12 file."""
    data = pkcs12.serialize_key_and_certificates(
        name.encode(), issued.key, issued.certificate, list(chain),
        serialization.BestAvailableEncryption(password.encode()),
    )
    _write_private(path, data)
    return path


def write_pair(pair: IssuedPair, path: Path, *, password: str) -> tuple[Path, Path]:
    """``OUT.p12`` holds the signing half, ``OUT.enc.p12`` the encryption half."""
    name = pair.signing.certificate.subject.rfc4514_string()
    encryption_path = path.with_name(f"{path.stem}.enc{path.suffix or '.p12'}")
    return (
        write_pkcs12(pair.signing, pair.chain, path, password=password, name=name),
        write_pkcs12(pair.encryption, pair.chain, encryption_path, password=password, name=name),
    )


class DevPKI:
    """Development CAs rooted in ``directory``; NEVER for production (keys lie on disk)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        index = self.directory / INDEX
        if not index.exists():
            raise FileNotFoundError(f"{directory} holds no development PKI: run `ebid pki init`")
        self._index: dict[str, Any] = json.loads(index.read_text(encoding="utf-8"))

    @classmethod
    def create(cls, directory: Path, *, now: datetime,
               families: tuple[Family, ...] = FAMILIES) -> DevPKI:
        """Create a root and an intermediate per family, and publish their first CRLs."""
        directory = Path(directory)
        if (directory / INDEX).exists():
            raise FileExistsError(f"{directory} already holds a development PKI")
        index: dict[str, Any] = {"families": list(families), "issued": {}, "revoked": {},
                                 "crl_number": {}}
        for family in families:
            (directory / family).mkdir(parents=True, exist_ok=True)
            algorithm, _, label = _ALGORITHMS[family]
            root_key = ca.new_key(algorithm)
            root = ca.root_certificate(key=root_key, name=ca.dev_name(f"ebid Dev {label} Root CA"),
                                       now=now, days=ROOT_DAYS)
            key = ca.new_key(algorithm)
            intermediate = ca.intermediate_certificate(
                key=key, name=ca.dev_name(f"ebid Dev {label} Issuing CA"), issuer=root,
                issuer_key=root_key, now=now, days=INTERMEDIATE_DAYS,
            )
            cls._store(directory, f"{family}/root", root, root_key)
            cls._store(directory, f"{family}/intermediate", intermediate, key)
            index["issued"][serial_hex(intermediate.serial_number)] = {
                "issuer": f"{family}/root", "kind": "ca",
                "subject": intermediate.subject.rfc4514_string(),
            }
        directory.mkdir(parents=True, exist_ok=True)
        (directory / INDEX).write_text(json.dumps(index, indent=2), encoding="utf-8")
        pki = cls(directory)
        for family in families:
            pki.publish_crls(family, now=now)
        return pki

    @staticmethod
    def _store(directory: Path, authority_id: str, cert: x509.Certificate,
               key: ca.PrivateKey) -> None:
        base = directory / authority_id
        _write_private(base.with_suffix(".key.pem"), key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ))
        base.with_suffix(".crt.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    def _save(self) -> None:
        path = self.directory / INDEX
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self._index, indent=2), encoding="utf-8")
        temporary.replace(path)

    @property
    def families(self) -> tuple[Family, ...]:
        return tuple(self._index["families"])

    def authority(self, family: Family, level: Level = "intermediate") -> Authority:
        if family not in self.families:
            raise ValueError(f"no {family!r} CA here; there are {', '.join(self.families)}")
        base = self.directory / family / level
        cert = x509.load_pem_x509_certificate(base.with_suffix(".crt.pem").read_bytes())
        key = serialization.load_pem_private_key(base.with_suffix(".key.pem").read_bytes(), None)
        if not isinstance(key, ca.PrivateKey):
            raise TypeError(f"{base}.key.pem holds a {type(key).__name__}, not an RSA or EC key")
        return Authority(f"{family}/{level}", cert, key)

    def roots(self) -> list[x509.Certificate]:
        return [self.authority(family, "root").certificate for family in self.families]

    def intermediates(self) -> list[x509.Certificate]:
        return [self.authority(family).certificate for family in self.families]

    def crl_path(self, authority_id: str, encoding: Literal["der", "pem"] = "der") -> Path:
        return (self.directory / authority_id).with_suffix(f".crl.{encoding}")

    def crls(self) -> list[x509.CertificateRevocationList]:
        """The CRLs last published, of every root and intermediate."""
        return [
            x509.load_der_x509_crl(self.crl_path(f"{family}/{level}").read_bytes())
            for family in self.families for level in LEVELS
        ]

    def issue(
        self, *, kind: Kind, name: str, now: datetime, family: Family = "rsa",
        credit_code: str | None = None, organization: str | None = None,
        role: OfficerRole | None = None, not_before: datetime | None = None,
        not_after: datetime | None = None, days: int = 365,
    ) -> IssuedPair:
        """A signing certificate and its paired encryption certificate for one holder."""
        issuer = self.authority(family)
        subject = subject_for(kind=kind, name=name, credit_code=credit_code,
                              organization=organization, role=role)
        start = not_before or now
        end = not_after or start + timedelta(days=days)
        halves = []
        kinds: tuple[tuple[ca.KeyAlgorithm, x509.KeyUsage, str], ...] = (
            (_ALGORITHMS[family][1], ca.SIGNING_USAGE, "signing"),
            ("p256", ca.ENCRYPTION_USAGE, "encryption"),
        )
        for algorithm, usage, use in kinds:
            key = ca.new_key(algorithm)
            cert = ca.end_entity_certificate(
                public_key=key.public_key(), subject=subject, usage=usage,
                issuer=issuer.certificate, issuer_key=issuer.key, not_before=start, not_after=end,
            )
            self._index["issued"][serial_hex(cert.serial_number)] = {
                "issuer": issuer.id, "kind": kind, "use": use, "subject": subject.rfc4514_string()
            }
            halves.append(Issued(cert, key))
        self._save()
        chain = (issuer.certificate, self.authority(family, "root").certificate)
        return IssuedPair(signing=halves[0], encryption=halves[1], chain=chain)

    def revoke(self, serial: int, *, now: datetime,
               reason: x509.ReasonFlags = x509.ReasonFlags.key_compromise) -> str:
        """Record a revocation; it shows in the issuer's CRL from the next ``publish_crls``.

        Returns the id of the issuing CA ("rsa/intermediate"; "rsa/root" for an intermediate).
        """
        if reason is x509.ReasonFlags.remove_from_crl:
            raise ValueError("removeFromCRL belongs in delta CRLs, which this tooling never makes")
        key = serial_hex(serial)
        entry = self._index["issued"].get(key)
        if entry is None:
            raise LookupError(f"no certificate with serial {key} was issued here")
        revoked = self._index["revoked"].setdefault(entry["issuer"], [])
        if any(item["serial"] == key for item in revoked):
            raise ValueError(f"the certificate with serial {key} is already revoked")
        revoked.append({"serial": key, "revoked_at": now.isoformat(), "reason": reason.value})
        self._save()
        return str(entry["issuer"])

    def publish_crls(self, family: Family, *, now: datetime,
                     days: int = CRL_DAYS) -> list[Path]:
        """Sign and write the root's and the intermediate's CRLs, next update in ``days``."""
        written = []
        for level in LEVELS:
            issuer = self.authority(family, level)
            number = self._index["crl_number"].get(issuer.id, 0) + 1
            self._index["crl_number"][issuer.id] = number
            revoked = [
                ca.Revocation(parse_serial(item["serial"]),
                              datetime.fromisoformat(item["revoked_at"]),
                              x509.ReasonFlags(item["reason"]))
                for item in self._index["revoked"].get(issuer.id, [])
            ]
            crl = ca.revocation_list(
                issuer=issuer.certificate, issuer_key=issuer.key, revoked=revoked, number=number,
                this_update=now, next_update=now + timedelta(days=days),
            )
            for path, encoding in ((self.crl_path(issuer.id, "der"), serialization.Encoding.DER),
                                   (self.crl_path(issuer.id, "pem"), serialization.Encoding.PEM)):
                path.write_bytes(crl.public_bytes(encoding))
                written.append(path)
        self._save()
        return written
