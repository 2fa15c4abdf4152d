"""The remote opening: the window, the bidders' keys, the officers' shares, each outcome and
who it is attributed to, the signed record (docs/opening.md). Real sealed packages from the
session's development PKI, submitted through the real intake service."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import factories
import pytest

from bidding import services
from bidding.exceptions import (
    BadKeySignature,
    BidNotFound,
    DecryptionWindowClosed,
    KeyNotExpected,
    NotABidder,
    OpenedFilesWithheld,
    SharesTooEarly,
    TenderNotFound,
)
from bidding.models import (
    Bid,
    BidFile,
    Decryption,
    KeyMode,
    Lot,
    Notice,
    NoticeKind,
    OpeningIncident,
    OpeningRecord,
    Tender,
    TenderStatus,
)
from bidding.services import analysis, queries
from bidding.services import opening as opening_services
from kernel.audit.models import AuditEvent
from kernel.errors import TransitionNotAllowed
from signing import cms
from signing.models import HeadReason, OpeningShare, SignedHead
from signing.opening_shares import NotTheShareHolder, ShareAlreadySubmitted
from signing.receipts import Receipt
from signing.sealed.errors import WrongDataKey
from signing.shamir import ShareRefused

PRICES = ("10980000.00", "11020000.00", "11160000.00")


@pytest.fixture
def agency(run: Any, ctx: Any, monkeypatch: pytest.MonkeyPatch) -> factories.Account:
    factories.cheap_password_hashing(monkeypatch)
    return factories.make_agency(run, ctx)


def sealed_tender(run: Any, ctx: Any, clock: Any, agency: factories.Account, *,
                  mode: str = "either", prices: tuple[str, ...] = PRICES,
                  ) -> tuple[factories.MadeTender, dict[str, factories.Officer]]:
    """A published tender in ``mode`` whose bidders sealed and submitted their bids."""
    officers = factories.opening_officers(run, ctx, agency)
    bidders = [factories.make_bidder(run, ctx, f"open{n}") for n in range(len(prices))]
    made = factories.make_tender(run, ctx, clock, agency, "published", bidders=bidders,
                                 prices=[], key_mode=mode)
    for bidder, price in zip(bidders, prices, strict=True):
        bid_id, _ = factories.submit_sealed(run, ctx, bidder, made.id, price)
        made.bid_ids[bidder.username] = bid_id
        made.prices[bidder.username] = price
    return made, officers


def start(run: Any, ctx: Any, clock: Any, made: factories.MadeTender) -> Tender:
    """Moves the clock. To the end of the intake grace; the scheduler starts the opening."""
    clock.set(made.deadline_at + timedelta(seconds=ctx.settings.intake_grace_seconds))
    run(services.advance_due, ctx)
    return run(Tender.get, id=made.id)


def bid(run: Any, bid_id: int) -> Bid:
    return run(Bid.get, id=bid_id)


def test_either_mode_keys_a_wrong_key_then_the_officers_recover_the_silent_bid(
    run: Any, ctx: Any, clock: Any, agency: factories.Account
) -> None:
    made, officers = sealed_tender(run, ctx, clock, agency)
    a, b, c = made.bidders

    # Not at the deadline itself: the intake grace lets in-flight bids finish.
    clock.set(made.deadline_at)
    run(services.advance_due, ctx)
    assert run(Tender.get, id=made.id).status == TenderStatus.PUBLISHED
    tender = start(run, ctx, clock, made)
    assert tender.status == TenderStatus.OPENING
    assert tender.decryption_ends_at == clock.now() + timedelta(minutes=30)
    deadline_head = run(SignedHead.filter(tender_id=made.id, reason=HeadReason.DEADLINE).first)
    assert deadline_head is not None and deadline_head.tree_size >= 3

    opened = factories.send_key(run, ctx, a, made.bid_ids[a.username])
    assert opened.decryption == Decryption.DECRYPTED
    assert opened.price == Decimal(PRICES[0]) and opened.duration_days == 300
    assert opened.project_manager == f"项目经理{a.username}"
    assert opened.manifest["tender"] == str(made.id)
    files = run(BidFile.filter(bid_id=opened.id).all)
    assert [f.name for f in files] == ["投标文件.pdf"]
    assert ctx.blobs.path_for(files[0].sha256).read_bytes() == factories.bid_bytes(
        a, made.id, 1, PRICES[0])
    # Sent again: nothing left to do.
    with pytest.raises(KeyNotExpected):
        factories.send_key(run, ctx, a, opened.id)

    # A wrong key is refused with the reason and may be sent again.
    with pytest.raises(WrongDataKey):
        factories.send_key(run, ctx, b, made.bid_ids[b.username], data_key=bytes(32))
    assert bid(run, made.bid_ids[b.username]).decryption == Decryption.PENDING
    assert factories.send_key(run, ctx, b, made.bid_ids[b.username]).decryption == (
        Decryption.DECRYPTED)

    # Shares are taken after the deadline; the window closes; the officers recover C's bid.
    assert factories.send_share(run, ctx, officers["agency"], made.id).submitted == 1
    with pytest.raises(ShareAlreadySubmitted):
        factories.send_share(run, ctx, officers["agency"], made.id)
    assert factories.send_share(run, ctx, officers["centre"], made.id).submitted == 2
    assert run(Tender.get, id=made.id).status == TenderStatus.OPENING  # window still open
    clock.advance(minutes=30)
    with pytest.raises(DecryptionWindowClosed):
        factories.send_key(run, ctx, c, made.bid_ids[c.username])
    run(services.advance_due, ctx)
    recovered = bid(run, made.bid_ids[c.username])
    assert recovered.decryption == Decryption.RECOVERED and recovered.price == Decimal(PRICES[2])

    tender = run(Tender.get, id=made.id)
    assert tender.status == TenderStatus.OPENED
    record = run(OpeningRecord.get, tender_id=made.id)
    assert sorted((r["price"], r["decryption"], r["valid"]) for r in record.rows) == [
        (PRICES[0], "decrypted", True), (PRICES[1], "decrypted", True),
        (PRICES[2], "recovered", True)]
    content, _ = cms.verify_attached(bytes(record.signature), what="record")
    assert content.decode().count('"bidder"') == 3
    assert run(SignedHead.filter(tender_id=made.id, reason=HeadReason.OPENING).exists)
    assert run(Notice.filter(tender_id=made.id, kind=NoticeKind.OPENING).exists)
    # The shares' submissions are in the trail; the shares themselves are not.
    events = run(AuditEvent.filter(action="signing:opening_share:submitted").all)
    assert len(events) == 2
    stored = run(OpeningShare.filter(tender_id=made.id).all)
    for event in events:
        assert all(base64.b64encode(bytes(s.share)).decode() not in str(event.detail)
                   for s in stored)


def test_prices_and_files_are_read_out_only_when_the_window_is_over(
    client: Any, run: Any, ctx: Any, clock: Any, agency: factories.Account
) -> None:
    """A bidder whose bid is still sealed must not see its rivals' prices, or it could let
    its own bid fail after reading them; insiders see no more meanwhile."""
    made, _ = sealed_tender(run, ctx, clock, agency)
    a, b, _c = made.bidders
    start(run, ctx, clock, made)
    factories.send_key(run, ctx, a, made.bid_ids[a.username])
    file_id = run(BidFile.filter(bid_id=made.bid_ids[a.username]).first).id

    def prices(viewer: factories.Account) -> dict[int, Any]:
        view = run(services.opening_view, ctx, actor=viewer.actor, tender_id=made.id)
        return {row["bid_id"]: (row["price"], len(row["files"])) for row in view["bids"]}

    a_bid = made.bid_ids[a.username]
    assert prices(a)[a_bid] == (PRICES[0], 1)  # one's own, as soon as it is opened
    assert prices(b)[a_bid] == (None, 0)
    assert prices(agency)[a_bid] == (None, 0)
    assert run(services.opening_view, ctx, actor=b.actor, tender_id=made.id)["prices_withheld"]
    detail = run(queries.tender_view, agency.actor, made.id)
    assert detail.bids_by_lot == {}  # not even their order, cheapest first
    api = factories.login(client, agency, api=True).get(f"/api/v1/tenders/{made.id}").json()
    assert not api.get("bids_by_lot")
    supervisor = factories.make_supervisor(run, ctx)
    assert run(services.opening_view, ctx, actor=supervisor.actor,
               tender_id=made.id)["bids"][0]["price"] is None
    with pytest.raises(OpenedFilesWithheld):
        run(opening_services.opened_file, ctx, actor=agency.actor, bid_id=a_bid, file_id=file_id)
    # ... nor the sealed package, which officers holding enough shares could open offline
    package = factories.login(client, agency).get(f"/bids/{a_bid}/file")
    assert package.status_code == 409
    with pytest.raises(TenderNotFound):  # nor the collusion analysis, until the read-out
        run(analysis.opened_bids_for_analysis, made.id)
    live = factories.login(client, b).get(f"/tenders/{made.id}/opening")
    assert 'id="prices-withheld"' in live.text and "10,980,000.00" not in live.text

    clock.advance(minutes=30)
    run(services.advance_due, ctx)
    assert run(Tender.get, id=made.id).status == TenderStatus.FAILED  # one valid bid: 流标
    assert run(services.opening_view, ctx, actor=b.actor, tender_id=made.id)["failed_lots"] == [1]
    page = factories.login(client, agency).get(f"/tenders/{made.id}/opening")
    assert page.status_code == 200
    assert "第 1 标段流标" in page.text and 'id="prices-withheld"' not in page.text
    assert prices(b)[a_bid] == (PRICES[0], 0)
    assert prices(agency)[a_bid] == (PRICES[0], 1)
    assert run(opening_services.opened_file, ctx, actor=agency.actor, bid_id=a_bid,
               file_id=file_id).id == file_id


def test_the_record_lists_every_receipt_of_the_tender_with_its_log_index(
    run: Any, ctx: Any, clock: Any, agency: factories.Account
) -> None:
    """After the opening the tender's log entries become attributable: the signed record
    lists each receipt it was given (a replaced bid's too) by its index, and the size of the
    head signed at the deadline, against which anyone can check their inclusion."""
    made, _ = sealed_tender(run, ctx, clock, agency)
    a = made.bidders[0]
    first = run(Bid.get, id=made.bid_ids[a.username]).receipt
    replaced_id, replacement = factories.submit_sealed(run, ctx, a, made.id, "10970000.00")
    made.bid_ids[a.username] = replaced_id
    start(run, ctx, clock, made)
    for bidder in made.bidders:
        factories.send_key(run, ctx, bidder, made.bid_ids[bidder.username])
    record = run(OpeningRecord.get, tender_id=made.id)
    content, _ = cms.verify_attached(bytes(record.signature), what="record")
    document = json.loads(content)
    listed = {r["receipt_sha256"]: r for r in document["receipts"]}
    assert len(listed) == 4
    old = listed[hashlib.sha256(bytes(first)).hexdigest()]
    assert old["bid_id"] is None  # replaced: listed, but no current bid
    new = listed[hashlib.sha256(replacement).hexdigest()]
    assert new["bid_id"] == replaced_id
    assert new["log_index"] == Receipt.from_json(
        cms.verify_attached(replacement, what="receipt")[0]).log_index
    for row in document["rows"]:
        receipt = run(Bid.get, id=row["bid_id"]).receipt
        assert listed[hashlib.sha256(bytes(receipt)).hexdigest()]["log_index"] == row["log_index"]
    assert document["deadline_tree_size"] > max(r["log_index"] for r in document["receipts"])


def test_only_bidders_object_at_the_opening(
    run: Any, ctx: Any, clock: Any, agency: factories.Account
) -> None:
    """Art. 44: the bidders object at the opening. A registered company without a bid may
    not: its name on the opening page would reveal that it registered."""
    made, _ = sealed_tender(run, ctx, clock, agency)
    onlooker = factories.make_bidder(run, ctx, "onlooker")
    factories.register(run, ctx, onlooker, made.id)
    start(run, ctx, clock, made)
    text = "开标程序有异议，请当场说明解密的安排。"
    with pytest.raises(NotABidder):
        run(services.raise_objection, ctx, actor=onlooker.actor, tender_id=made.id,
            stage="opening", text=text)
    view = run(queries.tender_view, onlooker.actor, made.id)
    assert "object_opening" not in view.actions
    bidder = made.bidders[0]
    run(services.raise_objection, ctx, actor=bidder.actor, tender_id=made.id,
        stage="opening", text=text)
    assert "object_opening" in run(queries.tender_view, bidder.actor, made.id).actions


def test_the_opening_record_verifies_with_openssl(
    run: Any, ctx: Any, clock: Any, agency: factories.Account, tmp_path: Path
) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("no openssl binary")
    made, _ = sealed_tender(run, ctx, clock, agency)
    start(run, ctx, clock, made)
    factories.decrypt_bids(run, ctx, made)
    assert run(Tender.get, id=made.id).status == TenderStatus.OPENED
    der = run(services.opening.signed_record, made.id)
    (tmp_path / "record.p7m").write_bytes(der)
    cert = ctx.settings.key_dir / "receipt-cert.pem"
    result = subprocess.run(
        ["openssl", "cms", "-verify", "-inform", "DER", "-in", str(tmp_path / "record.p7m"),
         "-CAfile", str(cert), "-purpose", "any"],
        capture_output=True, check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert b'"format":"ebid-opening-record/2"' in result.stdout
    assert made.bidders[0].org_name.encode() in result.stdout


def _flip_stored_byte_and_send_key(
    run: Any, ctx: Any, clock: Any, agency: factories.Account, offset: int
) -> tuple[Any, Any]:
    """The first bidder's stored package with one bit flipped at ``offset``, then its key:
    (the tender, the bid)."""
    made, _ = sealed_tender(run, ctx, clock, agency)
    a = made.bidders[0]
    start(run, ctx, clock, made)
    victim = bid(run, made.bid_ids[a.username])
    path = ctx.blobs.path_for(victim.sha256)
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.chmod(0o600)
    path.write_bytes(bytes(data))
    message = factories.key_message(run, ctx, a, victim.id)
    outcome = run(services.submit_key, ctx, actor=a.actor, tender_id=made.id, bid_id=victim.id,
                  **message)
    assert outcome.decryption == Decryption.FAILED_PLATFORM
    incident = run(OpeningIncident.get, tender_id=made.id)
    assert incident.bid_id == victim.id and "receipt" in incident.detail
    return made, victim


def test_a_package_changed_in_storage_is_the_platforms_fault(
    run: Any, ctx: Any, clock: Any, agency: factories.Account
) -> None:
    made, victim = _flip_stored_byte_and_send_key(run, ctx, clock, agency, -40)
    factories.decrypt_bids(run, ctx, made, made.bidders[1:])
    # Two bids opened: too few for an open tender, the lot fails (流标).
    assert run(Tender.get, id=made.id).status == TenderStatus.FAILED
    row = next(r for r in run(OpeningRecord.get, tender_id=made.id).rows
               if r["bid_id"] == victim.id)
    assert row["decryption"] == "failed_platform" and row["price"] is None
    assert not row["valid"]


def test_a_change_only_the_package_hash_sees_is_the_platforms_fault(
    run: Any, ctx: Any, clock: Any, agency: factories.Account
) -> None:
    """The opening does not verify the outer signature again: it hashes the bytes it decrypts
    against the receipt in the same pass. A byte changed in the outer signature, which no GCM
    tag or manifest covers, is found there and blamed on the platform. (The package ends with
    the outer signature, docs/sealed-bid-format.md; its last bytes are the signature value.)"""
    _flip_stored_byte_and_send_key(run, ctx, clock, agency, -3)


def test_no_key_and_no_shares_by_the_end_of_the_window_is_the_bidders_fault(
    run: Any, ctx: Any, clock: Any, agency: factories.Account
) -> None:
    made, _ = sealed_tender(run, ctx, clock, agency)
    start(run, ctx, clock, made)
    factories.decrypt_bids(run, ctx, made, made.bidders[:2])
    clock.advance(minutes=31)
    run(services.advance_due, ctx)
    silent = bid(run, made.bid_ids[made.bidders[2].username])
    assert silent.decryption == Decryption.FAILED_BIDDER
    assert "no key arrived" in silent.decryption_detail
    assert run(Tender.get, id=made.id).status == TenderStatus.FAILED
    assert run(Lot.get, tender_id=made.id).failed


def test_both_mode_keeps_the_bidders_half_until_the_officers_shares(
    run: Any, ctx: Any, clock: Any, agency: factories.Account
) -> None:
    made, officers = sealed_tender(run, ctx, clock, agency, mode="both")
    assert run(Tender.get, id=made.id).key_mode == KeyMode.BOTH
    start(run, ctx, clock, made)
    factories.decrypt_bids(run, ctx, made)
    waiting = bid(run, made.bid_ids[made.bidders[0].username])
    assert waiting.decryption == Decryption.PENDING and "waiting" in waiting.decryption_detail
    # The window closing does not fail bids whose halves are in: they wait for the officers.
    clock.advance(minutes=40)
    run(services.advance_due, ctx)
    assert run(Tender.get, id=made.id).status == TenderStatus.OPENING
    factories.send_share(run, ctx, officers["supervisor"], made.id)
    factories.send_share(run, ctx, officers["agency"], made.id)
    assert run(Tender.get, id=made.id).status == TenderStatus.OPENED
    assert {bid(run, i).decryption for i in made.bid_ids.values()} == {Decryption.DECRYPTED}
    assert not (ctx.settings.data_dir / "opening" / str(made.id)).exists()


def test_refusals_name_their_reason(run: Any, ctx: Any, clock: Any,
                                    agency: factories.Account) -> None:
    made, officers = sealed_tender(run, ctx, clock, agency)
    a, b, _ = made.bidders
    a_bid = made.bid_ids[a.username]
    # Before the opening: no keys, no shares.
    with pytest.raises(TransitionNotAllowed):
        factories.send_key(run, ctx, a, a_bid)
    with pytest.raises(SharesTooEarly):
        factories.send_share(run, ctx, officers["agency"], made.id)
    start(run, ctx, clock, made)
    # Signed by another bidder's certificate.
    message = factories.key_message(run, ctx, a, a_bid)
    other = factories.key_message(run, ctx, b, made.bid_ids[b.username])
    with pytest.raises(BadKeySignature):
        run(services.submit_key, ctx, actor=a.actor, tender_id=made.id, bid_id=a_bid,
            data_key=message["data_key"], signature=other["signature"])
    # Someone else's bid is not found, whoever asks.
    with pytest.raises(BidNotFound):
        run(services.submit_key, ctx, actor=b.actor, tender_id=made.id, bid_id=a_bid, **message)
    # A share from the wrong officer, and a tampered one.
    index, share = factories.officer_share(run, officers["agency"], made.id)
    with pytest.raises(NotTheShareHolder):
        run(services.submit_share, ctx, actor=officers["centre"].actor, tender_id=made.id,
            index=index, share=share)
    value = bytearray(base64.b64decode(share))
    value[0] ^= 1
    with pytest.raises(ShareRefused):
        run(services.submit_share, ctx, actor=officers["agency"].actor, tender_id=made.id,
            index=index, share=base64.b64encode(bytes(value)).decode())
    assert run(OpeningShare.filter(tender_id=made.id).count) == 0


def test_a_tender_without_bids_fails_at_once(run: Any, ctx: Any, clock: Any,
                                             agency: factories.Account) -> None:
    made = factories.make_tender(run, ctx, clock, agency, "published")
    tender = start(run, ctx, clock, made)
    assert tender.status == TenderStatus.FAILED
    assert run(OpeningRecord.get, tender_id=made.id).rows == []
    assert run(Notice.filter(tender_id=made.id, kind=NoticeKind.FAILURE).exists)


def test_both_mode_a_wrong_half_is_handed_back_while_the_window_lasts(
    run: Any, ctx: Any, clock: Any, agency: factories.Account
) -> None:
    made, officers = sealed_tender(run, ctx, clock, agency, mode="both")
    a = made.bidders[0]
    a_bid = made.bid_ids[a.username]
    start(run, ctx, clock, made)
    factories.send_key(run, ctx, a, a_bid, data_key=bytes(32))  # kept: nothing to check yet
    factories.decrypt_bids(run, ctx, made, made.bidders[1:])
    factories.send_share(run, ctx, officers["agency"], made.id)
    factories.send_share(run, ctx, officers["centre"], made.id)
    refused = bid(run, a_bid)
    assert refused.decryption == Decryption.PENDING and "send it again" in refused.decryption_detail
    # With the shares in, a wrong half is now refused at once; the right one opens the bid.
    with pytest.raises(WrongDataKey):
        factories.send_key(run, ctx, a, a_bid, data_key=bytes(32))
    assert factories.send_key(run, ctx, a, a_bid).decryption == Decryption.DECRYPTED
    assert run(Tender.get, id=made.id).status == TenderStatus.OPENED


def test_deposits_recorded_during_the_opening_are_in_the_record(
    run: Any, ctx: Any, clock: Any, agency: factories.Account
) -> None:
    made, _ = sealed_tender(run, ctx, clock, agency)
    a = made.bidders[0]
    start(run, ctx, clock, made)
    run(services.record_deposit, ctx, actor=agency.actor, tender_id=made.id,
        registration_id=made.registration_ids[a.username], received=True)
    factories.decrypt_bids(run, ctx, made)
    rows = {r["bid_id"]: r for r in run(OpeningRecord.get, tender_id=made.id).rows}
    assert rows[made.bid_ids[a.username]]["deposit"] == "received"
    assert {r["deposit"] for r in rows.values()} == {"received", "unknown"}


def test_a_tag_failing_on_an_intact_package_is_the_bidders_fault(
    run: Any, ctx: Any, clock: Any, agency: factories.Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The package still hashes to its receipt, yet a segment does not authenticate: the
    bidder sealed it so (a tampering client, a bad key it signed anyway)."""
    from bidding.services.opening import decrypt
    from signing.sealed.errors import TamperedSegment

    made, _ = sealed_tender(run, ctx, clock, agency)
    a = made.bidders[0]
    start(run, ctx, clock, made)

    def tampered(*args: Any, **kwargs: Any) -> Any:
        raise TamperedSegment(index=0)

    monkeypatch.setattr(decrypt, "open_sealed", tampered)
    failed = factories.send_key(run, ctx, a, made.bid_ids[a.username])
    assert failed.decryption == Decryption.FAILED_BIDDER and failed.price is None
    assert "Segment 0" in failed.decryption_detail
    assert not run(OpeningIncident.filter(tender_id=made.id).exists)
    assert not run(BidFile.filter(bid_id=failed.id).exists)
