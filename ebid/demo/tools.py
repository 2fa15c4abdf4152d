"""What the stories act with: the generated PDF files, ``Run`` (one tender as its story goes)
and ``Demo`` (the context, the clock and the actors, with the time arithmetic the stories share
and one method per act, each calling the service a user's click would call)."""

from __future__ import annotations

import io
import zlib
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from starlette.datastructures import Headers, UploadFile

from bidding import rules as statute
from bidding import services as bidding
from bidding.models import Bid, Registration, Tender, TenderDocument
from bidding.services import rooms as room_services
from ebid.demo.data import (
    ADMIN,
    AGENCY,
    AGENCY_ORG,
    AUTHORITY_ORG,
    BIDDER_BY_NAME,
    BIDDER_PASSWORD,
    BIDDERS,
    ROOMS,
    RULES,
    SUPERVISOR,
    TenderSpec,
)
from kernel.accounts import creditcode
from kernel.accounts import services as accounts
from kernel.accounts.actor import Actor
from kernel.accounts.models import OrgKind, Role
from kernel.calendar import at_local_time, local_date
from kernel.clock import FixedClock
from kernel.context import Context

# --- generated files -------------------------------------------------------------------------


def _pdf(title: str, lines: Iterable[str], *, author: str, at: datetime) -> bytes:
    """A one-page PDF in Adobe's STSong-Light, a CJK font every PDF reader supplies itself."""

    def text(value: str) -> str:
        return "<" + value.encode("utf-16-be").hex().upper() + ">"

    wrapped = [line[i:i + 40] for line in lines for i in range(0, max(len(line), 1), 40)]
    ops = ["BT", "/F1 16 Tf", "56 780 Td", f"{text(title)} Tj", "/F1 11 Tf", "18 TL", "T* T*"]
    ops += [f"{text(line)} Tj T*" for line in wrapped[:36]]
    stream = "\n".join([*ops, "ET"]).encode("ascii")
    stamp = at.strftime("D:%Y%m%d%H%M%SZ")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H "
        b"/DescendantFonts [6 0 R] >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light /CIDSystemInfo "
        b"<< /Registry (Adobe) /Ordering (GB1) /Supplement 2 >> /FontDescriptor 7 0 R >>",
        b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [-25 -254 1000 880]"
        b" /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>",
        f"<< /Title <FEFF{title.encode('utf-16-be').hex().upper()}> "
        f"/Author <FEFF{author.encode('utf-16-be').hex().upper()}> "
        f"/Creator (ebid demo) /CreationDate ({stamp}) >>".encode("ascii"),
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, len(objects), xref)
    return bytes(out)


def _upload(filename: str, data: bytes, content_type: str = "application/pdf") -> UploadFile:
    return UploadFile(file=io.BytesIO(data), filename=filename, size=len(data),
                      headers=Headers({"content-type": content_type}))


def _yuan(amount: Decimal | int) -> str:
    return f"¥{amount:,.2f}"


# --- the story's tools -----------------------------------------------------------------------

Steps = AsyncIterator[datetime]


@dataclass
class Run:
    """One tender as its story goes: what the later steps need of the earlier ones."""

    spec: TenderSpec
    tender: Tender = field(init=False)
    regs: dict[str, Registration] = field(default_factory=dict)
    bids: dict[tuple[str, int], Bid] = field(default_factory=dict)
    ranked: dict[int, list[str]] = field(default_factory=dict)  # lot -> bidders, best first


class Demo:
    """The context, the clock and the actors, with the time arithmetic the stories share."""

    def __init__(self, ctx: Context, clock: FixedClock, now: datetime) -> None:
        self.ctx, self.clock, self.now = ctx, clock, now
        self.today = local_date(now, ctx.tz)
        self.actors: dict[str, Actor] = {}
        self.room_ids: list[int] = []

    # -- time: official acts on working days, found backwards from what must follow them ----

    def at(self, day: date, hhmm: str) -> datetime:
        hour, minute = map(int, hhmm.split(":"))
        return at_local_time(day, hour, minute, self.ctx.tz)

    def day(self, instant: datetime) -> date:
        return local_date(instant, self.ctx.tz)

    def workday_back(self, day: date) -> date:
        while not self.ctx.calendar.is_working_day(day):
            day -= timedelta(days=1)
        return day

    def ago(self, days: int, hhmm: str) -> datetime:
        """The working day on or before ``days`` ago."""
        return self.at(self.workday_back(self.today - timedelta(days=days)), hhmm)

    def ahead(self, days: int, hhmm: str) -> datetime:
        """The working day on or after ``days`` from today."""
        return self.at(self.ctx.calendar.next_working_day(self.today + timedelta(days=days)), hhmm)

    def before(self, instant: datetime, days: int, hhmm: str) -> datetime:
        return self.at(self.workday_back(self.day(instant) - timedelta(days=days)), hhmm)

    def after(self, instant: datetime, days: int, hhmm: str) -> datetime:
        day = self.ctx.calendar.next_working_day(self.day(instant) + timedelta(days=days))
        return self.at(day, hhmm)

    def publication_for(self, deadline: datetime, slack: int = 2) -> datetime:
        """A publication that leaves the statutory 20 days (and ``slack`` more) to ``deadline``."""
        latest = self.ctx.calendar.latest_period_start(
            self.day(deadline), RULES.min_days_issue_to_deadline)
        return self.at(self.workday_back(latest - timedelta(days=slack)), "09:00")

    def deadline_for(self, published: datetime, hhmm: str, not_before: date) -> datetime:
        """The first working day that is 20 days after ``published`` and not before the date."""
        earliest = statute.earliest_deadline(RULES, self.ctx.calendar, published, self.ctx.tz)
        return self.at(self.ctx.calendar.next_working_day(max(earliest, not_before)), hhmm)

    def publicity_for(self, award: datetime) -> datetime:
        """A start of the candidates' publicity whose 3 days are over before ``award``."""
        last = self.ctx.calendar.latest_period_start(
            self.day(award) - timedelta(days=1), RULES.min_publicity_days)
        return self.at(self.workday_back(last), "09:00")

    def period_end(self, instant: datetime, days: int) -> date:
        return self.ctx.calendar.period_end(self.day(instant), days)

    # -- the acts ----------------------------------------------------------------------------

    async def setup(self, at: datetime) -> None:
        """The centre's admin, rooms, the agency and the supervisor; the bidders sign up."""
        ctx = self.ctx
        self.clock.set(at)
        username, password, name = ADMIN
        admin = accounts.actor_for_user(await accounts.create_first_admin(
            ctx, username=username, password=password, display_name=name))
        for room_name, location, capacity in ROOMS:
            self.clock.advance(minutes=5)
            room = await room_services.create_room(
                ctx, actor=admin, name=room_name, location=location, capacity=capacity)
            self.room_ids.append(room.id)
        for kind, fields, (username, password, name), role in (
            (OrgKind.AGENCY, AGENCY_ORG, AGENCY, Role.AGENCY),
            (OrgKind.AUTHORITY, AUTHORITY_ORG, SUPERVISOR, Role.SUPERVISOR),
        ):
            self.clock.advance(minutes=12)
            org = await accounts.create_organization(
                ctx, actor=admin, kind=kind, credit_code=creditcode.make_code(fields["name"]),
                **fields)
            user = await accounts.create_user(
                ctx, actor=admin, username=username, password=password, role=role,
                organization_id=org.id, display_name=name)
            self.actors[username] = accounts.actor_for_user(user)
        for i, company in enumerate(BIDDERS):
            self.clock.set(at + timedelta(hours=1, minutes=47 * i))
            user = await accounts.signup_bidder(
                ctx, name=company.name, credit_code=company.credit_code,
                legal_rep=company.legal_rep, contact_name=company.contact,
                contact_phone=company.phone, email=f"{company.username}@example.com",
                address=company.address, bank_name=company.bank, bank_account=company.account,
                username=company.username, password=BIDDER_PASSWORD)
            self.actors[company.username] = accounts.actor_for_user(user)

    @property
    def agency(self) -> Actor:
        return self.actors[AGENCY[0]]

    async def create(self, run: Run, deadline: datetime) -> None:
        """入场登记 with the tender documents uploaded."""
        spec = run.spec
        run.tender = await bidding.create_tender(
            self.ctx, actor=self.agency,
            data=bidding.TenderIn(
                title=spec.title, category=spec.category.value, method=spec.method.value,
                tenderer_name=spec.tenderer, estimate=Decimal(spec.estimate),
                price_ceiling=Decimal(spec.ceiling), deposit=Decimal(spec.deposit),
                deadline_at=deadline,
                room_id=None if spec.room is None else self.room_ids[spec.room],
                description=spec.description, region=spec.region,
                lots=tuple(bidding.LotIn(title, Decimal(est)) for title, est in spec.lots)))
        await self.upload(run, "招标文件.pdf", [
            "第一章 招标公告", "第二章 投标人须知", "第三章 评标办法（综合评估法）",
            "第四章 合同条款及格式", "第五章 工程量清单 / 采购需求", "第六章 技术标准和要求",
            "第七章 投标文件格式"])

    async def upload(
        self, run: Run, filename: str, chapters: Sequence[str], note: str = ""
    ) -> None:
        tender, spec = run.tender, run.spec
        data = _pdf(f"{spec.title} 招标文件", [
            f"项目编号：{tender.code}", f"招标人：{spec.tenderer}",
            f"招标代理机构：{AGENCY_ORG['name']}", f"估算价：{_yuan(spec.estimate)}",
            f"最高投标限价：{_yuan(spec.ceiling)}", "", *chapters], author=AGENCY[2],
            at=self.clock.now())
        await bidding.upload_document(self.ctx, actor=self.agency, tender_id=tender.id,
                                      upload=_upload(filename, data), note=note)

    async def publish(self, run: Run) -> None:
        run.tender = await bidding.publish(self.ctx, actor=self.agency, tender_id=run.tender.id)

    async def register(self, run: Run, bidder: str) -> None:
        """投标报名, then download the current documents as any bidder does."""
        actor = self.actors[bidder]
        run.regs[bidder] = await bidding.register(self.ctx, actor=actor, tender_id=run.tender.id)
        for doc in await TenderDocument.filter(tender_id=run.tender.id):
            await bidding.download_document(self.ctx, actor=actor, tender_id=run.tender.id,
                                            document_id=doc.id)

    async def bid(self, run: Run, bidder: str, lot: int, discount: str) -> None:
        """A bid ``discount`` per cent below the lot's share of the price ceiling."""
        spec, company = run.spec, BIDDER_BY_NAME[bidder]
        share = Decimal(spec.lot_estimates()[lot]) * spec.ceiling / spec.estimate
        # Real bids are priced item by item and never come out round: a few hundred yuan off.
        odd = Decimal(zlib.crc32(f"{bidder}{spec.title}{lot}".encode()) % 100_000) / 100
        price = (share * (1 - Decimal(discount) / 100) - odd).quantize(
            Decimal("0.01"), ROUND_HALF_UP)
        duration = spec.duration
        data = _pdf(f"{spec.title} 投标文件", [
            f"项目编号：{run.tender.code}    标段：第 {lot} 标段", f"投标人：{company.name}",
            f"法定代表人：{company.legal_rep}", f"投标报价：{_yuan(price)}",
            f"工期（交货期）：{duration} 日历天" if duration else "", f"质量：{spec.quality}",
            f"项目负责人：{company.manager}"], author=company.contact, at=self.clock.now())
        run.bids[bidder, lot] = await bidding.submit_bid(
            self.ctx, actor=self.actors[bidder], tender_id=run.tender.id, lot_number=lot,
            upload=_upload(f"{company.name}-投标文件-第{lot}标段.pdf", data), price=str(price),
            duration_days=str(duration or ""), quality=spec.quality,
            project_manager=company.manager)

    async def deposits(self, run: Run) -> None:
        """After the opening: deposits came in from every bidder who bid, from nobody else."""
        bidders = {name for name, _ in run.bids}
        for name, reg in run.regs.items():
            await bidding.record_deposit(self.ctx, actor=self.agency, tender_id=run.tender.id,
                                         registration_id=reg.id, received=name in bidders)

    async def rank(self, run: Run, lot: int, order: Sequence[tuple[str, str]]) -> None:
        """The committee's ranking of a lot: (bidder, score), best first."""
        run.ranked[lot] = [name for name, _ in order]
        await bidding.enter_ranking(
            self.ctx, actor=self.agency, tender_id=run.tender.id, lot_number=lot,
            ranking=[(run.bids[name, lot].id, Decimal(score)) for name, score in order])

    async def publish_candidates(self, run: Run) -> None:
        run.tender = await bidding.publish_candidates(
            self.ctx, actor=self.agency, tender_id=run.tender.id)

    async def award(self, run: Run) -> None:
        run.tender = await bidding.award(self.ctx, actor=self.agency, tender_id=run.tender.id)

    async def contract(self, run: Run, lot: int, signed_at: datetime) -> None:
        winner = run.bids[run.ranked[lot][0], lot]
        await bidding.register_contract(
            self.ctx, actor=self.agency, tender_id=run.tender.id, lot_number=lot,
            signed_at=signed_at, amount=str(winner.price))

    async def report(self, run: Run, *, contracted: bool = True) -> None:
        """招标投标情况书面报告, written from what happened."""
        tender = await Tender.get(id=run.tender.id)
        lines = [f"{run.spec.tenderer}：{tender.title}（{tender.code}）依法公开进行，"
                 f"于 {self.day(tender.deadline_at)} 开标。"]
        for lot, ranked in sorted(run.ranked.items()):
            winner = run.bids[ranked[0], lot]
            bidders = len([1 for _, n in run.bids if n == lot])
            lines.append(f"第{lot}标段有效投标 {bidders} 家，经评标委员会评审推荐，"
                         f"确定{BIDDER_BY_NAME[ranked[0]].name}为中标人，"
                         f"中标价 {_yuan(winner.price)}。")
        lines.append("中标候选人已依法公示，公示期内无异议。" + (
            "合同已签订。" if contracted else "合同将于中标通知书发出之日起 30 日内签订。")
            + "特此报告。")
        await bidding.file_report(self.ctx, actor=self.agency, tender_id=run.tender.id,
                                  body="\n".join(lines))
