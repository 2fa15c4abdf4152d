"""The agency's side of a tender before the opening: register, document, publish, clarify,
postpone, invite, re-run."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from starlette.datastructures import UploadFile
from tortoise.transactions import in_transaction

from bidding import rules as statute
from bidding import states
from bidding.exceptions import (
    DeadlinePassed,
    DocumentsRequired,
    InvalidInput,
    RoomDoubleBooked,
    TenderNotFound,
)
from bidding.models import (
    Category,
    Clarification,
    Invitation,
    KeyMode,
    Lot,
    Method,
    Notice,
    NoticeKind,
    Question,
    Registration,
    Room,
    RoomBooking,
    Tender,
    TenderDocument,
    TenderStatus,
)
from bidding.services.common import (
    TENDER_FIELDS,
    audit,
    hide_draft,
    local,
    local_end,
    lock_tender,
    require_agency,
    require_bidder,
    require_invited,
    rules_of,
    snapshot,
    store_upload,
    transition,
)
from kernel.accounts import services as accounts
from kernel.accounts.actor import Actor
from kernel.accounts.models import Role
from kernel.calendar import end_of_day, local_date
from kernel.context import Context
from kernel.errors import NotFound, PermissionDenied
from signing import opening
from signing.opening_key import OpeningKeySetup

OPENING_SLOT = timedelta(hours=2)


@dataclass(frozen=True)
class LotIn:
    title: str
    estimate: Decimal


@dataclass(frozen=True)
class TenderIn:
    title: str
    category: str
    method: str
    tenderer_name: str
    estimate: str | Decimal
    price_ceiling: str | Decimal
    deposit: str | Decimal
    deadline_at: datetime
    room_id: int | None = None
    description: str = ""
    region: str = ""
    lots: tuple[LotIn, ...] = ()
    # How sealed bids open (docs/opening-key.md): "either" key, or "both" keys needed.
    key_mode: str = KeyMode.EITHER.value


def _money(value: str | Decimal, field: str, label_zh: str) -> Decimal:
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except (InvalidOperation, ValueError):
        raise InvalidInput(
            field, "must be an amount in yuan", f"{label_zh}须为金额（元）"
        ) from None
    if not amount.is_finite() or amount < 0 or amount > Decimal("1e13"):
        raise InvalidInput(field, "must be a non-negative amount", f"{label_zh}须为非负金额")
    return amount.quantize(Decimal("0.01"))


def _length(value: str, field: str, label_zh: str, least: int, most: int) -> None:
    size = len(value.strip())
    if not least <= size <= most:
        raise InvalidInput(
            field, f"needs {least} to {most} characters", f"{label_zh}须为 {least} 至 {most} 个字符"
        )


def _validate(ctx: Context, data: TenderIn) -> dict[str, object]:
    title = data.title.strip()
    if not 4 <= len(title) <= 300:
        raise InvalidInput("title", "needs 4 to 300 characters", "项目名称须为 4 至 300 个字符")
    if data.category not in {c.value for c in Category}:
        raise InvalidInput("category", "unknown category", "项目类别无效")
    if data.method not in {m.value for m in Method}:
        raise InvalidInput("method", "unknown procurement method", "招标方式无效")
    _length(data.tenderer_name, "tenderer_name", "招标人名称", 1, 200)
    _length(data.region, "region", "地区", 0, 100)
    _length(data.description, "description", "项目概况", 0, 20000)
    estimate = _money(data.estimate, "estimate", "估算价")
    ceiling = _money(data.price_ceiling, "price_ceiling", "最高投标限价")
    deposit = _money(data.deposit, "deposit", "投标保证金")
    if estimate <= 0:
        raise InvalidInput("estimate", "must be positive", "估算价须大于零")
    if ceiling <= 0:
        raise InvalidInput("price_ceiling", "must be positive", "最高投标限价须大于零")
    statute.check_deposit(statute.rules_for(data.method), deposit, estimate)
    if data.deadline_at.tzinfo is None:
        raise InvalidInput("deadline_at", "needs a time zone", "截止时间缺少时区")
    if data.deadline_at <= ctx.clock.now():
        raise InvalidInput("deadline_at", "must be in the future", "投标截止时间须晚于当前时间")
    if data.key_mode not in {m.value for m in KeyMode}:
        raise InvalidInput("key_mode", "must be either or both", "开启方式须为 either 或 both")
    lots = data.lots or (LotIn(title=title, estimate=estimate),)
    if len(lots) > 50:
        raise InvalidInput("lots", "at most 50 lots", "标段不超过 50 个")
    for lot in lots:
        _length(lot.title, "lots", "标段名称", 1, 300)
    return {
        "title": title,
        "category": Category(data.category),
        "method": Method(data.method),
        "tenderer_name": data.tenderer_name.strip(),
        "estimate": estimate,
        "price_ceiling": ceiling,
        "deposit": deposit,
        "deadline_at": data.deadline_at,
        "description": data.description.strip(),
        "region": data.region.strip(),
        "key_mode": KeyMode(data.key_mode),
        "lots": lots,
    }


def _refuse_after_deadline(ctx: Context, tender: Tender) -> None:
    """Once the deadline has passed (by the clock, even before the scheduler opens the tender)
    nothing may change the documents or the deadline: that would reopen bidding. A suspended
    tender is the exception: it waits for the objection's answer, which moves the deadline."""
    if (tender.status == TenderStatus.PUBLISHED and ctx.clock.now() >= tender.deadline_at):
        raise DeadlinePassed(deadline=local(ctx, tender.deadline_at))


async def _book_room(ctx: Context, tender: Tender, room_id: int | None) -> None:
    """Book the opening room for the opening slot; refuses overlaps (rooms locked in turn)."""
    await RoomBooking.filter(tender_id=tender.id).delete()
    if room_id is None:
        tender.room_id = None  # type: ignore[attr-defined]
        return
    room = await Room.filter(id=room_id, is_active=True).select_for_update().first()
    if room is None:
        raise InvalidInput("room_id", "unknown opening room", "开标室不存在")
    start, end = tender.deadline_at, tender.deadline_at + OPENING_SLOT
    clash = await RoomBooking.filter(room_id=room.id, starts_at__lt=end, ends_at__gt=start).first()
    if clash is not None:
        raise RoomDoubleBooked(
            room=room.name, start=local(ctx, clash.starts_at), end=local(ctx, clash.ends_at)
        )
    await RoomBooking.create(room=room, tender=tender, starts_at=start, ends_at=end)
    tender.room_id = room.id  # type: ignore[attr-defined]


async def create_tender(ctx: Context, *, actor: Actor, data: TenderIn) -> Tender:
    """Register a project (入场登记) as a draft."""
    if not actor.has(Role.AGENCY) or actor.organization_id is None:
        raise PermissionDenied()
    clean = _validate(ctx, data)
    lots: tuple[LotIn, ...] = clean.pop("lots")  # type: ignore[assignment]
    now = ctx.clock.now()
    async with in_transaction():
        tender = await Tender.create(
            code="tmp-" + secrets.token_hex(8),
            agency_id=actor.organization_id,
            created_by_id=actor.user_id,
            created_at=now,
            updated_at=now,
            **clean,  # type: ignore[arg-type]
        )
        tender.code = f"E{now.year}{tender.id:06d}"
        await _book_room(ctx, tender, data.room_id)
        await tender.save()
        for number, lot in enumerate(lots, start=1):
            await Lot.create(
                tender=tender,
                number=number,
                title=lot.title.strip(),
                estimate=_money(lot.estimate, "lots", "标段估算价"),
            )
        await audit(
            ctx, actor=actor, action="bidding:tender:registered", tender_id=tender.id,
            object_type="tender", object_id=tender.id,
            after=snapshot(tender, TENDER_FIELDS),
        )
    return tender


async def update_draft(ctx: Context, *, actor: Actor, tender_id: int, data: TenderIn) -> Tender:
    """Change a draft's particulars (lots are kept)."""
    existing = await Tender.get_or_none(id=tender_id)
    if existing is None:
        raise TenderNotFound()
    require_agency(actor, existing)
    states.check_allowed(existing.status, "edit")
    clean = _validate(ctx, data)
    clean.pop("lots")
    async with in_transaction():
        tender = await lock_tender(tender_id)
        states.check_allowed(tender.status, "edit")
        before = snapshot(tender, TENDER_FIELDS)
        for key, value in clean.items():
            setattr(tender, key, value)
        tender.updated_at = ctx.clock.now()
        tender.version += 1
        await _book_room(ctx, tender, data.room_id)
        await tender.save()
        await audit(
            ctx, actor=actor, action="bidding:tender:edited", tender_id=tender.id,
            object_type="tender", object_id=tender.id, before=before,
            after=snapshot(tender, TENDER_FIELDS),
        )
    return tender


async def upload_document(
    ctx: Context, *, actor: Actor, tender_id: int, upload: UploadFile, note: str = ""
) -> TenderDocument:
    """Store a new version of the tender documents (SHA-256 recorded, never overwritten)."""
    tender = await Tender.get_or_none(id=tender_id)
    if tender is None:
        raise TenderNotFound()
    require_agency(actor, tender)
    states.check_allowed(tender.status, "upload_document")
    _refuse_after_deadline(ctx, tender)
    blob = await store_upload(ctx, upload, missing_zh="请选择要上传的文件")
    async with in_transaction():
        tender = await lock_tender(tender_id)
        states.check_allowed(tender.status, "upload_document")
        _refuse_after_deadline(ctx, tender)
        version = await TenderDocument.filter(tender_id=tender.id).count() + 1
        doc = await TenderDocument.create(
            tender=tender, version=version, filename=blob.filename,
            content_type=(upload.content_type or "application/octet-stream")[:100],
            sha256=blob.sha256, size=blob.size, note=note.strip()[:300],
            uploaded_at=ctx.clock.now(),
        )
        await audit(
            ctx, actor=actor, action="bidding:document:uploaded", tender_id=tender.id,
            object_type="document", object_id=doc.id,
            after={"version": version, "filename": doc.filename, "sha256": blob.sha256,
                   "size": blob.size},
        )
        if tender.status != TenderStatus.DRAFT:
            # A new version after publication is a change to the documents: it must reach the
            # bidders like a clarification, with the same 15-day rule.
            await _publish_clarification(
                ctx, tender, actor=actor,
                body=(f"招标文件已更新为第 {version} 版（{doc.filename}，SHA-256 {blob.sha256}）。"
                      + (f"\n{doc.note}" if doc.note else "")),
            )
    return doc


async def publish(ctx: Context, *, actor: Actor, tender_id: int, issue_days: int = 5) -> Tender:
    """Publish the announcement (招标公告) and start issuing the documents."""
    now = ctx.clock.now()
    async with in_transaction():
        tender = await lock_tender(tender_id)
        require_agency(actor, tender)
        states.target(tender.status, "publish")
        if not await TenderDocument.filter(tender_id=tender.id).exists():
            raise DocumentsRequired()
        rules = rules_of(tender)
        # Documents stay on sale until the end of the statutory period's last (working) day.
        issue_ends = end_of_day(
            ctx.calendar.period_end(
                local_date(now, ctx.tz), max(issue_days, rules.min_issue_days)
            ),
            ctx.tz,
        )
        issue_ends = min(issue_ends, tender.deadline_at)
        statute.check_issue_period(rules, ctx.calendar, now, issue_ends, ctx.tz)
        statute.check_deadline(rules, ctx.calendar, now, tender.deadline_at, ctx.tz)
        # The opening key is made with the announcement, which publishes its public half;
        # refused (naming the officer) before anything is written when an officer has no key.
        officers = await opening.officers_for(agency_user_id=actor.user_id or 0)
        key = await opening.create_opening_key(ctx, tender_id=tender.id, officers=officers)
        await audit(
            ctx, actor=actor, action="signing:opening_key:created", tender_id=tender.id,
            object_type="opening_key", object_id=key.id,
            after={"key_id": key.key_id, "threshold": opening.THRESHOLD,
                   "officers": [{"user_id": o.user_id, "role": o.role} for o in officers]},
        )
        await transition(
            ctx, tender, "publish", actor=actor,
            changes={"issued_at": now, "issue_ends_at": issue_ends},
        )
        lots = await Lot.filter(tender_id=tender.id).order_by("number")
        await Notice.create(
            tender=tender, kind=NoticeKind.ANNOUNCEMENT, published_at=now,
            title=f"{tender.title} 招标公告",
            body=_announcement_body(ctx, tender, lots) + _opening_key_text(tender, key),
        )
    return tender


async def opening_key(ctx: Context, *, tender_id: int) -> tuple[OpeningKeySetup, str]:
    """A published tender's opening key setup (all public) and its key mode."""
    tender = await Tender.get_or_none(id=tender_id)
    if tender is None:
        raise TenderNotFound()
    hide_draft(tender)
    setup = await opening.opening_setup(tender_id)
    if setup is None:
        raise NotFound()
    return setup, tender.key_mode.value


async def published_opening_key(tender_id: int) -> opening.OpeningKey | None:
    """The stored opening key (public key PEM and id) of a published tender, for its page."""
    return await opening.opening_key_row(tender_id)


def _opening_key_text(tender: Tender, key: opening.OpeningKey) -> str:
    mode = ("任一密钥可解（投标人无法解密时，开标官可用份额恢复）"
            if tender.key_mode == KeyMode.EITHER
            else "双密钥共开（须投标人密钥与开标密钥共同解密）")
    return (
        f"\n\n电子投标文件须使用本项目开标公钥密封（ebid-client seal）。\n"
        f"开标密钥编号（key id）：{key.key_id}\n开启方式：{mode}（{tender.key_mode.value}）\n"
        f"开标公钥：\n{key.public_key_pem}"
    )


def _announcement_body(ctx: Context, tender: Tender, lots: list[Lot]) -> str:
    lot_lines = "\n".join(f"  第{lot.number}标段：{lot.title}（估算价 ¥{lot.estimate:,.2f}）"
                          for lot in lots)
    return (
        f"项目编号：{tender.code}\n招标人：{tender.tenderer_name}\n"
        f"招标方式：{'公开招标' if tender.method == Method.OPEN else '邀请招标'}\n"
        f"估算价：¥{tender.estimate:,.2f}；最高投标限价：¥{tender.price_ceiling:,.2f}\n"
        f"投标保证金：¥{tender.deposit:,.2f}\n标段：\n{lot_lines}\n"
        f"招标文件发售时间：{local(ctx, tender.issued_at or ctx.clock.now())} 至 "
        f"{local_end(ctx, tender.issue_ends_at or ctx.clock.now())}\n"
        f"投标截止及开标时间：{local(ctx, tender.deadline_at)}\n"
        f"{tender.description}"
    )


async def _move_deadline(
    ctx: Context, tender: Tender, new_deadline: datetime, *, actor: Actor, reason: str
) -> None:
    """Move the deadline and publish the postponement notice ourselves, so it is never
    forgotten. Caller holds the tender lock inside a transaction."""
    old = tender.deadline_at
    before = snapshot(tender, TENDER_FIELDS)
    tender.deadline_at = new_deadline
    tender.version += 1
    tender.updated_at = ctx.clock.now()
    await _book_room(ctx, tender, tender.room_id)  # type: ignore[attr-defined]
    await tender.save()
    await Notice.create(
        tender=tender, kind=NoticeKind.POSTPONEMENT, published_at=ctx.clock.now(),
        title=f"{tender.title} 延期公告",
        body=(f"项目编号：{tender.code}\n投标截止及开标时间由 {local(ctx, old)} "
              f"延期至 {local(ctx, new_deadline)}。\n原因：{reason}"),
    )
    await audit(
        ctx, actor=actor, action="bidding:tender:postponed", tender_id=tender.id,
        object_type="tender", object_id=tender.id, before=before,
        after=snapshot(tender, TENDER_FIELDS), detail={"reason": reason},
    )
    await _notify_registered(
        ctx, tender, title=f"【延期】{tender.title}",
        body=f"投标截止及开标时间延期至 {local(ctx, new_deadline)}。",
    )


async def _notify_registered(ctx: Context, tender: Tender, *, title: str, body: str) -> None:
    org_ids: list[int] = await Registration.filter(  # type: ignore[assignment]
        tender_id=tender.id
    ).values_list("organization_id", flat=True)
    if org_ids:
        await accounts.notify(
            ctx, organization_ids=org_ids, title=title, body=body,
            link=f"/tenders/{tender.id}",
        )


async def postpone(
    ctx: Context, *, actor: Actor, tender_id: int, new_deadline: datetime, reason: str
) -> Tender:
    """Postpone the deadline (only later, never earlier, and never after it has passed)."""
    if not reason.strip():
        raise InvalidInput("reason", "give the reason for the postponement", "请填写延期原因")
    async with in_transaction():
        tender = await lock_tender(tender_id)
        require_agency(actor, tender)
        states.check_allowed(tender.status, "postpone")
        _refuse_after_deadline(ctx, tender)
        if new_deadline.tzinfo is None or new_deadline <= tender.deadline_at:
            raise InvalidInput("deadline_at", "the new deadline must be later than the current "
                               "one", "新的截止时间须晚于原截止时间")
        await _move_deadline(ctx, tender, new_deadline, actor=actor, reason=reason.strip())
    return tender


async def _publish_clarification(
    ctx: Context, tender: Tender, *, actor: Actor, body: str
) -> Clarification:
    now = ctx.clock.now()
    number = await Clarification.filter(tender_id=tender.id).count() + 1
    moved_to = statute.deadline_after_clarification(
        rules_of(tender), ctx.calendar, now, tender.deadline_at, ctx.tz
    )
    clar = await Clarification.create(
        tender=tender, number=number, body=body, published_at=now,
        moved_deadline_from=tender.deadline_at if moved_to else None,
        moved_deadline_to=moved_to,
    )
    await Notice.create(
        tender=tender, kind=NoticeKind.CLARIFICATION, published_at=now,
        title=f"{tender.title} 第{number}号澄清（答疑）", body=body,
    )
    await audit(
        ctx, actor=actor, action="bidding:clarification:published", tender_id=tender.id,
        object_type="clarification", object_id=clar.id,
        after={"number": number, "body": body,
               "moved_deadline_to": moved_to.isoformat() if moved_to else None},
    )
    await _notify_registered(ctx, tender, title=f"【澄清】{tender.title} 第{number}号", body=body)
    if moved_to is not None:
        await _move_deadline(
            ctx, tender, moved_to, actor=actor,
            reason=(f"第{number}号澄清发出时距投标截止不足 "
                    f"{rules_of(tender).clarification_min_days} 日"),
        )
    return clar


async def clarify(
    ctx: Context, *, actor: Actor, tender_id: int, body: str, answers: list[int] | None = None
) -> Clarification:
    """Publish a clarification to every registered bidder; it never names who asked."""
    body = body.strip()
    if not body:
        raise InvalidInput("body", "the clarification is empty", "澄清内容不能为空")
    async with in_transaction():
        tender = await lock_tender(tender_id)
        require_agency(actor, tender)
        states.check_allowed(tender.status, "clarify")
        _refuse_after_deadline(ctx, tender)
        clar = await _publish_clarification(ctx, tender, actor=actor, body=body)
        if answers:
            await Question.filter(tender_id=tender.id, id__in=answers).update(
                answered_by_id=clar.id
            )
    return clar


async def ask_question(ctx: Context, *, actor: Actor, tender_id: int, text: str) -> Question:
    """A bidder asks a question; the agency sees the text, never the asker."""
    org_id = require_bidder(actor)
    text = text.strip()
    if not 2 <= len(text) <= 5000:
        raise InvalidInput("text", "needs 2 to 5000 characters", "问题须为 2 至 5000 个字符")
    async with in_transaction():
        tender = await lock_tender(tender_id)
        hide_draft(tender)
        states.check_allowed(tender.status, "ask")
        _refuse_after_deadline(ctx, tender)
        await require_invited(tender, org_id)
        question = await Question.create(
            tender=tender, organization_id=org_id, text=text, asked_at=ctx.clock.now()
        )
        await audit(
            ctx, actor=actor, action="bidding:question:asked", tender_id=tender.id,
            object_type="question", object_id=question.id, sealed=True,
            after={"text": text},
        )
    return question


async def invite(ctx: Context, *, actor: Actor, tender_id: int, credit_code: str) -> Invitation:
    """Invited tendering: name an organisation that may register."""
    async with in_transaction():
        tender = await lock_tender(tender_id)
        require_agency(actor, tender)
        states.check_allowed(tender.status, "invite")
        if tender.method != Method.INVITED:
            raise InvalidInput("method", "only invited tenders take invitations",
                               "仅邀请招标项目可发出投标邀请")
        org = await accounts.organization_by_credit_code(credit_code)
        if org is None:
            raise InvalidInput("credit_code", "no bidder with that credit code is signed up",
                               "没有使用该统一社会信用代码注册的投标人")
        invitation, _ = await Invitation.get_or_create(
            tender=tender, organization_id=org.id, defaults={"invited_at": ctx.clock.now()}
        )
        # The agency chose whom to invite: this reveals nothing it does not already know.
        await audit(
            ctx, actor=actor, action="bidding:invitation:sent", tender_id=tender.id,
            object_type="invitation", object_id=invitation.id,
            after={"organization_id": org.id},
        )
        await accounts.notify(
            ctx, organization_ids=[org.id], title=f"【投标邀请】{tender.title}",
            body=f"贵单位受邀参加 {tender.title}（{tender.code}）投标。",
            link=f"/tenders/{tender.id}",
        )
    return invitation


async def rerun(ctx: Context, *, actor: Actor, tender_id: int, deadline_at: datetime) -> Tender:
    """Re-run a failed tender (流标后重新招标) from a copy, as a new draft."""
    original = await Tender.get_or_none(id=tender_id)
    if original is None:
        from bidding.exceptions import TenderNotFound

        raise TenderNotFound()
    require_agency(actor, original)
    states.check_allowed(original.status, "rerun")
    lots = [
        LotIn(title=lot.title, estimate=lot.estimate)
        for lot in await Lot.filter(tender_id=original.id).order_by("number")
    ]
    async with in_transaction():
        return await _copy(ctx, actor, original, lots, deadline_at)


async def _copy(
    ctx: Context, actor: Actor, original: Tender, lots: list[LotIn], deadline_at: datetime
) -> Tender:
    copy = await create_tender(
        ctx, actor=actor,
        data=TenderIn(
            title=(original.title if "重新招标" in original.title
                   else f"{original.title}（重新招标）"),
            category=original.category.value, method=original.method.value,
            tenderer_name=original.tenderer_name, estimate=original.estimate,
            price_ceiling=original.price_ceiling, deposit=original.deposit,
            deadline_at=deadline_at, room_id=original.room_id,  # type: ignore[attr-defined]
            description=original.description, region=original.region, lots=tuple(lots),
            key_mode=original.key_mode.value,
        ),
    )
    copy.rerun_of_id = original.id  # type: ignore[attr-defined]
    await copy.save(update_fields=["rerun_of_id"])
    # The documents come along (same stored blobs); the agency may upload a new version.
    for doc in await TenderDocument.filter(tender_id=original.id).order_by("version"):
        await TenderDocument.create(
            tender=copy, version=doc.version, filename=doc.filename,
            content_type=doc.content_type, sha256=doc.sha256, size=doc.size, note=doc.note,
            uploaded_at=ctx.clock.now(),
        )
    return copy
