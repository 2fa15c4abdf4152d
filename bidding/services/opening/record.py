"""The end of the opening: the signed opening record (开标记录表), the failed lots, the notices,
the transition, then the opening's signed log head and the event."""

from __future__ import annotations

import hashlib
import shutil
from datetime import datetime
from decimal import Decimal
from typing import Any

from bidding import rules as statute
from bidding.models import (
    Bid,
    BidStatus,
    Decryption,
    Lot,
    Notice,
    NoticeKind,
    OpeningIncident,
    OpeningRecord,
    Registration,
    Tender,
    TenderStatus,
)
from bidding.services.common import local, rules_of, transition
from bidding.services.opening.common import OPENED_OK, RECORD_FORMAT, canonical, halves_dir
from kernel.accounts import services as accounts
from kernel.accounts.actor import Actor
from kernel.context import Context
from signing import cms
from signing import keys as platform_keys
from signing import log as receipts_log
from signing.receipts import rfc3339


async def close(ctx: Context, tender: Tender, *, actor: Actor, now: datetime) -> None:
    """The opening record, signed; the lots that fail; the notices; OPENED or FAILED. In the
    caller's transaction, with the tender locked."""
    rules = rules_of(tender)
    lots = await Lot.filter(tender_id=tender.id).order_by("number")
    bids = await Bid.filter(tender_id=tender.id, status=BidStatus.SUBMITTED).order_by(
        "submitted_at", "id")
    orgs = await accounts.organizations_by_ids({b.organization_id for b in bids})
    deposits = {r.id: r.deposit_status.value
                for r in await Registration.filter(tender_id=tender.id)}
    rows: list[dict[str, Any]] = []
    failed_lots = []
    for lot in lots:
        lot_bids = [b for b in bids if b.lot_id == lot.id]  # type: ignore[attr-defined]
        lot.failed = statute.lot_fails(rules, sum(b.decryption in OPENED_OK for b in lot_bids))
        await lot.save(update_fields=["failed"])
        if lot.failed:
            failed_lots.append(lot.number)
        for bid in lot_bids:
            org = orgs.get(bid.organization_id)
            opened = bid.decryption in OPENED_OK and bid.price is not None
            rows.append({
                "lot": lot.number,
                "bid_id": bid.id,
                "bidder": org.name if org else "",
                "credit_code": org.credit_code if org else "",
                "price": str(bid.price) if opened else None,
                "duration_days": bid.duration_days if opened else None,
                "quality": bid.quality if opened else "",
                "project_manager": bid.project_manager if opened else "",
                "deposit": deposits.get(bid.registration_id, ""),  # type: ignore[attr-defined]
                "decryption": bid.decryption.value,
                "sha256": bid.sha256,
                "submitted_at": bid.submitted_at.isoformat(),
                # A price above the ceiling is void (最高投标限价); so is a bid not opened.
                "valid": bool(opened and bid.price <= tender.price_ceiling),  # type: ignore[operator]
            })
    incidents = [{"bid_id": i.bid_id, "kind": i.kind, "detail": i.detail}
                 for i in await OpeningIncident.filter(tender_id=tender.id).order_by("id")]
    receipts, deadline_size = await _receipts(ctx, tender, bids, rows)
    document = {
        "format": RECORD_FORMAT, "tender_id": tender.id, "tender_code": tender.code,
        "title": tender.title, "price_ceiling": str(tender.price_ceiling),
        "deadline_at": rfc3339(tender.deadline_at), "opened_at": rfc3339(now),
        "key_mode": tender.key_mode.value, "rows": rows, "incidents": incidents,
        "failed_lots": failed_lots, "receipts": receipts, "deadline_tree_size": deadline_size,
    }
    content = canonical(document)
    signer = platform_keys.load(ctx.settings, now=now).receipt
    record = await OpeningRecord.create(
        tender=tender, rows=rows, sha256=hashlib.sha256(content).hexdigest(),
        signature=cms.sign_attached(content, key=signer.key, certificate=signer.certificate,
                                    chain=signer.chain),
        created_at=now,
    )
    all_failed = len(failed_lots) == len(lots)
    await transition(
        ctx, tender, "fail" if all_failed else "open", actor=actor, changes={"opened_at": now},
        detail={"opening_record_sha256": record.sha256, "failed_lots": failed_lots},
    )
    await Notice.create(
        tender=tender, kind=NoticeKind.OPENING, published_at=now,
        title=f"{tender.title} 开标记录", body=_opening_text(ctx, tender, lots, rows, incidents),
    )
    if failed_lots:
        await Notice.create(
            tender=tender, kind=NoticeKind.FAILURE, published_at=now,
            title=f"{tender.title} 流标公告",
            body=(f"项目编号：{tender.code}\n第 {'、'.join(map(str, failed_lots))} 标段"
                  f"有效投标人不足 {rules.min_bids} 家，依法流标"
                  + ("，招标人将依法重新招标。" if all_failed else "。")),
        )


async def _receipts(ctx: Context, tender: Tender, bids: list[Bid], rows: list[dict[str, Any]],
                    ) -> tuple[list[dict[str, Any]], int | None]:
    """Every receipt the tender was given, superseded and withdrawn bids' too, by log index,
    and the size of the head signed at its deadline: now that the tender is open, its entries
    become attributable (docs/transparency-log.md). Anyone can then check each one's
    inclusion in that head, and a bidder holding a receipt can look for it here; a receipt
    missing from the list, or an entry the platform cannot account for, is evidence. Each
    current bid's row gets its receipt's index."""
    current = {hashlib.sha256(bytes(b.receipt)).hexdigest(): b.id for b in bids if b.receipt}
    receipts = []
    for entry in await receipts_log.tender_entries(ctx, tender_id=tender.id):
        # Every entry appended for a tender keeps its receipt (signing.log.issue_receipts);
        # one without would be listed with no digest rather than a made-up one.
        digest = hashlib.sha256(bytes(entry.receipt)).hexdigest() if entry.receipt else None
        receipts.append({"log_index": entry.index, "receipt_sha256": digest,
                         "bid_id": current.get(digest) if digest else None})
    index_of = {r["bid_id"]: r["log_index"] for r in receipts if r["bid_id"] is not None}
    for row in rows:
        row["log_index"] = index_of.get(row["bid_id"])
    # None only for a tender that had no bid left at its deadline: it closes at once, in the
    # transaction before its deadline head is published (window.begin_opening).
    head = await receipts_log.tender_head(ctx, tender_id=tender.id, reason="deadline")
    return receipts, head.tree_size if head is not None else None


async def after_close(ctx: Context, tender: Tender, actor: Actor) -> None:
    """After the closing commit: the opening's signed log head, then the event."""
    shutil.rmtree(halves_dir(ctx, tender.id), ignore_errors=True)
    await receipts_log.publish_head(ctx, reason="opening", tender_id=tender.id, actor=actor)
    await ctx.events.publish(
        "bidding:tender:opened",
        {"tender_id": tender.id, "failed": tender.status == TenderStatus.FAILED},
    )


_STATE_TEXT = {
    Decryption.FAILED_BIDDER.value: "解密失败（投标人原因，视为撤销投标文件）",
    Decryption.FAILED_PLATFORM.value: "解密失败（平台原因，视为撤回投标文件）",
    Decryption.RECOVERED.value: "由开标人员密钥解密",
}


def _opening_text(ctx: Context, tender: Tender, lots: list[Lot], rows: list[dict],
                  incidents: list[dict]) -> str:
    lines = [f"项目编号：{tender.code}", f"开标时间：{local(ctx, tender.deadline_at)}"]
    for lot in lots:
        lot_rows = [r for r in rows if r["lot"] == lot.number]
        lines.append(f"第{lot.number}标段 {lot.title}：投标人 {len(lot_rows)} 家"
                     + ("（流标）" if lot.failed else ""))
        for r in lot_rows:
            if r["price"] is None:
                lines.append(f"  {r['bidder']}  {_STATE_TEXT.get(r['decryption'], '未解密')}")
                continue
            lines.append(
                f"  {r['bidder']}  报价 ¥{Decimal(r['price']):,.2f}"
                + (f"  工期 {r['duration_days']} 天" if r["duration_days"] else "")
                + (f"  项目经理 {r['project_manager']}" if r["project_manager"] else "")
                + ("" if r["valid"] else "  （超过最高投标限价，无效）")
                + (f"  {_STATE_TEXT[r['decryption']]}" if r["decryption"] in _STATE_TEXT
                   else "")
            )
    if incidents:
        lines.append(f"开标异常记录 {len(incidents)} 条（平台原因），详见开标记录。")
    return "\n".join(lines)
