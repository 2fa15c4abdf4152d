"""The bidder's API: register, download the documents, submit and withdraw bids, ask
questions and raise objections.

Before the opening a bidder sees only its own registration and bids; these endpoints parse,
call one service of bidding.services.bidders (or ask_question) and serialize the result.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from bidding import serializers as out
from bidding import services
from bidding.api.parsing import (
    _ctx,
    _json,
    _path_id,
    _text,
)
from bidding.api.sealed import sealed_bid_submit
from bidding.exceptions import SealedPackageExpected
from kernel.http import actor_of, json_body

log = logging.getLogger(__name__)

async def registration_create(request: Request) -> Response:
    """
    ---
    summary: Register for a tender (投标报名); sealed until the opening
    tags: [bidder]
    parameters:
      - {name: tender_id, in: path, required: true, schema: {type: integer}}
    responses:
      201: {description: The registration}
      401: {description: "login_required: no or expired token"}
      403: {description: "permission_denied: not a bidder; not_invited"}
      404: {description: tender_not_found}
      409: {description: "deadline_passed; already_registered; transition_not_allowed"}
    """
    reg = await services.register(
        _ctx(request), actor=actor_of(request), tender_id=_path_id(request)
    )
    return _json(out.registration(reg), 201)


async def document_download(request: Request) -> Response:
    """
    ---
    summary: Download a version of the tender documents (the download is recorded)
    tags: [bidder]
    parameters:
      - {name: tender_id, in: path, required: true, schema: {type: integer}}
      - {name: document_id, in: path, required: true, schema: {type: integer}}
    responses:
      200:
        description: The file
        content:
          application/octet-stream:
            schema: {type: string, format: binary}
      401: {description: "login_required: no or expired token"}
      403: {description: "permission_denied: not a bidder"}
      404: {description: No such tender or document}
      409: {description: "not_registered: register first"}
    """
    ctx = _ctx(request)
    doc = await services.download_document(
        ctx, actor=actor_of(request), tender_id=_path_id(request),
        document_id=_path_id(request, "document_id"),
    )
    path = ctx.blobs.path_for(doc.sha256)
    if not path.is_file():
        log.error("tender document %s: blob %s is missing from the store", doc.id, doc.sha256)
        return _json({"error": "blob_missing", "message": "The stored file is missing"}, 500)
    return FileResponse(
        path, media_type=doc.content_type or "application/octet-stream",
        filename=doc.filename, headers={"x-content-sha256": doc.sha256},
    )


async def bid_submit(request: Request) -> Response:
    """
    ---
    summary: Submit a sealed bid for a lot before the deadline; a later one replaces it
    description: >
      A sealed package (docs/submission.md): the body is the package itself, Content-Type
      application/octet-stream, the lot in ?lot=N. 201 with {bid_id, receipt (base64 CMS DER),
      receipt_fields}; 200 with the original receipt when the current package is sent again.
      Refusals name their reason: malformed_package, truncated_package, bad_signature,
      package_for_another_tender, package_for_another_lot, wrong_opening_key, wrong_key_mode,
      certificate_expired, certificate_revoked, unknown_issuer, wrong_key_usage,
      certificate_not_the_bidders, package_superseded, package_withdrawn, payload_too_large,
      deadline_passed. Large packages go through the resumable uploads (docs/api.md).
    tags: [bidder]
    parameters:
      - {name: tender_id, in: path, required: true, schema: {type: integer}}
      - {name: lot, in: query, required: false, schema: {type: integer}}
    requestBody:
      required: true
      content:
        application/octet-stream:
          schema: {type: string, format: binary}
    responses:
      200: {description: "The current package again: its original receipt"}
      201: {description: "Accepted: bid_id, receipt (base64 CMS DER), receipt_fields"}
      400: {description: "invalid_input, malformed_package, bad_signature, wrong_* ..."}
      401: {description: "login_required: no or expired token"}
      403: {description: "permission_denied: not a bidder"}
      404: {description: No such tender}
      409: {description: "deadline_passed, not_registered, package_superseded ..."}
      413: {description: payload_too_large}
      415: {description: "sealed_package_expected: a form upload instead of a package"}
    """
    if request.headers.get("content-type", "").startswith(("multipart/", "application/x-www")):
        raise SealedPackageExpected()
    return await sealed_bid_submit(request)


async def bid_withdraw(request: Request) -> Response:
    """
    ---
    summary: Withdraw one's current bid before the deadline
    tags: [bidder]
    parameters:
      - {name: tender_id, in: path, required: true, schema: {type: integer}}
      - {name: bid_id, in: path, required: true, schema: {type: integer}}
    responses:
      200: {description: The withdrawn bid}
      401: {description: "login_required: no or expired token"}
      403: {description: "permission_denied: not a bidder"}
      404: {description: "bid_not_found: no bid of yours with that id"}
      409: {description: "deadline_passed; transition_not_allowed; bid_not_current"}
    """
    bid = await services.withdraw_bid(
        _ctx(request), actor=actor_of(request), tender_id=_path_id(request),
        bid_id=_path_id(request, "bid_id"),
    )
    return _json(out.bid(bid))


async def question_ask(request: Request) -> Response:
    """
    ---
    summary: Ask the agency a question; the answer comes as a clarification that names nobody
    tags: [bidder]
    parameters:
      - {name: tender_id, in: path, required: true, schema: {type: integer}}
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [text]
            properties:
              text: {type: string, minLength: 2, maxLength: 5000}
    responses:
      201: {description: The question}
      400: {description: "invalid_input: text"}
      401: {description: "login_required: no or expired token"}
      403: {description: "permission_denied: not a bidder"}
      404: {description: tender_not_found}
      409: {description: transition_not_allowed}
    """
    data = await json_body(request)
    asked = await services.ask_question(
        _ctx(request), actor=actor_of(request), tender_id=_path_id(request),
        text=_text(data, "text"),
    )
    return _json(out.question(asked), 201)


async def objection_raise(request: Request) -> Response:
    """
    ---
    summary: Raise an objection (异议)
    description: >
      "documents" at least 10 days before the deadline (the tender is suspended until it is
      answered), "opening" after the opening, "candidates" during the candidates' publicity.
    tags: [bidder]
    parameters:
      - {name: tender_id, in: path, required: true, schema: {type: integer}}
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [stage, text]
            properties:
              stage: {type: string, enum: [documents, opening, candidates]}
              text: {type: string, minLength: 10, maxLength: 10000}
    responses:
      201: {description: The objection}
      400: {description: "invalid_input: stage, text"}
      401: {description: "login_required: no or expired token"}
      403: {description: "permission_denied: not a bidder"}
      404: {description: tender_not_found}
      409:
        description: >
          documents_objection_too_late; objection_window_closed; not_registered;
          transition_not_allowed
    """
    data = await json_body(request)
    raised = await services.raise_objection(
        _ctx(request), actor=actor_of(request), tender_id=_path_id(request),
        stage=_text(data, "stage"), text=_text(data, "text"),
    )
    return _json(out.objection(raised), 201)

