"""Bidding's routes: the portal, the tender pages and forms, the admin's rooms, the API."""

from __future__ import annotations

from starlette.routing import BaseRoute

from bidding.api import api_routes
from bidding.views import manage, opening, portal, sealed
from kernel.accounts.models import Role
from kernel.http import ANY_USER, PUBLIC, page

A, B, S, ADM = Role.AGENCY, Role.BIDDER, Role.SUPERVISOR, Role.ADMIN
POST = ("POST",)
T = "/tenders/{tender_id:int}"

routes: list[BaseRoute] = [
    page("/", portal.home, name="bidding:home", roles=PUBLIC),
    page("/notices", portal.notice_list, name="bidding:notices", roles=PUBLIC),
    page("/notices/{notice_id:int}", portal.notice_detail, name="bidding:notice", roles=PUBLIC),
    page("/tenders", portal.tender_list, name="bidding:tenders", roles=PUBLIC),
    page("/tenders/new", manage.tender_new, name="bidding:tender-new", roles={A},
         methods=("GET", "POST")),
    page(T, portal.tender_detail, name="bidding:tender", roles=PUBLIC),
    page(T + "/edit", manage.tender_edit, name="bidding:tender-edit", roles={A},
         methods=("GET", "POST")),
    page(T + "/documents", manage.document_upload, name="bidding:document-upload", roles={A},
         methods=POST),
    page(T + "/documents/{document_id:int}", portal.document_download,
         name="bidding:document-download", roles={B}),
    page(T + "/publish", manage.publish, name="bidding:publish", roles={A}, methods=POST),
    page(T + "/postpone", manage.postpone, name="bidding:postpone", roles={A}, methods=POST),
    page(T + "/clarifications", manage.clarify, name="bidding:clarify", roles={A},
         methods=POST),
    page(T + "/invitations", manage.invite, name="bidding:invite", roles={A}, methods=POST),
    page(T + "/deposits", manage.record_deposit, name="bidding:deposit", roles={A},
         methods=POST),
    page(T + "/ranking", manage.enter_ranking, name="bidding:ranking", roles={A}, methods=POST),
    page(T + "/candidates", manage.publish_candidates, name="bidding:candidates", roles={A},
         methods=POST),
    page(T + "/objections/{objection_id:int}/answer", manage.answer_objection,
         name="bidding:objection-answer", roles={A}, methods=POST),
    page(T + "/award", manage.award, name="bidding:award", roles={A}, methods=POST),
    page(T + "/contract", manage.register_contract, name="bidding:contract", roles={A},
         methods=POST),
    page(T + "/report", manage.file_report, name="bidding:report", roles={A}, methods=POST),
    page(T + "/rerun", manage.rerun, name="bidding:rerun", roles={A}, methods=POST),
    page(T + "/register", manage.register, name="bidding:register", roles={B}, methods=POST),
    page(T + "/sealed-bids", sealed.submit, name="bidding:sealed-bid-submit", roles={B},
         methods=POST),
    page(T + "/bids/{bid_id:int}/receipt", sealed.show_receipt, name="bidding:bid-receipt",
         roles={B}),
    page(T + "/bids/{bid_id:int}/receipt.p7m", sealed.receipt_file,
         name="bidding:bid-receipt-file", roles={B}),
    page(T + "/bids/{bid_id:int}/package", sealed.package_file, name="bidding:bid-package",
         roles={B}),
    page(T + "/bids/{bid_id:int}/withdraw", manage.withdraw_bid, name="bidding:bid-withdraw",
         roles={B}, methods=POST),
    page(T + "/questions", manage.ask, name="bidding:ask", roles={B}, methods=POST),
    page(T + "/objections", manage.object_, name="bidding:object", roles={B}, methods=POST),
    page(T + "/opening", opening.opening_page, name="bidding:opening", roles=ANY_USER),
    page("/bids/{bid_id:int}/file", portal.bid_file, name="bidding:bid-file", roles={A, B, S}),
    page("/bids/{bid_id:int}/opened-file", opening.opened_file, name="bidding:bid-opened-file",
         roles={A, B, S}),
    page("/workspace", portal.workspace, name="bidding:workspace", roles=ANY_USER),
    page("/admin/rooms", manage.room_list, name="bidding:admin-rooms", roles={ADM},
         methods=("GET", "POST")),
    page("/admin/rooms/{room_id:int}/toggle", manage.room_toggle, name="bidding:room-toggle",
         roles={ADM}, methods=POST),
    *api_routes,
]
