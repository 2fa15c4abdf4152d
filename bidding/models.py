"""Tender, lot, registration, bid and the records of the lifecycle.

Status changes happen only in bidding.services through the table in bidding.states.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from kernel.db import RandomIdField


class Category(StrEnum):
    ENGINEERING = "engineering"  # 工程建设
    GOVERNMENT_PROCUREMENT = "government_procurement"  # 政府采购
    STATE_ASSETS = "state_assets"  # 国有产权
    LAND_MINING = "land_mining"  # 土地矿业权


class Method(StrEnum):
    OPEN = "open"  # 公开招标
    INVITED = "invited"  # 邀请招标


class TenderStatus(StrEnum):
    DRAFT = "draft"  # 入场登记
    PUBLISHED = "published"  # 公告发布, 投标中
    SUSPENDED = "suspended"  # 异议处理中, 暂停
    OPENING = "opening"  # 开标中: deadline passed, the decryption window runs
    OPENED = "opened"  # 已开标, 评标中
    FAILED = "failed"  # 流标
    PUBLICITY = "publicity"  # 中标候选人公示
    AWARDED = "awarded"  # 已发中标通知书
    CONTRACTED = "contracted"  # 合同已登记
    CLOSED = "closed"  # 书面报告已备案, 归档


class NoticeKind(StrEnum):
    ANNOUNCEMENT = "announcement"  # 招标公告
    CLARIFICATION = "clarification"  # 答疑澄清
    POSTPONEMENT = "postponement"  # 延期公告
    OPENING = "opening"  # 开标记录
    FAILURE = "failure"  # 流标公告
    CANDIDATES = "candidates"  # 中标候选人公示
    AWARD = "award"  # 中标结果公告


class BidStatus(StrEnum):
    SUBMITTED = "submitted"
    SUPERSEDED = "superseded"
    WITHDRAWN = "withdrawn"


class Decryption(StrEnum):
    """How a sealed bid ended at the opening (docs/opening.md)."""

    PENDING = "pending"  # sealed; the window is open or has not started
    DECRYPTED = "decrypted"  # opened with the bidder's key (and the officers' half in "both")
    RECOVERED = "recovered"  # opened with the officers' shares ("either" mode)
    FAILED_BIDDER = "failed_bidder"  # tag/signature failed on an intact package, or no key
    FAILED_PLATFORM = "failed_platform"  # the stored package no longer matches its receipt


class KeyMode(StrEnum):
    EITHER = "either"  # 任一密钥可解: officers can recover a bid the bidder cannot open
    BOTH = "both"  # 双密钥: no insider group can open early, a bidder who fails loses the bid


class DepositStatus(StrEnum):
    UNKNOWN = "unknown"
    RECEIVED = "received"
    NOT_RECEIVED = "not_received"


class ObjectionStage(StrEnum):
    DOCUMENTS = "documents"  # 对招标文件的异议
    OPENING = "opening"  # 开标现场异议
    CANDIDATES = "candidates"  # 对评标结果的异议


class Room(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True)
    location = fields.CharField(max_length=200, default="")
    capacity = fields.IntField(default=0)
    is_active = fields.BooleanField(default=True)

    class Meta:
        table = "bidding_room"


class Tender(Model):
    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=40, unique=True)  # 项目编号
    title = fields.CharField(max_length=300)
    category = fields.CharEnumField(Category, max_length=32)
    method = fields.CharEnumField(Method, max_length=16)
    status = fields.CharEnumField(TenderStatus, max_length=16, default=TenderStatus.DRAFT)
    tenderer_name = fields.CharField(max_length=200)  # 招标人
    agency_id = fields.IntField(db_index=True)  # kernel Organization running it (代理机构)
    created_by_id = fields.IntField()
    description = fields.TextField(default="")
    region = fields.CharField(max_length=100, default="")
    estimate = fields.DecimalField(max_digits=16, decimal_places=2)  # 估算价
    price_ceiling = fields.DecimalField(max_digits=16, decimal_places=2)  # 最高投标限价
    deposit = fields.DecimalField(max_digits=16, decimal_places=2, default=0)  # 投标保证金
    deadline_at = fields.DatetimeField(db_index=True)  # 投标截止 = 开标时间
    key_mode = fields.CharEnumField(KeyMode, max_length=8, default=KeyMode.EITHER)
    decryption_minutes = fields.IntField(default=30)  # the decryption window at the opening
    decryption_ends_at = fields.DatetimeField(null=True)  # set when the opening starts
    room: fields.ForeignKeyNullableRelation[Room] = fields.ForeignKeyField(
        "bidding.Room", related_name="tenders", null=True, on_delete=fields.RESTRICT
    )
    issued_at = fields.DatetimeField(null=True)  # documents first issued (= publication)
    issue_ends_at = fields.DatetimeField(null=True)  # 文件发售截止
    opened_at = fields.DatetimeField(null=True)
    evaluated_at = fields.DatetimeField(null=True)  # ranking entered (评标报告)
    publicity_starts_at = fields.DatetimeField(null=True)
    publicity_ends_at = fields.DatetimeField(null=True)
    awarded_at = fields.DatetimeField(null=True)
    report_due_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)
    rerun_of: fields.ForeignKeyNullableRelation[Tender] = fields.ForeignKeyField(
        "bidding.Tender", related_name="reruns", null=True, on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    # Optimistic concurrency: bumped by every transition.
    version = fields.IntField(default=0)

    class Meta:
        table = "bidding_tender"
        # (issued_at, id): the portal lists newest first and pages through that order.
        indexes = (("status", "deadline_at"), ("issued_at", "id", "status"))


class Lot(Model):
    id = fields.IntField(primary_key=True)
    tender: fields.ForeignKeyRelation[Tender] = fields.ForeignKeyField(
        "bidding.Tender", related_name="lots", on_delete=fields.CASCADE
    )
    number = fields.IntField()  # 标段号, 1-based
    title = fields.CharField(max_length=300)
    estimate = fields.DecimalField(max_digits=16, decimal_places=2)
    failed = fields.BooleanField(default=False)  # 流标 at opening

    class Meta:
        table = "bidding_lot"
        unique_together = (("tender_id", "number"),)


class RoomBooking(Model):
    id = fields.IntField(primary_key=True)
    room: fields.ForeignKeyRelation[Room] = fields.ForeignKeyField(
        "bidding.Room", related_name="bookings", on_delete=fields.CASCADE
    )
    tender: fields.ForeignKeyRelation[Tender] = fields.ForeignKeyField(
        "bidding.Tender", related_name="bookings", on_delete=fields.CASCADE
    )
    starts_at = fields.DatetimeField()
    ends_at = fields.DatetimeField()

    class Meta:
        table = "bidding_room_booking"


class Invitation(Model):
    """Invited tendering: only these organisations may register."""

    id = fields.IntField(primary_key=True)
    tender: fields.ForeignKeyRelation[Tender] = fields.ForeignKeyField(
        "bidding.Tender", related_name="invitations", on_delete=fields.CASCADE
    )
    organization_id = fields.IntField()
    invited_at = fields.DatetimeField()

    class Meta:
        table = "bidding_invitation"
        unique_together = (("tender_id", "organization_id"),)


class TenderDocument(Model):
    id = fields.IntField(primary_key=True)
    tender: fields.ForeignKeyRelation[Tender] = fields.ForeignKeyField(
        "bidding.Tender", related_name="documents", on_delete=fields.CASCADE
    )
    version = fields.IntField()
    filename = fields.CharField(max_length=255)
    content_type = fields.CharField(max_length=100, default="application/octet-stream")
    sha256 = fields.CharField(max_length=64)
    size = fields.BigIntField()
    note = fields.CharField(max_length=300, default="")
    uploaded_at = fields.DatetimeField()

    class Meta:
        table = "bidding_tender_document"
        unique_together = (("tender_id", "version"),)


class Registration(Model):
    """投标报名. Sealed: only the bidder itself sees it before the opening."""

    id = RandomIdField()
    tender: fields.ForeignKeyRelation[Tender] = fields.ForeignKeyField(
        "bidding.Tender", related_name="registrations", on_delete=fields.CASCADE
    )
    organization_id = fields.IntField(db_index=True)
    registered_at = fields.DatetimeField()
    deposit_status = fields.CharEnumField(
        DepositStatus, max_length=16, default=DepositStatus.UNKNOWN
    )
    deposit_recorded_at = fields.DatetimeField(null=True)

    class Meta:
        table = "bidding_registration"
        unique_together = (("tender_id", "organization_id"),)


class Download(Model):
    id = RandomIdField()
    registration: fields.ForeignKeyRelation[Registration] = fields.ForeignKeyField(
        "bidding.Registration", related_name="downloads", on_delete=fields.CASCADE
    )
    document: fields.ForeignKeyRelation[TenderDocument] = fields.ForeignKeyField(
        "bidding.TenderDocument", related_name="downloads", on_delete=fields.CASCADE
    )
    downloaded_at = fields.DatetimeField()

    class Meta:
        table = "bidding_download"


class Bid(Model):
    id = RandomIdField()
    tender: fields.ForeignKeyRelation[Tender] = fields.ForeignKeyField(
        "bidding.Tender", related_name="bids", on_delete=fields.CASCADE
    )
    lot: fields.ForeignKeyRelation[Lot] = fields.ForeignKeyField(
        "bidding.Lot", related_name="bids", on_delete=fields.CASCADE
    )
    registration: fields.ForeignKeyRelation[Registration] = fields.ForeignKeyField(
        "bidding.Registration", related_name="bids", on_delete=fields.CASCADE
    )
    organization_id = fields.IntField(db_index=True)
    status = fields.CharEnumField(BidStatus, max_length=16, default=BidStatus.SUBMITTED)
    # The sealed package as received (signing/sealed), kept in the blob store by its SHA-256.
    filename = fields.CharField(max_length=255)
    sha256 = fields.CharField(max_length=64)
    size = fields.BigIntField()
    # Known before the opening without decrypting: who signed the package (signing/sealed).
    certificate_sha256 = fields.CharField(max_length=64, default="")
    signer_subject = fields.CharField(max_length=300, default="")
    receipt = fields.BinaryField(null=True)  # the signed receipt (CMS DER) the bidder holds
    log_index = fields.BigIntField(null=True)
    upload_address = fields.CharField(max_length=64, default="")  # keyed hash, for collusion/
    # Read from the signed manifest at the opening: null/empty until the bid is decrypted.
    price = fields.DecimalField(max_digits=16, decimal_places=2, null=True)
    duration_days = fields.IntField(null=True)  # 工期
    quality = fields.CharField(max_length=100, default="")  # 质量承诺
    project_manager = fields.CharField(max_length=100, default="")
    manifest: dict | None = fields.JSONField(null=True)  # type: ignore[assignment]
    decryption = fields.CharEnumField(Decryption, max_length=16, default=Decryption.PENDING)
    decryption_detail = fields.CharField(max_length=500, default="")  # the reason, bilingual
    decrypted_at = fields.DatetimeField(null=True)
    submitted_at = fields.DatetimeField()  # when the package's last byte arrived
    ended_at = fields.DatetimeField(null=True)  # superseded or withdrawn

    class Meta:
        table = "bidding_bid"
        indexes = (("tender_id", "lot_id", "status"),)


class BidFile(Model):
    """A file of a decrypted bid, stored in the blob store by its SHA-256 after the opening."""

    id = fields.IntField(primary_key=True)
    bid: fields.ForeignKeyRelation[Bid] = fields.ForeignKeyField(
        "bidding.Bid", related_name="files", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=255)
    sha256 = fields.CharField(max_length=64)
    size = fields.BigIntField()

    class Meta:
        table = "bidding_bid_file"
        unique_together = (("bid_id", "name"),)


class OpeningIncident(Model):
    """A failure at the opening that is the platform's fault (or another event worth a record):
    the bid is treated as withdrawn and the incident is published with the opening record."""

    id = fields.IntField(primary_key=True)
    tender: fields.ForeignKeyRelation[Tender] = fields.ForeignKeyField(
        "bidding.Tender", related_name="incidents", on_delete=fields.CASCADE
    )
    bid_id = fields.BigIntField(null=True)
    kind = fields.CharField(max_length=40)
    detail = fields.TextField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "bidding_opening_incident"


class Notice(Model):
    """A public announcement on the portal (交易公告, 中标公示...)."""

    id = fields.IntField(primary_key=True)
    tender: fields.ForeignKeyRelation[Tender] = fields.ForeignKeyField(
        "bidding.Tender", related_name="notices", on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(NoticeKind, max_length=16)
    title = fields.CharField(max_length=300, db_index=True)
    body = fields.TextField()
    published_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "bidding_notice"
        indexes = (("kind", "published_at"), ("tender_id", "published_at"))


class Question(Model):
    """A question from a bidder. The answer is a clarification that never names who asked."""

    id = RandomIdField()
    tender: fields.ForeignKeyRelation[Tender] = fields.ForeignKeyField(
        "bidding.Tender", related_name="questions", on_delete=fields.CASCADE
    )
    organization_id = fields.IntField()
    text = fields.TextField()
    asked_at = fields.DatetimeField()
    answered_by: fields.ForeignKeyNullableRelation[Clarification] = fields.ForeignKeyField(
        "bidding.Clarification", related_name="questions", null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "bidding_question"


class Clarification(Model):
    id = fields.IntField(primary_key=True)
    tender: fields.ForeignKeyRelation[Tender] = fields.ForeignKeyField(
        "bidding.Tender", related_name="clarifications", on_delete=fields.CASCADE
    )
    number = fields.IntField()
    body = fields.TextField()
    published_at = fields.DatetimeField()
    # Set when the 15-day rule moved the deadline: the old and the new one.
    moved_deadline_from = fields.DatetimeField(null=True)
    moved_deadline_to = fields.DatetimeField(null=True)

    class Meta:
        table = "bidding_clarification"
        unique_together = (("tender_id", "number"),)


class Objection(Model):
    id = RandomIdField()
    tender: fields.ForeignKeyRelation[Tender] = fields.ForeignKeyField(
        "bidding.Tender", related_name="objections", on_delete=fields.CASCADE
    )
    stage = fields.CharEnumField(ObjectionStage, max_length=16)
    organization_id = fields.IntField()
    text = fields.TextField()
    raised_at = fields.DatetimeField()
    answer = fields.TextField(default="")
    answered_at = fields.DatetimeField(null=True)

    class Meta:
        table = "bidding_objection"


class OpeningRecord(Model):
    """开标记录表, generated at the opening. Rows frozen as JSON with their SHA-256."""

    id = fields.IntField(primary_key=True)
    tender: fields.OneToOneRelation[Tender] = fields.OneToOneField(
        "bidding.Tender", related_name="opening_record", on_delete=fields.CASCADE
    )
    rows: list = fields.JSONField()  # type: ignore[assignment]
    sha256 = fields.CharField(max_length=64)
    # The platform's CMS signature (DER, content attached) over the canonical rows JSON.
    signature = fields.BinaryField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "bidding_opening_record"


class Ranking(Model):
    """The ranking of one lot by the evaluation committee, entered by the agency."""

    id = fields.IntField(primary_key=True)
    lot: fields.ForeignKeyRelation[Lot] = fields.ForeignKeyField(
        "bidding.Lot", related_name="rankings", on_delete=fields.CASCADE
    )
    bid: fields.ForeignKeyRelation[Bid] = fields.ForeignKeyField(
        "bidding.Bid", related_name="rankings", on_delete=fields.CASCADE
    )
    rank = fields.IntField()
    score = fields.DecimalField(max_digits=8, decimal_places=2, null=True)
    entered_at = fields.DatetimeField()

    class Meta:
        table = "bidding_ranking"
        unique_together = (("lot_id", "rank"), ("lot_id", "bid_id"))


class Award(Model):
    id = fields.IntField(primary_key=True)
    lot: fields.OneToOneRelation[Lot] = fields.OneToOneField(
        "bidding.Lot", related_name="award", on_delete=fields.CASCADE
    )
    bid: fields.ForeignKeyRelation[Bid] = fields.ForeignKeyField(
        "bidding.Bid", related_name="awards", on_delete=fields.RESTRICT
    )
    notice_at = fields.DatetimeField()  # 中标通知书发出
    contract_signed_at = fields.DatetimeField(null=True)
    contract_amount = fields.DecimalField(max_digits=16, decimal_places=2, null=True)
    contract_registered_at = fields.DatetimeField(null=True)

    class Meta:
        table = "bidding_award"


class WrittenReport(Model):
    """招标投标情况书面报告 to the supervising authority, due 15 days after the award."""

    id = fields.IntField(primary_key=True)
    tender: fields.OneToOneRelation[Tender] = fields.OneToOneField(
        "bidding.Tender", related_name="report", on_delete=fields.CASCADE
    )
    body = fields.TextField()
    filed_at = fields.DatetimeField()

    class Meta:
        table = "bidding_written_report"
