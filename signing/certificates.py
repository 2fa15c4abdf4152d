"""Which certificates the centre accepts, and whose they are.

A certificate is accepted when, at the instant given: it is within its validity; its key usage
fits the use (signing: digitalSignature or nonRepudiation; encryption: keyAgreement, the HPKE
key wrap); cryptography's path validation (``x509.verification``, with an end-entity policy for
signing certificates, which carry no subject alternative name) builds a chain to an accepted
root; and neither it nor any CA of that chain is revoked by its issuer's current CRL. The
verifier checks no CRLs, so this module does: a CRL missing, badly signed or past its
nextUpdate refuses the certificate, since "not known to be revoked" is not "not revoked".

Every refusal is a ``CertificateRefused`` whose message names the certificate, the reason and
the dates involved.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    Policy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from kernel.accounts import creditcode
from signing.exceptions import (
    CertificateExpired,
    CertificateNotYetValid,
    CertificateRefused,
    CertificateRevoked,
    ChainRejected,
    CrlInvalid,
    CrlMissing,
    CrlOutOfDate,
    UnknownIssuer,
    WrongKeyUsage,
)

Usage = Literal["signing", "encryption"]

# Per use: the key usage bits of which one must be set, and the use's name in Chinese.
_USAGES: dict[Usage, tuple[tuple[str, ...], str]] = {
    "signing": (("digital_signature", "content_commitment"), "签名"),
    "encryption": (("key_agreement",), "加密"),
}
_BIT_NAMES = {
    "digital_signature": "digitalSignature",
    "content_commitment": "nonRepudiation",
    "key_encipherment": "keyEncipherment",
    "data_encipherment": "dataEncipherment",
    "key_agreement": "keyAgreement",
    "key_cert_sign": "keyCertSign",
    "crl_sign": "cRLSign",
}
_NAME_KEYS = {NameOID.SERIAL_NUMBER: "serialNumber"}


@dataclass(frozen=True)
class TrustStore:
    """The CAs the centre accepts and the CRLs it holds for them.

    ``roots`` are the trust anchors. ``intermediates`` are accepted issuing CAs offered to path
    building; they are trusted only through a root, so a root's CRL can still revoke them.
    """

    roots: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...] = ()
    crls: tuple[x509.CertificateRevocationList, ...] = ()
    # Each issuer's newest complete CRL with a good signature (or why there is none), by the
    # issuer's DER hash: the answer cannot change for the store's life, and a store is kept
    # for a few seconds of many submissions (signing.trust), each of which would otherwise
    # look through and check the signature of every CRL again.
    _by_issuer: dict[bytes, tuple[x509.CertificateRevocationList | None, str]] = field(
        default_factory=dict, compare=False, repr=False, hash=False)

    @classmethod
    def of(
        cls, *, roots: Iterable[x509.Certificate],
        intermediates: Iterable[x509.Certificate] = (),
        crls: Iterable[x509.CertificateRevocationList] = (),
    ) -> TrustStore:
        return cls(tuple(roots), tuple(intermediates), tuple(crls))

    def issuer_crl(
        self, issuer: x509.Certificate
    ) -> tuple[x509.CertificateRevocationList | None, str]:
        """The issuer's newest complete CRL bearing its signature, or (None, why not)."""
        key = issuer.fingerprint(hashes.SHA256())
        found = self._by_issuer.get(key)
        if found is None:
            found = self._by_issuer[key] = _newest_signed_crl(issuer, self.crls)
        return found


@dataclass(frozen=True)
class AcceptedCertificate:
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]  # the certificate first, the accepted root last
    usage: Usage
    subject: str
    issuer: str
    serial: str  # hex, lower case, as the CRLs and `ebid pki revoke` write it
    fingerprint: str  # SHA-256 of the DER, hex
    not_after: datetime
    credit_code: str | None


def when(instant: datetime) -> str:
    """An instant as refusals print it: UTC, to the second."""
    return f"{instant:%Y-%m-%d %H:%M:%S} UTC"


def name_of(name: x509.Name) -> str:
    return name.rfc4514_string(_NAME_KEYS)


def credit_code_of(cert: x509.Certificate) -> str | None:
    """The unified social credit code in the subject's serialNumber, OU or CN, if one is valid.

    CAs differ on where they put it; a value counts only if its check character is right, so an
    ID-card number or a CA's own customer number in serialNumber is not mistaken for it.
    """
    for oid in (NameOID.SERIAL_NUMBER, NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.COMMON_NAME):
        for attribute in cert.subject.get_attributes_for_oid(oid):
            value = attribute.value
            code = creditcode.normalise(value if isinstance(value, str) else value.decode())
            if creditcode.is_valid(code):
                return code
    return None


def _validity_refusal(cert: x509.Certificate, now: datetime) -> CertificateRefused | None:
    if now < cert.not_valid_before_utc:
        return CertificateNotYetValid(
            subject=name_of(cert.subject), not_before=when(cert.not_valid_before_utc)
        )
    if now > cert.not_valid_after_utc:
        return CertificateExpired(
            subject=name_of(cert.subject), not_after=when(cert.not_valid_after_utc)
        )
    return None


def _key_usage(cert: x509.Certificate) -> x509.KeyUsage | None:
    try:
        return cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None


def _usage_refusal(cert: x509.Certificate, usage: Usage) -> WrongKeyUsage | None:
    needed, usage_zh = _USAGES[usage]
    key_usage = _key_usage(cert)
    found = [] if key_usage is None else [
        label for bit, label in _BIT_NAMES.items() if getattr(key_usage, bit)
    ]
    if key_usage is not None and any(getattr(key_usage, bit) for bit in needed):
        return None
    return WrongKeyUsage(
        subject=name_of(cert.subject), found=", ".join(found) or "no key usage", usage=usage,
        usage_zh=usage_zh, needed=" or ".join(_BIT_NAMES[bit] for bit in needed),
    )


def _end_entity_policy(usage: Usage) -> ExtensionPolicy:
    """End entities: a key usage fit for ``usage``, not a CA; no SAN or EKU required."""

    def key_usage_fits(policy: Policy, cert: x509.Certificate, ext: x509.KeyUsage) -> None:
        if _usage_refusal(cert, usage) is not None:
            raise ValueError(f"key usage unfit for {usage}")

    def not_a_ca(policy: Policy, cert: x509.Certificate, ext: x509.BasicConstraints | None) -> None:
        if ext is not None and ext.ca:
            raise ValueError("a CA certificate cannot be an end entity")

    return (
        ExtensionPolicy.permit_all()
        .require_present(x509.KeyUsage, Criticality.AGNOSTIC, key_usage_fits)
        .may_be_present(x509.BasicConstraints, Criticality.AGNOSTIC, not_a_ca)
    )


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except Exception:  # wrong key, wrong algorithm, unsupported key type: all "not by this one"
        return False
    return True


def _chain_refusal(
    cert: x509.Certificate, pool: Sequence[x509.Certificate], trust: TrustStore,
    now: datetime, error: VerificationError | None,
) -> CertificateRefused:
    """Why path validation failed, in the words of the refusals: walk up by name and key."""
    current, seen = cert, 0
    while seen <= len(pool):
        root = next((r for r in trust.roots if _signed_by(current, r)), None)
        # A self-signed certificate the client sent along is an unaccepted root, no parent.
        parent = root or next((c for c in pool if c != current and _signed_by(current, c)),
                              None)
        if parent is None:
            known = any(c.subject == current.issuer
                        for c in (*trust.roots, *trust.intermediates))
            detail = ("a CA of that name is accepted, but it did not sign this certificate"
                      if known else "no accepted CA has that name")
            return UnknownIssuer(subject=name_of(current.subject),
                                 issuer=name_of(current.issuer), detail=detail)
        refusal = _validity_refusal(parent, now)
        if refusal is not None:
            return refusal
        if root is not None:
            break
        current, seen = parent, seen + 1
    return ChainRejected(subject=name_of(cert.subject), detail=str(error or "no path"))


def _is_complete(crl: x509.CertificateRevocationList) -> bool:
    """A full CRL for all the issuer's certificates: no delta, no partition, not indirect."""
    extensions = crl.extensions
    try:
        extensions.get_extension_for_class(x509.DeltaCRLIndicator)
        return False
    except x509.ExtensionNotFound:
        pass
    try:
        scope = extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
    except x509.ExtensionNotFound:
        return True
    return not (scope.only_contains_user_certs or scope.only_contains_ca_certs
                or scope.only_contains_attribute_certs or scope.only_some_reasons
                or scope.indirect_crl)


def current_crl(
    issuer: x509.Certificate, trust: TrustStore, now: datetime, *, cert: x509.Certificate
) -> x509.CertificateRevocationList:
    """The issuer's newest complete CRL with a good signature (for checking ``cert``),
    refused if not current."""
    crl, refusal = _current_crl(issuer, trust, now)
    if refusal is None:
        assert crl is not None
        return crl
    # Names are formatted only for a refusal: on the way to an acceptance, formatting every
    # certificate's and issuer's name cost a tenth of a submission's time.
    kind, reason = refusal
    issuer_name, subject = name_of(issuer.subject), name_of(cert.subject)
    if kind == "missing":
        raise CrlMissing(issuer=issuer_name, subject=subject)
    if kind == "out_of_date":
        raise CrlOutOfDate(issuer=issuer_name, next_update=reason, subject=subject)
    raise CrlInvalid(issuer=issuer_name, reason=reason)


def _newest_signed_crl(
    issuer: x509.Certificate, crls: Sequence[x509.CertificateRevocationList]
) -> tuple[x509.CertificateRevocationList | None, str]:
    named = [crl for crl in crls if crl.issuer == issuer.subject]
    if not named:
        return None, ""
    key_usage = _key_usage(issuer)
    if key_usage is not None and not key_usage.crl_sign:
        return None, "the CA's key usage does not allow cRLSign"
    public_key = issuer.public_key()
    # The only CA key types path validation accepts, so the only ones that get here.
    if not isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        return None, "the CA's key type cannot sign CRLs here"
    signed = [crl for crl in named if crl.is_signature_valid(public_key) and _is_complete(crl)]
    if not signed:
        return None, "no complete CRL on file bears a valid signature of this CA"
    crl = max(signed, key=lambda c: c.last_update_utc)
    if crl.next_update_utc is None:
        return None, "it names no next update"
    return crl, ""


def _current_crl(
    issuer: x509.Certificate, trust: TrustStore, now: datetime
) -> tuple[x509.CertificateRevocationList | None, tuple[str, str] | None]:
    crl, why_not = trust.issuer_crl(issuer)
    if crl is None:
        return None, ("invalid", why_not) if why_not else ("missing", "")
    if now < crl.last_update_utc:
        return None, ("invalid",
                      f"it was issued on {when(crl.last_update_utc)}, after {when(now)}")
    assert crl.next_update_utc is not None
    if now >= crl.next_update_utc:
        return None, ("out_of_date", when(crl.next_update_utc))
    return crl, None


def _check_not_revoked(
    cert: x509.Certificate, issuer: x509.Certificate, trust: TrustStore, now: datetime
) -> None:
    crl = current_crl(issuer, trust, now, cert=cert)
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    if entry is None:
        return
    subject = name_of(cert.subject)
    try:
        reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.value
    except x509.ExtensionNotFound:
        reason = "unspecified"
    raise CertificateRevoked(
        subject=subject, serial=format(cert.serial_number, "x"),
        revoked_at=when(entry.revocation_date_utc), reason=reason, issuer=name_of(issuer.subject),
    )


def verify_certificate(
    cert: x509.Certificate, *, intermediates: Sequence[x509.Certificate], trust: TrustStore,
    now: datetime, usage: Usage = "signing",
) -> AcceptedCertificate:
    """Accept ``cert`` for ``usage`` at ``now``, or raise the ``CertificateRefused`` saying why.

    ``intermediates`` are the untrusted CA certificates that came with it (from a CMS signature
    or a PKCS#12 file); they help build the chain but are trusted only if it ends at a root.
    """
    if now.tzinfo is None:
        raise ValueError("verify_certificate needs an aware datetime")
    for refusal in (_validity_refusal(cert, now), _usage_refusal(cert, usage)):
        if refusal is not None:
            raise refusal
    pool = [*trust.intermediates, *intermediates]
    if not trust.roots:
        raise _chain_refusal(cert, pool, trust, now, None)
    verifier = (
        PolicyBuilder()
        .store(Store(list(trust.roots)))
        .time(now)
        .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(),
                            ee_policy=_end_entity_policy(usage))
        .build_client_verifier()
    )
    try:
        chain = tuple(verifier.verify(cert, pool).chain)
    except VerificationError as error:
        raise _chain_refusal(cert, pool, trust, now, error) from error
    # From the root down, so a revoked CA is named rather than every certificate under it.
    for child, issuer in reversed(list(itertools.pairwise(chain))):
        _check_not_revoked(child, issuer, trust, now)
    return AcceptedCertificate(
        certificate=cert, chain=chain, usage=usage, subject=name_of(cert.subject),
        issuer=name_of(cert.issuer), serial=format(cert.serial_number, "x"),
        fingerprint=cert.fingerprint(hashes.SHA256()).hex(), not_after=cert.not_valid_after_utc,
        credit_code=credit_code_of(cert),
    )
