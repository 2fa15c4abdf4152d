"""The officers' shares of a tender's opening key, submitted at the opening (docs/opening.md).

Each share is checked against its commitment in the tender's OpeningKeySetup the moment it
arrives, so a wrong share is refused naming its index and never reaches recovery; accepted ones
are stored in OpeningShare and audited (the audit names the officer and the index, never the
share). Whether shares are accepted at all (only after the deadline, only during the opening)
is the bidding service's rule: it knows the deadline and calls :func:`accept_share` inside its
own transaction.

:func:`recover_opening_key` rebuilds the private key in memory from k stored shares; it is
never written anywhere (docs/opening-key.md, "Why the whole key is never stored").
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import x25519

from kernel.accounts.actor import Actor
from kernel.accounts.models import Role
from kernel.context import Context
from kernel.errors import DomainError, PermissionDenied
from signing.models import AccountCertificate, CertificateUse, OpeningKey, OpeningShare
from signing.opening_key import OpeningKeySetup, recover_private_key, verify_share
from signing.sealed import keys
from signing.shamir import Share

__all__ = [
    "NoOpeningKey",
    "NotTheShareHolder",
    "ShareAlreadySubmitted",
    "ShareCount",
    "accept_share",
    "opening_setup",
    "recover_opening_key",
    "share_count",
]

# The role of an officer's share (signing.pki.subjects.OFFICER_ROLES) and the account role
# that holds it.
_ACCOUNT_ROLE = {"agency": Role.AGENCY, "supervisor": Role.SUPERVISOR, "centre": Role.ADMIN}


class NoOpeningKey(DomainError):
    status_code = 409
    code = "no_opening_key"
    zh = "该项目没有开标密钥（未采用密封投标）"
    en = "This tender has no opening key (it takes no sealed bids)"


class NotTheShareHolder(PermissionDenied):
    code = "not_the_share_holder"
    zh = "第 {index} 份开标密钥份额不由您持有：{reason_zh}"
    en = "You do not hold opening key share {index}: {reason}"

    def __init__(self, *, index: int, reason: str, reason_zh: str) -> None:
        super().__init__(index=index, reason=reason, reason_zh=reason_zh)


class ShareAlreadySubmitted(DomainError):
    status_code = 409
    code = "share_already_submitted"
    zh = "第 {index} 份开标密钥份额已提交"
    en = "Opening key share {index} has already been submitted"

    def __init__(self, *, index: int) -> None:
        super().__init__(index=index)


@dataclass(frozen=True)
class ShareCount:
    submitted: int
    threshold: int

    @property
    def complete(self) -> bool:
        return self.threshold > 0 and self.submitted >= self.threshold


async def opening_setup(tender_id: int) -> OpeningKeySetup | None:
    """The tender's stored opening key setup (public), or None for a tender without one."""
    row = await OpeningKey.get_or_none(tender_id=tender_id)
    return OpeningKeySetup.from_dict(row.setup) if row is not None else None


def _key_id_of(der: bytes) -> str | None:
    try:
        public_key = x509.load_der_x509_certificate(der).public_key()
        return keys.key_id(public_key)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return None


async def _check_holder(actor: Actor, setup: OpeningKeySetup, index: int) -> str:
    """The officer name of share ``index`` if ``actor`` holds it: the account's role fits the
    share's, and one of its active encryption certificates carries the key it is encrypted to."""
    held = next((s for s in setup.shares if s.index == index), None)
    if held is None:
        raise NotTheShareHolder(index=index, reason=f"there is no share {index}",
                                reason_zh=f"不存在第 {index} 份份额")
    if actor.user_id is None or not actor.has(_ACCOUNT_ROLE[held.role]):
        raise NotTheShareHolder(index=index, reason=f"it is the {held.role}'s share",
                                reason_zh=f"该份额属于 {held.role}")
    certificates = await AccountCertificate.filter(
        user_id=actor.user_id, use=CertificateUse.ENCRYPTION, active=True
    ).values_list("der", flat=True)
    if not any(_key_id_of(bytes(der)) == held.key_id for der in certificates):
        raise NotTheShareHolder(
            index=index, reason="none of your encryption certificates holds its key",
            reason_zh="您登记的加密证书均不是该份额的加密对象",
        )
    return held.officer


async def accept_share(
    ctx: Context, *, actor: Actor, tender_id: int, index: int, value: bytes
) -> ShareCount:
    """Check a submitted share against its commitment and store it; in the caller's
    transaction. Refuses a share of no tender key, one not held by ``actor``, a second copy,
    and a wrong one (shamir's refusal names it)."""
    setup = await opening_setup(tender_id)
    if setup is None:
        raise NoOpeningKey()
    officer = await _check_holder(actor, setup, index)
    share = verify_share(Share(index=index, value=value, threshold=setup.threshold), setup)
    if await OpeningShare.filter(tender_id=tender_id, index=index).exists():
        raise ShareAlreadySubmitted(index=index)
    row = await OpeningShare.create(tender_id=tender_id, index=index, user_id=actor.user_id,
                                    share=share.value, submitted_at=ctx.clock.now())
    await ctx.audit.record(
        at=ctx.clock.now(), actor=actor, action="signing:opening_share:submitted",
        object_type="opening_share", object_id=row.id, scope=f"tender:{tender_id}",
        # The share itself never enters the trail: only who brought which one.
        detail={"index": index, "officer": officer,
                "commitment": setup.commitments[index],
                "received_sha256": hashlib.sha256(share.value).hexdigest()},
    )
    return await share_count(tender_id)


async def share_count(tender_id: int) -> ShareCount:
    """How many shares are in, and how many are needed (0 needed: no opening key)."""
    setup = await opening_setup(tender_id)
    if setup is None:
        return ShareCount(0, 0)
    return ShareCount(await OpeningShare.filter(tender_id=tender_id).count(), setup.threshold)


async def recover_opening_key(tender_id: int) -> x25519.X25519PrivateKey | None:
    """DANGEROUS: the tender's whole opening private key, rebuilt in memory from the stored
    shares, or None while fewer than k are in. Never store, log or return it to a client."""
    setup = await opening_setup(tender_id)
    if setup is None:
        return None
    rows = await OpeningShare.filter(tender_id=tender_id).order_by("index")
    if len(rows) < setup.threshold:
        return None
    shares = [Share(index=row.index, value=bytes(row.share), threshold=setup.threshold)
              for row in rows]
    return recover_private_key(shares, setup)
