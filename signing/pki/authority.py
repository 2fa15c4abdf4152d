"""Keys, certificates and CRLs as a certification authority makes them; pure, no files.

Development tooling only (see the package docstring): nothing here is fit to run a real CA.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
KeyAlgorithm = Literal["rsa3072", "rsa2048", "p256"]

_NO_USAGE = dict.fromkeys(
    (
        "digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
        "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only",
    ),
    False,
)
# What Chinese CAs put in the signing half of a certificate pair, and in the encryption half
# (keyAgreement: the HPKE key wrap is a Diffie-Hellman on P-256).
SIGNING_USAGE = x509.KeyUsage(
    **{**_NO_USAGE, "digital_signature": True, "content_commitment": True}
)
ENCRYPTION_USAGE = x509.KeyUsage(**{**_NO_USAGE, "key_agreement": True})
CA_USAGE = x509.KeyUsage(**{**_NO_USAGE, "key_cert_sign": True, "crl_sign": True})


@dataclass(frozen=True)
class Revocation:
    serial: int
    revoked_at: datetime
    reason: x509.ReasonFlags


def new_key(algorithm: KeyAlgorithm) -> PrivateKey:
    """A fresh private key, generated now: keys are never committed nor derived from seeds."""
    if algorithm == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=int(algorithm[3:]))


def dev_name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ebid development CA - NOT FOR PRODUCTION"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _second(instant: datetime) -> datetime:
    # X.509 times have whole seconds; keeping them whole makes "valid at now" exact.
    return instant.replace(microsecond=0)


def _builder(
    *, subject: x509.Name, issuer: x509.Name, public_key: PublicKey,
    not_before: datetime, not_after: datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(_second(not_before))
        .not_valid_after(_second(not_after))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _authority_key_id(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def root_certificate(
    *, key: PrivateKey, name: x509.Name, now: datetime, days: int
) -> x509.Certificate:
    """A self-signed root that may certify one level of intermediates."""
    return (
        _builder(subject=name, issuer=name, public_key=key.public_key(),
                 not_before=now, not_after=now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(CA_USAGE, critical=True)
        .sign(key, hashes.SHA256())
    )


def intermediate_certificate(
    *, key: PrivateKey, name: x509.Name, issuer: x509.Certificate, issuer_key: PrivateKey,
    now: datetime, days: int,
) -> x509.Certificate:
    """An issuing CA under ``issuer``; it certifies end entities only."""
    return (
        _builder(subject=name, issuer=issuer.subject, public_key=key.public_key(),
                 not_before=now, not_after=now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(CA_USAGE, critical=True)
        .add_extension(_authority_key_id(issuer), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )


def end_entity_certificate(
    *, public_key: PublicKey, subject: x509.Name, usage: x509.KeyUsage,
    issuer: x509.Certificate, issuer_key: PrivateKey, not_before: datetime, not_after: datetime,
) -> x509.Certificate:
    """A certificate for a person or company, with ``usage`` as its critical key usage."""
    return (
        _builder(subject=subject, issuer=issuer.subject, public_key=public_key,
                 not_before=not_before, not_after=not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(_authority_key_id(issuer), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )


def _revoked_entry(revocation: Revocation) -> x509.RevokedCertificate:
    entry = (
        x509.RevokedCertificateBuilder()
        .serial_number(revocation.serial)
        .revocation_date(_second(revocation.revoked_at))
    )
    # RFC 5280 5.3.1: leave the reason code out rather than say "unspecified".
    if revocation.reason is not x509.ReasonFlags.unspecified:
        entry = entry.add_extension(x509.CRLReason(revocation.reason), critical=False)
    return entry.build()


def revocation_list(
    *, issuer: x509.Certificate, issuer_key: PrivateKey, revoked: list[Revocation],
    number: int, this_update: datetime, next_update: datetime,
) -> x509.CertificateRevocationList:
    """The issuer's CRL listing ``revoked``, current from ``this_update`` to ``next_update``."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(_second(this_update))
        .next_update(_second(next_update))
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(_authority_key_id(issuer), critical=False)
    )
    for revocation in revoked:
        builder = builder.add_revoked_certificate(_revoked_entry(revocation))
    return builder.sign(issuer_key, hashes.SHA256())
