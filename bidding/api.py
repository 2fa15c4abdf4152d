"""The bidding JSON API under /api/v1: parse, call one service, serialize.

Every endpoint's docstring is its OpenAPI description (YAML after the ``---``). What a viewer
may see of a tender is decided by ``queries.tender_view`` alone; these endpoints never query the
models. Refusals are DomainErrors, answered as ``{"error": code, "message": reason}``.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from bidding import serializers as out
from bidding import services
from bidding.exceptions import TenderNotFound
from bidding.services import queries, rooms
from kernel.accounts.models import Role
from kernel.context import Context
from kernel.errors import InvalidInput, NotFound
from kernel.http import PUBLIC, actor_of, api, form_of, json_body

log = logging.getLogger(__name__)

BIDDER = {Role.BIDDER}
AGENCY = {Role.AGENCY}
ADMIN = {Role.ADMIN}
# Tenders, lots and documents have 32-bit ids; bids, registrations, questions and objections
# have random 53-bit ids (kernel.db.random_id).
MAX_ID = 2**53 - 1
MAX_SERIAL_ID = 2**31 - 1

# RFC 3339 date-time: seconds and an offset are required (a time without one is ambiguous).
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})"
)


# -- parsing --------------------------------------------------------------------------------


def _ctx(request: Request) -> Context:
    return request.app.state.ctx  # type: ignore[no-any-return]


def _path_id(request: Request, name: str = "tender_id") -> int:
    value = int(request.path_params[name])
    if value > (MAX_ID if name in {"bid_id", "objection_id"} else MAX_SERIAL_ID):
        raise TenderNotFound() if name == "tender_id" else NotFound()
    return value


def _present(data: dict[str, Any], name: str) -> Any:
    if data.get(name) is None:
        raise InvalidInput(name, "is required", "必填")
    return data[name]


def _text(
    data: dict[str, Any], name: str, *, required: bool = True, max_length: int | None = None
) -> str:
    value = _present(data, name) if required else data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(name, "must be a string", "须为字符串")
    # Lengths the services leave to the database column (which would answer 500).
    if max_length is not None and len(value.strip()) > max_length:
        raise InvalidInput(name, f"may have at most {max_length} characters",
                           f"最多 {max_length} 个字符")
    return value


def _integer(value: Any, name: str) -> int:
    """A JSON integer, or a form field of digits."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_ID:
        raise InvalidInput(name, "must be a whole number", "须为整数")
    return value


def _amount(data: dict[str, Any], name: str, *, default: str | None = None) -> str:
    """An amount in yuan, as a string ("1200000.00") or a number; checked by the service."""
    value = data.get(name)
    if value is None:
        if default is None:
            raise InvalidInput(name, "is required", "必填")
        return default
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidInput(name, "must be an amount in yuan", "须为金额（元）")
    return str(value)


def _instant(value: Any, name: str) -> datetime:
    """An RFC 3339 date-time with its offset ("2026-03-30T09:00:00+08:00")."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value.strip()):
        raise InvalidInput(
            name, "must be an RFC 3339 date-time with an offset, e.g. 2026-03-30T09:00:00+08:00",
            "须为带时区的 RFC 3339 时间，例如 2026-03-30T09:00:00+08:00",
        )
    try:
        return datetime.fromisoformat(value.strip().upper())
    except ValueError:
        raise InvalidInput(name, "is not a valid date-time", "不是有效的时间") from None


def _boolean(data: dict[str, Any], name: str) -> bool:
    value = _present(data, name)
    if not isinstance(value, bool):
        raise InvalidInput(name, "must be true or false", "须为 true 或 false")
    return value


def _list(data: dict[str, Any], name: str, *, required: bool = True) -> list[Any]:
    value = _present(data, name) if required else data.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(name, "must be a list", "须为列表")
    return value


def _tender_in(data: dict[str, Any]) -> services.TenderIn:
    lots = []
    for entry in _list(data, "lots", required=False):
        if not isinstance(entry, dict):
            raise InvalidInput("lots", "each lot is an object {title, estimate}",
                               "每个标段须为 {title, estimate} 对象")
        try:
            estimate = Decimal(_amount(entry, "estimate").replace(",", "").strip())
        except (InvalidOperation, InvalidInput):
            raise InvalidInput("lots", "each lot needs an estimate in yuan",
                               "每个标段须有估算价（元）") from None
        title = _text(entry, "title", max_length=300)
        lots.append(services.LotIn(title=title, estimate=estimate))
    room_id = data.get("room_id")
    return services.TenderIn(
        title=_text(data, "title"),
        category=_text(data, "category"),
        method=_text(data, "method"),
        tenderer_name=_text(data, "tenderer_name", max_length=200),
        estimate=_amount(data, "estimate"),
        price_ceiling=_amount(data, "price_ceiling"),
        deposit=_amount(data, "deposit", default="0"),
        deadline_at=_instant(_present(data, "deadline_at"), "deadline_at"),
        room_id=None if room_id is None else _integer(room_id, "room_id"),
        description=_text(data, "description", required=False),
        region=_text(data, "region", required=False, max_length=100),
        lots=tuple(lots),
    )


def _upload(form: FormData, name: str = "file") -> UploadFile:
    value = form.get(name)
    if not isinstance(value, UploadFile):
        raise InvalidInput(name, "attach the file as a multipart upload", "请以文件形式上传")
    return value


def _form_text(form: FormData, name: str) -> str:
    value = form.get(name, "")
    if not isinstance(value, str):
        raise InvalidInput(name, "must be a text field", "须为文本字段")
    return value


def _json(data: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status_code)


# -- the public side ------------------------------------------------------------------------


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


# -- the agency -----------------------------------------------------------------------------

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


async def deposit_record(request: Request) -> Response:
    """
    ---
    summary: Record whether a bidder's deposit was received (after the opening)
    tags: [agency]
    parameters:
      - {name: tender_id, in: path, required: true, schema: {type: integer}}
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [registration_id, received]
            properties:
              registration_id: {type: integer}
              received: {type: boolean}
    responses:
      200: {description: The registration with its deposit status}
      400: {description: "invalid_input: registration_id, received"}
      401: {description: "login_required: no or expired token"}
      403: {description: "permission_denied; not_your_tender"}
      404: {description: tender_not_found}
      409: {description: "transition_not_allowed: before the opening (who registered is sealed)"}
    """
    data = await json_body(request)
    reg = await services.record_deposit(
        _ctx(request), actor=actor_of(request), tender_id=_path_id(request),
        registration_id=_integer(_present(data, "registration_id"), "registration_id"),
        received=_boolean(data, "received"),
    )
    return _json(out.registration(reg))


async def ranking_enter(request: Request) -> Response:
    """
    ---
    summary: Enter the evaluation committee's ranking of a lot, best first
    tags: [agency]
    parameters:
      - {name: tender_id, in: path, required: true, schema: {type: integer}}
      - {name: lot_number, in: path, required: true, schema: {type: integer}}
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [ranking]
            properties:
              ranking:
                type: array
                items:
                  type: object
                  required: [bid_id]
                  properties:
                    bid_id: {type: integer}
                    score: {type: string, nullable: true, example: "92.50", description: 0 to 1000}
    responses:
      200: {description: "The ranking [{rank, bid_id, score}]"}
      400: {description: "invalid_input: ranking (not this lot's valid bids, repeated), score, lot"}
      401: {description: "login_required: no or expired token"}
      403: {description: "permission_denied; not_your_tender"}
      404: {description: tender_not_found}
      409: {description: "transition_not_allowed: not opened"}
    """
    data = await json_body(request)
    ranking: list[tuple[int, Decimal | None]] = []
    for entry in _list(data, "ranking"):
        if not isinstance(entry, dict):
            raise InvalidInput("ranking", "each entry is an object {bid_id, score}",
                               "每项须为 {bid_id, score} 对象")
        score = entry.get("score")
        if isinstance(score, bool) or not isinstance(score, str | int | float | None):
            raise InvalidInput("score", "must be a number", "评分须为数字")
        ranking.append((
            _integer(_present(entry, "bid_id"), "bid_id"),
            services.parse_score("" if score is None else str(score)),
        ))
    entries = await services.enter_ranking(
        _ctx(request), actor=actor_of(request), tender_id=_path_id(request),
        lot_number=_path_id(request, "lot_number"), ranking=ranking,
    )
    return _json([
        {"rank": e.rank, "bid_id": e.bid_id,  # type: ignore[attr-defined]
         "score": out.jsonable(e.score)}
        for e in entries
    ])


async def candidates_publish(request: Request) -> Response:
    """
    ---
    summary: Publish the candidates (中标候选人公示) for the statutory period
    tags: [agency]
    parameters:
      - {name: tender_id, in: path, required: true, schema: {type: integer}}
    responses:
      200: {description: "The tender, in publicity, with publicity_ends_at"}
      401: {description: "login_required: no or expired token"}
      403: {description: "permission_denied; not_your_tender"}
      404: {description: tender_not_found}
      409: {description: "ranking_incomplete: a lot has no ranking; transition_not_allowed"}
    """
    tender = await services.publish_candidates(
        _ctx(request), actor=actor_of(request), tender_id=_path_id(request)
    )
    return _json(out.tender_summary(tender))


async def objection_answer(request: Request) -> Response:
    """
    ---
    summary: Answer an objection
    description: >
      Answering the last objection to the documents resumes a suspended tender; the answer is
      published as a clarification, so the 15-day rule applies.
    tags: [agency]
    parameters:
      - {name: tender_id, in: path, required: true, schema: {type: integer}}
      - {name: objection_id, in: path, required: true, schema: {type: integer}}
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [answer]
            properties:
              answer: {type: string}
    responses:
      200: {description: The answered objection}
      400: {description: "invalid_input: answer empty; objection unknown or answered"}
      401: {description: "login_required: no or expired token"}
      403: {description: "permission_denied; not_your_tender"}
      404: {description: tender_not_found}
    """
    data = await json_body(request)
    objection = await services.answer_objection(
        _ctx(request), actor=actor_of(request), tender_id=_path_id(request),
        objection_id=_path_id(request, "objection_id"), answer=_text(data, "answer"),
    )
    return _json(out.objection(objection))


async def tender_award(request: Request) -> Response:
    """
    ---
    summary: Issue the award notice (中标通知书) after the publicity
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
              winners:
                type: object
                description: Lot number to bid id; by default each lot's first-ranked candidate
                additionalProperties: {type: integer}
                example: {"1": 42}
    responses:
      200: {description: The awarded tender}
      400: {description: "invalid_input: winners, winner (not a published candidate)"}
      401: {description: "login_required: no or expired token"}
      403: {description: "permission_denied; not_your_tender"}
      404: {description: tender_not_found}
      409: {description: "publicity_not_over; objections_pending; transition_not_allowed"}
    """
    winners: dict[int, int] | None = None
    if await request.body():
        data = await json_body(request)
        given = data.get("winners")
        if given is not None:
            if not isinstance(given, dict):
                raise InvalidInput("winners", "must map lot numbers to bid ids",
                                   "须为标段号到投标编号的映射")
            winners = {_integer(lot, "winners"): _integer(bid, "winners")
                       for lot, bid in given.items()}
    tender = await services.award(
        _ctx(request), actor=actor_of(request), tender_id=_path_id(request), winners=winners
    )
    return _json(out.tender_summary(tender))


async def contract_register(request: Request) -> Response:
    """
    ---
    summary: Register the signed contract of a lot
    tags: [agency]
    parameters:
      - {name: tender_id, in: path, required: true, schema: {type: integer}}
      - {name: lot_number, in: path, required: true, schema: {type: integer}}
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [signed_at, amount]
            properties:
              signed_at:
                type: string
                format: date-time
                description: RFC 3339 with an offset; between the award notice and now
              amount: {type: string, example: "1098000.00"}
    responses:
      200: {description: The award with its contract}
      400: {description: "invalid_input: signed_at, amount, lot (no award, already registered)"}
      401: {description: "login_required: no or expired token"}
      403: {description: "permission_denied; not_your_tender"}
      404: {description: tender_not_found}
      409: {description: transition_not_allowed}
    """
    data = await json_body(request)
    lot_number = _path_id(request, "lot_number")
    award = await services.register_contract(
        _ctx(request), actor=actor_of(request), tender_id=_path_id(request),
        lot_number=lot_number,
        signed_at=_instant(_present(data, "signed_at"), "signed_at"),
        amount=_amount(data, "amount"),
    )
    return _json({
        "lot": lot_number,
        "bid_id": award.bid_id,  # type: ignore[attr-defined]
        "notice_at": out.instant(award.notice_at),
        "contract_signed_at": out.instant(award.contract_signed_at),
        "contract_amount": out.money(award.contract_amount),
        "contract_registered_at": out.instant(award.contract_registered_at),
    })


async def report_file(request: Request) -> Response:
    """
    ---
    summary: File the written report to the supervising authority
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
              body: {type: string, minLength: 20}
    responses:
      201: {description: The filed report}
      400: {description: "invalid_input: body too short; report already filed"}
      401: {description: "login_required: no or expired token"}
      403: {description: "permission_denied; not_your_tender"}
      404: {description: tender_not_found}
      409: {description: "transition_not_allowed: not awarded"}
    """
    data = await json_body(request)
    filed = await services.file_report(
        _ctx(request), actor=actor_of(request), tender_id=_path_id(request),
        body=_text(data, "body"),
    )
    return _json(out.report(filed), 201)


async def tender_rerun(request: Request) -> Response:
    """
    ---
    summary: Re-run a failed tender (流标后重新招标) as a new draft
    tags: [agency]
    parameters:
      - {name: tender_id, in: path, required: true, schema: {type: integer}}
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [deadline_at]
            properties:
              deadline_at: {type: string, format: date-time, description: RFC 3339 with an offset}
    responses:
      201: {description: The new draft (rerun_of names the failed tender)}
      400: {description: "invalid_input: deadline_at"}
      401: {description: "login_required: no or expired token"}
      403: {description: "permission_denied; not_your_tender"}
      404: {description: tender_not_found}
      409: {description: "transition_not_allowed: the tender has not failed"}
    """
    data = await json_body(request)
    copy = await services.rerun(
        _ctx(request), actor=actor_of(request), tender_id=_path_id(request),
        deadline_at=_instant(_present(data, "deadline_at"), "deadline_at"),
    )
    return _json(out.tender_summary(copy), 201)


# -- the bidder -----------------------------------------------------------------------------


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
    summary: Submit a bid for a lot before the deadline; a later one replaces it
    tags: [bidder]
    parameters:
      - {name: tender_id, in: path, required: true, schema: {type: integer}}
    requestBody:
      required: true
      content:
        multipart/form-data:
          schema:
            type: object
            required: [lot, price, file]
            properties:
              lot: {type: integer, description: Lot number, 1-based}
              price: {type: string, example: "1098000.00"}
              duration_days: {type: integer}
              quality: {type: string}
              project_manager: {type: string}
              file: {type: string, format: binary}
    responses:
      201: {description: "The bid: id, sha256 of the stored file, submitted_at (server time)"}
      400: {description: "invalid_input: lot, price, duration_days, file"}
      401: {description: "login_required: no or expired token"}
      403: {description: "permission_denied: not a bidder"}
      404: {description: No such tender}
      409:
        description: >
          deadline_passed (the message names the deadline); not_registered;
          transition_not_allowed
      413: {description: payload_too_large}
    """
    form = await form_of(request)
    fields = {name: _form_text(form, name).strip() or None for name in ("lot", "price")}
    lot_number = _integer(_present(fields, "lot"), "lot")
    price = _present(fields, "price")
    bid = await services.submit_bid(
        _ctx(request), actor=actor_of(request), tender_id=_path_id(request),
        lot_number=lot_number, upload=_upload(form), price=price,
        duration_days=_form_text(form, "duration_days"), quality=_form_text(form, "quality"),
        project_manager=_form_text(form, "project_manager"),
    )
    return _json(out.bid(bid, lot_number=lot_number), 201)


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
      404: {description: "bid_not_found: no current bid of yours with that id"}
      409: {description: "deadline_passed; transition_not_allowed"}
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


# -- the centre -----------------------------------------------------------------------------


async def room_list(request: Request) -> Response:
    """
    ---
    summary: List the opening rooms (agencies see the rooms in use)
    tags: [rooms]
    responses:
      200: {description: The rooms}
      401: {description: "login_required: no or expired token"}
      403: {description: permission_denied}
    """
    found = await rooms.list_rooms(active_only=not actor_of(request).has(Role.ADMIN))
    return _json([out.room(item) for item in found])


async def room_create(request: Request) -> Response:
    """
    ---
    summary: Add an opening room
    tags: [rooms]
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [name]
            properties:
              name: {type: string, maxLength: 100}
              location: {type: string}
              capacity: {type: integer, minimum: 0}
    responses:
      201: {description: The room}
      400: {description: "invalid_input: name (taken), capacity"}
      401: {description: "login_required: no or expired token"}
      403: {description: "permission_denied: not an admin"}
    """
    data = await json_body(request)
    capacity = data.get("capacity")
    created = await rooms.create_room(
        _ctx(request), actor=actor_of(request), name=_text(data, "name"),
        location=_text(data, "location", required=False, max_length=200),
        capacity=0 if capacity is None else _integer(capacity, "capacity"),
    )
    return _json(out.room(created), 201)


_T = "/api/v1/tenders/{tender_id:int}"

api_routes: list[Route] = [
    api("/api/v1/tenders", tender_list, name="bidding:api-tenders", roles=PUBLIC),
    api("/api/v1/tenders", tender_create, name="bidding:api-tender-create", roles=AGENCY,
        methods=["POST"]),
    api(_T, tender_detail, name="bidding:api-tender", roles=PUBLIC),
    api(_T, tender_update, name="bidding:api-tender-update", roles=AGENCY, methods=["PUT"]),
    api("/api/v1/notices", notice_list, name="bidding:api-notices", roles=PUBLIC),
    api("/api/v1/notices/{notice_id:int}", notice_detail, name="bidding:api-notice",
        roles=PUBLIC),
    # The agency.
    api(_T + "/documents", document_upload, name="bidding:api-document-upload", roles=AGENCY,
        methods=["POST"]),
    api(_T + "/publish", tender_publish, name="bidding:api-publish", roles=AGENCY,
        methods=["POST"]),
    api(_T + "/postpone", tender_postpone, name="bidding:api-postpone", roles=AGENCY,
        methods=["POST"]),
    api(_T + "/clarifications", tender_clarify, name="bidding:api-clarify", roles=AGENCY,
        methods=["POST"]),
    api(_T + "/invitations", tender_invite, name="bidding:api-invite", roles=AGENCY,
        methods=["POST"]),
    api(_T + "/deposits", deposit_record, name="bidding:api-deposit", roles=AGENCY,
        methods=["POST"]),
    api(_T + "/lots/{lot_number:int}/ranking", ranking_enter, name="bidding:api-ranking",
        roles=AGENCY, methods=["POST"]),
    api(_T + "/candidates", candidates_publish, name="bidding:api-candidates", roles=AGENCY,
        methods=["POST"]),
    api(_T + "/objections/{objection_id:int}/answer", objection_answer,
        name="bidding:api-objection-answer", roles=AGENCY, methods=["POST"]),
    api(_T + "/award", tender_award, name="bidding:api-award", roles=AGENCY, methods=["POST"]),
    api(_T + "/lots/{lot_number:int}/contract", contract_register, name="bidding:api-contract",
        roles=AGENCY, methods=["POST"]),
    api(_T + "/report", report_file, name="bidding:api-report", roles=AGENCY, methods=["POST"]),
    api(_T + "/rerun", tender_rerun, name="bidding:api-rerun", roles=AGENCY, methods=["POST"]),
    # The bidder.
    api(_T + "/registration", registration_create, name="bidding:api-register", roles=BIDDER,
        methods=["POST"]),
    api(_T + "/documents/{document_id:int}", document_download, name="bidding:api-download",
        roles=BIDDER),
    api(_T + "/bids", bid_submit, name="bidding:api-bid-submit", roles=BIDDER,
        methods=["POST"]),
    api(_T + "/bids/{bid_id:int}/withdraw", bid_withdraw, name="bidding:api-bid-withdraw",
        roles=BIDDER, methods=["POST"]),
    api(_T + "/questions", question_ask, name="bidding:api-question", roles=BIDDER,
        methods=["POST"]),
    api(_T + "/objections", objection_raise, name="bidding:api-objection", roles=BIDDER,
        methods=["POST"]),
    # The centre. Agencies read the rooms to choose one for a tender's opening.
    api("/api/v1/rooms", room_list, name="bidding:api-rooms", roles={Role.ADMIN, Role.AGENCY}),
    api("/api/v1/rooms", room_create, name="bidding:api-room-create", roles=ADMIN,
        methods=["POST"]),
]
