"""The CAs the centre accepts and their CRLs: adding, deactivating, uploading, and the TrustStore.

The centre admin uploads root and intermediate CA certificates and their CRLs (or a background
job fetches the CRLs from each CA's ``crl_url``). A CRL is stored only if an accepted CA of its
issuer's name verifies its signature and it is newer than the one on file; every CRL is kept,
and the newest one already in force is current. ``trust_store`` is what
``signing.certificates.verify_certificate`` checks certificates against.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from kernel.accounts.actor import Actor
from kernel.accounts.models import Role
from kernel.context import Context
from kernel.errors import InvalidInput, PermissionDenied
from signing.certificates import TrustStore, name_of, when
from signing.exceptions import (
    CaAlreadyAccepted,
    CaCertificateUnreadable,
    CaNotFound,
    CrlInvalid,
    CrlIssuerUnknown,
    CrlNotNewer,
    CrlSignatureInvalid,
    CrlUnreadable,
    NotACaCertificate,
)
from signing.models import AcceptedCA, CaCrl

__all__ = [
    "CaListing",
    "add_ca",
    "clean_crl_url",
    "deactivate_ca",
    "list_cas",
    "set_crl_url",
    "store_crl",
    "trust_store",
    "upload_crl",
]

_PEM = b"-----BEGIN"


@dataclass(frozen=True)
class CaListing:
    """One accepted CA as the admin page shows it: its current CRL, and whether that is stale."""

    ca: AcceptedCA
    crl: CaCrl | None
    stale: bool  # no CRL in force: certificates it issued are refused until a new one comes


def _require_admin(actor: Actor) -> None:
    if not actor.has(Role.ADMIN):
        raise PermissionDenied()


def _load_certificate(data: bytes) -> x509.Certificate:
    try:
        if _PEM in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise CaCertificateUnreadable() from exc


def _load_crl(data: bytes) -> x509.CertificateRevocationList:
    try:
        if _PEM in data:
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise CrlUnreadable() from exc


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _verifies(crl: x509.CertificateRevocationList, cert: x509.Certificate) -> bool:
    key = cert.public_key()
    # The only key types a CRL can be verified with (and the only ones path validation takes).
    return isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey) and (
        crl.is_signature_valid(key)
    )


def _crl_number(crl: x509.CertificateRevocationList) -> str:
    try:
        return str(crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)
    except x509.ExtensionNotFound:
        return ""


def _current(crls: Sequence[CaCrl], now: datetime) -> CaCrl | None:
    """The newest CRL already in force; a CRL dated in the future does not shadow it yet."""
    issued = [crl for crl in crls if crl.this_update <= now]
    return max(issued, key=lambda crl: crl.this_update, default=None)


async def add_ca(
    ctx: Context, *, actor: Actor, pem_or_der: bytes, crl_url: str = ""
) -> AcceptedCA:
    """Accept a root or intermediate CA certificate (admin only); refuse non-CAs and duplicates."""
    _require_admin(actor)
    cert = _load_certificate(pem_or_der)
    subject = name_of(cert.subject)
    if not _is_ca(cert):
        raise NotACaCertificate(subject=subject)
    fingerprint = cert.fingerprint(hashes.SHA256()).hex()
    if await AcceptedCA.filter(fingerprint=fingerprint).exists():
        raise CaAlreadyAccepted(subject=subject, fingerprint=fingerprint)
    try:
        async with in_transaction():
            ca = await AcceptedCA.create(
                der=cert.public_bytes(Encoding.DER), subject=subject, fingerprint=fingerprint,
                is_root=cert.issuer == cert.subject, not_after=cert.not_valid_after_utc,
                added_at=ctx.clock.now(), active=True, crl_url=clean_crl_url(crl_url),
            )
            await ctx.audit.record(
                at=ctx.clock.now(), actor=actor, action="signing:ca:added",
                object_type="accepted_ca", object_id=ca.id, before=None,
                after={"subject": subject, "fingerprint": fingerprint, "is_root": ca.is_root,
                       "crl_url": ca.crl_url},
            )
    except IntegrityError as exc:  # the same CA added twice at the same moment
        raise CaAlreadyAccepted(subject=subject, fingerprint=fingerprint) from exc
    _forget_trust_store(ctx)
    return ca


async def deactivate_ca(ctx: Context, *, actor: Actor, ca_id: int) -> AcceptedCA:
    """Stop accepting a CA (admin only): certificates it issued are refused from now on."""
    _require_admin(actor)
    async with in_transaction():
        ca = await AcceptedCA.filter(id=ca_id).select_for_update().first()
        if ca is None:
            raise CaNotFound()
        if ca.active:
            ca.active = False
            await ca.save(update_fields=["active"])
            await ctx.audit.record(
                at=ctx.clock.now(), actor=actor, action="signing:ca:deactivated",
                object_type="accepted_ca", object_id=ca.id, before={"active": True},
                after={"active": False},
            )
    _forget_trust_store(ctx)
    return ca


def clean_crl_url(url: str) -> str:
    """An http(s) address, or "" for none; anything else is refused before it is stored."""
    url = (url or "").strip()
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname or len(url) > 1024:
        raise InvalidInput("crl_url", "must be an http:// or https:// address of at most "
                           "1024 characters", "须为 http:// 或 https:// 地址，最多 1024 个字符")
    return url


async def set_crl_url(ctx: Context, *, actor: Actor, ca_id: int, crl_url: str) -> AcceptedCA:
    """Set (or clear, with "") where the fetch job gets a CA's CRL from (admin only)."""
    _require_admin(actor)
    url = clean_crl_url(crl_url)
    async with in_transaction():
        ca = await AcceptedCA.filter(id=ca_id).select_for_update().first()
        if ca is None:
            raise CaNotFound()
        if ca.crl_url != url:
            before = ca.crl_url
            # A new address is fetched at the next tick, and an old failure no longer applies.
            ca.crl_url, ca.crl_fetched_at, ca.crl_fetch_error = url, None, ""
            await ca.save(update_fields=["crl_url", "crl_fetched_at", "crl_fetch_error"])
            await ctx.audit.record(
                at=ctx.clock.now(), actor=actor, action="signing:ca:crl_url_set",
                object_type="accepted_ca", object_id=ca.id, before={"crl_url": before},
                after={"crl_url": url},
            )
    return ca


async def upload_crl(ctx: Context, *, actor: Actor, data: bytes) -> CaCrl:
    """Store a CRL of an accepted CA (admin only), checked by name, signature and date."""
    _require_admin(actor)
    return await store_crl(ctx, actor=actor, data=data)


async def store_crl(
    ctx: Context, *, actor: Actor, data: bytes, ca_id: int | None = None, source: str = "upload"
) -> CaCrl:
    """Check and store a CRL; ``upload_crl`` and the fetch job (signing.crl_fetch) both call it.

    Dangerous to call directly from a view: it does not check the actor is an admin. With
    ``ca_id`` the CRL must be that CA's (a CRL address serving another CA's list is refused).
    """
    crl = _load_crl(data)
    issuer = name_of(crl.issuer)
    named = [ca for ca in await AcceptedCA.filter(active=True)
             if x509.load_der_x509_certificate(ca.der).subject == crl.issuer
             and ca_id in (None, ca.id)]
    if not named:
        raise CrlIssuerUnknown(issuer=issuer)
    ca = next((ca for ca in named if _verifies(crl, x509.load_der_x509_certificate(ca.der))),
              None)
    if ca is None:
        raise CrlSignatureInvalid(issuer=issuer)
    if crl.next_update_utc is None:
        raise CrlInvalid(issuer=issuer, reason="it names no next update")
    async with in_transaction():
        await AcceptedCA.filter(id=ca.id).select_for_update().first()  # one upload at a time
        newest = await CaCrl.filter(ca_id=ca.id).order_by("-this_update").first()
        if newest is not None and crl.last_update_utc <= newest.this_update:
            raise CrlNotNewer(issuer=issuer, this_update=when(crl.last_update_utc),
                              current=when(newest.this_update))
        row = await CaCrl.create(
            ca=ca, der=crl.public_bytes(Encoding.DER), this_update=crl.last_update_utc,
            next_update=crl.next_update_utc, crl_number=_crl_number(crl),
            uploaded_at=ctx.clock.now(),
        )
        await ctx.audit.record(
            at=ctx.clock.now(), actor=actor, action="signing:crl:uploaded",
            object_type="accepted_ca", object_id=ca.id, before=None,
            after={"crl_number": row.crl_number, "this_update": when(row.this_update),
                   "next_update": when(row.next_update), "revoked": len(crl)},
            detail={"source": source},
        )
    _forget_trust_store(ctx)
    return row



async def _active_with_crls(now: datetime) -> list[CaListing]:
    cas = await AcceptedCA.filter(active=True).order_by("id")
    return await _listings(cas, now)


async def _listings(cas: Sequence[AcceptedCA], now: datetime) -> list[CaListing]:
    crls = await CaCrl.filter(ca_id__in=[ca.id for ca in cas])
    out = []
    for ca in cas:
        current = _current([crl for crl in crls if crl.ca_id == ca.id], now)  # type: ignore[attr-defined]
        out.append(CaListing(ca, current, current is None or current.next_update <= now))
    return out


# How long a process keeps the parsed CAs and CRLs (kernel/memo.py). A change made through this
# process is seen at once (_forget_trust_store); one made through another process within this
# many seconds, which is nothing next to the hour between two fetches of a CA's CRL.
TRUST_STORE_MAX_AGE = 5.0
_TRUST_STORE = "signing:trust_store"


def _forget_trust_store(ctx: Context) -> None:
    ctx.memo.forget(_TRUST_STORE)


async def trust_store(ctx: Context) -> TrustStore:
    """The active CAs and their current CRLs, for ``verify_certificate``, kept a few seconds:
    reading and parsing every CRL for every submission is what a deadline rush cannot afford."""
    return await ctx.memo.fetch(_TRUST_STORE, lambda: _read_trust_store(ctx),
                                now=ctx.clock.now(), max_age=TRUST_STORE_MAX_AGE)


async def _read_trust_store(ctx: Context) -> TrustStore:
    listings = await _active_with_crls(ctx.clock.now())
    certs = [(x509.load_der_x509_certificate(item.ca.der), item.ca.is_root) for item in listings]
    return TrustStore.of(
        roots=[cert for cert, is_root in certs if is_root],
        intermediates=[cert for cert, is_root in certs if not is_root],
        crls=[x509.load_der_x509_crl(item.crl.der) for item in listings if item.crl is not None],
    )


async def list_cas(ctx: Context) -> list[CaListing]:
    """Every CA ever accepted, active ones first, each with its current CRL."""
    cas = await AcceptedCA.all().order_by("-active", "id")
    return await _listings(cas, ctx.clock.now())
