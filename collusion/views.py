"""The supervisors' collusion pages: the list, a tender's case, a group's case, the reports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from collusion import present, services
from collusion.exceptions import CaseNotFound
from kernel.http import actor_of, form_of

_GROUP_KEY = re.compile(r"g-[0-9a-f]{16}")
# The pages link it; the downloadable report carries it inline, so the file stands alone.
STYLES = Path(__file__).resolve().parent.parent / "static" / "collusion.css"


def _render(request: Request, name: str, context: dict, status_code: int = 200) -> Response:
    return request.app.state.templates.TemplateResponse(
        request, name, context, status_code=status_code
    )


def _tender_id(request: Request) -> int:
    value = int(request.path_params["tender_id"])
    if value > 2**31 - 1:
        raise CaseNotFound()
    return value


def _group_key(request: Request) -> str:
    key = str(request.path_params["group_key"])
    if not _GROUP_KEY.fullmatch(key):
        raise CaseNotFound()
    return key


async def index(request: Request) -> Response:
    overview = await services.overview(actor_of(request))
    return _render(request, "collusion/index.html", {
        "overview": overview, "labels": services.LABELS, "titles": present.titles()})


async def tender_case(request: Request) -> Response:
    view = await services.case_view(actor_of(request), _tender_id(request))
    return _render(request, "collusion/case.html", {
        **present.case_page(view), "done": request.query_params.get("done", ""),
    })


async def tender_status(request: Request) -> Response:
    tender_id = _tender_id(request)
    form = await form_of(request)
    await services.change_status(
        request.app.state.ctx, actor=actor_of(request), tender_id=tender_id,
        to=str(form.get("status", "")), reason=str(form.get("reason", "")),
    )
    return RedirectResponse(f"/supervision/collusion/tenders/{tender_id}?done=status", 303)


async def tender_report_json(request: Request) -> Response:
    """The case as one JSON download (the format is in docs/collusion.md)."""
    tender_id = _tender_id(request)
    view = await services.case_view(actor_of(request), tender_id)
    body = json.dumps(services.report(view), ensure_ascii=False, indent=2, default=str)
    return Response(body, media_type="application/json", headers={
        "content-disposition": f'attachment; filename="collusion-tender-{tender_id}.json"'})


async def tender_report_html(request: Request) -> Response:
    """The case as one HTML download that needs nothing else (styles inline, pictures as
    inline SVG), so it can be filed or sent on as a single file."""
    tender_id = _tender_id(request)
    view = await services.case_view(actor_of(request), tender_id)
    answer = _render(request, "collusion/report.html", {
        **present.case_page(view), "inline_css": STYLES.read_text(encoding="utf-8")})
    answer.headers["content-disposition"] = (
        f'attachment; filename="collusion-tender-{tender_id}.html"')
    return answer


async def group_case(request: Request) -> Response:
    view = await services.group_view(actor_of(request), _group_key(request))
    return _render(request, "collusion/group.html", {
        **present.group_page(view), "done": request.query_params.get("done", ""),
    })


async def group_status(request: Request) -> Response:
    key = _group_key(request)
    form = await form_of(request)
    await services.change_status(
        request.app.state.ctx, actor=actor_of(request), group_key=key,
        to=str(form.get("status", "")), reason=str(form.get("reason", "")),
    )
    return RedirectResponse(f"/supervision/collusion/groups/{key}?done=status", 303)


async def group_report_json(request: Request) -> Response:
    key = _group_key(request)
    view = await services.group_view(actor_of(request), key)
    body = json.dumps(services.group_report(view), ensure_ascii=False, indent=2, default=str)
    return Response(body, media_type="application/json", headers={
        "content-disposition": f'attachment; filename="collusion-{key}.json"'})


async def group_report_html(request: Request) -> Response:
    key = _group_key(request)
    view = await services.group_view(actor_of(request), key)
    answer = _render(request, "collusion/report.html", {
        **present.group_page(view), "inline_css": STYLES.read_text(encoding="utf-8")})
    answer.headers["content-disposition"] = f'attachment; filename="collusion-{key}.html"'
    return answer
