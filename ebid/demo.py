"""Demo data: two months of a provincial trading centre, replayed through the platform's services.

Why replay instead of inserting rows. Everything the demo leaves behind is made by the service
function a user's click would call, under a FixedClock moved forward through the story: every
statutory check runs, the audit trail is the real one (``ebid audit verify`` says OK), and a
demo that stops building points at a service whose behaviour changed.

Why the dates are computed. The story ends at the real current time, so its dates move with the
day it is built. Official acts (publication, opening, award) fall on working days of the centre's
calendar, and each is worked out backwards from the act that must follow it, so every statutory
period fits whatever public holidays lie in between. Bidders act online, at any hour.

A story is an async generator per tender: it yields the instant of its next step, and
:func:`_play` runs the steps of all stories in time order, letting the scheduler's own code
(``advance_due``) open whatever is due before each one, as it would on a live server.
"""

from __future__ import annotations

import heapq
import io
import shutil
import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import anyio.to_thread
from starlette.datastructures import Headers, UploadFile
from tortoise import connections

from bidding import rules as statute
from bidding import services as bidding
from bidding.models import Bid, Category, Method, Registration, Tender, TenderDocument
from bidding.services import rooms as room_services
from ebid import jobs
from ebid.app import build_context
from ebid.config import tortoise_config
from ebid.migrate import migrate
from kernel import db
from kernel.accounts import creditcode
from kernel.accounts import services as accounts
from kernel.accounts.actor import Actor
from kernel.accounts.models import OrgKind, Role, User
from kernel.calendar import at_local_time, local_date
from kernel.clock import FixedClock, SystemClock
from kernel.context import Context
from kernel.settings import Settings

# --- who -------------------------------------------------------------------------------------

# Printed by `ebid demo` for anyone to log in with: demo data only.
ADMIN = ("admin", "Zhongxin#2026", "交易中心系统管理员")
AGENCY = ("daili", "Zhaobiao#2026", "罗晓梅")
SUPERVISOR = ("jiandu", "Jianguan#2026", "周建华")
BIDDER_PASSWORD = "Toubiao#2026"  # noqa: S105 - the demo prints it


@dataclass(frozen=True)
class Company:
    username: str
    name: str
    legal_rep: str
    contact: str
    phone: str
    address: str
    bank: str
    account: str
    manager: str  # the project manager named in its bids

    @property
    def credit_code(self) -> str:
        return creditcode.make_code(f"ebid-demo:{self.name}")


# Fictitious firms. 1-3 build, 5 builds and supplies IT, 4 and 6 supply equipment and services.
BIDDERS = (
    Company("bidder1", "贵州黔筑建设工程有限公司", "王建国", "李明", "13885100101",
            "贵州省贵阳市观山湖区长岭北路 55 号", "中国建设银行贵阳观山湖支行",
            "52050110360000001021", "赵志刚"),
    Company("bidder2", "贵州筑城路桥工程有限公司", "李志强", "何静", "13985100202",
            "贵州省贵阳市南明区花果园大街 18 号", "中国工商银行贵阳南明支行",
            "2402002109200061577", "孙海涛"),
    Company("bidder3", "遵义播州建工集团有限公司", "张伟", "冯丽", "13708520303",
            "贵州省遵义市播州区南白街道播州大道 96 号", "中国农业银行遵义播州支行",
            "23410101040008866", "罗成"),
    Company("bidder4", "贵州汇川机电设备有限公司", "陈红梅", "吴刚", "0851-28661404",
            "贵州省遵义市汇川区上海路 120 号", "贵州银行遵义汇川支行",
            "0101001300004410", "陈俊"),
    Company("bidder5", "贵州黔云智能建设科技有限公司", "杨光明", "田甜", "13608510505",
            "贵州省贵阳市云岩区中华北路 208 号", "贵阳银行云岩支行",
            "11010120030001785", "杨帆"),
    Company("bidder6", "贵州博识科教设备有限公司", "刘芳", "郑凯", "0851-85506606",
            "贵州省遵义市红花岗区中华南路 66 号", "交通银行遵义分行",
            "525000100018150006660", "刘洋"),
)
BIDDER_BY_NAME = {company.username: company for company in BIDDERS}

AGENCY_ORG = dict(
    name="贵州黔信招标代理有限公司", legal_rep="蒋文华", contact_name="罗晓梅",
    contact_phone="0851-86801234", email="daili@example.com",
    address="贵州省贵阳市观山湖区林城西路 95 号", bank_name="中国银行贵阳观山湖支行",
    bank_account="133251001234",
)
# A real supervising authority: its name only, no invented particulars.
AUTHORITY_ORG = dict(name="贵州省发展和改革委员会", contact_name="周建华")


def logins() -> list[tuple[str, str, str]]:
    """(role, username, password) of every demo login."""
    return [
        ("admin", ADMIN[0], ADMIN[1]),
        ("agency", AGENCY[0], AGENCY[1]),
        ("supervisor", SUPERVISOR[0], SUPERVISOR[1]),
        *[("bidder", company.username, BIDDER_PASSWORD) for company in BIDDERS],
    ]


# --- where and what --------------------------------------------------------------------------

ROOMS = (
    ("第一开标室", "贵州省公共资源交易中心 3 楼 301", 60),
    ("第二开标室", "贵州省公共资源交易中心 3 楼 305", 40),
    ("第三开标室", "贵州省公共资源交易中心 4 楼 402（远程异地评标）", 30),
)


@dataclass(frozen=True)
class TenderSpec:
    title: str
    category: Category
    method: Method
    tenderer: str
    region: str
    estimate: int  # 估算价, yuan
    ceiling: int  # 最高投标限价
    deposit: int  # 投标保证金, at most 2 % of the estimate
    # Opening room (index into ROOMS; None: 不见面开标, opened online) and its local time.
    # Within the past openings and within the future ones no two share a (room, time):
    # the dates move with the day the demo is built, so only that rules out a double booking.
    room: int | None
    opens: str
    lots: tuple[tuple[str, int], ...] = ()
    duration: int = 0  # 工期 or delivery, days
    quality: str = "合格"
    description: str = ""

    def lot_estimates(self) -> dict[int, int]:
        return {n: est for n, (_, est) in enumerate(self.lots, 1)} or {1: self.estimate}


ENG, GOV, ASSETS, LAND = (Category.ENGINEERING, Category.GOVERNMENT_PROCUREMENT,
                          Category.STATE_ASSETS, Category.LAND_MINING)
OPEN, INVITED = Method.OPEN, Method.INVITED

TENDERS = {
    "school": TenderSpec(
        "遵义市汇川区第五中学教学综合楼新建工程施工", ENG, OPEN, "遵义市汇川区教育局",
        "遵义市汇川区", 38_600_000, 37_450_000, 500_000, 0, "09:00", duration=540,
        description="建筑面积约 2.6 万平方米，框架结构，地上六层。"
                    "资质要求：建筑工程施工总承包二级及以上。"),
    "classroom": TenderSpec(
        "贵阳市中小学智慧教室设备采购项目", GOV, OPEN, "贵阳市教育局", "贵阳市",
        6_450_000, 6_450_000, 64_500, None, "10:00", duration=45, quality="整机质保 3 年",
        description="交互式智能平板 420 台及配套录播系统 12 套，供货至贵阳市 38 所中小学。"),
    "roads": TenderSpec(
        "贵阳市观山湖区金阳南路等道路提质改造工程", ENG, OPEN,
        "贵阳市观山湖区住房和城乡建设局", "贵阳市观山湖区", 36_550_000, 35_800_000, 600_000,
        1, "09:00", lots=(("第1标段：道路及排水工程", 26_800_000),
                          ("第2标段：交通安全设施及照明工程", 9_750_000)),
        duration=365, description="改造道路 6.8 公里，含路面、排水、交通安全设施及照明。"),
    "substation": TenderSpec(
        "遵义新蒲 110kV 变电站配套土建工程（邀请招标）", ENG, INVITED,
        "遵义市新蒲新区城市建设投资有限公司", "遵义市新蒲新区", 4_850_000, 4_720_000, 90_000,
        2, "09:00", duration=180,
        description="技术复杂、有特殊要求，经批准邀请四家具备相应资质的单位投标。"),
    "renovation": TenderSpec(
        "贵阳市南明区 2026 年老旧小区改造工程（第二批）", ENG, OPEN,
        "贵阳市南明区住房和城乡建设局", "贵阳市南明区", 17_900_000, 17_380_000, 300_000,
        0, "14:30", duration=240, description="涉及 14 个小区，改造外立面、管网、道路及停车设施。"),
    "hospital": TenderSpec(
        "遵义市第一人民医院医疗设备采购项目", GOV, OPEN, "遵义市第一人民医院", "遵义市",
        11_600_000, 11_600_000, 116_000, 1, "14:30", duration=60, quality="原厂质保 3 年",
        lots=(("第1包：64 排螺旋 CT 1 台", 8_200_000),
              ("第2包：数字化 X 射线摄影系统（DR）2 台", 3_400_000))),
    "property": TenderSpec(
        "贵州筑金国有资本运营有限公司办公大楼物业管理服务采购（三年）", ASSETS, OPEN,
        "贵州筑金国有资本运营有限公司", "贵阳市观山湖区", 2_360_000, 2_300_000, 40_000,
        2, "14:30", duration=1095, quality="达到省级物业管理示范项目标准"),
    "expressway": TenderSpec(
        "遵义市新蒲新区湘江大道北延伸段道路工程施工", ENG, OPEN,
        "遵义市新蒲新区城市建设投资有限公司", "遵义市新蒲新区", 52_300_000, 50_980_000,
        800_000, 0, "09:00", duration=720,
        description="城市主干道，全长 3.2 公里，含桥梁 1 座。"
                    "资质要求：市政公用工程施工总承包一级。"),
    "maintenance": TenderSpec(
        "贵州省高速公路机电系统运维服务采购项目（2027 年度）", GOV, OPEN,
        "贵州省交通运输厅", "贵州省", 3_980_000, 3_900_000, 39_000, 0, "14:30",
        duration=365, quality="故障响应不超过 2 小时"),
    "mine": TenderSpec(
        "息烽县废弃露天矿山生态修复治理工程", LAND, OPEN, "息烽县自然资源局",
        "贵阳市息烽县", 12_600_000, 12_240_000, 240_000, 1, "09:00", duration=300,
        description="修复废弃矿山 11 处，治理面积约 46 公顷。"),
    "farmland": TenderSpec(
        "花溪区 2026 年高标准农田建设项目（青岩片区）施工", LAND, OPEN,
        "贵阳市花溪区农业农村局", "贵阳市花溪区", 8_750_000, 8_520_000, 170_000, 1, "14:30",
        duration=210, description="建设高标准农田 5,200 亩，含土地平整、灌溉排水及田间道路。"),
    "drainage": TenderSpec(
        "遵义市红花岗区城市排水防涝设施建设工程（一期）", ENG, OPEN,
        "遵义市红花岗区住房和城乡建设局", "遵义市红花岗区", 23_400_000, 22_760_000,
        450_000, 2, "09:00", duration=450),
}


# Open and invited tenders share every statutory period (bidding.rules).
RULES = statute.rules_for(Method.OPEN.value)


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


# --- the stories: one per tender, each ending in the state the demo shows it in --------------


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


async def evaluating(
    d: Demo, run: Run, plan: Plan, ranking: Mapping[int, Sequence[tuple[str, str]]]
) -> Steps:
    """The opening at the deadline, the deposits, then the committee's ranking (if any yet)."""
    yield plan.deadline  # _play runs the scheduler first: it opens the tender on the dot
    yield plan.deadline + timedelta(minutes=40)
    await d.deposits(run)
    if plan.ranked is not None:
        yield plan.ranked
        for lot, order in ranking.items():
            await d.rank(run, lot, order)


async def awarding(
    d: Demo, run: Run, plan: Plan, ranking: Mapping[int, Sequence[tuple[str, str]]]
) -> Steps:
    async for at in evaluating(d, run, plan, ranking):
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
    async for at in awarding(d, run, plan, {1: ranking}):
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
    async for at in evaluating(d, run, plan, {}):
        yield at


async def failed_property(d: Demo) -> Steps:
    """Two bids: 流标 at the opening; the agency re-runs it as a new draft."""
    run = Run(TENDERS["property"])
    deadline = d.ago(16, run.spec.opens)
    plan = Plan(d.publication_for(deadline), deadline)
    async for at in tendering(
        d, run, plan, registered=("bidder4", "bidder5", "bidder6"),
        bids=[("bidder5", 1, "3.0"), ("bidder6", 1, "4.2")],
    ):
        yield at
    async for at in evaluating(d, run, plan, {}):
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
    publicity_renovation, evaluating_hospital, failed_property, open_expressway,
    open_maintenance, open_mine, suspended_farmland, draft_drainage,
)


# --- running it ------------------------------------------------------------------------------


async def _play(d: Demo) -> None:
    """Run every story's steps in time order, opening what is due before each step."""
    stories = [story(d) for story in STORIES]
    queue: list[tuple[datetime, int]] = []
    for i, steps in enumerate(stories):
        heapq.heappush(queue, (await anext(steps), i))  # a story acts only after its 1st yield
    await d.setup(d.before(queue[0][0], 1, "09:00"))
    while queue:
        at, i = heapq.heappop(queue)
        if not d.clock.now() <= at <= d.now:
            raise RuntimeError(f"{STORIES[i].__name__}: a step at {at} is out of order")
        if d.day(at) != d.day(d.clock.now()):
            # The live scheduler signs a checkpoint every 30 s; once a day is plenty here,
            # and each one costs an fsync.
            await d.ctx.audit.checkpoint(at=d.clock.now())
        d.clock.set(at)
        await bidding.advance_due(d.ctx)
        try:
            heapq.heappush(queue, (await anext(stories[i]), i))
        except StopAsyncIteration:
            pass
    d.clock.set(d.now)
    await jobs.tick(d.ctx)  # opens whatever is due by now, and signs the final checkpoint


async def _reset(settings: Settings) -> None:
    """Dangerous: deletes the database and the data directory (keys, uploads, checkpoints)."""
    if settings.is_postgres:
        await db.init(tortoise_config(settings))
        try:
            await connections.get("default").execute_script(
                "DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        finally:
            await db.close()
    await anyio.to_thread.run_sync(_remove_files, settings)


def _remove_files(settings: Settings) -> None:
    if settings.database_url.startswith("sqlite://"):
        path = settings.database_url.removeprefix("sqlite://").split("?", 1)[0]
        if path and path != ":memory:":
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(path + suffix).unlink(missing_ok=True)
    shutil.rmtree(settings.data_dir, ignore_errors=True)


def _without_fsync(settings: Settings) -> Settings:
    """SQLite settings that skip the fsync after each commit (WAL keeps the file consistent):
    an interrupted build is simply run again with --reset, and it saves seconds."""
    url = settings.database_url
    if url.startswith("sqlite://") and "?" not in url:
        return settings.with_(database_url=url + "?synchronous=NORMAL")
    return settings


async def build_demo(
    settings: Settings, *, reset: bool, now: datetime | None = None
) -> list[tuple[str, str, str]]:
    """Fill the database with the demo (``reset`` first wipes it) and return the logins.

    Does nothing but return the logins when the demo is already there. ``now`` (for tests)
    stands in for the real time the story ends at.
    """
    if reset:
        await _reset(settings)
    await migrate(settings)
    await db.init(tortoise_config(_without_fsync(settings)))
    try:
        if await User.filter(username=ADMIN[0]).exists():
            return logins()
        if await User.exists():
            raise RuntimeError("the database holds other data: run `ebid demo --reset`")
        end = now or SystemClock().now()
        clock = FixedClock(end)
        d = Demo(build_context(settings, clock), clock, end)
        await _play(d)
    finally:
        await db.close()
    return logins()
