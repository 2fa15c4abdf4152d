"""The portal benchmark's dataset: tenders, bids and everything a tender's state implies.

This is benchmark scaffolding, not demo data. ``make_dataset`` builds model instances in memory
(10,000 tenders and 100,000 bids by default) that ``bench.database.build`` writes with
``bulk_create`` after the project's migrations: it bypasses the services, but fills every NOT
NULL column with a realistic value and keeps each tender's records consistent with its state
(lots, documents, registrations, bids, opening records, rankings, awards, reports and the
notices each step publishes). Titles are drawn from word lists so that ``SEARCH_WORD`` is in
about 1% of them. The same seed gives the same dataset.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from bidding.models import (
    Award,
    Bid,
    BidStatus,
    Category,
    Clarification,
    DepositStatus,
    Invitation,
    Lot,
    Method,
    Notice,
    NoticeKind,
    OpeningRecord,
    Ranking,
    Registration,
    Room,
    Tender,
    TenderDocument,
    TenderStatus,
    WrittenReport,
)
from kernel.accounts.creditcode import make_code
from kernel.accounts.models import Organization, OrgKind, Role, User

SEED = 20260302

# -- word lists -------------------------------------------------------------------------------

REGIONS = [
    "杭州市西湖区", "宁波市鄞州区", "温州市鹿城区", "嘉兴市南湖区", "湖州市吴兴区", "绍兴市越城区",
    "金华市婺城区", "衢州市柯城区", "舟山市定海区", "台州市椒江区", "丽水市莲都区", "苏州市姑苏区",
    "南京市玄武区", "合肥市蜀山区", "福州市仓山区", "南昌市东湖区", "长沙市岳麓区", "武汉市江汉区",
    "成都市武侯区", "西安市雁塔区",
]
# One hundred subjects, none inside another: a subject picked at random is in ~1% of titles.
SUBJECTS = [
    "体育馆", "图书馆", "人民医院", "中心小学", "实验中学", "职业技术学院", "污水处理厂",
    "自来水厂", "垃圾中转站", "公交首末站", "人民公园", "湿地公园", "滨江绿道", "城市广场",
    "文化中心", "档案馆", "博物馆", "科技馆", "养老服务中心", "社区卫生服务中心", "妇幼保健院",
    "疾控中心", "消防站", "派出所", "政务服务中心", "农贸市场", "地下停车场", "人行天桥",
    "跨河大桥", "过江隧道", "高速连接线", "环城北路", "解放大道", "滨海大道", "产业园区道路",
    "安置小区", "保障性住房", "人才公寓", "老旧小区", "排涝泵站", "海塘", "水库", "灌区渠系",
    "农田水利", "高标准农田", "河道综合整治", "黑臭水体", "雨污分流管网", "燃气管网",
    "供热管网", "路灯", "交通信号灯", "智慧城管平台", "视频监控系统", "数据中心机房",
    "政务云平台", "办公家具", "医疗设备", "教学设备", "实验室仪器", "救护车", "新能源公交车",
    "环卫车辆", "物业管理", "保洁服务", "食堂餐饮", "安保服务", "绿化养护", "市政道路保洁",
    "审计服务", "造价咨询", "工程监理", "勘察设计", "规划编制", "国有土地使用权", "采矿权",
    "商业用房", "厂房租赁", "股权转让", "二手车辆", "森林防火", "林业有害生物防治",
    "地质灾害治理", "矿山生态修复", "土壤污染修复", "光伏发电", "充电桩", "变电站", "电力线路",
    "通信铁塔", "校园网", "图书采购", "药品集中采购", "疫苗冷链", "应急物资储备库", "粮食仓储",
    "冷链物流中心", "游客服务中心", "旅游厕所", "景区游步道",
]
SEARCH_WORD = "体育馆"
WORKS = {
    Category.ENGINEERING: ["新建工程", "改扩建工程", "维修改造工程", "提升改造工程", "EPC总承包"],
    Category.GOVERNMENT_PROCUREMENT: ["采购项目", "服务采购项目", "设备采购", "运维服务项目"],
    Category.STATE_ASSETS: ["转让项目", "租赁项目", "处置项目"],
    Category.LAND_MINING: ["出让项目", "挂牌出让"],
}
TENDERERS = [
    "住房和城乡建设局", "交通运输局", "水利局", "教育局", "卫生健康委员会", "自然资源和规划局",
    "综合行政执法局", "机关事务管理局", "城市建设投资集团有限公司", "交通投资集团有限公司",
    "国有资产经营有限公司", "医疗卫生服务集团",
]
PROVINCES = ["浙江", "江苏", "安徽", "福建", "江西", "湖南", "湖北", "四川", "上海", "广东"]
BRANDS = [
    "中天", "宏达", "华信", "恒泰", "建工", "鸿远", "瑞丰", "东方", "新世纪", "金城",
    "长城", "永安", "振华", "汇通", "博远", "天成", "联合", "兴业", "正泰", "明珠",
]
ORG_SUFFIXES = ["建设集团有限公司", "工程有限公司", "科技股份有限公司", "工程咨询有限公司",
                "环境科技有限公司", "信息技术有限公司"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超",
         "建国", "志强", "海燕", "晓东", "国庆"]

STATUS_WEIGHTS = {
    TenderStatus.DRAFT: 2,
    TenderStatus.PUBLISHED: 14,
    TenderStatus.SUSPENDED: 1,
    TenderStatus.OPENED: 15,
    TenderStatus.FAILED: 3,
    TenderStatus.PUBLICITY: 8,
    TenderStatus.AWARDED: 10,
    TenderStatus.CONTRACTED: 12,
    TenderStatus.CLOSED: 35,
}
CATEGORY_WEIGHTS = {
    Category.ENGINEERING: 50,
    Category.GOVERNMENT_PROCUREMENT: 35,
    Category.STATE_ASSETS: 10,
    Category.LAND_MINING: 5,
}
# Days between publication (issued_at) and now, by state.
AGE_DAYS = {
    TenderStatus.PUBLISHED: (0.5, 19),
    TenderStatus.SUSPENDED: (3, 19),
    TenderStatus.OPENED: (21, 34),
    TenderStatus.FAILED: (21, 400),
    TenderStatus.PUBLICITY: (24, 30),
    TenderStatus.AWARDED: (30, 45),
    TenderStatus.CONTRACTED: (45, 200),
    TenderStatus.CLOSED: (70, 730),
}
OPENED_OR_LATER = {
    TenderStatus.OPENED, TenderStatus.FAILED, TenderStatus.PUBLICITY, TenderStatus.AWARDED,
    TenderStatus.CONTRACTED, TenderStatus.CLOSED,
}
RANKED = {TenderStatus.PUBLICITY, TenderStatus.AWARDED, TenderStatus.CONTRACTED,
          TenderStatus.CLOSED}
AWARDED = {TenderStatus.AWARDED, TenderStatus.CONTRACTED, TenderStatus.CLOSED}
CONTRACTED = {TenderStatus.CONTRACTED, TenderStatus.CLOSED}


def _money(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _yuan(value: Decimal) -> str:
    return f"¥{value:,.2f}"


def _beijing(moment: datetime) -> str:
    return (moment + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")


def _weighted(rng: random.Random, weights: dict[Any, int]) -> Any:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


# -- the dataset --------------------------------------------------------------------------------


@dataclass
class Dataset:
    rows: dict[str, list[Any]] = field(default_factory=dict)
    hits: int = 0  # tenders whose title contains SEARCH_WORD

    def add(self, name: str, obj: Any) -> Any:
        self.rows.setdefault(name, []).append(obj)
        return obj


def _bid_counts(rng: random.Random, statuses: list[TenderStatus], total: int,
                ceiling: int) -> list[int]:
    """Bids per tender adding up to ``total``: none for drafts, 0-2 for failed tenders (流标),
    at least 3 for the others (the statutory minimum), about total/tenders on average."""
    counts = [0] * len(statuses)
    normal = []
    for i, status in enumerate(statuses):
        if status == TenderStatus.DRAFT:
            continue
        if status == TenderStatus.FAILED:
            counts[i] = rng.choice([0, 1, 2])
        else:
            normal.append(i)
    if not normal:
        return counts
    rest = total - sum(counts)
    mean = rest / len(normal)
    low, high = 3, max(3, min(ceiling, int(mean * 3) + 3))
    for i in normal:
        counts[i] = min(high, max(low, round(rng.gauss(mean, mean / 4))))
    diff = total - sum(counts)
    while diff:
        i = rng.choice(normal)
        step = 1 if diff > 0 else -1
        if low <= counts[i] + step <= high:
            counts[i] += step
            diff -= step
    return counts


def make_dataset(n_tenders: int, n_bids: int, now: datetime, seed: int = SEED) -> Dataset:
    rng = random.Random(seed)
    data = Dataset()

    # Organisations: bidders, agencies (each with one user), a few opening rooms.
    names: list[str] = []
    while len(names) < 200:
        name = (rng.choice(PROVINCES) + rng.choice(BRANDS) + rng.choice(ORG_SUFFIXES))
        if name not in names:
            names.append(name)
    codes: set[str] = set()

    def credit_code(seed_text: str) -> str:
        code, salt = make_code(seed_text), 0
        while code in codes:
            salt += 1
            code = make_code(f"{seed_text}/{salt}")
        codes.add(code)
        return code

    org_id = 0
    bidders: list[Organization] = []
    for name in names:
        org_id += 1
        bidders.append(data.add("orgs", Organization(
            id=org_id, kind=OrgKind.BIDDER, name=name, credit_code=credit_code(f"bidder-{name}"),
            legal_rep=rng.choice(SURNAMES) + rng.choice(GIVEN),
            contact_name=rng.choice(SURNAMES) + rng.choice(GIVEN),
            contact_phone=f"0571-8{rng.randint(1000000, 9999999)}",
            email=f"bid{org_id}@example.com", address=rng.choice(REGIONS) + "创业路88号",
            bank_name="中国工商银行" + rng.choice(REGIONS)[:3] + "分行",
            bank_account=str(rng.randint(10**18, 10**19 - 1)),
            created_at=now - timedelta(days=rng.uniform(800, 1500)),
        )))
    agencies: list[tuple[int, int]] = []  # (organization id, user id)
    for i in range(10):
        org_id += 1
        name = f"{REGIONS[i][:3]}{rng.choice(BRANDS)}招标代理有限公司"
        data.add("orgs", Organization(
            id=org_id, kind=OrgKind.AGENCY, name=name, credit_code=credit_code(f"agency-{i}"),
            legal_rep=rng.choice(SURNAMES) + rng.choice(GIVEN),
            contact_phone=f"0571-8{rng.randint(1000000, 9999999)}",
            email=f"agency{i}@example.com", created_at=now - timedelta(days=1500),
        ))
        data.add("users", User(
            id=i + 1, username=f"bench-agency-{i}",
            # Not a hash of anything: nobody logs in as these users.
            password_hash="!bench-no-login", role=Role.AGENCY, organization_id=org_id,
            display_name=rng.choice(SURNAMES) + rng.choice(GIVEN),
            created_at=now - timedelta(days=1500),
        ))
        agencies.append((org_id, i + 1))
    rooms = [data.add("rooms", Room(id=i + 1, name=f"第{n}开标室", location="交易中心三楼",
                                    capacity=40, is_active=True))
             for i, n in enumerate("一二三四五六")]

    statuses = [_weighted(rng, STATUS_WEIGHTS) for _ in range(n_tenders)]
    counts = _bid_counts(rng, statuses, n_bids, ceiling=len(bidders) - 2)
    reg_id = bid_id = notice_id = rank_id = award_id = clar_id = inv_id = 0

    for tid, (status, n_bid) in enumerate(zip(statuses, counts, strict=True), start=1):
        category = _weighted(rng, CATEGORY_WEIGHTS)
        subject = rng.choice(SUBJECTS)
        region = rng.choice(REGIONS)
        method = Method.INVITED if rng.random() < 0.08 else Method.OPEN
        agency_org, agency_user = rng.choice(agencies)
        if status == TenderStatus.DRAFT:
            issued = None
            created = now - timedelta(days=rng.uniform(0, 10))
            deadline = now + timedelta(days=rng.uniform(25, 40))
        else:
            low, high = AGE_DAYS[status]
            issued = (now - timedelta(days=rng.uniform(low, high))).replace(microsecond=0)
            created = issued - timedelta(days=rng.uniform(1, 10))
            deadline = (issued + timedelta(days=20 + rng.randint(0, 5))).replace(
                minute=30, second=0)
            if status in (TenderStatus.PUBLISHED, TenderStatus.SUSPENDED) and deadline <= now:
                deadline = now + timedelta(days=1)
        year = (issued or created).year
        title = f"{region}{year}年{subject}{rng.choice(WORKS[category])}"
        if SEARCH_WORD in title:
            data.hits += 1
        estimate = _money(10 ** rng.uniform(5.7, 8.7))
        ceiling = _money(float(estimate) * rng.uniform(0.92, 1.0))
        deposit = _money(min(float(estimate) * 0.02, 800000))
        times: dict[str, datetime | None] = {
            "opened_at": None, "evaluated_at": None, "publicity_starts_at": None,
            "publicity_ends_at": None, "awarded_at": None, "report_due_at": None,
            "closed_at": None,
        }
        if status in OPENED_OR_LATER:
            times["opened_at"] = deadline
        if status in RANKED:
            times["evaluated_at"] = deadline + timedelta(days=2)
            times["publicity_starts_at"] = deadline + timedelta(days=3)
            times["publicity_ends_at"] = deadline + timedelta(days=6)
        if status in AWARDED:
            times["awarded_at"] = deadline + timedelta(days=7)
            times["report_due_at"] = deadline + timedelta(days=22)
        if status == TenderStatus.CLOSED:
            times["closed_at"] = deadline + timedelta(days=rng.uniform(10, 20))
        last = max([t for t in times.values() if t is not None] + [issued or created])
        if last > now:  # publicity or award steps that would lie in the future
            last = now
        code = f"E{year}{tid:06d}"
        tender = data.add("tenders", Tender(
            id=tid, code=code, title=title, category=category, method=method, status=status,
            tenderer_name=region + rng.choice(TENDERERS), agency_id=agency_org,
            created_by_id=agency_user,
            description=f"{title}，建设地点位于{region}，资金来源为财政资金，已落实。",
            region=region, estimate=estimate, price_ceiling=ceiling, deposit=deposit,
            deadline_at=deadline,
            room_id=rng.choice(rooms).id if issued and rng.random() < 0.6 else None,
            issued_at=issued, issue_ends_at=issued + timedelta(days=5) if issued else None,
            rerun_of_id=None, created_at=created, updated_at=last,
            version=0 if issued is None else 1 + len([t for t in times.values() if t]),
            **times,
        ))
        data.add("lots", Lot(id=tid, tender_id=tid, number=1, title=title, estimate=estimate,
                             failed=status == TenderStatus.FAILED))
        if issued is None:
            continue
        data.add("documents", TenderDocument(
            id=tid, tender_id=tid, version=1, filename=f"{code}招标文件.pdf",
            content_type="application/pdf",
            sha256=hashlib.sha256(f"doc-{tid}".encode()).hexdigest(),
            size=rng.randint(500_000, 20_000_000), note="", uploaded_at=issued,
        ))

        # Registrations (the bidders plus a few who registered and did not bid), then bids.
        n_reg = min(len(bidders), n_bid + rng.randint(0, 2))
        orgs = rng.sample(bidders, n_reg)
        issue_ends = issued + timedelta(days=5)
        bids: list[Bid] = []
        for k, org in enumerate(orgs):
            reg_id += 1
            registered = issued + timedelta(seconds=rng.uniform(600, 5 * 86400 - 600))
            paid = k < n_bid or rng.random() < 0.5
            data.add("registrations", Registration(
                id=reg_id, tender_id=tid, organization_id=org.id, registered_at=registered,
                deposit_status=DepositStatus.RECEIVED if paid else DepositStatus.UNKNOWN,
                deposit_recorded_at=registered + timedelta(days=1) if paid else None,
            ))
            if method == Method.INVITED:
                inv_id += 1
                data.add("invitations", Invitation(
                    id=inv_id, tender_id=tid, organization_id=org.id,
                    invited_at=issued - timedelta(hours=2),
                ))
            if k >= n_bid:
                continue
            bid_id += 1
            valid = k == 0 or rng.random() < 0.96
            price = _money(float(ceiling) * (rng.uniform(0.82, 1.0) if valid
                                             else rng.uniform(1.001, 1.05)))
            if price > ceiling and valid:
                price = ceiling
            works = category == Category.ENGINEERING
            latest = min(deadline, now) if status in (TenderStatus.PUBLISHED,
                                                      TenderStatus.SUSPENDED) else deadline
            submitted = registered + (latest - registered) * rng.uniform(0.3, 0.99)
            bids.append(data.add("bids", Bid(
                id=bid_id, tender_id=tid, lot_id=tid, registration_id=reg_id,
                organization_id=org.id, status=BidStatus.SUBMITTED,
                filename=f"{code}投标文件.zip",
                sha256=hashlib.sha256(f"bid-{bid_id}".encode()).hexdigest(),
                size=rng.randint(2_000_000, 80_000_000), price=price,
                duration_days=rng.choice([90, 120, 180, 240, 365, 540]) if works else None,
                quality="合格" if works else "",
                project_manager=rng.choice(SURNAMES) + rng.choice(GIVEN) if works else "",
                submitted_at=submitted, ended_at=None,
            )))
        by_id = {o.id: o for o in orgs}

        def notice(kind: NoticeKind, title_: str, body: str, at: datetime,
                   tender_id: int = tid) -> None:
            nonlocal notice_id
            notice_id += 1
            data.add("notices", Notice(id=notice_id, tender_id=tender_id, kind=kind,
                                       title=title_, body=body, published_at=at))

        notice(NoticeKind.ANNOUNCEMENT, f"{title} 招标公告", (
            f"项目编号：{code}\n招标人：{tender.tenderer_name}\n"
            f"招标方式：{'公开招标' if method == Method.OPEN else '邀请招标'}\n"
            f"估算价：{_yuan(estimate)}；最高投标限价：{_yuan(ceiling)}\n"
            f"投标保证金：{_yuan(deposit)}\n标段：\n"
            f"  第1标段：{title}（估算价 {_yuan(estimate)}）\n"
            f"招标文件发售时间：{_beijing(issued)} 至 {_beijing(issue_ends)}\n"
            f"投标截止及开标时间：{_beijing(deadline)}\n{tender.description}"
        ), issued)
        if rng.random() < 0.1:
            clar_id += 1
            at = issued + timedelta(days=3)
            body = "关于招标文件第三章技术要求的澄清：相关参数以本澄清为准。"
            data.add("clarifications", Clarification(id=clar_id, tender_id=tid, number=1,
                                                     body=body, published_at=at))
            notice(NoticeKind.CLARIFICATION, f"{title} 第1号澄清（答疑）", body, at)
        if status not in OPENED_OR_LATER:
            continue

        bids.sort(key=lambda b: (b.submitted_at, b.id))
        rows = [{
            "lot": 1, "bid_id": b.id, "bidder": by_id[b.organization_id].name,
            "credit_code": by_id[b.organization_id].credit_code, "price": str(b.price),
            "duration_days": b.duration_days, "quality": b.quality,
            "project_manager": b.project_manager, "sha256": b.sha256,
            "submitted_at": b.submitted_at.isoformat(), "valid": b.price <= ceiling,
        } for b in bids]
        payload = json.dumps(rows, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        data.add("openings", OpeningRecord(
            id=tid, tender_id=tid, rows=rows, sha256=hashlib.sha256(payload.encode()).hexdigest(),
            created_at=deadline,
        ))
        lines = [f"项目编号：{code}", f"开标时间：{_beijing(deadline)}",
                 f"第1标段 {title}：投标人 {len(rows)} 家"
                 + ("（流标）" if status == TenderStatus.FAILED else "")]
        lines += [f"  {r['bidder']}  报价 {_yuan(Decimal(r['price']))}"
                  + (f"  工期 {r['duration_days']} 天" if r["duration_days"] else "")
                  + (f"  项目经理 {r['project_manager']}" if r["project_manager"] else "")
                  + ("" if r["valid"] else "  （超过最高投标限价，无效）") for r in rows]
        notice(NoticeKind.OPENING, f"{title} 开标记录", "\n".join(lines), deadline)
        if status == TenderStatus.FAILED:
            notice(NoticeKind.FAILURE, f"{title} 流标公告",
                   f"项目编号：{code}\n第 1 标段有效投标人不足 3 家，依法流标，"
                   "招标人将依法重新招标。",
                   deadline)
            continue
        if status not in RANKED:
            continue

        ranked = sorted((b for b in bids if b.price <= ceiling), key=lambda b: (b.price, b.id))
        starts = times["publicity_starts_at"]
        assert starts is not None and times["evaluated_at"] is not None
        lines = [f"项目编号：{code}", f"第1标段 {title}："]
        for rank, b in enumerate(ranked[:3], start=1):
            rank_id += 1
            score = _money(rng.uniform(85, 98) - rank)
            data.add("rankings", Ranking(id=rank_id, lot_id=tid, bid_id=b.id, rank=rank,
                                         score=score, entered_at=times["evaluated_at"]))
            lines.append(f"  第{rank}名：{by_id[b.organization_id].name}  投标报价 "
                         f"{_yuan(b.price)}  评分 {score}")
        lines.append(f"公示期：{_beijing(starts)} 至 {_beijing(starts + timedelta(days=3))}。"
                     "投标人或者其他利害关系人对评标结果有异议的，应当在公示期间提出。")
        notice(NoticeKind.CANDIDATES, f"{title} 中标候选人公示", "\n".join(lines), starts)
        if status not in AWARDED:
            continue

        awarded_at = times["awarded_at"]
        assert awarded_at is not None
        winner = ranked[0]
        award_id += 1
        signed = awarded_at + timedelta(days=rng.uniform(5, 25)) if status in CONTRACTED else None
        data.add("awards", Award(
            id=award_id, lot_id=tid, bid_id=winner.id, notice_at=awarded_at,
            contract_signed_at=signed, contract_amount=winner.price if signed else None,
            contract_registered_at=signed + timedelta(days=2) if signed else None,
        ))
        notice(NoticeKind.AWARD, f"{title} 中标结果公告", (
            f"项目编号：{code}\n第1标段 {title}：中标人 {by_id[winner.organization_id].name}，"
            f"中标价 {_yuan(winner.price)}"
        ), awarded_at)
        if status == TenderStatus.CLOSED:
            closed = times["closed_at"]
            assert closed is not None
            data.add("reports", WrittenReport(
                id=tid, tender_id=tid, filed_at=closed,
                body=f"{title}招标投标情况书面报告：开标、评标、定标均依法进行，无异议。",
            ))
    return data


# Dependency order: every row's foreign keys point at rows inserted before it.
LOAD_ORDER = [
    ("orgs", Organization), ("users", User), ("rooms", Room), ("tenders", Tender),
    ("lots", Lot), ("documents", TenderDocument), ("registrations", Registration),
    ("invitations", Invitation), ("bids", Bid), ("openings", OpeningRecord),
    ("clarifications", Clarification), ("notices", Notice), ("rankings", Ranking),
    ("awards", Award), ("reports", WrittenReport),
]

