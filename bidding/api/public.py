"""The public side of the API: the tender list, one tender, the notices.

Open to everyone (``security: []``); what a caller may see of a tender is decided by
``queries.tender_view`` alone, so these reads never query the models.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from bidding import serializers as out
from bidding.api.parsing import _json, _path_id
from bidding.services import queries
from kernel.http import actor_of


async def tender_list(request: Request) -> Response:
    """
    ---
    summary: List published tenders, newest first
    description: The public tender list (drafts are never listed). 20 per page.
    tags: [tenders]
    security: []
    parameters:
      - {name: q, in: query, schema: {type: string}, description: Words in title, code or tenderer}
      - name: category
        in: query
        schema:
          type: string
          enum: [engineering, government_procurement, state_assets, land_mining]
      - name: status
        in: query
        schema:
          type: string
          enum: [published, suspended, opened, failed, publicity, awarded, contracted, closed]
      - {name: page, in: query, schema: {type: integer, minimum: 1, default: 1}}
    responses:
      200:
        description: >
          A page of tenders {items, total, page, pages, size}; amounts are strings in yuan,
          times RFC 3339 in UTC.
    """
    params = request.query_params
    result = await queries.public_tenders(
        q=params.get("q"), category=params.get("category"), status=params.get("status"),
        page=params.get("page"),
    )
    return _json(out.page(result, out.tender_summary))


async def tender_detail(request: Request) -> Response:
    """
    ---
    summary: One tender, as the caller may see it
    description: >
      Public particulars, lots, documents (metadata), notices and clarifications for everyone.
      Before the opening nobody but the bidder itself learns who or how many registered or bid:
      the agency and the supervisor see questions and objections without names; a bidder sees
      its own registration and bids under "mine". After the opening the record is public and
      the agency and supervisor also get registrations, bids, rankings and the report.
    tags: [tenders]
    security: []
    parameters:
      - {name: tender_id, in: path, required: true, schema: {type: integer}}
    responses:
      200: {description: The tender}
      404: {description: "tender_not_found: no such tender, or a draft the caller does not run"}
    """
    view = await queries.tender_view(actor_of(request), _path_id(request))
    return _json(out.tender_detail(view))


async def notice_list(request: Request) -> Response:
    """
    ---
    summary: List published notices (announcements, clarifications, results), newest first
    tags: [notices]
    security: []
    parameters:
      - {name: q, in: query, schema: {type: string}, description: Words in title or code}
      - name: kind
        in: query
        schema:
          type: string
          enum: [announcement, clarification, postponement, opening, failure, candidates,
                 award]
      - {name: page, in: query, schema: {type: integer, minimum: 1, default: 1}}
    responses:
      200: {description: "A page of notices {items, total, page, pages, size}, no bodies"}
    """
    params = request.query_params
    result = await queries.notices(q=params.get("q"), kind=params.get("kind"),
                                   page=params.get("page"))
    return _json(out.page(result, out.notice_summary))


async def notice_detail(request: Request) -> Response:
    """
    ---
    summary: One notice with its full text
    tags: [notices]
    security: []
    parameters:
      - {name: notice_id, in: path, required: true, schema: {type: integer}}
    responses:
      200: {description: The notice}
      404: {description: No such notice}
    """
    found = await queries.notice(_path_id(request, "notice_id"))
    return _json(out.notice(found))
