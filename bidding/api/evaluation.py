"""The agency's API after the opening: deposits, rankings, candidates, answers to objections,
the award, contracts, the written report, and re-running a failed tender.

Each endpoint parses its body with bidding.api.parsing and calls one service (mostly those of
bidding.services.evaluation); the tender's state is changed there, never here.
"""

from __future__ import annotations

from decimal import Decimal

from starlette.requests import Request
from starlette.responses import Response

from bidding import serializers as out
from bidding import services
from bidding.api.parsing import (
    _amount,
    _boolean,
    _ctx,
    _instant,
    _integer,
    _json,
    _list,
    _path_id,
    _present,
    _text,
)
from kernel.errors import InvalidInput
from kernel.http import actor_of, json_body


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
