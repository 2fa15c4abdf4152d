"""The opening's API (docs/opening.md): its live state, the bidders' keys, the officers'
shares, and the signed opening record. Parse, call one service of bidding.services.opening,
serialize."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from bidding import serializers as out
from bidding import services
from bidding.api.parsing import _ctx, _integer, _json, _path_id, _text
from bidding.services import opening
from kernel.http import actor_of, json_body

# A base64 data key is 44 characters; a CMS signature with its chain a few kilobytes.
MAX_KEY_TEXT = 200
MAX_SIGNATURE_TEXT = 64 * 1024


async def opening_status(request: Request) -> Response:
    """
    ---
    summary: The opening's live state (the opening page polls it)
    description: Before the opening nothing about the bids. From OPENING on every bidder's
      name and decryption state; the prices once the decryption window is over (a bidder's
      own as soon as its bid is opened).
    tags: [opening]
    parameters:
      - {name: tender_id, in: path, required: true, schema: {type: integer}}
    responses:
      200: {description: "status, mode, decryption_ends_at, bids, shares, objections, record"}
      401: {description: "login_required"}
      404: {description: tender_not_found}
    """
    view = await services.opening_view(_ctx(request), actor=actor_of(request),
                                       tender_id=_path_id(request))
    return _json(out.jsonable(view))


async def key_submit(request: Request) -> Response:
    """
    ---
    summary: Send the data key of one's own sealed bid during the decryption window
    description: '"data_key" is base64 (the whole key in "either" mode, the bidder''s half
      in "both" mode); "signature" is a base64 DER detached CMS by the bid''s signing
      certificate over the canonical JSON of {tender_id, bid_id, package_sha256, data_key}.'
    tags: [opening]
    parameters:
      - {name: tender_id, in: path, required: true, schema: {type: integer}}
      - {name: bid_id, in: path, required: true, schema: {type: integer}}
    responses:
      200: {description: "{decryption, detail}"}
      400: {description: "wrong_data_key; bad_key_signature; invalid_input"}
      404: {description: "tender_not_found; bid_not_found"}
      409: {description: "transition_not_allowed; decryption_window_closed; key_not_expected"}
    """
    data = await json_body(request)
    bid = await services.submit_key(
        _ctx(request), actor=actor_of(request), tender_id=_path_id(request),
        bid_id=_path_id(request, "bid_id"),
        data_key=_text(data, "data_key", max_length=MAX_KEY_TEXT).strip(),
        signature=_text(data, "signature", max_length=MAX_SIGNATURE_TEXT).strip(),
    )
    return _json({"bid_id": bid.id, "decryption": bid.decryption.value,
                  "detail": bid.decryption_detail})


async def share_submit(request: Request) -> Response:
    """
    ---
    summary: Submit one's share of the tender's opening key, after the deadline
    description: '"share" is base64 of the plaintext share value as
      signing.opening_key.decrypt_share returns it; it is checked against its commitment.'
    tags: [opening]
    parameters:
      - {name: tender_id, in: path, required: true, schema: {type: integer}}
    responses:
      200: {description: "{submitted, threshold}"}
      400: {description: "tampered_share; invalid_input"}
      403: {description: "not_the_share_holder"}
      409: {description: "shares_too_early; share_already_submitted; transition_not_allowed"}
    """
    data = await json_body(request)
    count = await services.submit_share(
        _ctx(request), actor=actor_of(request), tender_id=_path_id(request),
        index=_integer(data.get("index"), "index"),
        share=_text(data, "share", max_length=MAX_KEY_TEXT).strip(),
    )
    return _json({"submitted": count.submitted, "threshold": count.threshold})


async def record_download(request: Request) -> Response:
    """
    ---
    summary: The signed opening record (CMS, JSON attached; openssl cms -verify checks it)
    tags: [opening]
    parameters:
      - {name: tender_id, in: path, required: true, schema: {type: integer}}
    responses:
      200:
        description: The record
        content:
          application/pkcs7-mime: {schema: {type: string, format: binary}}
      404: {description: "tender_not_found: no such tender, or its opening has not ended"}
    """
    tender_id = _path_id(request)
    der = await opening.signed_record(tender_id)
    return Response(der, media_type="application/pkcs7-mime", headers={
        "Content-Disposition": f'attachment; filename="opening-record-{tender_id}.p7m"'})
