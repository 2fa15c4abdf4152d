"""What the stories act with: the generated PDF files, ``Run`` (one tender as its story goes)
and ``Demo`` (the context, the clock and the actors, with the time arithmetic the stories share
and one method per act, each calling the service a user's click would call)."""

from __future__ import annotations

import base64
import io
import os
import zlib
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from starlette.datastructures import Headers, UploadFile

from bidding import rules as statute
from bidding import services as bidding
from bidding.models import Bid, Category, Registration, Tender, TenderDocument
from bidding.services import rooms as room_services
from bidding.services.opening import key_request
from ebid.demo import pki
from ebid.demo.data import (
    ADMIN,
    AGENCY,
    AGENCY_ORG,
    AUTHORITY_ORG,
    BIDDER_BY_NAME,
    BIDDER_PASSWORD,
    BIDDERS,
    COLLUDING,
    COMMITMENTS,
    COPIED_RESPONSE,
    MACHINES,
    ROOMS,
    RULES,
    SUPERVISOR,
    TENDERS,
    TenderSpec,
)
from kernel.accounts import creditcode
from kernel.accounts import services as accounts
from kernel.accounts.actor import Actor
from kernel.accounts.models import OrgKind, Role
from kernel.calendar import at_local_time, local_date
from kernel.clock import FixedClock
from kernel.context import Context
from signing import fingerprint, opening
from signing import keys as platform_keys
from signing.cms import sign_detached
from signing.opening_key import decrypt_share
from signing.sealed import BidFields, Item, read_header, seal, unwrap_share
from signing.sealed import keys as sealed_keys

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


def _yuan(amount: Decimal | int | None) -> str:
    return f"¥{amount or 0:,.2f}"


def _address(machine: str) -> str:
    """The public address a firm's office uploads from (China Telecom Guizhou's range)."""
    return f"58.42.{17 + int(machine.removeprefix('bidder')) * 23}.{machine[-1]}6"


def _form(run: Run, *, lot: str = "____", bidder: str = "____________",
          price: str = "____________") -> list[str]:
    """第七章 投标文件格式: the cover and the 投标函 every bidder fills in, blanks and all as the
    tender documents print them. Bids copy it from there, so the collusion analysis (which
    subtracts the tender documents) does not take it for text copied between bids."""
    spec, code = run.spec, run.tender.code
    return [
        f"{spec.title} 投标文件", f"项目编号：{code}    标段：第 {lot} 标段", f"投标人：{bidder}",
        "投标函", f"致：{spec.tenderer}",
        f"1. 我方已仔细研究了{code}「{spec.title}」第 {lot} 标段招标文件的全部内容，"
        f"愿意以投标总报价人民币 {price}"
        + (f"，工期 {spec.duration} 日历天" if spec.duration else "")
        + f"，按合同约定实施和完成，质量达到{spec.quality}。",
        "2. 我方承诺在招标文件规定的投标有效期内不修改、撤销投标文件。",
        "3. 随同本投标函提交投标保证金一份。",
        "4. 如我方中标，我方承诺在收到中标通知书后，在中标通知书规定的期限内与你方签订合同。",
    ]


def _letter(run: Run, bidder: str, lot: int, price: Decimal, words: str) -> str:
    """投标函: the form of the tender documents filled in, and the firm's own words."""
    company = BIDDER_BY_NAME[bidder]
    form = _form(run, lot=str(lot), bidder=company.name, price=_yuan(price))
    return "\n".join([
        *form[3:], f"5. {words}", "",
        f"投标人：{company.name}（盖单位章）", f"统一社会信用代码：{company.credit_code}",
        f"法定代表人：{company.legal_rep}", f"地址：{company.address}",
        f"电话：{company.phone}", ""])


# Bills of quantities of works, as shares of the price; the last line takes what is left.
_WORKS = (
    ("010101001", "挖一般土方", "m3", Decimal("0.06")),
    ("010515001", "现浇构件钢筋", "t", Decimal("0.21")),
    ("010502001", "C30 商品混凝土", "m3", Decimal("0.27")),
    ("040203007", "沥青混凝土面层", "m2", Decimal("0.16")),
    ("011701001", "综合脚手架及措施项目", "项", Decimal("0.12")),
)


def _bill(spec: TenderSpec, bidder: str, price: Decimal) -> tuple[Item, ...]:
    """An itemised bill of quantities for works tenders (summing to ``price``); none for
    goods and services, whose bids quote a total."""
    if spec.category not in (Category.ENGINEERING, Category.LAND_MINING):
        return ()
    items, spent = [], Decimal(0)
    for n, (code, description, unit, share) in enumerate(_WORKS):
        quantity = Decimal(1 if unit == "项" else spec.estimate // 100_000 * (n + 3))
        # each firm prices the lines a little differently, the total being what it bids
        lean = Decimal(zlib.crc32(f"{bidder}{code}".encode()) % 9 - 4) / 100
        unit_price = (price * share * (1 + lean) / quantity).quantize(Decimal("0.01"))
        items.append(Item(code, f"{description}（{unit}）", quantity, unit_price))
        spent += quantity * unit_price
    items.append(Item("019999001", "其他项目费及规费、税金（项）", 1, price - spent))
    return tuple(items)


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
        self.holders: dict[str, pki.Holder] = {}
        self.fingerprint_key = b""

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
        self.actors[username] = admin
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
        # The centre accepts the demo CAs; the three opening officers register their
        # encryption certificates, without which no tender can be published.
        self.clock.set(at + timedelta(hours=1, minutes=47 * len(BIDDERS)))
        self.holders = await pki.set_up(
            ctx, admin=admin, now=pki.starts_before(at),
            officers={username: self.actors[username] for username, _ in pki.OFFICERS})
        self.fingerprint_key = platform_keys.load(ctx.settings, now=self.clock.now()).fingerprint

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
                lots=tuple(bidding.LotIn(title, Decimal(est)) for title, est in spec.lots),
                key_mode=spec.key_mode))
        await self.upload(run, "招标文件.pdf", [
            "第一章 招标公告", "第二章 投标人须知", "第三章 评标办法（综合评估法）",
            "第四章 合同条款及格式", "第五章 工程量清单 / 采购需求", "第六章 技术标准和要求",
            "第七章 投标文件格式（节选）", *_form(run)])

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
        """A sealed bid ``discount`` per cent below the lot's share of the price ceiling,
        made as ebid-client makes one and handed to the service the upload ends in."""
        spec, company = run.spec, BIDDER_BY_NAME[bidder]
        share = Decimal(spec.lot_estimates()[lot]) * spec.ceiling / spec.estimate
        # Real bids are priced item by item and never come out round: a few hundred yuan off.
        odd = Decimal(zlib.crc32(f"{bidder}{spec.title}{lot}".encode()) % 100_000) / 100
        price = (share * (1 - Decimal(discount) / 100) - odd).quantize(
            Decimal("0.01"), ROUND_HALF_UP)
        duration = spec.duration
        at = self.clock.now()
        colluding = run.spec is TENDERS[COLLUDING[0]] and lot == COLLUDING[1] and bidder in (
            COLLUDING[2], COLLUDING[3])
        machine = COLLUDING[3] if colluding else bidder
        cover = _form(run, lot=str(lot), bidder=company.name)
        pdf = _pdf(cover[0], [
            *cover[1:3], f"法定代表人：{company.legal_rep}", f"投标报价：{_yuan(price)}",
            f"工期（交货期）：{duration} 日历天" if duration else "", f"质量：{spec.quality}",
            f"项目负责人：{company.manager}"], author=company.contact, at=at)
        letter = _letter(run, company.username, lot, price,
                         COPIED_RESPONSE if colluding else COMMITMENTS[bidder])
        files = [("投标函.txt", letter.encode("utf-8")),
                 (f"{company.name}-投标文件-第{lot}标段.pdf", pdf)]
        hashed = fingerprint.fingerprint(self.fingerprint_key, MACHINES[machine].raw())
        holder = self.holders[bidder]
        out = io.BytesIO()
        seal(files=[(name, io.BytesIO(data)) for name, data in files],
             bid=BidFields(tender=str(run.tender.id), lot=str(lot), price=price,
                           items=_bill(spec, bidder, price),
                           client_fingerprint=fingerprint.manifest_form(hashed),
                           duration_days=duration or None, quality=spec.quality,
                           project_manager=company.manager),
             signer=holder.signer, opening_public_key=await self._opening_key(run),
             bidder_public_key=holder.encryption_certificate, out=out,
             mode=run.tender.key_mode.value)  # type: ignore[arg-type]
        path = Path(self.ctx.settings.data_dir) / f"demo-{os.getpid()}-{bidder}.sealed"
        path.write_bytes(out.getvalue())
        try:
            bid, _, _ = await bidding.submit_sealed_bid(
                self.ctx, actor=self.actors[bidder], tender_id=run.tender.id, lot_number=lot,
                package_path=path, received_at=at, remote_addr=_address(machine))
        finally:
            path.unlink(missing_ok=True)
        run.bids[bidder, lot] = bid

    async def _opening_key(self, run: Run) -> X25519PublicKey:
        setup = await opening.opening_setup(run.tender.id)
        assert setup is not None, f"{run.spec.title} has no opening key"
        return setup.public_key

    async def send_key(self, run: Run, bidder: str, lot: int) -> None:
        """At the opening: what ``ebid-client decrypt`` does for the bid, through the service
        its POST ends in (the data key, or the bidder's half, signed over key_request)."""
        bid = await Bid.get(id=run.bids[bidder, lot].id)
        holder = self.holders[bidder]
        with self.ctx.blobs.open(bid.sha256) as stream:
            data_key = unwrap_share(read_header(stream), holder.encryption_key, "bidder")
        text = base64.b64encode(data_key).decode("ascii")
        signature = sign_detached(
            key_request(tender_id=run.tender.id, bid_id=bid.id, package_sha256=bid.sha256,
                        data_key=text),
            key=holder.signer.key, certificate=holder.signer.certificate,
            chain=holder.signer.chain)
        await bidding.submit_key(self.ctx, actor=self.actors[bidder], tender_id=run.tender.id,
                                 bid_id=bid.id, data_key=text,
                                 signature=base64.b64encode(signature).decode("ascii"))

    async def send_share(self, run: Run, officer: str) -> None:
        """An opening officer decrypts its share on its own machine and submits it."""
        setup = await opening.opening_setup(run.tender.id)
        assert setup is not None
        key = self.holders[officer].encryption_key
        key_id = sealed_keys.key_id(key.public_key())
        share = decrypt_share(next(s for s in setup.shares if s.key_id == key_id), key,
                              setup.tender)
        await bidding.submit_share(self.ctx, actor=self.actors[officer],
                                   tender_id=run.tender.id, index=share.index,
                                   share=base64.b64encode(share.value).decode("ascii"))

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
        # Read again: a sealed bid's price is known only since its decryption.
        winner = await Bid.get(id=run.bids[run.ranked[lot][0], lot].id)
        await bidding.register_contract(
            self.ctx, actor=self.agency, tender_id=run.tender.id, lot_number=lot,
            signed_at=signed_at, amount=str(winner.price))

    async def report(self, run: Run, *, contracted: bool = True) -> None:
        """招标投标情况书面报告, written from what happened."""
        tender = await Tender.get(id=run.tender.id)
        lines = [f"{run.spec.tenderer}：{tender.title}（{tender.code}）依法公开进行，"
                 f"于 {self.day(tender.deadline_at)} 开标。"]
        for lot, ranked in sorted(run.ranked.items()):
            winner = await Bid.get(id=run.bids[ranked[0], lot].id)
            bidders = len([1 for _, n in run.bids if n == lot])
            lines.append(f"第{lot}标段有效投标 {bidders} 家，经评标委员会评审推荐，"
                         f"确定{BIDDER_BY_NAME[ranked[0]].name}为中标人，"
                         f"中标价 {_yuan(winner.price)}。")
        lines.append("中标候选人已依法公示，公示期内无异议。" + (
            "合同已签订。" if contracted else "合同将于中标通知书发出之日起 30 日内签订。")
            + "特此报告。")
        await bidding.file_report(self.ctx, actor=self.agency, tender_id=run.tender.id,
                                  body="\n".join(lines))
