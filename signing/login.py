"""Certificate login: a one-time challenge, signed with the company's certificate, opens a session.

The Python servers do not pass TLS client certificates to the application, so the proof of key
possession is a signature over a server challenge: the client asks for 32 random bytes, signs
them as a detached CMS with its signing certificate (certificates included), and sends both back.
The signature is checked (signing.cms), then the certificate (signing.certificates, against the
centre's accepted CAs and CRLs, usage signing, at this instant); the unified social credit code
in its subject names the company, and the session is that company's first active bidder user's.

The answer is a bearer token for the client and a one-time login link for the browser: the
client opens ``/login/link/<secret>`` and the browser gets its own session cookie, as after a
password login. Challenge and link share a ``LoginChallenge`` row, and only their SHA-256 is
stored. The row's lifecycle:

- issued: ``link_hash`` empty, ``used_at`` empty, ``expires_at`` two minutes ahead;
- used (any attempt, good or bad, burns it): ``used_at`` set;
- on success it becomes the link: ``link_hash`` and ``user_id`` set, ``used_at`` cleared and
  ``expires_at`` two minutes ahead again; the link is used up like the challenge was.

Each step consumes its row with one conditional UPDATE, so two requests racing with the same
challenge or link cannot both win. Every attempt is audited and failures are throttled like
password logins (kernel LoginAttempt), under the name ``cert:<credit code>`` and the address.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from kernel.accounts import services as accounts
from kernel.accounts.models import Role, User
from kernel.context import Context
from kernel.errors import DomainError, NotFound
from signing import trust
from signing.certificates import AcceptedCertificate, credit_code_of, verify_certificate
from signing.cms import VerifiedSignature, verify_detached
from signing.models import LoginChallenge
from signing.sealed.errors import BadSignature

__all__ = [
    "CHALLENGE_BYTES",
    "CHALLENGE_SECONDS",
    "LINK_SECONDS",
    "CertificateLogin",
    "CertificateWithoutCreditCode",
    "Challenge",
    "ChallengeExpired",
    "ChallengeUnknown",
    "ChallengeUsed",
    "LoginLinkInvalid",
    "LoginSignatureInvalid",
    "NoAccountForCertificate",
    "issue_challenge",
    "login_with_certificate",
    "purge_expired",
    "use_login_link",
]

CHALLENGE_BYTES = 32
CHALLENGE_SECONDS = 120
LINK_SECONDS = 120
# Rows are kept a day after they expire, for the record of who tried; then the tick drops them.
KEEP_SECONDS = 24 * 3600
_MAX_SIGNATURE_BYTES = 64 * 1024  # a CMS signature with a long chain is a few KiB


class ChallengeUnknown(DomainError):
    status_code = 401
    code = "challenge_unknown"
    zh = "登录挑战码无效：请重新获取挑战码后再签名"
    en = "The login challenge is not one this platform issued: get a new challenge and sign it"


class ChallengeExpired(DomainError):
    status_code = 401
    code = "challenge_expired"
    zh = "登录挑战码已于 {expired_at} 过期（有效期 2 分钟）：请重新获取"
    en = "The login challenge expired at {expired_at} (it is valid for 2 minutes): get a new one"


class ChallengeUsed(DomainError):
    status_code = 401
    code = "challenge_used"
    zh = "该登录挑战码已使用过（每个挑战码只能使用一次）：请重新获取"
    en = "The login challenge was already used (each one is good once): get a new one"


class LoginSignatureInvalid(DomainError):
    status_code = 401
    code = "bad_login_signature"
    zh = "登录签名无效：{reason_zh}"
    en = "The login signature is invalid: {reason}"

    def __init__(self, *, reason: str, reason_zh: str) -> None:
        super().__init__(reason=reason, reason_zh=reason_zh)


class CertificateWithoutCreditCode(DomainError):
    status_code = 401
    code = "certificate_without_credit_code"
    zh = "证书 {subject} 的主题中没有有效的统一社会信用代码，无法确定所属单位"
    en = ("The certificate {subject} carries no valid unified social credit code in its "
          "subject, so it names no company")

    def __init__(self, *, subject: str) -> None:
        super().__init__(subject=subject)


class NoAccountForCertificate(DomainError):
    status_code = 401
    code = "no_account_for_certificate"
    zh = "统一社会信用代码 {credit_code} 没有可用的投标单位账户：请先注册或联系交易中心"
    en = ("No active bidder account is registered under the credit code {credit_code}: "
          "sign up first or contact the trading centre")

    def __init__(self, *, credit_code: str) -> None:
        super().__init__(credit_code=credit_code)


class LoginLinkInvalid(DomainError):
    status_code = 401
    code = "login_link_invalid"
    zh = "登录链接无效、已使用或已过期（有效期 2 分钟，只能使用一次）：请重新运行 ebid-client login"
    en = ("The login link is unknown, used or expired (it is good once, for 2 minutes): "
          "run ebid-client login again")


@dataclass(frozen=True)
class Challenge:
    value: bytes
    expires_at: datetime


@dataclass(frozen=True)
class CertificateLogin:
    token: str  # the client's bearer session token
    link_secret: str  # the browser's one-time link is /login/link/<link_secret>
    link_expires_at: datetime
    user: User  # with its organisation loaded
    certificate: AcceptedCertificate


def _hash(value: bytes) -> str:
    return hashlib.sha256(value).hexdigest()


async def issue_challenge(ctx: Context) -> Challenge:
    """A fresh challenge, good once for two minutes; only its hash is stored."""
    value = secrets.token_bytes(CHALLENGE_BYTES)
    now = ctx.clock.now()
    expires_at = now + timedelta(seconds=CHALLENGE_SECONDS)
    await LoginChallenge.create(nonce_hash=_hash(value), created_at=now, expires_at=expires_at)
    return Challenge(value, expires_at)


async def _consume_challenge(value: bytes, now: datetime) -> LoginChallenge:
    """Burn the challenge (whatever comes next), or say why it cannot be used."""
    nonce_hash = _hash(value)
    taken = await LoginChallenge.filter(
        nonce_hash=nonce_hash, link_hash__isnull=True, used_at__isnull=True, expires_at__gt=now
    ).update(used_at=now)
    row = await LoginChallenge.get_or_none(nonce_hash=nonce_hash)
    if taken == 1 and row is not None:
        return row
    if row is None:
        raise ChallengeUnknown()
    if row.used_at is not None or row.link_hash is not None:
        raise ChallengeUsed()
    raise ChallengeExpired(expired_at=row.expires_at.isoformat(timespec="seconds"))


def _signature(challenge: bytes, signature: bytes) -> VerifiedSignature:
    if not signature or len(signature) > _MAX_SIGNATURE_BYTES:
        raise LoginSignatureInvalid(reason="empty or larger than 64 KiB",
                                    reason_zh="签名为空或超过 64 KiB")
    try:
        return verify_detached(signature, content=challenge, what="cms")
    except BadSignature as error:
        params = error.params
        raise LoginSignatureInvalid(reason=params.get("reason", ""),
                                    reason_zh=params.get("reason_zh", "")) from error


async def _account(accepted: AcceptedCertificate) -> User:
    if accepted.credit_code is None:
        raise CertificateWithoutCreditCode(subject=accepted.subject)
    org = await accounts.organization_by_credit_code(accepted.credit_code)
    user = None if org is None else await accounts.first_active_user(org.id, Role.BIDDER)
    if user is None:
        raise NoAccountForCertificate(credit_code=accepted.credit_code)
    return user


async def login_with_certificate(
    ctx: Context, *, challenge: bytes, signature: bytes, remote_addr: str
) -> CertificateLogin:
    """Check a signed challenge and open a session for the certificate's company.

    Refusals name their reason: the challenge unknown, used or expired; the signature bad; the
    certificate expired, revoked, of an unknown issuer or unfit for signing; no credit code or
    no account under it; too many failures (throttled).
    """
    # The signature is parsed before anything is looked up, so the throttle can count failures
    # per company; a signature that does not even parse counts under the address alone.
    try:
        verified: VerifiedSignature | None = _signature(challenge, signature)
        parse_error: DomainError | None = None
    except LoginSignatureInvalid as error:
        verified, parse_error = None, error
    code = credit_code_of(verified.signer) if verified is not None else None
    # Not a shared name for all unparsable signatures: that would lock everyone out together.
    username = f"cert:{code}" if code else f"cert@{remote_addr}"
    await accounts.check_throttle(ctx, username=username, remote_addr=remote_addr)
    now = ctx.clock.now()
    try:
        row = await _consume_challenge(challenge, now)
        if parse_error is not None or verified is None:
            raise parse_error or LoginSignatureInvalid(reason="", reason_zh="")
        accepted = verify_certificate(
            verified.signer, intermediates=verified.certificates,
            trust=await trust.trust_store(ctx), now=now, usage="signing",
        )
        user = await _account(accepted)
    except DomainError as error:
        await accounts.record_login_failure(ctx, username=username, remote_addr=remote_addr,
                                            reason=f"certificate:{error.code}")
        raise
    token = await accounts.open_session_for(
        ctx, user=user, username=username, remote_addr=remote_addr, method="certificate",
        detail={"certificate": accepted.fingerprint, "subject": accepted.subject,
                "issuer": accepted.issuer, "serial": accepted.serial},
    )
    secret = secrets.token_urlsafe(32)
    link_expires_at = now + timedelta(seconds=LINK_SECONDS)
    await LoginChallenge.filter(id=row.id).update(
        link_hash=_hash(secret.encode()), user_id=user.id, used_at=None,
        expires_at=link_expires_at,
    )
    return CertificateLogin(token, secret, link_expires_at, user, accepted)


async def use_login_link(ctx: Context, *, secret: str, remote_addr: str) -> str:
    """Trade a one-time login link for a browser session token, or LoginLinkInvalid."""
    now = ctx.clock.now()
    # Links are throttled by address only: one name for all would lock every browser out.
    username = f"link@{remote_addr}"
    await accounts.check_throttle(ctx, username=username, remote_addr=remote_addr)
    link_hash = _hash(secret.encode()) if 0 < len(secret) <= 200 else ""
    taken = await LoginChallenge.filter(
        link_hash=link_hash, used_at__isnull=True, expires_at__gt=now
    ).update(used_at=now) if link_hash else 0
    row = await LoginChallenge.get_or_none(link_hash=link_hash) if taken == 1 else None
    user = None
    if row is not None and row.user_id is not None:
        with contextlib.suppress(NotFound):
            user = await accounts.get_user(row.user_id)
    if row is None or user is None or not user.is_active:
        await accounts.record_login_failure(ctx, username=username, remote_addr=remote_addr,
                                            reason="certificate:login_link_invalid")
        raise LoginLinkInvalid()
    return await accounts.open_session_for(
        ctx, user=user, username=f"cert-link:{user.id}", remote_addr=remote_addr,
        method="certificate_link", detail={"challenge_id": str(row.id)},
    )


async def purge_expired(ctx: Context) -> int:
    """Drop challenges and links that expired more than a day ago; returns how many."""
    cutoff = ctx.clock.now() - timedelta(seconds=KEEP_SECONDS)
    return await LoginChallenge.filter(expires_at__lt=cutoff).delete()
