"""The agency's and the bidders' forms on a tender, and the admin's opening rooms.

Every POST here is CSRF-checked by kernel.http; each view calls exactly one service and
redirects back to the tender page with a ``done`` code the page turns into a message.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from bidding import forms, services, states
from bidding.exceptions import InvalidInput, NotAllowedForTender
from bidding.models import Category, Method
from bidding.services import queries, rooms
from kernel.http import actor_of, form_of, redirect


def _ctx(request: Request):  # type: ignore[no-untyped-def]
    return request.app.state.ctx


def _id(request: Request, key: str = "tender_id") -> int:
    return forms.path_id(request, key)


def _back(tender_id: int, done: str, form: Any = None) -> Response:
    # The opening page's objection forms say so: back to the opening, not the tender page.
    if form is not None and forms.text(form, "from") == "opening":
        return redirect(f"/tenders/{tender_id}/opening?done={done}#objections")
    return redirect(f"/tenders/{tender_id}?done={done}#{done}")


async def _render_form(request: Request, tender=None, error: str = "", values=None,  # type: ignore[no-untyped-def]
                       status_code: int = 200) -> Response:
    return request.app.state.templates.TemplateResponse(
        request, "bidding/tender-form.html",
        {"tender": tender, "error": error, "values": values or {},
         "categories": list(Category), "methods": list(Method),
         "rooms": await rooms.list_rooms(active_only=True)},
        status_code=status_code,
    )


async def tender_new(request: Request) -> Response:
    if request.method == "GET":
        return await _render_form(request)
    form = await form_of(request)
    try:
        tender = await services.create_tender(
            _ctx(request), actor=actor_of(request),
            data=forms.tender_in(form, _ctx(request).tz),
        )
    except InvalidInput as exc:
        # Keep what the user typed; say what is wrong.
        return await _render_form(request, error=exc.message(_locale(request)),
                                  values=dict(form), status_code=400)
    return _back(tender.id, "registered")


async def tender_edit(request: Request) -> Response:
    view = await queries.tender_view(
        actor_of(request), _id(request), now=_ctx(request).clock.now()
    )
    if "edit" not in view.actions:
        # Only the owning agency, and only while the tender is a draft.
        raise (NotAllowedForTender() if not view.is_owner
               else states.not_allowed(view.tender.status, "edit"))
    if request.method == "GET":
        return await _render_form(request, tender=view.tender)
    form = await form_of(request)
    try:
        await services.update_draft(
            _ctx(request), actor=actor_of(request), tender_id=view.tender.id,
            data=forms.tender_in(form, _ctx(request).tz),
        )
    except InvalidInput as exc:
        return await _render_form(request, tender=view.tender,
                                  error=exc.message(_locale(request)), values=dict(form),
                                  status_code=400)
    return _back(view.tender.id, "edited")


def _locale(request: Request) -> str:
    from kernel.http import locale_of

    return locale_of(request)


async def document_upload(request: Request) -> Response:
    form = await form_of(request)
    await services.upload_document(
        _ctx(request), actor=actor_of(request), tender_id=_id(request),
        upload=forms.upload(form), note=forms.text(form, "note"),
    )
    return _back(_id(request), "document")


async def publish(request: Request) -> Response:
    await services.publish(_ctx(request), actor=actor_of(request), tender_id=_id(request))
    return _back(_id(request), "published")


async def postpone(request: Request) -> Response:
    form = await form_of(request)
    await services.postpone(
        _ctx(request), actor=actor_of(request), tender_id=_id(request),
        new_deadline=forms.local_datetime(forms.text(form, "deadline_at"), _ctx(request).tz),
        reason=forms.text(form, "reason"),
    )
    return _back(_id(request), "postponed")


async def clarify(request: Request) -> Response:
    form = await form_of(request)
    answers = [int(v) for v in form.getlist("answers") if isinstance(v, str) and v.isdigit()]
    await services.clarify(
        _ctx(request), actor=actor_of(request), tender_id=_id(request),
        body=forms.text(form, "body"), answers=answers,
    )
    return _back(_id(request), "clarified")


async def invite(request: Request) -> Response:
    form = await form_of(request)
    await services.invite(
        _ctx(request), actor=actor_of(request), tender_id=_id(request),
        credit_code=forms.text(form, "credit_code"),
    )
    return _back(_id(request), "invited")


async def record_deposit(request: Request) -> Response:
    form = await form_of(request)
    await services.record_deposit(
        _ctx(request), actor=actor_of(request), tender_id=_id(request),
        registration_id=forms.int_field(form, "registration_id", "报名记录"),
        received=forms.text(form, "received") == "1",
    )
    return _back(_id(request), "deposit")


async def enter_ranking(request: Request) -> Response:
    form = await form_of(request)
    lot = forms.int_field(form, "lot", "标段")
    # One rank field per bid: "rank_<bid id>" = 1, 2, 3...; empty means not ranked.
    ranked: list[tuple[int, int, str]] = []
    for key, value in form.multi_items():
        if key.startswith("rank_") and isinstance(value, str) and value.strip():
            if not value.strip().isdigit():
                raise InvalidInput("rank", "ranks are whole numbers", "名次须为正整数")
            bid_id = int(key.removeprefix("rank_"))
            ranked.append((int(value), bid_id, forms.text(form, f"score_{bid_id}")))
    ranked.sort()
    if [r for r, _, _ in ranked] != list(range(1, len(ranked) + 1)):
        raise InvalidInput("rank", "ranks must be 1, 2, 3... without gaps or ties",
                           "名次须从 1 开始连续编号，不得重复")
    await services.enter_ranking(
        _ctx(request), actor=actor_of(request), tender_id=_id(request), lot_number=lot,
        ranking=[(bid_id, services.parse_score(score)) for _, bid_id, score in ranked],
    )
    return _back(_id(request), "ranking")


async def publish_candidates(request: Request) -> Response:
    await services.publish_candidates(
        _ctx(request), actor=actor_of(request), tender_id=_id(request)
    )
    return _back(_id(request), "candidates")


async def answer_objection(request: Request) -> Response:
    form = await form_of(request)
    await services.answer_objection(
        _ctx(request), actor=actor_of(request), tender_id=_id(request),
        objection_id=_id(request, "objection_id"), answer=forms.text(form, "answer"),
    )
    return _back(_id(request), "answered", form)


async def award(request: Request) -> Response:
    await services.award(_ctx(request), actor=actor_of(request), tender_id=_id(request))
    return _back(_id(request), "awarded")


async def register_contract(request: Request) -> Response:
    form = await form_of(request)
    await services.register_contract(
        _ctx(request), actor=actor_of(request), tender_id=_id(request),
        lot_number=forms.int_field(form, "lot", "标段"),
        signed_at=forms.local_datetime(forms.text(form, "signed_at"), _ctx(request).tz,
                                       "signed_at"),
        amount=forms.text(form, "amount"),
    )
    return _back(_id(request), "contract")


async def file_report(request: Request) -> Response:
    form = await form_of(request)
    await services.file_report(
        _ctx(request), actor=actor_of(request), tender_id=_id(request),
        body=forms.text(form, "body"),
    )
    return _back(_id(request), "report")


async def rerun(request: Request) -> Response:
    form = await form_of(request)
    copy = await services.rerun(
        _ctx(request), actor=actor_of(request), tender_id=_id(request),
        deadline_at=forms.local_datetime(forms.text(form, "deadline_at"), _ctx(request).tz),
    )
    return _back(copy.id, "rerun")


# The bidder's forms.

async def register(request: Request) -> Response:
    await services.register(_ctx(request), actor=actor_of(request), tender_id=_id(request))
    return _back(_id(request), "registered-bidder")


async def withdraw_bid(request: Request) -> Response:
    await services.withdraw_bid(
        _ctx(request), actor=actor_of(request), tender_id=_id(request),
        bid_id=_id(request, "bid_id"),
    )
    return _back(_id(request), "withdrawn")


async def ask(request: Request) -> Response:
    form = await form_of(request)
    await services.ask_question(
        _ctx(request), actor=actor_of(request), tender_id=_id(request),
        text=forms.text(form, "text"),
    )
    return _back(_id(request), "asked")


async def object_(request: Request) -> Response:
    form = await form_of(request)
    await services.raise_objection(
        _ctx(request), actor=actor_of(request), tender_id=_id(request),
        stage=forms.text(form, "stage"), text=forms.text(form, "text"),
    )
    return _back(_id(request), "objected", form)


# The centre admin's opening rooms.

async def room_list(request: Request) -> Response:
    if request.method == "POST":
        form = await form_of(request)
        capacity = forms.text(form, "capacity").strip() or "0"
        if not capacity.isdigit():
            raise InvalidInput("capacity", "must be a whole number", "容量须为整数")
        await rooms.create_room(
            _ctx(request), actor=actor_of(request), name=forms.text(form, "name"),
            location=forms.text(form, "location"), capacity=int(capacity),
        )
        return redirect("/admin/rooms?done=created")
    return request.app.state.templates.TemplateResponse(
        request, "bidding/admin-rooms.html",
        {"rooms": await rooms.list_rooms(), "bookings": await rooms.bookings(),
         "done": request.query_params.get("done", "")},
    )


async def room_toggle(request: Request) -> Response:
    form = await form_of(request)
    await rooms.set_room_active(
        _ctx(request), actor=actor_of(request), room_id=_id(request, "room_id"),
        active=forms.text(form, "active") == "1",
    )
    return redirect("/admin/rooms?done=updated")
