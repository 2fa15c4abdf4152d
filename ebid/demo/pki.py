"""The demo's certificates: a development PKI in the data directory, accepted by the platform,
the opening officers' encryption certificates registered to their accounts, and PKCS#12 files
of every demo bidder and officer for trying ``ebid-client`` against the demo server.

Everything here is demo material: the CA keys lie unencrypted in ``demo-pki/ca/`` and the
PKCS#12 password is printed. ``ebid demo --reset`` deletes it with the rest of the data dir.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anyio.to_thread
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ebid.demo.data import ADMIN, AGENCY, BIDDERS, P12_PASSWORD, RSA_BIDDERS, SUPERVISOR
from kernel.accounts.actor import Actor
from kernel.context import Context
from kernel.settings import Settings
from signing import accounts as certificates
from signing import trust
from signing.pki import DevPKI, IssuedPair, write_pair
from signing.sealed import Signer

# Certificates outlive the story (which starts about three months before "now") and a year of
# trying the demo afterwards. The CRLs are published for a year too: a real CA's expire within
# days and are fetched again, but the demo server has nowhere to fetch them from.
VALID_DAYS = 3 * 365
CRL_DAYS = 365
# (username, officer role in the subject) of the opening officers, in the contract's order.
OFFICERS = ((AGENCY[0], "agency"), (SUPERVISOR[0], "supervisor"), (ADMIN[0], "centre"))


def pki_dir(settings: Settings) -> Path:
    """Where the demo's CAs and PKCS#12 files lie: ``<data dir>/demo-pki``."""
    return Path(settings.data_dir) / "demo-pki"


@dataclass(frozen=True)
class Holder:
    """A demo holder's signing and encryption keys, as its PKCS#12 files hold them."""

    username: str
    pair: IssuedPair
    p12: Path  # the signing half; ``.enc.p12`` beside it holds the encryption half

    @property
    def signer(self) -> Signer:
        return Signer(key=self.pair.signing.key, certificate=self.pair.signing.certificate,
                      chain=self.pair.chain)

    @property
    def encryption_certificate(self) -> x509.Certificate:
        return self.pair.encryption.certificate

    @property
    def encryption_key(self) -> Any:
        return self.pair.encryption.key


def _make(directory: Path, now: datetime) -> tuple[DevPKI, dict[str, Holder]]:
    """Blocking: the CAs, one certificate pair per bidder and officer, their PKCS#12 files.

    The RSA family costs about a second (two RSA-3072 CA keys and an RSA-2048 key per RSA
    bidder): it is there because many Chinese CAs still issue RSA signing certificates, and
    the demo should show the platform accepting both."""
    families = ("ec", "rsa") if RSA_BIDDERS else ("ec",)
    pki = DevPKI.create(directory / "ca", now=now, families=families)  # type: ignore[arg-type]
    for family in pki.families:
        pki.publish_crls(family, now=now, days=CRL_DAYS)
    holders: dict[str, Holder] = {}
    for company in BIDDERS:
        pair = pki.issue(kind="company", name=company.name, credit_code=company.credit_code,
                         now=now, family="rsa" if company.username in RSA_BIDDERS else "ec",
                         days=VALID_DAYS)
        holders[company.username] = Holder(company.username, pair, directory / (
            f"{company.username}.p12"))
    for username, role in OFFICERS:
        pair = pki.issue(kind="officer", name=username, role=role,  # type: ignore[arg-type]
                         now=now, family="ec", days=VALID_DAYS)
        holders[username] = Holder(username, pair, directory / f"{username}.p12")
    for holder in holders.values():
        write_pair(holder.pair, holder.p12, password=P12_PASSWORD)
    (directory / "README.txt").write_text(
        "Demo material only: the CA keys in ca/ lie unencrypted.\n"
        + "\n".join(_describe(directory.resolve())) + "\n", encoding="utf-8")
    return pki, holders


async def set_up(ctx: Context, *, admin: Actor, officers: dict[str, Actor],
                 now: datetime) -> dict[str, Holder]:
    """Create the PKI dated ``now``, accept its CAs and CRLs, register the officers'
    encryption certificates; the holders by username."""
    directory = pki_dir(ctx.settings)
    directory.mkdir(parents=True, exist_ok=True)
    pki, holders = await anyio.to_thread.run_sync(_make, directory, now)
    for cert in [*pki.roots(), *pki.intermediates()]:
        await trust.add_ca(ctx, actor=admin, pem_or_der=cert.public_bytes(Encoding.DER))
    for crl in pki.crls():
        await trust.upload_crl(ctx, actor=admin, data=crl.public_bytes(Encoding.DER))
    for username, actor in officers.items():
        await certificates.register_certificate(
            ctx, actor=actor,
            der=holders[username].encryption_certificate.public_bytes(Encoding.DER))
    return holders


def starts_before(at: datetime) -> datetime:
    """When the demo's CAs and certificates start: a few days before the story's first act."""
    return at - timedelta(days=3)


def describe(settings: Settings, server: str | None = None) -> list[str]:
    """Lines for ``ebid demo`` to print (and its README.txt to hold): where the PKCS#12
    files are and how to use them against ``server`` (the demo's address)."""
    directory = pki_dir(settings)
    if not directory.exists():
        return []
    return _describe(directory.resolve(), server)


def _describe(directory: Path, server: str | None = None) -> list[str]:
    bidder, officer = BIDDERS[0].username, AGENCY[0]
    officers = ", ".join(f"{username}.enc.p12" for username, _ in OFFICERS)
    # The client's default server is http://127.0.0.1:8000; a demo elsewhere must say so.
    where = f"EBID_SERVER={server} " if server else ""
    return [
        f"Demo certificates (PKCS#12, password {P12_PASSWORD}) in {directory}/:",
        "  bidder1..bidder6: <bidder>.p12 (signing) and <bidder>.enc.p12 (encryption);",
        f"  opening officers: {officers} (their shares of each tender's opening key).",
        f"  export {where}EBID_P12_PASSWORD='{P12_PASSWORD}'",
        f"  ebid-client login --p12 {directory}/{bidder}.p12 --no-browser",
        f"  ebid-client decrypt --tender T --enc-p12 {directory}/{bidder}.enc.p12",
        f"  ebid-client login --username {officer}   (password {AGENCY[1]})",
        f"  ebid-client share --tender T --enc-p12 {directory}/{officer}.enc.p12",
    ]
