"""The agency's API, up to the opening: register a draft, change it, upload documents, publish,
postpone, clarify and invite.

Each endpoint parses its body with bidding.api.parsing and calls one service of
bidding.services.tenders; the tender's state is changed there, never here.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from bidding import serializers as out
from bidding import services
from bidding.api.parsing import (
    _ctx,
    _form_text,
    _instant,
    _integer,
    _json,
    _list,
    _path_id,
    _present,
    _tender_in,
    _text,
    _upload,
)
from kernel.http import actor_of, form_of, json_body


async def tender_create(request: Request) -> Response:
    """
    ---
    summary: Register a project as a draft tender (入场登记)
    tags: [agency]
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [title, category, method, tenderer_name, estimate, price_ceiling, deadline_at]
            properties:
              title: {type: string, minLength: 4, maxLength: 300}
              category:
                type: string
                enum: [engineering, government_procurement, state_assets, land_mining]
              method: {type: string, enum: [open, invited]}
              tenderer_name: {type: string}
              estimate: {type: string, example: "1200000.00", description: Yuan (or a number)}
              price_ceiling: {type: string, example: "1150000.00"}
              deposit:
                type: string
                example: "20000.00"
                description: At most 2% of the estimate; default 0
              deadline_at:
                type: string
                format: date-time
                example: "2026-03-30T09:00:00+08:00"
                description: RFC 3339 with an offset
              room_id: {type: integer, nullable: true, description: Opening room to book}
              description: {type: string}
              region: {type: string}
              key_mode:
                type: string
                enum: [either, both]
                default: either
                description: How sealed bids open (docs/opening-key.md)
              lots:
                type: array
                description: Default one lot named as the tender
                items:
                  type: object
                  required: [title, estimate]
                  properties: {title: {type: string}, estimate: {type: string}}
    responses:
      201: {description: The draft tender}
      400: {description: "Body not JSON; invalid_input naming the field; deposit_too_high"}
      401: {description: "login_required: no or expired token"}
      403: {description: "permission_denied: not an agency"}
      409: {description: "room_double_booked: the opening room is taken at that time"}
    """
    data = await json_body(request)
    tender = await services.create_tender(
        _ctx(request), actor=actor_of(request), data=_tender_in(data)
    )
    return _json(out.tender_summary(tender), 201)


async def tender_update(request: Request) -> Response:
    """
    ---
    summary: Change a draft's particulars (the lots are kept)
    tags: [agency]
    parameters:
      - {name: tender_id, in: path, required: true, schema: {type: integer}}
    requestBody:
      required: true
      description: The same fields as for creating a tender; all of them, not a patch.
      content:
        application/json:
          schema: {type: object}
    responses:
      200: {description: The updated draft}
      400: {description: "Body not JSON; invalid_input naming the field"}
      401: {description: "login_required: no or expired token"}
      403: {description: "permission_denied; not_your_tender"}
      404: {description: tender_not_found}
      409: {description: "transition_not_allowed: no longer a draft; room_double_booked"}
    """
    data = await json_body(request)
    tender = await services.update_draft(
        _ctx(request), actor=actor_of(request), tender_id=_path_id(request),
        data=_tender_in(data),
    )
    return _json(out.tender_summary(tender))


async def document_upload(request: Request) -> Response:
    """
    ---
    summary: Upload a new version of the tender documents
    description: >
      Stored by SHA-256, never overwritten. After publication a new version is a change to
      the documents: it is published as a clarification and may move the deadline (15-day rule).
    tags: [agency]
    parameters:
      - {name: tender_id, in: path, required: true, schema: {type: integer}}
    requestBody:
      required: true
      content:
        multipart/form-data:
          schema:
            type: object
            required: [file]
            properties:
              file: {type: string, format: binary}
              note: {type: string, maxLength: 300}
    responses:
      201: {description: "The document: id, version, filename, sha256, size"}
      400: {description: "invalid_input: file missing or empty"}
      401: {description: "login_required: no or expired token"}
      403: {description: "permission_denied; not_your_tender"}
      404: {description: tender_not_found}
      409: {description: "transition_not_allowed: the tender is opened already"}
      413: {description: payload_too_large}
    """
    form = await form_of(request)
    doc = await services.upload_document(
        _ctx(request), actor=actor_of(request), tender_id=_path_id(request),
        upload=_upload(form), note=_form_text(form, "note"),
    )
    return _json(out.document(doc), 201)


async def tender_publish(request: Request) -> Response:
    """
    ---
    summary: Publish the announcement and start issuing the documents
    tags: [agency]
    parameters:
      - {name: tender_id, in: path, required: true, schema: {type: integer}}
    requestBody:
      required: false
      content:
        application/json:
          schema:
            type: object
            properties:
              issue_days: {type: integer, minimum: 5, default: 5, description: Days on sale}
    responses:
      200: {description: The published tender}
      400:
        description: >
          deadline_too_soon: fewer than 20 days from today to the deadline;
          issue_period_too_short
      401: {description: "login_required: no or expired token"}
      403: {description: "permission_denied; not_your_tender"}
      404: {description: tender_not_found}
      409: {description: "documents_required: upload the documents first; transition_not_allowed"}
    """
    data = await json_body(request) if await request.body() else {}
    issue_days = data.get("issue_days")
    tender = await services.publish(
        _ctx(request), actor=actor_of(request), tender_id=_path_id(request),
        issue_days=5 if issue_days is None else _integer(issue_days, "issue_days"),
    )
    return _json(out.tender_summary(tender))


async def tender_postpone(request: Request) -> Response:
    """
    ---
    summary: Postpone the bid deadline (and the opening)
    tags: [agency]
    parameters:
      - {name: tender_id, in: path, required: true, schema: {type: integer}}
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [deadline_at, reason]
            properties:
              deadline_at:
                type: string
                format: date-time
                description: RFC 3339 with an offset; later than the current deadline
              reason: {type: string}
    responses:
      200: {description: The tender with its new deadline}
      400: {description: "Body not JSON; invalid_input (deadline_at, reason)"}
      401: {description: "login_required: no or expired token"}
      403: {description: "permission_denied; not_your_tender"}
      404: {description: tender_not_found}
      409: {description: "deadline_passed; transition_not_allowed; room_double_booked"}
    """
    data = await json_body(request)
    deadline = _instant(_present(data, "deadline_at"), "deadline_at")
    tender = await services.postpone(
        _ctx(request), actor=actor_of(request), tender_id=_path_id(request),
        new_deadline=deadline, reason=_text(data, "reason"),
    )
    return _json(out.tender_summary(tender))


async def tender_clarify(request: Request) -> Response:
    """
    ---
    summary: Publish a clarification to every registered bidder
    description: >
      Never names who asked. Sent fewer than 15 days before the deadline, it moves the deadline
      (a postponement notice is published too).
    tags: [agency]
    parameters:
      - {name: tender_id, in: path, required: true, schema: {type: integer}}
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [body]
            properties:
              body: {type: string}
              answers:
                type: array
                items: {type: integer}
                description: Ids of the questions it answers
    responses:
      201: {description: The clarification (moved_deadline_to set when the deadline moved)}
      400: {description: "Body not JSON; invalid_input (body, answers)"}
      401: {description: "login_required: no or expired token"}
      403: {description: "permission_denied; not_your_tender"}
      404: {description: tender_not_found}
      409: {description: transition_not_allowed}
    """
    data = await json_body(request)
    answers = [_integer(item, "answers") for item in _list(data, "answers", required=False)]
    clar = await services.clarify(
        _ctx(request), actor=actor_of(request), tender_id=_path_id(request),
        body=_text(data, "body"), answers=answers,
    )
    return _json(out.clarification(clar), 201)


async def tender_invite(request: Request) -> Response:
    """
    ---
    summary: Invite a bidder to an invited tender (邀请招标)
    tags: [agency]
    parameters:
      - {name: tender_id, in: path, required: true, schema: {type: integer}}
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [credit_code]
            properties:
              credit_code: {type: string, description: The bidder's unified social credit code}
    responses:
      201: {description: The invitation}
      400: {description: "invalid_input: credit_code unknown; method (not an invited tender)"}
      401: {description: "login_required: no or expired token"}
      403: {description: "permission_denied; not_your_tender"}
      404: {description: tender_not_found}
      409: {description: transition_not_allowed}
    """
    data = await json_body(request)
    invitation = await services.invite(
        _ctx(request), actor=actor_of(request), tender_id=_path_id(request),
        credit_code=_text(data, "credit_code"),
    )
    return _json({
        "id": invitation.id,
        "tender_id": invitation.tender_id,  # type: ignore[attr-defined]
        "credit_code": data["credit_code"],
        "invited_at": out.instant(invitation.invited_at),
    }, 201)
