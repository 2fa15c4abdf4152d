"""The bidding JSON API under /api/v1: parse, call one service, serialize.

Every endpoint's docstring is its OpenAPI description (YAML after the ``---``). What a viewer
may see of a tender is decided by ``queries.tender_view`` alone; these endpoints never query the
models. Refusals are DomainErrors, answered as ``{"error": code, "message": reason}``.

The endpoints live by audience: parsing (the shared request helpers), public (tender and
notice reads), agency (up to the opening), evaluation (the agency after the opening),
bidder and rooms (the centre). This module assembles them into ``api_routes``, the one
table of paths, names and roles.
"""

from __future__ import annotations

from starlette.routing import Route

from bidding.api.agency import (
    document_upload,
    tender_clarify,
    tender_create,
    tender_invite,
    tender_postpone,
    tender_publish,
    tender_update,
)
from bidding.api.bidder import (
    bid_submit,
    bid_withdraw,
    document_download,
    objection_raise,
    question_ask,
    registration_create,
)
from bidding.api.evaluation import (
    candidates_publish,
    contract_register,
    deposit_record,
    objection_answer,
    ranking_enter,
    report_file,
    tender_award,
    tender_rerun,
)
from bidding.api.opening import key_submit, opening_status, record_download, share_submit
from bidding.api.parsing import MAX_ID, MAX_SERIAL_ID
from bidding.api.public import notice_detail, notice_list, tender_detail, tender_list
from bidding.api.rooms import room_create, room_list
from bidding.api.sealed import bid_package, bid_receipt, opening_key
from bidding.api.uploads import upload_routes
from kernel.accounts.models import Role
from kernel.http import ANY_USER, PUBLIC, api

__all__ = ["MAX_ID", "MAX_SERIAL_ID", "api_routes"]

BIDDER = {Role.BIDDER}
AGENCY = {Role.AGENCY}
ADMIN = {Role.ADMIN}

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
    api(_T + "/opening-key", opening_key, name="bidding:api-opening-key", roles=PUBLIC),
    api(_T + "/bids/{bid_id:int}/receipt", bid_receipt, name="bidding:api-bid-receipt",
        roles=BIDDER),
    api(_T + "/bids/{bid_id:int}/package", bid_package, name="bidding:api-bid-package",
        roles=BIDDER),
    api(_T + "/bids/{bid_id:int}/withdraw", bid_withdraw, name="bidding:api-bid-withdraw",
        roles=BIDDER, methods=["POST"]),
    api(_T + "/questions", question_ask, name="bidding:api-question", roles=BIDDER,
        methods=["POST"]),
    api(_T + "/objections", objection_raise, name="bidding:api-objection", roles=BIDDER,
        methods=["POST"]),
    # The opening (docs/opening.md).
    api(_T + "/opening", opening_status, name="bidding:api-opening", roles=ANY_USER),
    api(_T + "/bids/{bid_id:int}/key", key_submit, name="bidding:api-bid-key", roles=BIDDER,
        methods=["POST"]),
    api(_T + "/opening/shares", share_submit, name="bidding:api-opening-share",
        roles={Role.AGENCY, Role.SUPERVISOR, Role.ADMIN}, methods=["POST"]),
    api(_T + "/opening/record", record_download, name="bidding:api-opening-record",
        roles=PUBLIC),
    # The resumable upload of a sealed package (bidding.services.uploads).
    *upload_routes,
    # The centre. Agencies read the rooms to choose one for a tender's opening.
    api("/api/v1/rooms", room_list, name="bidding:api-rooms", roles={Role.ADMIN, Role.AGENCY}),
    api("/api/v1/rooms", room_create, name="bidding:api-room-create", roles=ADMIN,
        methods=["POST"]),
]
