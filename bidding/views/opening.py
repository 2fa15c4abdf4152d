"""The live opening page (开标大厅): each bid's decryption state, the window's countdown, the
officers' shares, the objections raised at the opening and their answers, and the signed
record once it is out. static/opening.js refreshes it from GET /api/v1/tenders/{id}/opening."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from bidding import forms, services
from bidding.services import opening, queries
from kernel.http import actor_of


async def opening_page(request: Request) -> Response:
    ctx = request.app.state.ctx
    actor = actor_of(request)
    tender_id = forms.path_id(request, "tender_id")
    view = await services.opening_view(ctx, actor=actor, tender_id=tender_id)
    # The tender's facts and what the viewer may do (object, answer) come from the one place
    # that decides what each role may see.
    tender_view = await queries.tender_view(actor, tender_id, now=ctx.clock.now())
    return request.app.state.templates.TemplateResponse(request, "bidding/opening.html", {
        "opening": view, "view": tender_view, "tender": tender_view.tender,
    })


async def opened_file(request: Request) -> Response:
    """A decrypted file of a bid, named by the file query parameter (the opening page's links)."""
    ctx = request.app.state.ctx
    try:
        file_id = int(request.query_params.get("file", ""))
    except ValueError:
        file_id = 0
    item = await opening.opened_file(ctx, actor=actor_of(request),
                                     bid_id=forms.path_id(request, "bid_id"), file_id=file_id)
    return FileResponse(ctx.blobs.path_for(item.sha256), filename=item.name)
