"""A tender's opening key as the platform keeps it: made at publication, read by everyone.

``signing.opening_key`` is the pure library; this module picks the officers, stores the public
setup (signing.models.OpeningKey) and reads it back. The officers of a tender are the agency
user who publishes it, the first active supervisor and the first active centre admin (by user
id) with an active encryption certificate (docs/decisions/0010-opening-officers.md); any 2 of
the 3 shares rebuild the key. Publication is refused, naming the role, when one is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509

from kernel.accounts.models import Role, User
from kernel.context import Context
from kernel.errors import DomainError
from signing.models import AccountCertificate, CertificateUse, OpeningKey
from signing.opening_key import OfficerRecipient, OpeningKeySetup, generate_opening_key
from signing.pki.subjects import OfficerRole

__all__ = [
    "THRESHOLD",
    "NoOfficerCertificate",
    "Officer",
    "OpeningKey",
    "create_opening_key",
    "officers_for",
    "opening_key_row",
    "opening_setup",
]

THRESHOLD = 2
# Who holds each share, in share order: the contract's officers (docs/opening-key.md).
_ROLE_NAMES: dict[OfficerRole, tuple[str, str]] = {
    "agency": ("招标代理机构（发布公告的经办人）", "the agency (the user who publishes)"),
    "supervisor": ("行政监督部门", "a supervisor"),
    "centre": ("公共资源交易中心管理员", "a centre admin"),
}


class NoOfficerCertificate(DomainError):
    status_code = 409
    code = "no_officer_certificate"
    zh = ("无法生成开标密钥：{role_zh}没有有效的加密证书。请先在“我的证书”页面登记加密证书，"
          "再发布公告")
    en = ("The opening key cannot be made: {role} has no active encryption certificate. "
          "Register one on the My certificates page, then publish")

    def __init__(self, *, role: OfficerRole) -> None:
        role_zh, role_en = _ROLE_NAMES[role]
        super().__init__(role=role_en, role_zh=role_zh)
        self.role = role


@dataclass(frozen=True)
class Officer:
    user_id: int
    name: str
    role: OfficerRole
    certificate: x509.Certificate


async def _certificate_of(user_id: int) -> x509.Certificate | None:
    row = await AccountCertificate.filter(
        user_id=user_id, use=CertificateUse.ENCRYPTION, active=True
    ).order_by("-id").first()
    return None if row is None else x509.load_der_x509_certificate(row.der)


async def _first_with_certificate(role: Role) -> tuple[User, x509.Certificate] | None:
    holders = set(await AccountCertificate.filter(
        use=CertificateUse.ENCRYPTION, active=True
    ).values_list("user_id", flat=True))
    user = await User.filter(role=role, is_active=True, id__in=holders).order_by("id").first()
    if user is None:
        return None
    cert = await _certificate_of(user.id)
    return None if cert is None else (user, cert)


def _name(user: User) -> str:
    return user.display_name or user.username


async def officers_for(*, agency_user_id: int) -> list[Officer]:
    """The three officers of a tender published now, or NoOfficerCertificate naming who lacks."""
    agency = await User.get_or_none(id=agency_user_id)
    agency_cert = None if agency is None else await _certificate_of(agency_user_id)
    if agency is None or agency_cert is None:
        raise NoOfficerCertificate(role="agency")
    officers = [Officer(agency.id, _name(agency), "agency", agency_cert)]
    for role, officer_role in ((Role.SUPERVISOR, "supervisor"), (Role.ADMIN, "centre")):
        found = await _first_with_certificate(role)
        if found is None:
            raise NoOfficerCertificate(role=officer_role)  # type: ignore[arg-type]
        user, cert = found
        officers.append(Officer(user.id, _name(user), officer_role, cert))  # type: ignore[arg-type]
    return officers


async def create_opening_key(
    ctx: Context, *, tender_id: int, officers: Sequence[Officer | tuple[int, str, str, object]],
) -> OpeningKey:
    """Make and store the tender's opening key, 2-of-n among ``officers``; inside a transaction.

    Each officer is an ``Officer`` or a (user_id, name, role, certificate) tuple. The share's
    ``officer`` field is "user:<id>", so the share a user may submit is found by id.
    """
    recipients = []
    for officer in officers:
        # The display name stays out of the setup: names change, user ids do not.
        user_id, _, role, cert = (
            (officer.user_id, officer.name, officer.role, officer.certificate)
            if isinstance(officer, Officer) else officer
        )
        recipients.append(OfficerRecipient(name=f"user:{user_id}", role=role,  # type: ignore[arg-type]
                                           encryption_public_key=cert))  # type: ignore[arg-type]
    now = ctx.clock.now()
    setup = generate_opening_key(officers=recipients, k=THRESHOLD, tender_id=str(tender_id),
                                 now=now)
    return await OpeningKey.create(
        tender_id=tender_id, key_id=setup.key_id, public_key_pem=setup.public_key_pem(),
        setup=setup.to_dict(), created_at=now,
    )


async def opening_key_row(tender_id: int) -> OpeningKey | None:
    return await OpeningKey.get_or_none(tender_id=tender_id)


async def opening_setup(tender_id: int) -> OpeningKeySetup | None:
    """The tender's opening key setup (public), or None before publication."""
    row = await opening_key_row(tender_id)
    return None if row is None else OpeningKeySetup.from_dict(row.setup)
