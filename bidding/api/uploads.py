"""Resumable upload of a sealed package: start, send chunks, ask for the offset, complete.

What ebid-client uses for packages of any size (bidding.services.uploads says how it works;
docs/api.md, "Uploads"). ``complete`` answers exactly as the one-shot POST .../bids does.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bidding.api.parsing import _ctx, _integer, _json, _path_id, _present, _text
from bidding.api.sealed import receipt_answer
from bidding.services import uploads
from kernel.accounts.models import Role
from kernel.errors import DomainError, InvalidInput
from kernel.http import actor_of, api, error_response, json_body, locale_of

__all__ = ["upload_routes"]


def _client_addr(request: Request) -> str:
    # Behind a reverse proxy this is the proxy unless uvicorn runs with --proxy-headers.
    return request.client.host if request.client else ""


def _upload_json(upload: uploads.Upload, offset: int) -> dict[str, Any]:
    return {"upload_id": upload.upload_id, "tender_id": upload.tender_id, "lot": upload.lot,
            "size": upload.size, "sha256": upload.sha256, "offset": offset}


def _with_offset(request: Request, exc: DomainError) -> Response:
    """An offset refusal says where to go on, beside the usual error and message."""
    if isinstance(exc, uploads.UploadOffsetMismatch):
        return JSONResponse({"error": exc.code, "message": exc.message(locale_of(request)),
                             "offset": exc.offset}, status_code=exc.status_code)
    return error_response(request, exc)


async def upload_start(request: Request) -> Response:
    """
    ---
    summary: Start a resumable upload of a sealed package
    description: >
      Declare the lot, the size in bytes and the SHA-256 (hex) of the package; then PUT its
      bytes to /api/v1/uploads/{upload_id}?offset=K and finish with POST .../complete. The
      tender must take bids now and the bidder be registered. An unfinished upload is removed
      after 24 hours or at the opening, whichever comes first.
    tags: [bidder]
    parameters:
      - {name: tender_id, in: path, required: true, schema: {type: integer}}
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [lot, size, sha256]
            properties:
              lot: {type: integer, minimum: 1}
              size: {type: integer, minimum: 1}
              sha256: {type: string, pattern: "^[0-9a-f]{64}$"}
    responses:
      201: {description: "{upload_id, offset: 0, chunk_size, size, sha256, lot, tender_id}"}
      400: {description: "invalid_input: lot, size or sha256 malformed; no such lot"}
      403: {description: "permission_denied: not a bidder"}
      409: {description: "deadline_passed; not_registered; transition_not_allowed"}
      413: {description: "payload_too_large: size over the platform's limit"}
    """
    body = await json_body(request)
    ctx = _ctx(request)
    upload = await uploads.start(
        ctx, actor=actor_of(request), tender_id=_path_id(request),
        lot_number=_integer(_present(body, "lot"), "lot"),
        size=_integer(_present(body, "size"), "size"), sha256=_text(body, "sha256"),
    )
    return _json({**_upload_json(upload, 0), "chunk_size": ctx.settings.upload_chunk_bytes}, 201)


def _upload_id(request: Request) -> str:
    return str(request.path_params["upload_id"])


async def upload_put(request: Request) -> Response:
    """
    ---
    summary: Send the bytes of an upload from offset K on
    description: >
      The body is the next bytes of the package (application/octet-stream), any length up to
      the declared size. A connection that breaks keeps what arrived: GET the upload for the
      offset and go on from there. The server reads its clock when the byte that fills the
      upload arrives; that instant is the bid's arrival time.
    tags: [bidder]
    parameters:
      - {name: upload_id, in: path, required: true, schema: {type: string}}
      - {name: offset, in: query, required: true, schema: {type: integer, minimum: 0}}
    responses:
      200: {description: "{offset: the new offset}"}
      403: {description: "permission_denied: another user's upload"}
      404: {description: upload_not_found}
      409: {description: "upload_offset_mismatch or upload_busy, with {offset} to go on from;
        deadline_passed"}
      410: {description: "upload_expired: past 24 hours or the tender's opening"}
      413: {description: "upload_overrun: bytes beyond the declared size (none kept)"}
    """
    text = request.query_params.get("offset", "")
    if not text.isascii() or not text.isdigit():
        raise InvalidInput("offset", "give the offset as ?offset=K", "请以 ?offset=K 给出续传位置")
    try:
        offset = await uploads.write_chunk(
            _ctx(request), actor=actor_of(request), upload_id=_upload_id(request),
            offset=int(text), chunks=request.stream(), remote_addr=_client_addr(request),
        )
    except DomainError as exc:
        return _with_offset(request, exc)
    return _json({"offset": offset})


async def upload_status(request: Request) -> Response:
    """
    ---
    summary: Where an upload stands (the offset to continue from)
    tags: [bidder]
    parameters:
      - {name: upload_id, in: path, required: true, schema: {type: string}}
    responses:
      200: {description: "{upload_id, offset, size, sha256, lot, tender_id}"}
      403: {description: "permission_denied: another user's upload"}
      404: {description: upload_not_found}
      410: {description: "upload_expired: past 24 hours or the tender's opening"}
    """
    upload, offset = await uploads.status(_ctx(request), actor=actor_of(request),
                                          upload_id=_upload_id(request))
    return _json(_upload_json(upload, offset))


async def upload_complete(request: Request) -> Response:
    """
    ---
    summary: Finish an upload; the package is then checked and submitted as a sealed bid
    description: >
      Size and SHA-256 are checked first. The answer is exactly that of the one-shot
      POST /api/v1/tenders/{id}/bids: 201 with the receipt, 200 with the original receipt when
      the same package (or this upload) was already accepted, or the refusal with its reason.
      The deadline is judged by when the last byte arrived, not by this call.
    tags: [bidder]
    parameters:
      - {name: upload_id, in: path, required: true, schema: {type: string}}
    responses:
      201: {description: "{bid_id, receipt: base64 CMS DER, receipt_fields}"}
      200: {description: "the original receipt"}
      400: {description: "upload_sha256_mismatch (the upload is discarded); the package's
        refusals (malformed, other tender or lot, certificate refused, ...)"}
      403: {description: "permission_denied: another user's upload"}
      404: {description: upload_not_found}
      409: {description: "upload_incomplete or upload_busy, with {offset}; deadline_passed;
        package_superseded; package_withdrawn"}
      410: {description: "upload_expired"}
    """
    try:
        done = await uploads.complete(_ctx(request), actor=actor_of(request),
                                      upload_id=_upload_id(request),
                                      remote_addr=_client_addr(request))
    except DomainError as exc:
        return _with_offset(request, exc)
    return receipt_answer(done.bid_id, done.receipt, done.created)


BIDDER = {Role.BIDDER}
_U = "/api/v1/uploads/{upload_id:str}"

upload_routes: list[Route] = [
    api("/api/v1/tenders/{tender_id:int}/uploads", upload_start,
        name="bidding:api-upload-start", roles=BIDDER, methods=["POST"]),
    api(_U, upload_put, name="bidding:api-upload-put", roles=BIDDER, methods=["PUT"]),
    api(_U, upload_status, name="bidding:api-upload", roles=BIDDER),
    api(_U + "/complete", upload_complete, name="bidding:api-upload-complete",
        roles=BIDDER, methods=["POST"]),
]
