"""The stories: one per tender, each ending in the state the demo shows it in.

Each story is an async generator that yields the instant of its next step and then acts through
``Demo``; ``STORIES`` lists them for the runner, which interleaves their steps in time order."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from bidding import services as bidding
from ebid.demo.data import ADMIN, AGENCY, BIDDER_BY_NAME, SUPERVISOR, TENDERS, TenderSpec
from ebid.demo.tools import Demo, Run, Steps


@dataclass(frozen=True)
class Plan:
    """A tender's official dates, worked out before its story starts."""

    published: datetime
    deadline: datetime
    ranked: datetime | None = None
    publicity: datetime | None = None
    award: datetime | None = None


def plan_back(d: Demo, spec: TenderSpec, *, award: datetime) -> Plan:
    """Backwards from the award: publicity, ranking the day after the opening, publication."""
    publicity = d.publicity_for(award)
    ranked = d.before(publicity, 1, "17:00")
    deadline = d.before(ranked, 1, spec.opens)
    return Plan(d.publication_for(deadline), deadline, ranked, publicity, award)


async def tendering(
    d: Demo,
    run: Run,
    plan: Plan,
    *,
    registered: Sequence[str],
    bids: Sequence[tuple[str, int, str]],
    bids_from: datetime | None = None,
    invited: Sequence[str] = (),
) -> Steps:
    """入场登记 the working day before publication, publication, registrations, bids
    (by default in the last two days before the deadline)."""
    yield d.before(plan.published, 1, "15:00")
    await d.create(run, plan.deadline)
    for name in invited:
        await bidding.invite(d.ctx, actor=d.agency, tender_id=run.tender.id,
                             credit_code=BIDDER_BY_NAME[name].credit_code)
    yield plan.published
    await d.publish(run)
    for i, name in enumerate(registered):
        yield plan.published + timedelta(hours=20 + 7 * i)
        await d.register(run, name)
    start = bids_from or plan.deadline - timedelta(hours=6 * len(bids) + 2)
    for i, (name, lot, discount) in enumerate(bids):
        yield start + timedelta(hours=6 * i)
        await d.bid(run, name, lot, discount)


async def opening(
    d: Demo, run: Run, deadline: datetime, *, no_key: Sequence[str] = (),
    shares: Sequence[str] = (), until: datetime | None = None,
) -> Steps:
    """The decryption window: it starts once the intake grace after the deadline is over
    (the scheduler's advance_due, which _play runs before each step); every bidder but
    ``no_key`` sends its key a few minutes apart, and the ``shares`` officers (usernames)
    submit theirs. Steps after ``until`` are left out (a window still running)."""
    start = deadline + timedelta(seconds=d.ctx.settings.intake_grace_seconds)
    yield start
    acts: list[tuple[timedelta, Callable[[], Awaitable[None]]]] = []
    keyed = [(name, lot) for name, lot in run.bids if name not in no_key]
    for i, (name, lot) in enumerate(keyed):
        acts.append((timedelta(minutes=2 + 3 * i, seconds=17 * i),
                     partial(d.send_key, run, name, lot)))
    for i, officer in enumerate(shares):
        acts.append((timedelta(minutes=4 + 5 * i), partial(d.send_share, run, officer)))
    for offset, act in sorted(acts, key=lambda pair: pair[0]):
        if until is not None and start + offset > until:
            break
        yield start + offset
        await act()


async def evaluating(
    d: Demo, run: Run, plan: Plan, ranking: Mapping[int, Sequence[tuple[str, str]]], *,
    no_key: Sequence[str] = (), shares: Sequence[str] = (),
    objection: tuple[str, str, str] | None = None,
) -> Steps:
    """The opening's decryption window (with an ``objection`` raised there by a bidder and
    answered on the spot: bidder, text, answer), the deposits once it is over (the window
    lasts 30 minutes), then the committee's ranking (if any yet)."""
    async for at in opening(d, run, plan.deadline, no_key=no_key, shares=shares):
        yield at
    if objection is not None:
        name, text, answer = objection
        yield plan.deadline + timedelta(minutes=22)
        raised = await bidding.raise_objection(d.ctx, actor=d.actors[name],
                                               tender_id=run.tender.id, stage="opening",
                                               text=text)
        yield plan.deadline + timedelta(minutes=28)
        await bidding.answer_objection(d.ctx, actor=d.agency, tender_id=run.tender.id,
                                       objection_id=raised.id, answer=answer)
    yield plan.deadline + timedelta(minutes=40)
    await d.deposits(run)
    if plan.ranked is not None:
        yield plan.ranked
        for lot, order in ranking.items():
            await d.rank(run, lot, order)


async def awarding(
    d: Demo, run: Run, plan: Plan, ranking: Mapping[int, Sequence[tuple[str, str]]], *,
    no_key: Sequence[str] = (), shares: Sequence[str] = (),
) -> Steps:
    async for at in evaluating(d, run, plan, ranking, no_key=no_key, shares=shares):
        yield at
    assert plan.publicity is not None and plan.award is not None
    yield plan.publicity
    await d.publish_candidates(run)
    yield plan.award
    await d.award(run)


async def closed_school(d: Demo) -> Steps:
    """Closed: awarded, contract registered, written report filed — the whole way."""
    run = Run(TENDERS["school"])
    filed = d.ago(4, "10:00")
    contracted = d.before(filed, 3, "15:00")
    plan = plan_back(d, run.spec, award=d.before(contracted, 9, "10:00"))
    async for at in tendering(
        d, run, plan, registered=("bidder1", "bidder2", "bidder3", "bidder5"),
        bids=[("bidder3", 1, "2.2"), ("bidder1", 1, "3.1"), ("bidder5", 1, "5.3"),
              ("bidder2", 1, "4.6")],
    ):
        yield at
    ranking = [("bidder2", "94.36"), ("bidder1", "92.80"), ("bidder3", "90.15"),
               ("bidder5", "86.42")]
    async for at in awarding(d, run, plan, {1: ranking}):
        yield at
    yield contracted
    await d.contract(run, 1, signed_at=contracted - timedelta(days=1, hours=5))
    yield filed
    await d.report(run)


async def closed_classroom(d: Demo) -> Steps:
    """Closed too, a government purchase opened online (no room), report before contract."""
    run = Run(TENDERS["classroom"])
    contracted = d.ago(22, "16:00")
    filed = d.before(contracted, 1, "11:00")
    plan = plan_back(d, run.spec, award=d.before(filed, 6, "10:00"))
    async for at in tendering(
        d, run, plan, registered=("bidder4", "bidder6", "bidder5"),
        bids=[("bidder6", 1, "4.1"), ("bidder4", 1, "2.2"), ("bidder5", 1, "3.4")],
    ):
        yield at
    ranking = [("bidder5", "91.20"), ("bidder6", "89.75"), ("bidder4", "88.10")]
    async for at in awarding(d, run, plan, {1: ranking}):
        yield at
    yield filed
    await d.report(run, contracted=False)
    yield contracted
    await d.contract(run, 1, signed_at=contracted - timedelta(hours=6))


async def contracted_roads(d: Demo) -> Steps:
    """Two lots, each with its own winner and contract; the written report is not yet due."""
    run = Run(TENDERS["roads"])
    second = d.ago(1, "15:00")
    first = d.before(second, 3, "10:30")
    plan = plan_back(d, run.spec, award=d.before(first, 7, "10:00"))
    async for at in tendering(
        d, run, plan, registered=("bidder2", "bidder1", "bidder3", "bidder5"),
        bids=[("bidder1", 1, "2.4"), ("bidder2", 1, "3.8"), ("bidder3", 1, "4.1"),
              ("bidder2", 2, "2.7"), ("bidder5", 2, "3.3"), ("bidder1", 2, "5.0")],
    ):
        yield at
    ranking = {1: [("bidder3", "93.10"), ("bidder2", "91.75"), ("bidder1", "89.40")],
               2: [("bidder5", "94.02"), ("bidder1", "90.66"), ("bidder2", "88.93")]}
    async for at in awarding(d, run, plan, ranking):
        yield at
    yield first
    await d.contract(run, 1, signed_at=first - timedelta(days=2))
    yield second
    await d.contract(run, 2, signed_at=second - timedelta(hours=20))


async def awarded_substation(d: Demo) -> Steps:
    """Invited tendering: four firms invited, four register, three bid; award issued."""
    run = Run(TENDERS["substation"])
    plan = plan_back(d, run.spec, award=d.ago(3, "10:00"))
    invited = ("bidder1", "bidder2", "bidder3", "bidder5")
    async for at in tendering(
        d, run, plan, invited=invited, registered=invited,
        bids=[("bidder5", 1, "4.4"), ("bidder1", 1, "3.5"), ("bidder3", 1, "2.8")],
    ):
        yield at
    ranking = [("bidder5", "92.60"), ("bidder1", "90.10"), ("bidder3", "88.70")]
    # bidder3 sends no key; the agency and the supervisor recover its bid with their shares
    async for at in awarding(d, run, plan, {1: ranking}, no_key=("bidder3",),
                             shares=(AGENCY[0], SUPERVISOR[0])):
        yield at


async def publicity_renovation(d: Demo) -> Steps:
    """Candidates in publicity until after today, with an objection raised and answered."""
    run = Run(TENDERS["renovation"])
    publicity = d.ago(1, "09:00")
    ranked = d.before(publicity, 1, "17:00")
    deadline = d.before(ranked, 1, run.spec.opens)
    plan = Plan(d.publication_for(deadline), deadline, ranked, publicity)
    async for at in tendering(
        d, run, plan, registered=("bidder3", "bidder1", "bidder2", "bidder5"),
        bids=[("bidder1", 1, "2.9"), ("bidder2", 1, "3.6"), ("bidder5", 1, "2.1"),
              ("bidder3", 1, "4.8")],
    ):
        yield at
    ranking = [("bidder3", "93.85"), ("bidder2", "92.40"), ("bidder1", "90.05"),
               ("bidder5", "87.70")]
    async for at in evaluating(d, run, plan, {1: ranking}):
        yield at
    yield publicity
    await d.publish_candidates(run)
    yield publicity + timedelta(hours=3, minutes=10)
    objection = await bidding.raise_objection(
        d.ctx, actor=d.actors["bidder1"], tender_id=run.tender.id, stage="candidates",
        text="第一中标候选人拟派项目经理罗成目前仍担任另一在建工程项目经理，"
             "不符合招标文件第二章关于项目经理不得有在建工程的要求，请予核查。")
    yield publicity + timedelta(hours=7)
    await bidding.answer_objection(
        d.ctx, actor=d.agency, tender_id=run.tender.id, objection_id=objection.id,
        answer="经核查，罗成担任项目经理的原在建工程已于投标截止前完成竣工验收并办理变更，"
               "不存在在建工程。异议不成立，维持评标结果。")


async def evaluating_hospital(d: Demo) -> Steps:
    """Opened two days ago, deposits recorded, under evaluation; lot 2 failed (two bids)."""
    run = Run(TENDERS["hospital"])
    deadline = d.ago(2, run.spec.opens)
    plan = Plan(d.publication_for(deadline, slack=4), deadline)
    async for at in tendering(
        d, run, plan, registered=("bidder4", "bidder6", "bidder5"),
        bids=[("bidder4", 1, "2.6"), ("bidder6", 1, "3.9"), ("bidder5", 1, "1.8"),
              ("bidder4", 2, "4.5"), ("bidder6", 2, "3.2")],
    ):
        yield at
    async for at in evaluating(d, run, plan, {}, objection=(
        "bidder5",
        "第2包仅有两家投标人递交投标文件，根据《中华人民共和国政府采购法》相关规定，"
        "请代理机构当场说明第2包是否继续开标评审。",
        "第2包有效投标人不足三家，依法作流标处理，将另行组织采购；"
        "第1包有效投标人三家，继续进行评审。本异议及答复已在开标大厅记录并公示。")):
        yield at


async def failed_property(d: Demo) -> Steps:
    """Two bids, "both keys needed": bidder6 sends no key and loses its bid, so 流标 at the
    opening; the agency re-runs it as a new draft."""
    run = Run(TENDERS["property"])
    deadline = d.ago(16, run.spec.opens)
    plan = Plan(d.publication_for(deadline), deadline)
    async for at in tendering(
        d, run, plan, registered=("bidder4", "bidder5", "bidder6"),
        bids=[("bidder5", 1, "3.0"), ("bidder6", 1, "4.2")],
    ):
        yield at
    async for at in evaluating(d, run, plan, {}, no_key=("bidder6",),
                               shares=(AGENCY[0], ADMIN[0])):
        yield at
    yield d.after(deadline, 2, "10:00")
    rerun = Run(run.spec)
    rerun.tender = await bidding.rerun(d.ctx, actor=d.agency, tender_id=run.tender.id,
                                       deadline_at=d.ahead(28, run.spec.opens))
    yield d.clock.now() + timedelta(hours=1)
    await d.upload(rerun, "招标文件（重新招标）.pdf", [
        "本项目首次招标因投标人不足三家流标，现重新招标。",
        "调整内容：取消物业服务企业资质等级要求；服务期限调整为三年。"],
        note="重新招标：调整资格条件")


async def opening_parking(d: Demo) -> Steps:
    """Opened online minutes ago: the decryption window is still running, two bidders have
    sent their keys, one has not yet. The live server's scheduler ends the window 30 minutes
    after it began (the demo shows it as long as it is built shortly before)."""
    run = Run(TENDERS["parking"])
    deadline = (d.now - timedelta(minutes=8)).replace(second=0, microsecond=0)
    plan = Plan(d.publication_for(deadline), deadline)
    async for at in tendering(
        d, run, plan, registered=("bidder6", "bidder4", "bidder5", "bidder1"),
        bids=[("bidder4", 1, "3.1"), ("bidder6", 1, "2.4"), ("bidder5", 1, "4.3")],
    ):
        yield at
    async for at in opening(d, run, deadline, no_key=("bidder6",), until=d.now):
        yield at


async def open_expressway(d: Demo) -> Steps:
    """Open for bids: a bidder's question answered by a clarification; two sealed bids."""
    run = Run(TENDERS["expressway"])
    clarified = d.ago(3, "16:00")
    published = d.before(clarified, 8, "09:00")
    # The clarification must leave 15 days before the deadline, or the deadline would move.
    deadline = d.deadline_for(published, run.spec.opens, d.period_end(clarified, 15))
    plan = Plan(published, deadline)
    async for at in tendering(d, run, plan, registered=("bidder1", "bidder2", "bidder3", "bidder5"),
                              bids=()):
        yield at
    yield clarified - timedelta(days=1, hours=2)
    question = await bidding.ask_question(
        d.ctx, actor=d.actors["bidder2"], tender_id=run.tender.id,
        text="工程量清单中桥梁桩基的混凝土强度等级为 C30，而施工图为 C35，以哪一个为准？")
    yield clarified
    await bidding.clarify(
        d.ctx, actor=d.agency, tender_id=run.tender.id, answers=[question.id],
        body="关于桥梁桩基混凝土强度等级：以施工图 C35 为准，工程量清单相应修正，"
             "最高投标限价不变。")
    for i, (name, discount) in enumerate((("bidder3", "3.7"), ("bidder1", "2.5"))):
        yield clarified + timedelta(hours=18 + 5 * i)
        await d.bid(run, name, 1, discount)


async def open_maintenance(d: Demo) -> Steps:
    """Open for bids, its deadline postponed by the agency a day ago."""
    run = Run(TENDERS["maintenance"])
    published = d.ago(14, "09:00")
    deadline = d.deadline_for(published, run.spec.opens, d.today + timedelta(days=2))
    async for at in tendering(
        d, run, Plan(published, deadline), registered=("bidder4", "bidder5", "bidder6"),
        bids=[("bidder5", 1, "2.3")], bids_from=published + timedelta(days=4),
    ):
        yield at
    yield d.ago(1, "11:00")
    await bidding.postpone(
        d.ctx, actor=d.agency, tender_id=run.tender.id,
        new_deadline=d.after(deadline, 14, run.spec.opens),
        reason="招标人需补充核实部分路段机电设备清单，投标截止及开标时间相应顺延。")


async def open_mine(d: Demo) -> Steps:
    """Open for bids: one bid replaced by a later version, one withdrawn."""
    run = Run(TENDERS["mine"])
    published = d.ago(6, "09:00")
    deadline = d.deadline_for(published, run.spec.opens, d.today + timedelta(days=17))
    async for at in tendering(
        d, run, Plan(published, deadline), registered=("bidder2", "bidder1", "bidder3"),
        bids=[("bidder2", 1, "2.0"), ("bidder1", 1, "3.3"), ("bidder2", 1, "2.8")],
        bids_from=published + timedelta(days=3),
    ):
        yield at
    yield d.clock.now() + timedelta(hours=2)
    await bidding.withdraw_bid(d.ctx, actor=d.actors["bidder1"], tender_id=run.tender.id,
                               bid_id=run.bids["bidder1", 1].id)


async def suspended_farmland(d: Demo) -> Steps:
    """Suspended: a bidder objected to the documents; the answer is due within 3 days."""
    run = Run(TENDERS["farmland"])
    published = d.ago(7, "09:00")
    objected = d.at(d.today - timedelta(days=1), "16:20")
    # An objection to the documents needs 10 days before the deadline.
    deadline = d.deadline_for(published, run.spec.opens, d.period_end(objected, 10))
    async for at in tendering(d, run, Plan(published, deadline),
                              registered=("bidder1", "bidder3"), bids=()):
        yield at
    yield objected
    await bidding.raise_objection(
        d.ctx, actor=d.actors["bidder2"], tender_id=run.tender.id, stage="documents",
        text="招标文件第三章评标办法将“近三年在贵阳市完成同类项目业绩”作为加分条件，"
             "属于以特定行政区域的业绩作为加分条件，违反《招标投标法实施条例》第三十二条，"
             "请予修改。")


async def draft_drainage(d: Demo) -> Steps:
    """A draft: registered yesterday with its documents, not yet published."""
    run = Run(TENDERS["drainage"])
    yield d.ago(1, "15:30")
    await d.create(run, d.ahead(35, run.spec.opens))


STORIES: tuple[Callable[[Demo], Steps], ...] = (
    closed_school, closed_classroom, contracted_roads, awarded_substation,
    publicity_renovation, evaluating_hospital, failed_property, opening_parking, open_expressway,
    open_maintenance, open_mine, suspended_farmland, draft_drainage,
)
