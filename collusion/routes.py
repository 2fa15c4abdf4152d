"""Collusion's pages: supervisors and the centre admin only. Bidders and agencies get 403 from
the route itself, before any query runs, and never see the mark on a tender (kernel.annotations)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from collusion import views
from kernel.accounts.models import Role
from kernel.http import page

STAFF = {Role.SUPERVISOR, Role.ADMIN}
BASE = "/supervision/collusion"
TENDER = BASE + "/tenders/{tender_id:int}"
GROUP = BASE + "/groups/{group_key:str}"

routes: list[BaseRoute] = [
    page(BASE, views.index, name="collusion:index", roles=STAFF),
    page(TENDER, views.tender_case, name="collusion:tender", roles=STAFF),
    page(TENDER + "/status", views.tender_status, name="collusion:tender-status", roles=STAFF,
         methods=("POST",)),
    page(TENDER + "/report.json", views.tender_report_json, name="collusion:tender-report-json",
         roles=STAFF),
    page(TENDER + "/report.html", views.tender_report_html, name="collusion:tender-report-html",
         roles=STAFF),
    page(GROUP, views.group_case, name="collusion:group", roles=STAFF),
    page(GROUP + "/report.json", views.group_report_json, name="collusion:group-report-json",
         roles=STAFF),
    page(GROUP + "/report.html", views.group_report_html, name="collusion:group-report-html",
         roles=STAFF),
    page(GROUP + "/status", views.group_status, name="collusion:group-status", roles=STAFF,
         methods=("POST",)),
]
