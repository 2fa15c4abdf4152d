"""What the participants send: each bidder's signed data key (its half in "both" mode) and each
officer's share of the opening key."""

from __future__ import annotations

import base64
import binascii
import os
import uuid

import anyio.to_thread
from cryptography.hazmat.primitives import hashes
from tortoise.transactions import in_transaction

from bidding import states
from bidding.exceptions import (
    BadKeySignature,
    BidNotFound,
    DecryptionWindowClosed,
    InvalidInput,
    KeyNotExpected,
    SharesTooEarly,
    TenderNotFound,
)
from bidding.models import Bid, BidStatus, Decryption, KeyMode, Tender, TenderStatus
from bidding.services.common import audit, local, lock_tender, require_bidder
from bidding.services.opening.common import detail_text, halves_dir, key_request
from bidding.services.opening.decrypt import open_both, opener_for, record_outcome
from bidding.services.opening.window import settle
from kernel.accounts.actor import Actor
from kernel.accounts.models import Role
from kernel.context import Context
from kernel.files import fsync_dir
from signing import cms, opening_shares
from signing.sealed.errors import SealedBidRefused

# -- the bidder's key -----------------------------------------------------------------------


def _b64(value: str, name: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise InvalidInput(name, "is not base64", "不是 base64 编码") from None


async def submit_key(ctx: Context, *, actor: Actor, tender_id: int, bid_id: int,
                     data_key: str, signature: str) -> Bid:
    """A bidder's data key (its half in "both" mode) for its own bid, signed by the bid's
    certificate over :func:`key_request`; decrypts at once when it can. A wrong key is refused
    and may be sent again within the window."""
    org_id = require_bidder(actor)
    tender = await Tender.get_or_none(id=tender_id)
    if tender is None or tender.status == TenderStatus.DRAFT:
        raise TenderNotFound()
    # The state first: before the opening the answer must not depend on whose bid it is.
    states.check_allowed(tender.status, "send_key")
    now = ctx.clock.now()
    if tender.decryption_ends_at is not None and now >= tender.decryption_ends_at:
        raise DecryptionWindowClosed(ends=local(ctx, tender.decryption_ends_at))
    bid = await Bid.get_or_none(id=bid_id, tender_id=tender_id, organization_id=org_id,
                                status=BidStatus.SUBMITTED)
    if bid is None or bid.receipt is None:
        raise BidNotFound()
    if bid.decryption != Decryption.PENDING:
        raise KeyNotExpected(state=bid.decryption.value)
    key = _b64(data_key, "data_key")
    signed = _b64(signature, "signature")
    content = key_request(tender_id=tender_id, bid_id=bid.id, package_sha256=bid.sha256,
                          data_key=data_key)
    try:
        verified = cms.verify_detached(signed, content=content, what="cms")
    except SealedBidRefused as error:
        raise BadKeySignature(str(error.params.get("reason", error)),
                              str(error.params.get("reason_zh", error))) from error
    if verified.signer.fingerprint(hashes.SHA256()).hex() != bid.certificate_sha256:
        raise BadKeySignature("it is not signed by the certificate that signed the bid",
                              "签名证书不是签署该投标文件的证书")
    opener = await opener_for(ctx, tender, bid)
    if tender.key_mode == KeyMode.BOTH:
        opening_key = await opening_shares.recover_opening_key(tender_id)
        if opening_key is None:
            await _keep_half(ctx, tender, bid, key, actor)
            return bid
        outcome = await open_both(opener, opening_key, key)
    else:
        outcome = await anyio.to_thread.run_sync(opener.open, key, Decryption.DECRYPTED)
    stored = await record_outcome(ctx, tender_id=tender_id, bid_id=bid.id, outcome=outcome,
                                   actor=actor)
    await settle(ctx, tender_id=tender_id)
    return stored or await Bid.get(id=bid.id)


async def _keep_half(ctx: Context, tender: Tender, bid: Bid, half: bytes, actor: Actor) -> None:
    """"both" mode before k shares are in: keep the bidder's half until they are. Alone it is
    uniformly random; with the officers' key it opens the bid, which is what the opening is for."""
    directory = halves_dir(ctx, tender.id)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{bid.id}.half"
    tmp = directory / f".{bid.id}.{uuid.uuid4().hex}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(half)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(directory)
    async with in_transaction():
        await Bid.filter(id=bid.id).update(decryption_detail=detail_text(
            "the bidder's half of the key is in; waiting for the officers' shares",
            "已收到投标人的密钥份额，等待开标人员提交份额"))
        await audit(ctx, actor=actor, action="bidding:bid:key_half_received",
                    tender_id=tender.id, object_type="bid", object_id=bid.id)


# -- the officers' shares -------------------------------------------------------------------


async def submit_share(ctx: Context, *, actor: Actor, tender_id: int, index: int,
                       share: str) -> opening_shares.ShareCount:
    """An officer's plaintext share of the opening key, only after the deadline; checked
    against its commitment and logged. Completes what the key now allows."""
    if not actor.has(Role.AGENCY, Role.SUPERVISOR, Role.ADMIN):
        raise opening_shares.NotTheShareHolder(index=index, reason="you are no opening officer",
                                               reason_zh="您不是开标人员")
    value = _b64(share, "share")
    async with in_transaction():
        tender = await lock_tender(tender_id)
        if tender.status == TenderStatus.DRAFT:
            raise TenderNotFound()
        if ctx.clock.now() < tender.deadline_at or tender.status in states.SEALED_STATES:
            raise SharesTooEarly(deadline=local(ctx, tender.deadline_at))
        states.check_allowed(tender.status, "send_share")
        count = await opening_shares.accept_share(ctx, actor=actor, tender_id=tender_id,
                                                  index=index, value=value)
    await settle(ctx, tender_id=tender_id)
    return count
