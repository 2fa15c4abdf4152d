"""The CRL fetch job: each accepted CA with a ``crl_url`` gets its CRL downloaded, at most hourly.

A downloaded CRL goes through exactly the checks of an admin's upload (``trust.store_crl``: it
must be signed by that CA and newer than the one on file) and is kept the same way, marked
``source: fetch`` in its audit event. The same CRL again (the CA has not published a new one)
is no news and leaves no trace but the attempt's time. A failure (address unreachable, an HTTP
error, too large, too slow, not a CRL, another CA's CRL, a bad signature) is audited as
``signing:crl:fetch_failed`` with its reason and shown on /admin/cas until a fetch succeeds.

Each attempt first claims the CA by moving ``crl_fetched_at`` with a conditional UPDATE, so two
schedulers running the tick at the same moment do not both download it. Downloads are capped in
size and in total time, whatever the server does.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

import anyio
import httpx
from cryptography import x509
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from kernel.accounts.actor import SYSTEM
from kernel.context import Context
from kernel.errors import DomainError
from signing import trust
from signing.certificates import name_of
from signing.exceptions import CrlNotNewer
from signing.models import AcceptedCA

__all__ = ["FetchResult", "fetch_ca", "fetch_due"]

Outcome = Literal["stored", "unchanged", "failed", "skipped"]
_MAX_REDIRECTS = 3


@dataclass(frozen=True)
class FetchResult:
    ca_id: int
    url: str
    outcome: Outcome
    reason: str = ""  # why it failed


class _FetchFailed(Exception):
    """A download that produced no CRL; the message is what the admin page shows."""


async def _download(url: str, *, seconds: float, max_bytes: int,
                    transport: httpx.AsyncBaseTransport | None) -> bytes:
    try:
        with anyio.fail_after(seconds):  # the whole download, not each read
            async with httpx.AsyncClient(timeout=seconds, follow_redirects=True,
                                         max_redirects=_MAX_REDIRECTS,
                                         transport=transport) as client:
                async with client.stream("GET", url) as response:
                    if response.status_code != 200:
                        raise _FetchFailed(f"HTTP {response.status_code} from {url}")
                    length = response.headers.get("content-length", "")
                    if length.isdigit() and int(length) > max_bytes:
                        raise _FetchFailed(f"the CRL is {length} bytes, over the "
                                           f"{max_bytes}-byte limit")
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > max_bytes:
                            raise _FetchFailed(f"the CRL is over the {max_bytes}-byte limit")
                    return bytes(body)
    except TimeoutError:
        raise _FetchFailed(f"no complete answer within {seconds:g} s") from None
    except httpx.HTTPError as error:
        raise _FetchFailed(f"{type(error).__name__}: {error or 'no answer'}") from error


def _check_issuer(data: bytes, ca: AcceptedCA) -> None:
    """The address must serve this CA's CRL: another accepted CA's would be stored under it."""
    try:
        crl = (x509.load_pem_x509_crl(data) if b"-----BEGIN" in data
               else x509.load_der_x509_crl(data))
    except ValueError:
        return  # store_crl refuses it with its own reason (crl_unreadable)
    subject = x509.load_der_x509_certificate(ca.der).subject
    if crl.issuer != subject:
        raise _FetchFailed(f"the address serves the CRL of {name_of(crl.issuer)}, "
                           f"not of this CA ({ca.subject})")


async def _claim(ctx: Context, ca: AcceptedCA) -> bool:
    """Move the CA's last-attempt time to now unless another scheduler just did."""
    previous = ca.crl_fetched_at
    query = AcceptedCA.filter(id=ca.id, active=True, crl_url=ca.crl_url)
    query = query.filter(crl_fetched_at__isnull=True) if previous is None else query.filter(
        crl_fetched_at=previous)
    return await query.update(crl_fetched_at=ctx.clock.now()) == 1


async def _record(ctx: Context, ca: AcceptedCA, reason: str) -> None:
    async with in_transaction():
        await AcceptedCA.filter(id=ca.id).update(crl_fetch_error=reason[:1000])
        if reason:
            await ctx.audit.record(
                at=ctx.clock.now(), actor=SYSTEM, action="signing:crl:fetch_failed",
                object_type="accepted_ca", object_id=ca.id, before=None, after=None,
                detail={"url": ca.crl_url, "reason": reason},
            )


async def _fetched(
    ctx: Context, ca: AcceptedCA, transport: httpx.AsyncBaseTransport | None
) -> bytes | _FetchFailed:
    """The CRL's bytes or why there are none; touches no database, so several run at once."""
    try:
        data = await _download(ca.crl_url, seconds=ctx.settings.crl_fetch_timeout_seconds,
                               max_bytes=ctx.settings.crl_max_bytes, transport=transport)
        _check_issuer(data, ca)
    except _FetchFailed as error:
        return error
    return data


async def _store(ctx: Context, ca: AcceptedCA, fetched: bytes | _FetchFailed) -> FetchResult:
    outcome: Outcome = "stored"
    reason = ""
    try:
        if isinstance(fetched, _FetchFailed):
            raise fetched
        await trust.store_crl(ctx, actor=SYSTEM, data=fetched, ca_id=ca.id, source="fetch")
    except CrlNotNewer:
        outcome = "unchanged"
    except _FetchFailed as error:
        outcome, reason = "failed", str(error)
    except DomainError as error:  # unreadable, badly signed, no next update
        outcome, reason = "failed", error.message("en")
    await _record(ctx, ca, reason)
    return FetchResult(ca.id, ca.crl_url, outcome, reason)


async def fetch_ca(
    ctx: Context, *, ca: AcceptedCA, transport: httpx.AsyncBaseTransport | None = None
) -> FetchResult:
    """Download and store one CA's CRL now (if no other scheduler claimed it first)."""
    if not await _claim(ctx, ca):
        return FetchResult(ca.id, ca.crl_url, "skipped")
    return await _store(ctx, ca, await _fetched(ctx, ca, transport))


async def fetch_due(
    ctx: Context, *, transport: httpx.AsyncBaseTransport | None = None
) -> list[FetchResult]:
    """Fetch the CRL of every active CA with an address not tried within the interval.

    The downloads run side by side, so a slow CA holds the tick (and the deadlines it
    moves next) up for one timeout at most, not one per CA; claims and stores run one by one.
    """
    since = ctx.clock.now() - timedelta(seconds=ctx.settings.crl_fetch_interval_seconds)
    due = await AcceptedCA.filter(
        Q(crl_fetched_at__isnull=True) | Q(crl_fetched_at__lte=since), active=True,
    ).exclude(crl_url="").order_by("id")
    claimed = [ca for ca in due if await _claim(ctx, ca)]
    results = {ca.id: FetchResult(ca.id, ca.crl_url, "skipped") for ca in due}
    fetched = await asyncio.gather(*(_fetched(ctx, ca, transport) for ca in claimed))
    for ca, data in zip(claimed, fetched, strict=True):
        results[ca.id] = await _store(ctx, ca, data)
    return [results[ca.id] for ca in due]
