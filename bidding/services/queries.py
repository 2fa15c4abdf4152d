"""The read side, and the one place that decides what each role may see of a tender.

Before the opening (states.SEALED_STATES) nothing here tells anyone but the bidder itself who
registered, downloaded, paid or bid, or how many: not the agency, not the supervisor. The
access-matrix tests (tests/e2e/test_access_matrix.py) hold every route to that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.expressions import Q, Subquery

from bidding import search, states
from bidding.exceptions import NotFound, OpenedFilesWithheld, TenderNotFound
from bidding.models import (
    Award,
    Bid,
    BidStatus,
    Category,
    Clarification,
    Invitation,
    Lot,
    Notice,
    NoticeKind,
    Objection,
    ObjectionStage,
    OpeningRecord,
    Question,
    Ranking,
    Registration,
    Tender,
    TenderDocument,
    TenderStatus,
    WrittenReport,
)
from kernel.accounts import services as accounts
from kernel.accounts.actor import Actor
from kernel.accounts.models import Role
from kernel.audit.chain import events_for
from kernel.audit.models import AuditEvent

PAGE_SIZE = 20
MAX_QUERY = 100
# A code fragment matching more tenders than this is searched by subquery, not bound ids.
MAX_CODE_IDS = 500


@dataclass
class Page:
    items: list[Any]
    total: int
    page: int
    size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def _page_number(page: int | str | None) -> int:
    try:
        number = int(page or 1)
    except (TypeError, ValueError):
        return 1
    return min(max(number, 1), 100000)


async def _paginate(query: Any, page: int | str | None, size: int = PAGE_SIZE) -> Page:
    """One page, by ids first: the OFFSET walks an index of (order key, id) and only the rows
    shown are read in full. Reading every skipped row made deep pages sort the whole table
    (bench/RESULTS.md)."""
    number = _page_number(page)
    total = await query.count()
    ids = list(await query.offset((number - 1) * size).limit(size).values_list("id", flat=True))
    rows = {row.id: row for row in await query.model.filter(id__in=ids)} if ids else {}
    return Page(items=[rows[i] for i in ids if i in rows], total=total, page=number, size=size)


async def _search(q: str | None) -> Q | None:
    """Tenders whose title, code or tenderer contains ``q`` (bidding.search explains how)."""
    q = (q or "").strip()[:MAX_QUERY]
    if not q:
        return None
    condition = search.matches(q, "title", "code", "tenderer_name")
    try:
        ids = await search.indexed_ids(search.TENDER_INDEX, q)
    except search.TooMany:
        return condition
    if ids is None:
        # PostgreSQL, three characters or more: pg_trgm answers the LIKE. Scan once for the
        # ids, so the count and the page that follow read only those rows instead of
        # scanning twice. Too many matches: let the page query filter by itself.
        found: list[int] = await Tender.filter(  # type: ignore[assignment]
            condition
        ).limit(search.MAX_INDEX_IDS + 1).values_list("id", flat=True)
        if len(found) > search.MAX_INDEX_IDS:
            return condition
        ids = found
    return Q(id__in=ids)


async def public_tenders(
    *, q: str | None = None, category: str | None = None, status: str | None = None,
    page: int | str | None = 1,
) -> Page:
    """Published tenders, newest first, for the portal."""
    query = Tender.exclude(status=TenderStatus.DRAFT)
    cond = await _search(q)
    if cond is not None:
        query = query.filter(cond)
    if category in {c.value for c in Category}:
        query = query.filter(category=category)
    if status in {s.value for s in TenderStatus} and status != TenderStatus.DRAFT.value:
        query = query.filter(status=status)
    return await _paginate(query.order_by("-issued_at", "-id"), page)


async def notices(
    *, q: str | None = None, kind: str | None = None, page: int | str | None = 1
) -> Page:
    """Published notices (交易公告, 中标公示...), newest first."""
    query = Notice.all()
    q = (q or "").strip()[:MAX_QUERY]
    if q:
        # The code match is resolved to tender ids first: "title OR tender.code" across a
        # join can use no index and read every notice and tender twice (count and page).
        try:
            title_ids = await search.indexed_ids(search.NOTICE_INDEX, q)
        except search.TooMany:
            title_ids = None
        cond = Q(id__in=title_ids) if title_ids is not None else search.matches(q, "title")
        codes = Tender.filter(search.matches(q, "code"))
        tender_ids = list(await codes.limit(MAX_CODE_IDS + 1).values_list("id", flat=True))
        if len(tender_ids) > MAX_CODE_IDS:
            cond |= Q(tender_id__in=Subquery(codes.values("id")))
        elif tender_ids:
            cond |= Q(tender_id__in=tender_ids)
        query = query.filter(cond)
    if kind in {k.value for k in NoticeKind}:
        query = query.filter(kind=kind)
    return await _paginate(query.order_by("-published_at", "-id"), page)


async def notice(notice_id: int) -> Notice:
    found = await Notice.get_or_none(id=notice_id).prefetch_related("tender")
    if found is None:
        raise NotFound()
    return found


async def managed_tenders(
    actor: Actor, *, q: str | None = None, status: str | None = None, page: int | str | None = 1
) -> Page:
    """The agency's own tenders (drafts included), or every tender for a supervisor."""
    if actor.has(Role.SUPERVISOR):
        query = Tender.all()
    elif actor.has(Role.AGENCY):
        query = Tender.filter(agency_id=actor.organization_id)
    else:
        query = Tender.filter(id=-1)
    cond = await _search(q)
    if cond is not None:
        query = query.filter(cond)
    if status in {s.value for s in TenderStatus}:
        query = query.filter(status=status)
    return await _paginate(query.order_by("-id"), page)


async def my_registrations(actor: Actor) -> list[Registration]:
    """A bidder's own registrations, newest first."""
    if not actor.has(Role.BIDDER):
        return []
    return await Registration.filter(organization_id=actor.organization_id).order_by(
        "-registered_at"
    ).prefetch_related("tender")


@dataclass
class TenderView:
    tender: Tender
    now: datetime | None
    sealed: bool
    lots: list[Lot]
    documents: list[TenderDocument]
    notices: list[Notice]
    clarifications: list[Clarification]
    is_owner: bool = False
    is_supervisor: bool = False
    viewer_is_bidder: bool = False
    # The bidder's own view of itself.
    my_registration: Registration | None = None
    my_bids: list[Bid] = field(default_factory=list)
    my_objections: list[Objection] = field(default_factory=list)
    invited: bool = False
    # Withheld until the opening from everyone but the bidder itself.
    registrations: list[dict[str, Any]] = field(default_factory=list)
    opening_rows: list[dict[str, Any]] = field(default_factory=list)
    opening_sha256: str = ""
    rankings: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    awards: list[dict[str, Any]] = field(default_factory=list)
    objections: list[dict[str, Any]] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)
    invitations: list[dict[str, Any]] = field(default_factory=list)
    report: WrittenReport | None = None
    audit_events: list[AuditEvent] = field(default_factory=list)
    bids_by_lot: dict[int, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def actions(self) -> set[str]:
        """What the viewer may do now (buttons); the services check again."""
        status = self.tender.status
        allowed: set[str] = set()
        if self.is_owner:
            for action in ("edit", "upload_document", "clarify", "postpone", "invite",
                           "record_deposit", "enter_ranking", "file_report", "rerun"):
                if status in states.ALLOWED_IN[action]:
                    allowed.add(action)
            for action in ("publish", "publish_candidates", "award"):
                if status in states.TRANSITIONS[action][0]:
                    allowed.add(action)
            valid_lots = {lot.number for lot in self.lots if not lot.failed}
            if not valid_lots <= set(self.rankings):
                allowed.discard("publish_candidates")
            ends = self.tender.publicity_ends_at
            if (ends is not None and (self.now is None or self.now < ends)) or any(
                o["answer"] == "" for o in self.objections
            ):
                allowed.discard("award")
            if status == TenderStatus.AWARDED:
                allowed.add("register_contract")
            if any(o["answer"] == "" for o in self.objections):
                allowed.add("answer_objection")
        if (self.viewer_is_bidder and self.my_registration is None
                and status in states.ALLOWED_IN["register"]):
            allowed.add("register")
        if self.my_registration is not None and status in states.ALLOWED_IN["submit_bid"]:
            allowed.update({"submit_bid", "ask"})
        if self.viewer_is_bidder and status in states.ALLOWED_IN["object_documents"]:
            allowed.add("object_documents")
        if (any(b.status == BidStatus.SUBMITTED for b in self.my_bids)
                and status in states.ALLOWED_IN["object_opening"]):
            allowed.add("object_opening")
        if self.my_registration is not None and status == TenderStatus.PUBLICITY:
            allowed.add("object_candidates")
        return allowed


async def tender_view(
    actor: Actor, tender_id: int, *, now: datetime | None = None
) -> TenderView:
    """Everything the viewer may see of one tender, and nothing more."""
    tender = await Tender.get_or_none(id=tender_id).prefetch_related("room")
    if tender is None:
        raise TenderNotFound()
    is_owner = actor.has(Role.AGENCY) and actor.organization_id == tender.agency_id
    is_supervisor = actor.has(Role.SUPERVISOR)
    if tender.status == TenderStatus.DRAFT and not (is_owner or is_supervisor):
        # Same answer as for a tender that does not exist.
        raise TenderNotFound()
    sealed = states.is_sealed(tender.status)
    view = TenderView(
        tender=tender,
        now=now,
        sealed=sealed,
        lots=await Lot.filter(tender_id=tender.id).order_by("number"),
        documents=await TenderDocument.filter(tender_id=tender.id).order_by("-version"),
        notices=await Notice.filter(tender_id=tender.id).order_by("published_at", "id"),
        clarifications=await Clarification.filter(tender_id=tender.id).order_by("number"),
        is_owner=is_owner,
        is_supervisor=is_supervisor,
        viewer_is_bidder=actor.has(Role.BIDDER),
    )
    insider = is_owner or is_supervisor
    if actor.has(Role.BIDDER) and actor.organization_id is not None:
        org_id = actor.organization_id
        view.my_registration = await Registration.get_or_none(
            tender_id=tender.id, organization_id=org_id
        )
        view.my_bids = await Bid.filter(tender_id=tender.id, organization_id=org_id).order_by(
            "-submitted_at"
        ).prefetch_related("lot")
        view.my_objections = await Objection.filter(
            tender_id=tender.id, organization_id=org_id
        ).order_by("raised_at")
        view.invited = await Invitation.filter(
            tender_id=tender.id, organization_id=org_id
        ).exists()
    if insider:
        view.questions = await Question.filter(tender_id=tender.id).order_by("asked_at")
        if is_owner:
            invitations = await Invitation.filter(tender_id=tender.id).order_by("id")
            orgs = await accounts.organizations_by_ids({i.organization_id for i in invitations})
            view.invitations = [
                {"name": orgs[i.organization_id].name,
                 "credit_code": orgs[i.organization_id].credit_code}
                for i in invitations if i.organization_id in orgs
            ]
        view.objections = await _objections(tender, reveal=not sealed)
        view.audit_events = await events_for(
            f"tender:{tender.id}", include_sealed=not sealed, limit=500
        )
    if not sealed:
        record = await OpeningRecord.get_or_none(tender_id=tender.id)
        if record is not None:
            view.opening_rows = record.rows
            view.opening_sha256 = record.sha256
        if insider:
            view.registrations = await _registrations(tender)
            view.bids_by_lot = await _current_bids(tender)
            view.rankings = await _rankings(tender)
            view.report = await WrittenReport.get_or_none(tender_id=tender.id)
        view.awards = await _awards(tender)
    return view


async def _objections(tender: Tender, *, reveal: bool) -> list[dict[str, Any]]:
    rows = await Objection.filter(tender_id=tender.id).order_by("raised_at")
    orgs = await accounts.organizations_by_ids({o.organization_id for o in rows}) if reveal else {}
    return [
        {
            "id": o.id,
            "stage": o.stage.value,
            # Before the opening an objector to the documents is only "a potential bidder".
            "by": orgs[o.organization_id].name
            if reveal and o.organization_id in orgs else "",
            "text": o.text,
            "raised_at": o.raised_at,
            "answer": o.answer,
            "answered_at": o.answered_at,
            "documents": o.stage == ObjectionStage.DOCUMENTS,
        }
        for o in rows
    ]


async def _registrations(tender: Tender) -> list[dict[str, Any]]:
    regs = await Registration.filter(tender_id=tender.id).order_by("registered_at")
    orgs = await accounts.organizations_by_ids({r.organization_id for r in regs})
    return [
        {"id": r.id, "name": orgs[r.organization_id].name,
         "credit_code": orgs[r.organization_id].credit_code,
         "registered_at": r.registered_at, "deposit_status": r.deposit_status.value}
        for r in regs if r.organization_id in orgs
    ]


async def _current_bids(tender: Tender) -> dict[int, list[dict[str, Any]]]:
    """The current bids by lot, cheapest first, for the agency's ranking form and the API.

    Nothing while the decryption window runs: not even the order, which would tell the
    cheapest opened bid before the prices are read out (bidding.services.opening.view). Sorted
    here, not by the database: SQLite keeps a decimal as text, whose order is not the price's.
    """
    if states.prices_withheld(tender.status):
        return {}
    bids = await Bid.filter(tender_id=tender.id, status=BidStatus.SUBMITTED).prefetch_related(
        "lot"
    ).order_by("submitted_at", "id")
    bids.sort(key=lambda b: (b.price is None, b.price or 0))
    orgs = await accounts.organizations_by_ids({b.organization_id for b in bids})
    out: dict[int, list[dict[str, Any]]] = {}
    for b in bids:
        out.setdefault(b.lot.number, []).append(
            # A bid has no price until it is decrypted (bidding.services.opening).
            {"id": b.id, "name": orgs[b.organization_id].name, "price": b.price,
             "valid": b.price is not None and b.price <= tender.price_ceiling}
        )
    return out


async def _rankings(tender: Tender) -> dict[int, list[dict[str, Any]]]:
    ranks = await Ranking.filter(lot__tender_id=tender.id).prefetch_related("lot", "bid").order_by(
        "rank"
    )
    orgs = await accounts.organizations_by_ids({r.bid.organization_id for r in ranks})
    out: dict[int, list[dict[str, Any]]] = {}
    for r in ranks:
        out.setdefault(r.lot.number, []).append(
            {"rank": r.rank, "bid_id": r.bid.id, "name": orgs[r.bid.organization_id].name,
             "price": r.bid.price, "score": r.score}
        )
    return out


async def _awards(tender: Tender) -> list[dict[str, Any]]:
    awards = await Award.filter(lot__tender_id=tender.id).prefetch_related("lot", "bid")
    orgs = await accounts.organizations_by_ids({a.bid.organization_id for a in awards})
    return [
        {"lot": a.lot.number, "name": orgs[a.bid.organization_id].name, "price": a.bid.price,
         "notice_at": a.notice_at, "contract_signed_at": a.contract_signed_at,
         "contract_amount": a.contract_amount}
        for a in sorted(awards, key=lambda a: a.lot.number)
    ]


async def document_for_public(tender_id: int, document_id: int) -> TenderDocument:
    """A document's metadata (not its content): public once the tender is published."""
    doc = await TenderDocument.get_or_none(id=document_id, tender_id=tender_id).prefetch_related(
        "tender"
    )
    if doc is None or doc.tender.status == TenderStatus.DRAFT:
        raise TenderNotFound()
    return doc


async def bid_for_owner(actor: Actor, bid_id: int) -> Bid:
    """A bid file, for the bidder who submitted it, or for insiders once the opening has
    ended: not during the decryption window, when officers holding enough key shares could
    open a rival's package offline before the prices are read out."""
    bid = await Bid.get_or_none(id=bid_id).prefetch_related("tender")
    if bid is None:
        raise TenderNotFound()
    own = actor.has(Role.BIDDER) and actor.organization_id == bid.organization_id
    insider = actor.has(Role.SUPERVISOR) or (
        actor.has(Role.AGENCY) and actor.organization_id == bid.tender.agency_id
    )
    status = bid.tender.status
    if not own and not (insider and not states.is_sealed(status)):
        raise TenderNotFound()
    if not own and states.prices_withheld(status):
        raise OpenedFilesWithheld()
    return bid
