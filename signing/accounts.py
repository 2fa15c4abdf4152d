"""Certificates registered to user accounts: each officer's encryption certificate.

An opening key's shares are encrypted to its officers' encryption keys (signing.opening), so an
officer registers an encryption certificate first: any logged-in user may register one on the
"我的证书" page. It is accepted only if ``verify_certificate`` accepts it for encryption at this
instant (chain to an accepted CA, validity, key usage, CRLs) and its key is one HPKE can wrap to
(EC P-256 or X25519: HPKE takes no RSA keys). Registering and deactivating are audited.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from tortoise.transactions import in_transaction

from kernel.accounts.actor import Actor
from kernel.context import Context
from kernel.errors import DomainError, NotFound, PermissionDenied
from signing import trust
from signing.certificates import AcceptedCertificate, verify_certificate
from signing.models import AccountCertificate, CertificateUse
from signing.sealed import keys

__all__ = [
    "CertificateAlreadyRegistered",
    "CertificateUnreadable",
    "KeyTypeUnfit",
    "RegisteredCertificate",
    "active_encryption_certificate",
    "deactivate",
    "list_certificates",
    "load_certificate",
    "register_certificate",
]

_PEM = b"-----BEGIN"


class CertificateUnreadable(DomainError):
    status_code = 400
    code = "certificate_unreadable"
    zh = "无法读取证书：请上传 PEM 或 DER 格式的 X.509 证书"
    en = "The certificate cannot be read: upload an X.509 certificate in PEM or DER form"


class KeyTypeUnfit(DomainError):
    status_code = 400
    code = "key_type_unfit"
    zh = "证书 {subject} 的密钥类型无法用于开标密钥份额加密（须为 EC P-256 或 X25519）"
    en = ("The key of certificate {subject} cannot receive an opening key share "
          "(it must be EC P-256 or X25519)")

    def __init__(self, *, subject: str) -> None:
        super().__init__(subject=subject)


class CertificateAlreadyRegistered(DomainError):
    status_code = 409
    code = "certificate_already_registered"
    zh = "该证书已登记在您的账户下"
    en = "This certificate is already registered to your account"


@dataclass(frozen=True)
class RegisteredCertificate:
    row: AccountCertificate
    certificate: x509.Certificate


def load_certificate(data: bytes) -> x509.Certificate:
    """A certificate from PEM or DER bytes, or CertificateUnreadable."""
    try:
        if _PEM in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as error:
        raise CertificateUnreadable() from error


def _check_key(accepted: AcceptedCertificate) -> None:
    try:
        keys.algorithm_for(accepted.certificate.public_key())
    except DomainError as error:  # signing.sealed's UnsupportedAlgorithm: an RSA key
        raise KeyTypeUnfit(subject=accepted.subject) from error


async def register_certificate(
    ctx: Context, *, actor: Actor, der: bytes,
    use: CertificateUse | str = CertificateUse.ENCRYPTION,
) -> AccountCertificate:
    """Register a certificate to the actor's account, checked for ``use`` at this instant."""
    if actor.user_id is None:
        raise PermissionDenied()
    use = CertificateUse(use)
    cert = load_certificate(der)
    now = ctx.clock.now()
    store = await trust.trust_store(ctx)
    accepted = verify_certificate(cert, intermediates=(), trust=store, now=now,
                                  usage="encryption" if use == CertificateUse.ENCRYPTION
                                  else "signing")
    if use == CertificateUse.ENCRYPTION:
        _check_key(accepted)
    async with in_transaction():
        existing = await AccountCertificate.filter(
            user_id=actor.user_id, fingerprint=accepted.fingerprint
        ).select_for_update().first()
        if existing is not None and existing.active:
            raise CertificateAlreadyRegistered()
        if existing is not None:
            existing.active, existing.registered_at = True, now
            await existing.save(update_fields=["active", "registered_at"])
            row = existing
        else:
            row = await AccountCertificate.create(
                user_id=actor.user_id, organization_id=actor.organization_id, use=use,
                der=cert.public_bytes(Encoding.DER), fingerprint=accepted.fingerprint,
                subject=accepted.subject[:1024], not_after=accepted.not_after,
                registered_at=now, active=True,
            )
        await ctx.audit.record(
            at=now, actor=actor, action="signing:account_certificate:registered",
            object_type="account_certificate", object_id=row.id, before=None,
            after={"use": use.value, "subject": accepted.subject,
                   "fingerprint": accepted.fingerprint, "issuer": accepted.issuer},
        )
    return row


async def list_certificates(user_id: int) -> list[AccountCertificate]:
    """A user's certificates, active ones first, newest first."""
    return await AccountCertificate.filter(user_id=user_id).order_by("-active", "-id")


async def deactivate(ctx: Context, *, actor: Actor, certificate_id: int) -> AccountCertificate:
    """Stop using one of one's own certificates (shares already dealt to it stay valid)."""
    async with in_transaction():
        row = await AccountCertificate.filter(
            id=certificate_id, user_id=actor.user_id
        ).select_for_update().first()
        if row is None:
            raise NotFound()
        if row.active:
            row.active = False
            await row.save(update_fields=["active"])
            await ctx.audit.record(
                at=ctx.clock.now(), actor=actor,
                action="signing:account_certificate:deactivated",
                object_type="account_certificate", object_id=row.id,
                before={"active": True}, after={"active": False},
            )
    return row


async def active_encryption_certificate(user_id: int) -> x509.Certificate | None:
    """The user's newest active encryption certificate, or None."""
    row = await AccountCertificate.filter(
        user_id=user_id, use=CertificateUse.ENCRYPTION, active=True
    ).order_by("-id").first()
    return None if row is None else x509.load_der_x509_certificate(row.der)
