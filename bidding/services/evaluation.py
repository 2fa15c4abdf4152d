"""After the opening to the archive: record deposits, enter the ranking, publish the
candidates, answer objections, award, register the contract, file the written report. The
opening itself is bidding.services.opening."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from tortoise.transactions import in_transaction

from bidding import rules as statute
from bidding import states
from bidding.exceptions import (
    InvalidInput,
    ObjectionsPending,
    RankingIncomplete,
    TooEarly,
)
from bidding.models import (
    Award,
    Bid,
    BidStatus,
    DepositStatus,
    Lot,
    Notice,
    NoticeKind,
    Objection,
    ObjectionStage,
    Ranking,
    Registration,
    Tender,
    TenderStatus,
    WrittenReport,
)
from bidding.services.common import (
    audit,
    local,
    local_end,
    lock_tender,
    require_agency,
    rules_of,
    transition,
)
from kernel.accounts import services as accounts
from kernel.accounts.actor import Actor
from kernel.context import Context

MAX_CANDIDATES = 3


async def record_deposit(
    ctx: Context, *, actor: Actor, tender_id: int, registration_id: int, received: bool
) -> Registration:
    """Record a bidder's deposit as received or not (manual until the deposit module exists).
    Only after the opening: before it, the agency may not know who registered."""
    async with in_transaction():
        tender = await lock_tender(tender_id)
        require_agency(actor, tender)
        states.check_allowed(tender.status, "record_deposit")
        reg = await Registration.filter(id=registration_id, tender_id=tender_id).first()
        if reg is None:
            raise InvalidInput("registration", "no such registration", "报名记录不存在")
        before = {"deposit_status": reg.deposit_status.value}
        reg.deposit_status = DepositStatus.RECEIVED if received else DepositStatus.NOT_RECEIVED
        reg.deposit_recorded_at = ctx.clock.now()
        await reg.save(update_fields=["deposit_status", "deposit_recorded_at"])
        await audit(
            ctx, actor=actor, action="bidding:deposit:recorded", tender_id=tender_id,
            object_type="registration", object_id=reg.id, before=before,
            after={"deposit_status": reg.deposit_status.value},
        )
    return reg


async def enter_ranking(
    ctx: Context,
    *,
    actor: Actor,
    tender_id: int,
    lot_number: int,
    ranking: list[tuple[int, Decimal | None]],
) -> list[Ranking]:
    """Enter the evaluation committee's ranking of a lot: [(bid_id, score)] best first."""
    async with in_transaction():
        tender = await lock_tender(tender_id)
        require_agency(actor, tender)
        states.check_allowed(tender.status, "enter_ranking")
        lot = await Lot.get_or_none(tender_id=tender_id, number=lot_number)
        if lot is None or lot.failed:
            raise InvalidInput("lot", "no such lot, or it failed", "标段不存在或已流标")
        valid_ids = set(
            await Bid.filter(
                lot_id=lot.id, status=BidStatus.SUBMITTED, price__lte=tender.price_ceiling
            ).values_list("id", flat=True)
        )
        ids = [bid_id for bid_id, _ in ranking]
        if not ids:
            raise InvalidInput("ranking", "rank at least one bid", "请至少排定一名投标人")
        if len(set(ids)) != len(ids) or not set(ids) <= valid_ids:
            raise InvalidInput("ranking", "rank each valid bid of this lot at most once",
                               "排名只能包含本标段的有效投标，且每家只能出现一次")
        await Ranking.filter(lot_id=lot.id).delete()
        now = ctx.clock.now()
        entries = [
            await Ranking.create(lot=lot, bid_id=bid_id, rank=i, score=score, entered_at=now)
            for i, (bid_id, score) in enumerate(ranking, start=1)
        ]
        tender.evaluated_at = now
        await tender.save(update_fields=["evaluated_at"])
        await audit(
            ctx, actor=actor, action="bidding:ranking:entered", tender_id=tender_id,
            object_type="lot", object_id=lot.id,
            after={"ranking": [[b, str(s) if s is not None else None] for b, s in ranking]},
        )
    return entries


def parse_score(value: str) -> Decimal | None:
    if not value.strip():
        return None
    try:
        score = Decimal(value.strip())
    except InvalidOperation:
        raise InvalidInput("score", "must be a number", "评分须为数字") from None
    if not score.is_finite() or not 0 <= score <= 1000:
        raise InvalidInput("score", "must be between 0 and 1000", "评分须在 0 至 1000 之间")
    return score


async def publish_candidates(ctx: Context, *, actor: Actor, tender_id: int) -> Tender:
    """Publish the candidates (中标候选人公示) for at least the statutory period."""
    now = ctx.clock.now()
    async with in_transaction():
        tender = await lock_tender(tender_id)
        require_agency(actor, tender)
        lots = await Lot.filter(tender_id=tender_id, failed=False).order_by("number")
        lines = [f"项目编号：{tender.code}", f"招标人：{tender.tenderer_name}"]
        for lot in lots:
            ranks = await Ranking.filter(lot_id=lot.id).order_by("rank").prefetch_related("bid")
            if not ranks:
                states.target(tender.status, "publish_candidates")
                raise RankingIncomplete(lot=lot.title)
            orgs = await accounts.organizations_by_ids({r.bid.organization_id for r in ranks})
            lines.append(f"第{lot.number}标段 {lot.title}：")
            for r in ranks[:MAX_CANDIDATES]:
                org = orgs[r.bid.organization_id]
                lines.append(f"  第{r.rank}名：{org.name}  投标报价 ¥{r.bid.price:,.2f}"
                             + (f"  评分 {r.score}" if r.score is not None else ""))
        ends = statute.publicity_ends_at(rules_of(tender), ctx.calendar, now, ctx.tz)
        lines.append(f"公示期：{local(ctx, now)} 至 {local_end(ctx, ends)}。"
                     "投标人或者其他利害关系人对评标结果有异议的，应当在公示期间提出。")
        await transition(
            ctx, tender, "publish_candidates", actor=actor,
            changes={"publicity_starts_at": now, "publicity_ends_at": ends},
        )
        await Notice.create(
            tender=tender, kind=NoticeKind.CANDIDATES, published_at=now,
            title=f"{tender.title} 中标候选人公示", body="\n".join(lines),
        )
    return tender


async def answer_objection(
    ctx: Context, *, actor: Actor, tender_id: int, objection_id: int, answer: str
) -> Objection:
    """Answer an objection. Answering the last objection to the documents resumes the
    tender; the answer is published as a clarification, so the 15-day rule applies to it."""
    from bidding.services.tenders import _publish_clarification

    answer = answer.strip()
    if not answer:
        raise InvalidInput("answer", "the answer is empty", "答复内容不能为空")
    async with in_transaction():
        tender = await lock_tender(tender_id)
        require_agency(actor, tender)
        objection = await Objection.filter(id=objection_id, tender_id=tender_id).first()
        if objection is None or objection.answered_at is not None:
            raise InvalidInput("objection", "no such unanswered objection", "异议不存在或已答复")
        objection.answer = answer
        objection.answered_at = ctx.clock.now()
        await objection.save(update_fields=["answer", "answered_at"])
        await audit(
            ctx, actor=actor, action="bidding:objection:answered", tender_id=tender_id,
            object_type="objection", object_id=objection.id, after={"answer": answer},
        )
        await accounts.notify(
            ctx, organization_ids=[objection.organization_id],
            title=f"【异议答复】{tender.title}", body=answer, link=f"/tenders/{tender.id}",
        )
        if objection.stage == ObjectionStage.DOCUMENTS:
            await _publish_clarification(
                ctx, tender, actor=actor, body=f"关于招标文件异议的答复：\n{answer}"
            )
            pending = await Objection.filter(
                tender_id=tender_id, stage=ObjectionStage.DOCUMENTS, answered_at=None
            ).exists()
            if tender.status == TenderStatus.SUSPENDED and not pending:
                await transition(ctx, tender, "resume", actor=actor)
    return objection


async def award(
    ctx: Context, *, actor: Actor, tender_id: int, winners: dict[int, int] | None = None
) -> Tender:
    """Issue the award notice (中标通知书) after the publicity, with no objection unanswered.
    ``winners`` maps lot number to bid id; by default the first-ranked candidate."""
    now = ctx.clock.now()
    async with in_transaction():
        tender = await lock_tender(tender_id)
        require_agency(actor, tender)
        states.target(tender.status, "award")
        if tender.publicity_ends_at:
            statute.check_publicity_over(tender.publicity_ends_at, now, ctx.tz)
        if await Objection.filter(tender_id=tender_id, answered_at=None).exists():
            raise ObjectionsPending()
        lots = await Lot.filter(tender_id=tender_id, failed=False).order_by("number")
        lines = [f"项目编号：{tender.code}", f"招标人：{tender.tenderer_name}"]
        for lot in lots:
            ranks = await Ranking.filter(lot_id=lot.id).order_by("rank").prefetch_related("bid")
            candidates = {r.bid_id: r for r in ranks[:MAX_CANDIDATES]}  # type: ignore[attr-defined]
            chosen = (winners or {}).get(lot.number) or (ranks[0].bid_id if ranks else None)  # type: ignore[attr-defined]
            if chosen not in candidates:
                raise InvalidInput("winner", "the winner must be one of the published "
                                   "candidates", "中标人须为公示的中标候选人之一")
            bid = candidates[chosen].bid
            await Award.create(lot=lot, bid=bid, notice_at=now)
            org = (await accounts.organizations_by_ids({bid.organization_id}))[bid.organization_id]
            contract_due = statute.contract_due_at(rules_of(tender), ctx.calendar, now, ctx.tz)
            lines.append(f"第{lot.number}标段 {lot.title}：中标人 {org.name}，"
                         f"中标价 ¥{bid.price:,.2f}")
            await accounts.notify(
                ctx, organization_ids=[bid.organization_id], title=f"【中标通知书】{tender.title}",
                body=f"贵单位为 {tender.title} 第{lot.number}标段中标人，中标价 ¥{bid.price:,.2f}。"
                     f"请于 {local_end(ctx, contract_due)} 前签订书面合同。",
                link=f"/tenders/{tender.id}",
            )
        report_due = statute.report_due_at(rules_of(tender), ctx.calendar, now, ctx.tz)
        await transition(
            ctx, tender, "award", actor=actor,
            changes={"awarded_at": now, "report_due_at": report_due},
        )
        await Notice.create(
            tender=tender, kind=NoticeKind.AWARD, published_at=now,
            title=f"{tender.title} 中标结果公告", body="\n".join(lines),
        )
    return tender


async def register_contract(
    ctx: Context,
    *,
    actor: Actor,
    tender_id: int,
    lot_number: int,
    signed_at: datetime,
    amount: str,
) -> Award:
    """Register the signed contract of a lot; when every lot has one the tender moves on."""
    try:
        value = Decimal(amount.replace(",", "").strip()).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise InvalidInput(
            "amount", "must be an amount in yuan", "合同金额须为金额（元）"
        ) from None
    if not value.is_finite() or value <= 0:
        raise InvalidInput("amount", "must be positive", "合同金额须大于零")
    now = ctx.clock.now()
    async with in_transaction():
        tender = await lock_tender(tender_id)
        require_agency(actor, tender)
        if tender.status != TenderStatus.AWARDED:
            states.target(tender.status, "register_contract")
        award = await Award.filter(lot__tender_id=tender_id, lot__number=lot_number).first()
        if award is None:
            raise InvalidInput("lot", "this lot has no award", "该标段尚未定标")
        if award.contract_registered_at is not None:
            raise InvalidInput("lot", "the contract is already registered", "该标段合同已登记")
        if signed_at.tzinfo is None or signed_at > now or signed_at < award.notice_at:
            raise InvalidInput("signed_at", "must be between the award notice and now",
                               "签订日期须在中标通知书发出之后、当前时间之前")
        award.contract_signed_at = signed_at
        award.contract_amount = value
        award.contract_registered_at = now
        await award.save()
        late = signed_at > statute.contract_due_at(
            rules_of(tender), ctx.calendar, award.notice_at, ctx.tz
        )
        await audit(
            ctx, actor=actor, action="bidding:contract:registered", tender_id=tender_id,
            object_type="award", object_id=award.id,
            after={"lot": lot_number, "amount": str(value), "signed_at": signed_at.isoformat(),
                   "late": late},
        )
        missing = await Award.filter(
            lot__tender_id=tender_id, contract_registered_at=None
        ).exists()
        if not missing:
            await transition(ctx, tender, "register_contract", actor=actor)
            await _close_if_done(ctx, tender, actor)
    return award


async def file_report(ctx: Context, *, actor: Actor, tender_id: int, body: str) -> WrittenReport:
    """File the written report to the supervising authority (due 15 days after the award)."""
    body = body.strip()
    if len(body) < 20:
        raise InvalidInput("body", "the report needs at least 20 characters",
                           "书面报告至少 20 个字符")
    async with in_transaction():
        tender = await lock_tender(tender_id)
        require_agency(actor, tender)
        states.check_allowed(tender.status, "file_report")
        if await WrittenReport.filter(tender_id=tender_id).exists():
            raise InvalidInput("report", "the report is already filed", "书面报告已备案")
        report = await WrittenReport.create(tender=tender, body=body, filed_at=ctx.clock.now())
        await audit(
            ctx, actor=actor, action="bidding:report:filed", tender_id=tender_id,
            object_type="report", object_id=report.id,
            after={"late": bool(tender.report_due_at and ctx.clock.now() > tender.report_due_at)},
        )
        await _close_if_done(ctx, tender, actor)
    return report


async def _close_if_done(ctx: Context, tender: Tender, actor: Actor) -> None:
    if tender.status == TenderStatus.CONTRACTED and await WrittenReport.filter(
        tender_id=tender.id
    ).exists():
        await transition(ctx, tender, "close", actor=actor, changes={"closed_at": ctx.clock.now()})


__all__ = ["TooEarly"]
