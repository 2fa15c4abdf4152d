"""The demo's cast and its tenders: the logins it prints, the fictitious firms, the agency and
the supervising authority, the opening rooms, the thirteen tenders' particulars and what the
firms' bids say (their machines, their words, the passage two of them share). Plain tables,
kept apart from the code that plays them so a figure can be changed without reading a story."""

from __future__ import annotations

from dataclasses import dataclass

from bidding import rules as statute
from bidding.models import Category, Method
from kernel.accounts import creditcode

# --- who -------------------------------------------------------------------------------------

# Printed by `ebid demo` for anyone to log in with: demo data only.
ADMIN = ("admin", "Zhongxin#2026", "交易中心系统管理员")
AGENCY = ("daili", "Zhaobiao#2026", "罗晓梅")
SUPERVISOR = ("jiandu", "Jianguan#2026", "周建华")
BIDDER_PASSWORD = "Toubiao#2026"  # noqa: S105 - the demo prints it
# Of every PKCS#12 file in <data dir>/demo-pki/ (ebid/demo/pki.py): printed too.
P12_PASSWORD = "Zhengshu#2026"  # noqa: S105 - the demo prints it


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
# Bidders whose CA issued an RSA signing certificate (the encryption one is always P-256).
RSA_BIDDERS = frozenset({"bidder3"})


@dataclass(frozen=True)
class Machine:
    """A bidder's office PC as ebid-client reads it (raw values: the demo hashes them under
    the centre's key, as the client does, before they go into a manifest)."""

    mac: tuple[str, ...]
    machine_id: str
    disk_serial: str
    board_serial: str
    hostname: str

    def raw(self) -> dict[str, str | tuple[str, ...]]:
        return {"mac": self.mac, "machine_id": self.machine_id, "disk_serial": self.disk_serial,
                "board_serial": self.board_serial, "hostname": self.hostname}


# One machine per firm; ``COLLUDING`` has two firms' bids in one tender prepared on one of them.
MACHINES = {
    "bidder1": Machine(("3c:7c:3f:1a:22:01",), "9f2c41d07be34c1d8e5a2b7c6d1e0f01",
                       "S4EVNX0N112233A", "PF1QINGZHU001", "QZJS-JINGYING"),
    "bidder2": Machine(("b4:2e:99:5d:10:7a", "f0:2f:74:88:10:02"),
                       "0a7be9c2d4f64d8fa1c35e27b9d40a02", "WD-WX32D80K2202", "ZCLQ-BD-2202",
                       "ZCLQ-SHANGWU"),
    "bidder3": Machine(("30:9c:23:4f:6e:03",), "7d1f0c3b9a2e48e6b5c4d3e2f1a0b903",
                       "ZA4003VJ0303", "L1HF03C0303", "BZJG-TOUBIAO"),
    "bidder4": Machine(("e0:d5:5e:21:44:04",), "4c8a2f7e1b3d49c0a6e5d4c3b2a10404",
                       "2K4420IQ0404", "BHJD-MB-0404", "HCJD-XIAOSHOU"),
    "bidder5": Machine(("00:e0:4c:68:05:05", "9c:b6:d0:11:05:55"),
                       "e3b1c2d4a5f647e8b9c0d1e2f3a40505", "S3YJNF0K500505", "QYZN-0505",
                       "QYZN-PM-YANGFAN"),
    "bidder6": Machine(("70:85:c2:3b:06:06",), "1f2e3d4c5b6a47988a7b6c5d4e3f0606",
                       "WD-WCC6Y0606606", "BSKJ-0606", "BSKJ-ZHENGKAI"),
}
# (tender, lot, firm that bids from another firm's machine, the firm whose machine it uses):
# the supervisor's collusion page has a real case (same machine, copied passages) to show.
COLLUDING = ("hospital", 1, "bidder6", "bidder4")

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
    # How its sealed bids open (docs/opening-key.md): "either" key, or "both" keys needed.
    key_mode: str = "either"

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
        2, "14:30", duration=1095, quality="达到省级物业管理示范项目标准", key_mode="both"),
    # Opened online minutes before the demo's "now": its decryption window is still running.
    "parking": TenderSpec(
        "贵阳市云岩区智慧停车管理系统建设项目", GOV, OPEN, "贵阳市云岩区城市管理局", "贵阳市云岩区",
        5_280_000, 5_150_000, 52_800, None, "", duration=120, quality="系统质保 3 年",
        description="建设路内泊位智慧停车管理平台，覆盖泊位 3,600 个，含地磁检测器及巡检终端。"),
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
        key_mode="both",
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


# --- what the bids say ------------------------------------------------------------------------

# Each firm's own words in its 投标函 (the rest of the letter is the standard form's wording).
COMMITMENTS = {
    "bidder1": "我公司将组建以项目经理赵志刚为首的项目部，主要管理人员均具有同类工程经验，"
               "开工前完成施工组织设计报审，确保按期、保质、安全完成本工程。",
    "bidder2": "我公司承诺投入自有沥青拌和站及摊铺设备，雨季施工编制专项方案，"
               "路面工程实行首件制，交通导改方案报交警部门批准后实施。",
    "bidder3": "本公司在遵义地区有十余项同类工程业绩，拟投入塔吊两台、施工升降机三台，"
               "钢筋集中加工配送，混凝土由自有搅拌站供应，质量目标为市级优质结构工程。",
    "bidder4": "我公司为所投设备的授权代理商，提供原厂授权书及售后服务承诺函，"
               "在遵义设有备件库，接到报修后二小时内响应。",
    "bidder5": "我公司具备建筑智能化工程专业承包资质，项目实施采用分区并行方式，"
               "软件平台提供源代码托管，系统上线后安排专人驻场运维三个月。",
    "bidder6": "我公司自二〇〇九年起从事教学及医疗设备供应，本项目由刘洋负责，"
               "设备到货后七日内完成安装调试，并对使用科室分批开展操作培训。",
}

# The technical response of the two firms in ``COLLUDING``: written once, copied into both
# bids, down to the misprint 陪训 and the odd 48 小时 that neither would have typed alike.
COPIED_RESPONSE = (
    "一、供货及安装方案：设备自原厂发货后由我方专车运输至医院指定地点，开箱验收由院方设备科、"
    "使用科室及我方三方共同进行，验收合格后五个工作日内完成机房改造配合、设备就位、"
    "安装调试及射线防护检测。二、培训方案：安排原厂工程师驻厂陪训不少于十个工作日，"
    "分临床操作、日常保养、故障初判三个模块进行，培训结束后对操作人员逐一考核并出具证明。"
    "三、售后服务：质保期内设备开机率不低于百分之九十五，故障报修后 2 小时内电话响应，"
    "48 小时内工程师到达现场，配件在 48 小时以内送达；质保期满后每年免费巡检两次，"
    "终身以成本价提供配件。四、应急保障：在遵义市内常备球管、高压发生器等关键备件，"
    "重大故障时提供同档次备用设备。"
)


# Open and invited tenders share every statutory period (bidding.rules).
RULES = statute.rules_for(Method.OPEN.value)
