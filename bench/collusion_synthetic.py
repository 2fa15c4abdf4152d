"""Synthetic collusion benchmark: a series of tenders with planted rings among honest competitors,
written in the offline folder format, scanned, and scored per detector and for the groups.

    .venv/bin/python bench/collusion_synthetic.py [--tenders 30] [--seed 7] [--chars 6000]
                                                  [--subtle] [--out DIR] [--json]

The market: honest firms and a few rings of three. Each tender invites some honest firms; a ring
joins some tenders with all its members, and in each such tender carries a random subset of the
planted kinds of evidence (at least one):

- machine:  the members' bids prepared on one machine (same network card and disk serial, DOCX
            written by the same Office user) and uploaded from one address within half an hour;
- passages: the members copy paragraphs of their leader's technical proposal (30% of them by
            default), lightly edited (punctuation, full-width digits, a changed character,
            re-wrapped lines);
- errors:   the members' bids carry the same misquotes of three tender paragraphs (a wrong,
            rare character; two digits of a figure swapped);
- deposit:  the deposits of all members paid from one account, 45 seconds apart;
- staff:    the same project manager named in every member's bid;
- prices:   the covers' bills of quantities are the winner's times a fixed step (2% a cover),
            so their totals lie in fixed steps above the winner.

and across the series the members take turns as the ring's winner ("turns"). Honest firms quote
the tender documents at length (about half of their paragraphs are the tender's own), open with
the standard bid letter (投标函) whose form the tender documents carry, use their
own staff and accounts, and carry the noise that must not count: placeholder board serials,
virtual adapters and default host names shared by many machines, the centre's bidding hall as
upload address, offices in the same business centre.

Each tender is scanned by ``collusion.scan.scan`` with a ``History`` of the series' earlier
tenders. Scores are over pairs of bidders within a tender: a pair is positive when both are
members of one ring in that tender. A detector's recall counts the positive pairs of the tenders
where its kind of evidence was planted (detector -> kind in ``DETECTOR_KIND``); precision counts
every pair it flagged. Groups are scored as pairs too, and by exact match with a ring's members.

Also a fixture generator: tests/unit/collusion/test_synthetic.py runs a small version.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import re
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import combinations
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from collusion.base import Flag, History, PastBid, PastTender  # noqa: E402
from collusion.graph import find_groups  # noqa: E402
from collusion.offline import load_folder  # noqa: E402
from collusion.scan import scan  # noqa: E402

KINDS = ("machine", "passages", "errors", "deposit", "staff", "prices")
# Which planted evidence each detector is meant to find; None: nothing planted for it, its
# recall is counted over every ring pair.
DETECTOR_KIND: dict[str, str | None] = {
    "same_machine": "machine", "file_metadata": "machine", "shared_passages": "passages",
    "shared_errors": "errors", "shared_deposit": "deposit", "associated_firms": "staff",
    "itemised_prices": "prices", "price_screens": "prices", "history": "turns",
    "unbalanced_prices": None,
}
STEP = Decimal("0.02")
HALL = "203.0.113.7"  # the centre's bidding hall: in every tender.json's shared_addresses

WORDS = (
    "施工 组织 设计 质量 保证 措施 安全 文明 工期 进度 计划 管理 体系 项目 经理 技术 负责人 材料 "
    "设备 机械 劳动力 配置 现场 平面 布置 临时 设施 排水 混凝土 钢筋 模板 脚手架 土方 开挖 回填 "
    "压实 路基 路面 基层 面层 沥青 摊铺 碾压 养护 检测 试验 验收 隐蔽 工程 分部 分项 检验 批次 "
    "测量 放线 控制 标高 坐标 复核 交底 培训 应急 预案 消防 环境 保护 扬尘 噪声 夜间 交通 疏导 "
    "围挡 标志 标牌 雨季 冬季 高温 防汛 管线 迁改 协调 监理 业主 设计院 变更 签证 计量 支付 结算 "
    "资料 归档 信息化 BIM 模型 碰撞 检查 优化 节能 降耗 绿色 施工 扬尘 治理 渣土 运输 车辆 冲洗 "
    "夯实 换填 级配 碎石 水泥 稳定 透层 粘层 封层 标线 护栏 绿化 照明 给水 雨水 污水 检查井 "
    "管道 闭水 试验 沟槽 支护 降水 基坑 监测 沉降 位移 预警 巡查 整改 闭合 责任 考核 奖惩"
).split()
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑"
            "梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程")
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红飞鹏辉建国志文斌宇浩凯"
FIRM_WORDS = ("宏达 鼎盛 华建 中恒 远大 金诚 博远 恒信 安泰 瑞丰 盛世 永安 天成 东方 新城 "
              "长兴 汇通 广厦 正泰 明珠 信达 合力 众鑫 龙腾 锦程 国安 振华 德润 兴业 卓越").split()
CITIES = (("广东省", "深圳市", "南山区"), ("广东省", "广州市", "天河区"),
          ("浙江省", "杭州市", "西湖区"), ("江苏省", "南京市", "鼓楼区"),
          ("四川省", "成都市", "武侯区"), ("湖北省", "武汉市", "洪山区"))
STREETS = "科技园路 人民路 建设路 解放大道 中山路 长江路 新华路 光明路 滨海大道 学府路".split()


@dataclass
class Firm:
    key: str  # bid folder name
    name: str
    legal_rep: str
    phone: str
    email: str
    address: str
    manager: str
    account: str
    mac: str
    disk: str
    hostname: str
    ring: str = ""  # "" for honest firms


@dataclass(frozen=True)
class Planted:
    tender: str
    ring: str
    members: tuple[str, ...]
    kinds: frozenset[str]
    winner: str


@dataclass
class Truth:
    tenders: list[str] = field(default_factory=list)  # in series order
    planted: list[Planted] = field(default_factory=list)
    honest: set[str] = field(default_factory=set)
    rings: dict[str, tuple[str, ...]] = field(default_factory=dict)
    bidders: dict[str, list[str]] = field(default_factory=dict)  # tender -> firms
    past: list[PastTender] = field(default_factory=list)  # the series as History sees it

    def history_before(self, tender: str) -> History:
        index = self.tenders.index(tender)
        return History(tenders=tuple(self.past[:index]))


class _Text:
    """Random Chinese prose from a word list: two firms' own paragraphs share no long passage."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def sentence(self) -> str:
        words = [self.rng.choice(WORDS) for _ in range(self.rng.randint(8, 16))]
        if self.rng.random() < 0.3:
            words.insert(self.rng.randint(0, len(words)), f"{self.rng.randint(2, 480)}天")
        if self.rng.random() < 0.15:
            amount = f"{self.rng.randint(1000, 99999):,}.{self.rng.randint(0, 99):02d}元"
            words.insert(self.rng.randint(0, len(words)), amount)
        return "".join(words) + self.rng.choice("，。；")

    def paragraph(self, chars: int = 160) -> str:
        text = ""
        while len(text) < chars:
            text += self.sentence()
        return text.rstrip("，；") + "。"

    def paragraphs(self, total: int) -> list[str]:
        found: list[str] = []
        while sum(map(len, found)) < total:
            found.append(self.paragraph(self.rng.randint(120, 260)))
        return found


def _edit_lightly(rng: random.Random, paragraph: str) -> str:
    """A copied paragraph as a copier leaves it: punctuation swapped, digits full-width, a
    character changed, a line break inserted."""
    chars = list(paragraph)
    for _ in range(max(1, len(chars) // 80)):
        at = rng.randrange(len(chars))
        if chars[at] not in "，。；":
            chars[at] = rng.choice("的和及与")
    text = "".join(chars)
    text = text.replace("，", ",", rng.randint(0, 3)).replace("；", "。", 1)
    text = text.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    cut = rng.randrange(len(text))
    return text[:cut] + "\n" + text[cut:]


# Characters no tender of this generator uses: a slip of the pen that turns up in two bids.
RARE = "犇骉羴鱻猋麤毳淼焱垚"


def _misquote(rng: random.Random, paragraph: str) -> str:
    """A tender paragraph as one careless writer quoted it: a character replaced by a wrong one
    and, when it has a figure of four digits or more, two of its digits swapped."""
    chars = list(paragraph)
    han = [i for i in range(2, len(chars) - 2)
           if all("\u4e00" <= c <= "\u9fff" for c in chars[i - 2: i + 3])]
    if han:
        chars[rng.choice(han)] = rng.choice(RARE)
    text = "".join(chars)
    figures = [m for m in re.finditer(r"\d[\d,]{3,}", text) if sum(c.isdigit() for c in m[0]) >= 4]
    if figures:
        figure = rng.choice(figures)
        digits = [i for i in range(figure.start(), figure.end() - 1)
                  if text[i].isdigit() and text[i + 1].isdigit() and text[i] != text[i + 1]]
        if digits:
            i = rng.choice(digits)
            text = text[:i] + text[i + 1] + text[i] + text[i + 2:]
    return text


def _docx(paragraphs: Iterable[str], *, creator: str, company: str) -> bytes:
    body = "".join(f"<w:p><w:r><w:t>{escape(p)}</w:t></w:r></w:p>" for p in paragraphs)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        # Fixed member times: the same seed writes the same bytes.
        def member(name: str) -> zipfile.ZipInfo:
            return zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))

        archive.writestr(
            member("[Content_Types].xml"),
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org'
            '/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.wordprocessingml.document.main+xml"/></Types>')
        archive.writestr(
            member("word/document.xml"),
            '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.'
            'openxmlformats.org/wordprocessingml/2006/main"><w:body>' + body +
            "</w:body></w:document>")
        archive.writestr(
            member("docProps/core.xml"),
            '<?xml version="1.0" encoding="UTF-8"?><cp:coreProperties xmlns:cp="http://schemas.'
            'openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/'
            f'dc/elements/1.1/"><dc:creator>{escape(creator)}</dc:creator><cp:lastModifiedBy>'
            f"{escape(creator)}</cp:lastModifiedBy></cp:coreProperties>")
        archive.writestr(
            member("docProps/app.xml"),
            '<?xml version="1.0" encoding="UTF-8"?><Properties xmlns="http://schemas.openxml'
            'formats.org/officeDocument/2006/extended-properties"><Application>Microsoft Office '
            f"Word</Application><Company>{escape(company)}</Company></Properties>")
    return buffer.getvalue()


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))


def _firm(rng: random.Random, key: str, used: set[str]) -> Firm:
    while True:
        name = "".join(rng.sample(FIRM_WORDS, 2)) + rng.choice(("建设", "建筑", "市政", "路桥")) + \
            "工程有限公司"
        if name not in used:
            used.add(name)
            break
    if rng.random() < 0.3:
        # Business centres host many small firms: same building, another room, no evidence.
        province, city, district = CITIES[0]
        street, number, building = rng.choice((("科技园路", 1, "创业大厦"),
                                               ("深南大道", 9988, "国际商务中心")))
    else:
        province, city, district = rng.choice(CITIES)
        street, number = rng.choice(STREETS), rng.randint(1, 399)
        building = rng.choice(("创业大厦", "科技大厦", "国际中心", "商务中心"))
    address = (f"{province if rng.random() < 0.5 else ''}{city}{district}{street}{number}号"
               f"{building}{rng.randint(2, 30)}{rng.randint(1, 20):02d}室")
    mac = "3c:97:0e:" + ":".join(f"{rng.randrange(256):02x}" for _ in range(3))
    return Firm(
        key=key, name=name, legal_rep=_person(rng), phone=f"13{rng.randint(100000000, 999999999)}",
        email=f"bid{rng.randint(1000, 9999)}@{key}.example", address=address,
        manager=_person(rng), account=f"6222 {rng.randint(1000, 9999)} {rng.randint(1000, 9999)} "
                                      f"{rng.randint(1000, 9999)}",
        mac=mac, disk=f"S4EWNX0N{rng.randint(100000, 999999)}",
        hostname=f"DESKTOP-{rng.randint(0, 16**6):06X}",
    )


def generate(root: Path, *, seed: int = 7, tenders: int = 30, honest: int = 24, rings: int = 3,
             ring_size: int = 3, invited: int = 6, join: float = 0.4, plant: float = 0.5,
             chars: int = 6000, items: int = 15, copied: float = 0.3,
             subtle: bool = False) -> Truth:
    """Write ``tenders`` folders under ``root`` (tender-01, ...) and return what was planted.
    ``subtle`` plants each kind of evidence in a weaker form (see ``_ring_bids``)."""
    rng = random.Random(seed)
    text = _Text(rng)
    keys = [f"f{n:03d}" for n in rng.sample(range(1, 1000), honest + rings * ring_size)]
    used: set[str] = set()
    firms = {key: _firm(rng, key, used) for key in keys}
    truth = Truth()
    for number in range(rings):
        first = honest + number * ring_size
        members = tuple(sorted(keys[first: first + ring_size]))
        truth.rings[f"ring-{number + 1}"] = members
        for member in members:
            firms[member].ring = f"ring-{number + 1}"
    truth.honest = set(keys[:honest])
    turn = dict.fromkeys(truth.rings, 0)
    start = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)

    for number in range(1, tenders + 1):
        tender = f"tender-{number:02d}"
        folder = root / tender
        deadline = start + timedelta(days=7 * number)
        references = [(Decimal(rng.randint(50, 5000)), Decimal(rng.randint(20, 2000)))
                      for _ in range(items)]  # (quantity, reference unit price)
        estimate = sum((q * u for q, u in references), Decimal(0))
        documents = text.paragraphs(chars)
        _write(folder / "tender" / "招标文件.txt",
               "\n".join([*documents, "第八章 投标文件格式", *_bid_letter()]).encode("utf-8"))
        _write_json(folder / "tender.json", {
            "title": f"合成测试道路工程 {number}", "estimate": str(estimate),
            "price_ceiling": str(estimate), "shared_addresses": [HALL],
            "items": [{"code": f"0401{i:05d}", "description": f"清单项{i}",
                       "quantity": str(q), "unit_price": str(u)}
                      for i, (q, u) in enumerate(references, 1)]})

        bidders = rng.sample(sorted(truth.honest), invited)
        joined = [ring for ring in truth.rings if rng.random() < join]
        bids: dict[str, dict[str, Any]] = {}
        for key in bidders:
            bids[key] = _honest_bid(rng, text, firms[key], documents, references, deadline)
        for ring in joined:
            members = truth.rings[ring]
            winner = members[turn[ring] % len(members)]
            turn[ring] += 1
            kinds = frozenset(k for k in KINDS if rng.random() < plant) or \
                frozenset({rng.choice(KINDS)})
            truth.planted.append(Planted(tender, ring, members, kinds, winner))
            bids.update(_ring_bids(rng, text, firms, members, winner, kinds, documents,
                                   references, deadline, copied, subtle))
        for key, bid in bids.items():
            _write_bid(folder / "bids" / key, firms[key], bid)
        truth.tenders.append(tender)
        truth.bidders[tender] = sorted(bids)
        prices = {key: bid["price"] for key, bid in bids.items()}
        won = min(prices, key=lambda k: (prices[k], k))
        truth.past.append(PastTender(
            key=tender, opened_at=deadline, estimate=estimate,
            bids=tuple(PastBid(bidder=k, price=prices[k], won=k == won) for k in sorted(prices))))
    return truth


def _bill(rng: random.Random, references: list[tuple[Decimal, Decimal]],
          level: float) -> list[Decimal]:
    return [(u * Decimal(str(round(level * rng.uniform(0.93, 1.07), 4)))).quantize(Decimal("0.01"))
            for _, u in references]


def _total(references: list[tuple[Decimal, Decimal]], units: list[Decimal]) -> Decimal:
    return sum((q * u for (q, _), u in zip(references, units, strict=True)), Decimal(0))


def _honest_bid(rng: random.Random, text: _Text, firm: Firm, documents: list[str],
                references: list[tuple[Decimal, Decimal]], deadline: datetime) -> dict[str, Any]:
    quoted = [p for p in documents if rng.random() < 0.5]
    own = text.paragraphs(sum(map(len, documents)) // 2)
    # The tender's paragraphs in the tender's order, the firm's own between them.
    paragraphs = list(quoted)
    for paragraph in own:
        paragraphs.insert(rng.randint(0, len(paragraphs)), paragraph)
    units = _bill(rng, references, rng.uniform(0.86, 0.99))
    at = deadline - timedelta(minutes=rng.randint(30, 5 * 24 * 60))
    noise: dict[str, Any] = {}
    if rng.random() < 0.3:
        noise["board_serial"] = "To be filled by O.E.M."
    if rng.random() < 0.3:
        noise["mac_extra"] = "00:50:56:c0:00:08"  # VMware's virtual adapter
    # Bank transfers carry the second they were made.
    paid_at = deadline - timedelta(days=2, seconds=rng.randint(0, 5 * 24 * 3600))
    return {"paragraphs": paragraphs, "units": units, "price": _total(references, units),
            "at": at, "paid_at": paid_at, "ip": HALL if rng.random() < 0.3 else _ip(rng),
            "manager": firm.manager,
            "account": firm.account, "mac": firm.mac, "disk": firm.disk,
            "hostname": "DESKTOP" if rng.random() < 0.2 else firm.hostname,
            "creator": firm.legal_rep, "company": firm.name, **noise}


def _ring_bids(rng: random.Random, text: _Text, firms: dict[str, Firm], members: tuple[str, ...],
               winner: str, kinds: frozenset[str], documents: list[str],
               references: list[tuple[Decimal, Decimal]], deadline: datetime,
               copied: float, subtle: bool) -> dict[str, dict[str, Any]]:
    """The members' bids. ``subtle`` rings are more careful: one office address and host name
    instead of one machine, half as much copied, one misquote, a third party paying the
    deposits from its own accounts at different times, one office instead of one project
    manager, and covers' item prices within 0.5% of the fixed step rather than on it."""
    if subtle:
        copied /= 2
    leader = firms[members[0]]
    agent = f"{leader.name[:2]}商务咨询有限公司"  # the ring's own, not the other rings'

    leader_text = text.paragraphs(sum(map(len, documents)) // 2)
    winner_units = _bill(rng, references, rng.uniform(0.80, 0.85))
    machine_at = deadline - timedelta(minutes=rng.randint(60, 3 * 24 * 60))
    machine_ip = _ip(rng)
    paid_together = deadline - timedelta(days=2, seconds=rng.randint(0, 3 * 24 * 3600))
    # The ring's one careless writer misquotes a few tender paragraphs; every member's bid
    # carries the same misquotes.
    wrong = rng.sample(documents, min(1 if subtle else 3, len(documents)))
    misquoted = [_misquote(rng, paragraph) for paragraph in wrong]
    bids = {}
    covers = [m for m in members if m != winner]
    for member in members:
        firm = firms[member]
        bid = _honest_bid(rng, text, firm, documents, references, deadline)
        if member == winner:
            bid["units"] = winner_units
        elif "prices" in kinds:
            step = Decimal(1) + STEP * (covers.index(member) + 1)
            bid["units"] = [(u * step * _jitter(rng, 0.005 if subtle else 0)).quantize(
                Decimal("0.01")) for u in winner_units]
        else:
            bid["units"] = _bill(rng, references, rng.uniform(0.92, 1.0))
        bid["price"] = _total(references, bid["units"])
        if "passages" in kinds:
            own = leader_text if firm is leader else [
                _edit_lightly(rng, p) if rng.random() < copied else text.paragraph()
                for p in leader_text]
            bid["paragraphs"] = [p for p in documents if rng.random() < 0.5] + own
        if "errors" in kinds:
            bid["paragraphs"] = [p for p in bid["paragraphs"] if p not in wrong] + misquoted
        if "machine" in kinds and subtle:
            # One office: its network address and the leader's laptop name, not its hardware.
            bid.update(hostname=leader.hostname, ip=machine_ip,
                       at=machine_at + timedelta(minutes=rng.randint(0, 30)))
        elif "machine" in kinds:
            # One machine, one copy of Word: every member's proposal is a DOCX by one author.
            bid.update(mac=leader.mac, disk=leader.disk, hostname=leader.hostname,
                       ip=machine_ip, creator=leader.legal_rep, company=leader.name, docx=True,
                       at=machine_at + timedelta(minutes=rng.randint(0, 30)))
        if "deposit" in kinds and subtle:
            bid["payer_name"] = agent  # an agent paying for the ring
        elif "deposit" in kinds:
            # One clerk pays every member's deposit from one account, one after the other.
            bid["account"] = leader.account
            bid["paid_at"] = paid_together + timedelta(seconds=45 * members.index(member))
        if "staff" in kinds and subtle:
            bid["address"] = leader.address
        elif "staff" in kinds:
            bid["manager"] = leader.manager
        bids[member] = bid
    return bids


def _jitter(rng: random.Random, spread: float) -> Decimal:
    return Decimal(str(round(rng.uniform(1 - spread, 1 + spread), 6))) if spread else Decimal(1)


def _ip(rng: random.Random) -> str:
    return f"198.51.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    _write(path, json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8"))


def _bid_letter(name: str = "（投标人名称）", legal_rep: str = "", price: str = "",
                days: str = "", amount: str = "") -> list[str]:
    """The 投标函 of the standard bidding documents. The tender documents carry it with blanks
    (their chapter "投标文件格式"); every bid fills the blanks in and keeps the words."""
    return [
        "投标函",
        f"1. 我方已仔细研究了招标文件的全部内容，愿意以人民币{price or '（大写）'}元的投标总报价，"
        f"工期{days or '    '}日历天，按合同约定实施和完成承包工程，修补工程中的任何缺陷，"
        "工程质量达到合格。",
        "2. 我方承诺在投标有效期内不修改、撤销投标文件。",
        f"3. 随同本投标函提交投标保证金一份，金额为人民币{amount or '（大写）'}元。",
        "4. 如我方中标：（1）我方承诺在收到中标通知书后，在中标通知书规定的期限内与你方签订合同。"
        "（2）随同本投标函递交的投标函附录属于合同文件的组成部分。"
        "（3）我方承诺按照招标文件规定向你方递交履约担保。"
        "（4）我方承诺在合同约定的期限内完成并移交全部合同工程。",
        "5. 我方在此声明，所递交的投标文件及有关资料内容完整、真实和准确，"
        "且不存在第二章“投标人须知”第1.4.3项规定的任何一种情形。",
        f"投标人：{name}（盖单位章）",
        f"法定代表人或其委托代理人：{legal_rep}（签字）",
    ]


def _write_bid(folder: Path, firm: Firm, bid: dict[str, Any]) -> None:
    paragraphs = _bid_letter(firm.name, firm.legal_rep, str(bid["price"]), "365",
                             "800000") + bid["paragraphs"]
    # Alternate the file types so text extraction from DOCX and GB18030 text is exercised too.
    flavour = 0 if bid.get("docx") else int(firm.key[1:]) % 3
    if flavour == 0:
        _write(folder / "技术标" / "施工组织设计.docx",
               _docx(paragraphs, creator=bid["creator"], company=bid["company"]))
    else:
        encoding = "utf-8" if flavour == 1 else "gb18030"
        _write(folder / "技术标.txt", "\n".join(paragraphs).encode(encoding))
    macs = [bid["mac"]] + ([bid["mac_extra"]] if "mac_extra" in bid else [])
    fingerprint = {"mac": macs, "disk_serial": bid["disk"], "hostname": bid["hostname"],
                   "ip": bid["ip"]}
    if "board_serial" in bid:
        fingerprint["board_serial"] = bid["board_serial"]
    _write_json(folder / "bid.json", {
        "bidder": {"name": firm.name, "credit_code": f"91{firm.key.upper():0>16}",
                   "legal_rep": firm.legal_rep, "phone": firm.phone, "email": firm.email,
                   "address": bid.get("address", firm.address),
                   "project_manager": bid["manager"]},
        "price": str(bid["price"]),
        "submitted_at": bid["at"].isoformat(),
        "fingerprint": fingerprint,
        "deposit": {"payer_account": bid["account"],
                    "payer_name": bid.get("payer_name", firm.name),
                    "paid_at": bid["paid_at"].isoformat()},
        "items": [{"code": f"0401{i:05d}", "description": f"清单项{i}", "unit_price": str(u)}
                  for i, u in enumerate(bid["units"], 1)],
    })


# --- scoring ---------------------------------------------------------------------------------

@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    def as_json(self) -> dict[str, Any]:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn,
                "precision": _round(self.precision), "recall": _round(self.recall)}


def evaluate(root: Path, truth: Truth) -> dict[str, Any]:
    """Scan every tender of the series and score the flags and groups against ``truth``."""
    per_detector: dict[str, Counts] = {}
    per_tender: dict[str, Counts] = {}
    pairs_by_group = Counts()
    rings_exact = Counts()
    honest_in_groups: set[str] = set()
    honest_flagged: dict[str, set[str]] = {}
    seconds = 0.0
    failed: list[str] = []
    series_flags: list[Flag] = []
    names: list[str] = []
    for tender in truth.tenders:
        snapshot = load_folder(root / tender)
        started = time.perf_counter()
        result = scan(snapshot, history=truth.history_before(tender))
        seconds += time.perf_counter() - started
        failed += [f"{tender}:{name}" for name in result.failed]
        series_flags += result.flags
        names = [d.name for d in result.detectors]
        planted = [p for p in truth.planted if p.tender == tender]
        positive = {pair for p in planted for pair in combinations(p.members, 2)}
        for name in names:
            counts = per_detector.setdefault(name, Counts())
            kind = DETECTOR_KIND.get(name)
            flagged = {pair for f in result.flags if f.detector == name
                       for pair in combinations(sorted(f.bidders), 2)}
            expected = {pair for p in planted if kind is None or kind == "turns"
                        or kind in p.kinds for pair in combinations(p.members, 2)}
            counts.tp += len(flagged & positive)
            counts.fp += len(flagged - positive)
            counts.fn += len(expected - flagged)
            # Tender level: did it raise anything in a tender with a ring (of its kind)?
            raised = any(f.detector == name for f in result.flags)
            tenders = per_tender.setdefault(name, Counts())
            tenders.tp += raised and bool(planted)
            tenders.fp += raised and not planted
            tenders.fn += not raised and bool(expected)
            for flag in result.flags:
                if flag.detector == name:
                    for bidder in set(flag.bidders) & truth.honest:
                        honest_flagged.setdefault(name, set()).add(f"{tender}:{bidder}")
        grouped = {pair for g in result.groups for pair in combinations(g.bidders, 2)}
        pairs_by_group.tp += len(grouped & positive)
        pairs_by_group.fp += len(grouped - positive)
        pairs_by_group.fn += len(positive - grouped)
        found = {g.bidders for g in result.groups}
        rings = {p.members for p in planted}
        rings_exact.tp += len(found & rings)
        rings_exact.fp += len(found - rings)
        rings_exact.fn += len(rings - found)
        honest_in_groups |= {f"{tender}:{b}" for g in result.groups for b in g.bidders
                             if b in truth.honest}
    honest_bids = sum(len(set(b) & truth.honest) for b in truth.bidders.values())
    # Across the series: every tender's flags in one graph, as a centre ranks groups over its
    # history; a ring should come out once, with exactly its members.
    series = find_groups(series_flags)
    rings = set(truth.rings.values())
    ring_names = {members: name for name, members in truth.rings.items()}
    series_exact = Counts(tp=len({g.bidders for g in series} & rings),
                          fp=len({g.bidders for g in series} - rings),
                          fn=len(rings - {g.bidders for g in series}))
    return {
        "tenders": len(truth.tenders),
        "bids": sum(map(len, truth.bidders.values())),
        "planted": len(truth.planted),
        "planted_kinds": {k: sum(k in p.kinds for p in truth.planted) for k in KINDS},
        "detectors": {name: {**counts.as_json(), "planted_kind": DETECTOR_KIND.get(name),
                             "tenders": per_tender[name].as_json()}
                      for name, counts in per_detector.items()},
        "tenders_with_ring": sum(1 for t in truth.tenders
                                 if any(p.tender == t for p in truth.planted)),
        "group_pairs": pairs_by_group.as_json(),
        "groups_exact": rings_exact.as_json(),
        "honest_bids": honest_bids,
        "honest_bids_in_groups": len(honest_in_groups),
        "series_groups": [{"bidders": list(g.bidders), "score": round(g.score, 4),
                           "ring": ring_names.get(g.bidders)} for g in series],
        "series_groups_exact": series_exact.as_json(),
        "honest_firms_in_series_groups": sorted({b for g in series for b in g.bidders}
                                                & truth.honest),
        "honest_bids_flagged": {name: len(v) for name, v in sorted(honest_flagged.items())},
        "scan_seconds": round(seconds, 2),
        "failed": failed,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def print_report(report: dict[str, Any]) -> None:
    print(f"{report['tenders']} tenders ({report['tenders_with_ring']} with a ring), "
          f"{report['bids']} bids, {report['planted']} planted ring appearances; "
          f"planted kinds: {report['planted_kinds']}")
    print(f"scan time {report['scan_seconds']} s in all")
    print()
    print("| detector | planted kind | pairs TP / FP / FN | precision | recall | "
          "tenders TP / FP / FN | precision | recall |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, row in report["detectors"].items():
        tenders = row["tenders"]
        print(f"| {name} | {row['planted_kind'] or 'all'} | {row['tp']} / {row['fp']} / "
              f"{row['fn']} | {_percent(row['precision'])} | {_percent(row['recall'])} | "
              f"{tenders['tp']} / {tenders['fp']} / {tenders['fn']} | "
              f"{_percent(tenders['precision'])} | {_percent(tenders['recall'])} |")
    for label, key in (("groups (pairs)", "group_pairs"), ("groups (exact ring)", "groups_exact")):
        row = report[key]
        print(f"| **{label}** | | {row['tp']} / {row['fp']} / {row['fn']} | "
              f"{_percent(row['precision'])} | {_percent(row['recall'])} | | | |")
    print()
    print(f"honest bids in a group: {report['honest_bids_in_groups']} of {report['honest_bids']};"
          f" honest bids named by a flag, per detector: {report['honest_bids_flagged']}")
    row = report["series_groups_exact"]
    print(f"across the series: {len(report['series_groups'])} group(s), "
          f"{row['tp']} of {row['tp'] + row['fn']} rings found exactly, {row['fp']} other "
          f"group(s); honest firms in a group: {report['honest_firms_in_series_groups'] or 'none'}")
    if report["failed"]:
        print(f"detectors that failed: {report['failed']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenders", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--chars", type=int, default=6000,
                        help="characters of tender documents; bids are about as long")
    parser.add_argument("--subtle", action="store_true",
                        help="plant weaker evidence (one office instead of one machine, ...)")
    parser.add_argument("--out", type=Path, help="keep the generated folders here")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ebid-collusion-synth-") as scratch:
        root = args.out or Path(scratch)
        truth = generate(root, seed=args.seed, tenders=args.tenders, chars=args.chars,
                         subtle=args.subtle)
        report = evaluate(root, truth)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        print_report(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
