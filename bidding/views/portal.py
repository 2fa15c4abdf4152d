"""The public portal: announcements, results, tenders; and each user's workspace."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from bidding import forms, services
from bidding.models import Category, NoticeKind, TenderStatus
from bidding.services import queries, rooms
from kernel.accounts import services as accounts
from kernel.accounts.models import Role
from kernel.annotations import annotations_for
from kernel.http import actor_of


def _render(request: Request, name: str, context: dict, status_code: int = 200) -> Response:
    return request.app.state.templates.TemplateResponse(
        request, name, context, status_code=status_code
    )


def _id(request: Request, key: str = "tender_id") -> int:
    return forms.path_id(request, key)


async def home(request: Request) -> Response:
    announcements = await queries.notices(kind=NoticeKind.ANNOUNCEMENT.value, page=1)
    results = await queries.notices(kind=NoticeKind.CANDIDATES.value, page=1)
    awards = await queries.notices(kind=NoticeKind.AWARD.value, page=1)
    others = await queries.notices(page=1)
    open_now = await queries.public_tenders(status=TenderStatus.PUBLISHED.value, page=1)
    return _render(request, "bidding/home.html", {
        "open_tenders": open_now.items[:8],
        "open_total": open_now.total,
        "announcements": announcements.items[:8],
        "candidates": results.items[:8],
        "awards": awards.items[:8],
        "latest": others.items[:10],
    })


async def notice_list(request: Request) -> Response:
    params = request.query_params
    page = await queries.notices(q=params.get("q"), kind=params.get("kind"),
                                 page=params.get("page"))
    return _render(request, "bidding/notice-list.html", {
        "page": page, "q": params.get("q", ""), "kind": params.get("kind", ""),
        "kinds": list(NoticeKind),
    })


async def notice_detail(request: Request) -> Response:
    notice = await queries.notice(_id(request, "notice_id"))
    return _render(request, "bidding/notice-detail.html", {"notice": notice})


async def tender_list(request: Request) -> Response:
    params = request.query_params
    page = await queries.public_tenders(
        q=params.get("q"), category=params.get("category"), status=params.get("status"),
        page=params.get("page"),
    )
    return _render(request, "bidding/tender-list.html", {
        "page": page, "q": params.get("q", ""), "category": params.get("category", ""),
        "marks": await annotations_for([f"tender:{t.id}" for t in page.items], actor_of(request)),
        "status": params.get("status", ""), "categories": list(Category),
        "statuses": [s for s in TenderStatus if s != TenderStatus.DRAFT],
    })


async def tender_detail(request: Request) -> Response:
    actor = actor_of(request)
    view = await queries.tender_view(actor, _id(request), now=request.app.state.clock.now())
    context = {"view": view, "tender": view.tender, "done": request.query_params.get("done", "")}
    # Supervisors' marks (a collusion risk): the kernel gives each viewer only what is theirs.
    subject = f"tender:{view.tender.id}"
    context["marks"] = (await annotations_for([subject], actor)).get(subject, [])
    if view.is_owner:
        context["rooms"] = await rooms.list_rooms(active_only=True)
    context["opening_key"] = await services.published_opening_key(view.tender.id)
    return _render(request, "bidding/tender-detail.html", context)


async def document_download(request: Request) -> Response:
    """Registered bidders download the documents; each download is recorded (sealed)."""
    ctx = request.app.state.ctx
    doc = await services.download_document(
        ctx, actor=actor_of(request), tender_id=_id(request),
        document_id=_id(request, "document_id"),
    )
    return FileResponse(ctx.blobs.path_for(doc.sha256), filename=doc.filename,
                        media_type=doc.content_type)


async def bid_file(request: Request) -> Response:
    ctx = request.app.state.ctx
    bid = await services.read_bid_file(ctx, actor=actor_of(request), bid_id=_id(request, "bid_id"))
    return FileResponse(ctx.blobs.path_for(bid.sha256), filename=bid.filename)


async def workspace(request: Request) -> Response:
    actor = actor_of(request)
    context: dict = {}
    params = request.query_params
    if actor.has(Role.AGENCY, Role.SUPERVISOR):
        context["page"] = await queries.managed_tenders(
            actor, q=params.get("q"), status=params.get("status"), page=params.get("page")
        )
        context["statuses"] = list(TenderStatus)
        context["marks"] = await annotations_for(
            [f"tender:{t.id}" for t in context["page"].items], actor
        )
        context["q"] = params.get("q", "")
        context["status"] = params.get("status", "")
    if actor.has(Role.BIDDER):
        context["registrations"] = await queries.my_registrations(actor)
    if actor.organization_id is not None:
        context["notifications"] = await accounts.notifications_for(actor.organization_id)
    return _render(request, "bidding/workspace.html", context)
