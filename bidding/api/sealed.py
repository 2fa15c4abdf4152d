"""Sealed bids over the API: the one-shot submission, the receipt, the package, the opening key.

The resumable upload (S2) ends in the same service and answers with ``receipt_answer``.
"""

from __future__ import annotations

import base64

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from bidding import services
from bidding.api.parsing import _ctx, _json, _path_id
from kernel.errors import InvalidInput
from kernel.http import actor_of
from signing import intake
from signing import log as receipts_log

__all__ = ["bid_package", "bid_receipt", "opening_key", "receipt_answer", "sealed_bid_submit"]


def receipt_answer(bid_id: int, receipt: bytes, created: bool) -> Response:
    """The answer to an accepted sealed package (also the resumable upload's, S2)."""
    # The platform signed it a moment ago (or stored it then): its fields are read, not its
    # signature checked again, which cost as much as a tenth of a submission in the rush.
    fields = receipts_log.receipt_fields(receipt)
    return _json({"bid_id": bid_id, "receipt": base64.b64encode(receipt).decode("ascii"),
                  "receipt_fields": fields.to_dict()}, 201 if created else 200)


async def sealed_bid_submit(request: Request) -> Response:
    """The one-shot sealed submission: the body is the package (see bid_submit's docs)."""
    ctx = _ctx(request)
    text = request.query_params.get("lot", "")
    if not text.isascii() or not text.isdigit() or not 0 < int(text) < 1000:
        raise InvalidInput("lot", "give the lot number as ?lot=N", "请以 ?lot=N 给出标段号")
    received = await intake.receive(
        request.stream(), directory=ctx.settings.data_dir / "incoming",
        max_bytes=ctx.settings.max_bid_bytes, clock=ctx.clock,
    )
    try:
        bid, receipt, created = await services.submit_sealed_bid(
            ctx, actor=actor_of(request), tender_id=_path_id(request), lot_number=int(text),
            package_path=received.path, received_at=received.received_at,
            remote_addr=request.client.host if request.client else "",
        )
    finally:
        await anyio.to_thread.run_sync(received.path.unlink, True)
    return receipt_answer(bid.id, receipt, created)


async def bid_receipt(request: Request) -> Response:
    """
    ---
    summary: The receipt of one of one's sealed bids (CMS DER; `openssl cms -verify` checks it)
    tags: [bidder]
    parameters:
      - {name: tender_id, in: path, required: true, schema: {type: integer}}
      - {name: bid_id, in: path, required: true, schema: {type: integer}}
    responses:
      200:
        description: The receipt
        content:
          application/pkcs7-mime:
            schema: {type: string, format: binary}
      401: {description: "login_required: no or expired token"}
      403: {description: "permission_denied: not a bidder"}
      404: {description: "bid_not_found: no sealed bid of your organisation with that id"}
    """
    bid = await services.sealed_bid_for_owner(
        _ctx(request), actor=actor_of(request), tender_id=_path_id(request),
        bid_id=_path_id(request, "bid_id"),
    )
    return Response(bytes(bid.receipt or b""), media_type="application/pkcs7-mime",
                    headers={"content-disposition": f'attachment; filename="receipt-{bid.id}.p7m"'})


async def bid_package(request: Request) -> Response:
    """
    ---
    summary: One of one's sealed packages, the bytes exactly as received
    tags: [bidder]
    parameters:
      - {name: tender_id, in: path, required: true, schema: {type: integer}}
      - {name: bid_id, in: path, required: true, schema: {type: integer}}
    responses:
      200:
        description: The sealed package
        content:
          application/octet-stream:
            schema: {type: string, format: binary}
      401: {description: "login_required: no or expired token"}
      403: {description: "permission_denied: not a bidder"}
      404: {description: "bid_not_found: no sealed bid of your organisation with that id"}
    """
    ctx = _ctx(request)
    bid = await services.sealed_bid_for_owner(
        ctx, actor=actor_of(request), tender_id=_path_id(request),
        bid_id=_path_id(request, "bid_id"),
    )
    return FileResponse(ctx.blobs.path_for(bid.sha256), media_type="application/octet-stream",
                        filename=bid.filename, headers={"x-content-sha256": bid.sha256})


async def opening_key(request: Request) -> Response:
    """
    ---
    summary: The tender's opening key (public once the tender is published)
    description: >
      What a bidder seals to: the X25519 public key (PEM), its key id (the header's opening wrap
      names it), the tender's key mode, and the officers' encrypted shares (public: each is
      HPKE-encrypted to its officer; "officer" is "user:<id>"). docs/opening-key.md.
    tags: [public]
    security: []
    parameters:
      - {name: tender_id, in: path, required: true, schema: {type: integer}}
    responses:
      200: {description: "{tender_id, key_id, public_key_pem, mode, threshold, officers, shares}"}
      404: {description: "tender_not_found; not_found: no opening key (not published)"}
    """
    tender_id = _path_id(request)
    setup, mode = await services.opening_key(_ctx(request), tender_id=tender_id)
    shares = [share.to_dict() for share in setup.shares]
    return _json({
        "tender_id": tender_id, "key_id": setup.key_id, "public_key_pem": setup.public_key_pem(),
        "mode": mode, "threshold": setup.threshold,
        "officers": [{"index": s["index"], "officer": s["officer"], "role": s["role"],
                      "key_id": s["key_id"]} for s in shares],
        "shares": shares,
    })
