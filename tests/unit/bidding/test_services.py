"""Each lifecycle service: its rule checks, its refusals and what it records."""

from __future__ import annotations

from datetime import timedelta

import factories
import pytest

from bidding import rules, services
from bidding.exceptions import (
    DeadlinePassed,
    NotInvited,
    ObjectionsPending,
    PublicityNotOver,
    RankingIncomplete,
    RoomDoubleBooked,
)
from bidding.models import (
    Bid,
    BidStatus,
    Notice,
    NoticeKind,
    Tender,
    TenderDocument,
    TenderStatus,
)
from bidding.services import rooms
from kernel.audit.models import AuditEvent
from kernel.errors import InvalidInput, PermissionDenied, TransitionNotAllowed


@pytest.fixture(autouse=True)
def _fast_hashing(monkeypatch) -> None:
    factories.cheap_password_hashing(monkeypatch)


@pytest.fixture
def agency(run, ctx):
    return factories.make_agency(run, ctx)


def _tender(run, tender_id: int) -> Tender:
    return run(Tender.get, id=tender_id)


def test_deposit_above_two_percent_is_refused(run, ctx, clock, agency) -> None:
    data = factories.tender_in(factories.legal_deadline(ctx, clock.now()),
                               estimate="1000000", deposit="20000.01")
    with pytest.raises(rules.DepositTooHigh) as info:
        run(services.create_tender, ctx, actor=agency.actor, data=data)
    assert "20,000.00" in info.value.message("en") or "20000.00" in info.value.message("en")


def test_publishing_needs_documents_and_a_legal_deadline(run, ctx, clock, agency) -> None:
    too_soon = clock.now() + timedelta(days=10)
    tender = run(services.create_tender, ctx, actor=agency.actor,
                 data=factories.tender_in(too_soon))
    with pytest.raises(services.tenders.DocumentsRequired):
        run(services.publish, ctx, actor=agency.actor, tender_id=tender.id)
    run(services.upload_document, ctx, actor=agency.actor, tender_id=tender.id,
        upload=factories.upload_file(b"documents", "doc.pdf"))
    with pytest.raises(rules.DeadlineTooSoon) as info:
        run(services.publish, ctx, actor=agency.actor, tender_id=tender.id)
    assert "2026-03-23" in info.value.message("en")  # 20 days after 2026-03-02 (not counted)
    assert _tender(run, tender.id).status == TenderStatus.DRAFT


def test_another_agency_cannot_touch_the_tender(run, ctx, clock, agency) -> None:
    other = factories.make_agency(run, ctx, username="other", org_name="另一家代理公司")
    made = factories.make_tender(run, ctx, clock, agency, state="draft")
    with pytest.raises(PermissionDenied):
        run(services.publish, ctx, actor=other.actor, tender_id=made.id)


def test_late_clarification_moves_the_deadline_and_publishes_the_notice(
    run, ctx, clock, agency
) -> None:
    made = factories.make_tender(run, ctx, clock, agency, state="published")
    bidder = factories.make_bidder(run, ctx, "late-clar")
    factories.register(run, ctx, bidder, made.id)
    # 10 days before the deadline: the clarification must move it to 15 days after today.
    clock.set(made.deadline_at - timedelta(days=10))
    clar = run(services.clarify, ctx, actor=agency.actor, tender_id=made.id,
               body="第3.2条工期调整为280日历天。")
    tender = _tender(run, made.id)
    assert clar.moved_deadline_to == tender.deadline_at > made.deadline_at
    kinds = [n.kind for n in run(Notice.filter(tender_id=made.id).all)]
    assert NoticeKind.CLARIFICATION in kinds and NoticeKind.POSTPONEMENT in kinds
    notes = run(factories.accounts.notifications_for, bidder.organization_id)
    assert any("澄清" in n.title for n in notes) and any("延期" in n.title for n in notes)


def test_early_clarification_keeps_the_deadline(run, ctx, clock, agency) -> None:
    made = factories.make_tender(run, ctx, clock, agency, state="published")
    clar = run(services.clarify, ctx, actor=agency.actor, tender_id=made.id, body="补充说明。")
    assert clar.moved_deadline_to is None
    assert _tender(run, made.id).deadline_at == made.deadline_at


def test_postponement_only_later_and_notice_is_automatic(run, ctx, clock, agency) -> None:
    made = factories.make_tender(run, ctx, clock, agency, state="published")
    with pytest.raises(InvalidInput):
        run(services.postpone, ctx, actor=agency.actor, tender_id=made.id,
            new_deadline=made.deadline_at - timedelta(days=1), reason="提前")
    run(services.postpone, ctx, actor=agency.actor, tender_id=made.id,
        new_deadline=made.deadline_at + timedelta(days=7), reason="图纸修改")
    notices = run(Notice.filter(tender_id=made.id, kind=NoticeKind.POSTPONEMENT).all)
    assert len(notices) == 1 and "图纸修改" in notices[0].body


def test_submission_refused_after_the_deadline_even_before_the_scheduler(
    run, ctx, clock, agency
) -> None:
    made = factories.make_tender(run, ctx, clock, agency, state="published")
    bidder = factories.make_bidder(run, ctx, "late")
    factories.register(run, ctx, bidder, made.id)
    clock.set(made.deadline_at)
    assert _tender(run, made.id).status == TenderStatus.PUBLISHED  # scheduler not yet run
    with pytest.raises(DeadlinePassed):
        factories.submit_bid(run, ctx, bidder, made.id, "100000")
    assert run(Bid.filter(tender_id=made.id).count) == 0


def test_resubmission_supersedes_and_withdrawal_ends_the_bid(run, ctx, clock, agency) -> None:
    made = factories.make_tender(run, ctx, clock, agency, state="published")
    bidder = factories.make_bidder(run, ctx, "resub")
    factories.register(run, ctx, bidder, made.id)
    first = factories.submit_bid(run, ctx, bidder, made.id, "11000000")
    second = factories.submit_bid(run, ctx, bidder, made.id, "10900000")
    statuses = {b.id: b.status for b in run(Bid.filter(tender_id=made.id).all)}
    assert statuses == {first: BidStatus.SUPERSEDED, second: BidStatus.SUBMITTED}
    run(services.withdraw_bid, ctx, actor=bidder.actor, tender_id=made.id, bid_id=second)
    assert run(Bid.get, id=second).status == BidStatus.WITHDRAWN


def test_objection_to_documents_suspends_until_answered(run, ctx, clock, agency) -> None:
    made = factories.make_tender(run, ctx, clock, agency, state="published")
    bidder = factories.make_bidder(run, ctx, "objector")
    objection = run(services.raise_objection, ctx, actor=bidder.actor, tender_id=made.id,
                    stage="documents", text="评分办法第2.1条排斥潜在投标人，请予修改。")
    assert _tender(run, made.id).status == TenderStatus.SUSPENDED
    # The suspension is the system's act: the objector's name must not appear.
    event = run(AuditEvent.filter(action="bidding:tender:suspend").first)
    assert event.actor_label == "system"
    clock.set(made.deadline_at + timedelta(minutes=1))
    run(services.advance_due, ctx)
    assert _tender(run, made.id).status == TenderStatus.SUSPENDED  # does not open meanwhile
    run(services.answer_objection, ctx, actor=agency.actor, tender_id=made.id,
        objection_id=objection.id, answer="已修改评分办法，见第2号澄清。")
    tender = _tender(run, made.id)
    assert tender.status == TenderStatus.PUBLISHED
    assert tender.deadline_at > clock.now()  # the answer is a clarification: deadline moved


def test_documents_objection_too_late(run, ctx, clock, agency) -> None:
    made = factories.make_tender(run, ctx, clock, agency, state="published")
    bidder = factories.make_bidder(run, ctx, "tardy")
    clock.set(made.deadline_at - timedelta(days=5))
    with pytest.raises(rules.DocumentsObjectionTooLate):
        run(services.raise_objection, ctx, actor=bidder.actor, tender_id=made.id,
            stage="documents", text="招标文件有误，请澄清相关条款。")


def test_fewer_than_three_bids_fail_and_rerun_copies_the_documents(
    run, ctx, clock, agency
) -> None:
    made = factories.make_tender(run, ctx, clock, agency, state="failed")
    assert _tender(run, made.id).status == TenderStatus.FAILED
    assert run(Notice.filter(tender_id=made.id, kind=NoticeKind.FAILURE).exists)
    copy = run(services.rerun, ctx, actor=agency.actor, tender_id=made.id,
               deadline_at=clock.now() + timedelta(days=40))
    assert copy.status == TenderStatus.DRAFT and copy.rerun_of_id == made.id
    assert run(TenderDocument.filter(tender_id=copy.id).count) == len(made.document_ids)


def test_deposits_only_after_the_opening(run, ctx, clock, agency) -> None:
    made = factories.make_tender(run, ctx, clock, agency, state="published",
                                 bidders=[factories.make_bidder(run, ctx, "dep")])
    registration_id = next(iter(made.registration_ids.values()))
    with pytest.raises(TransitionNotAllowed):
        run(services.record_deposit, ctx, actor=agency.actor, tender_id=made.id,
            registration_id=registration_id, received=True)


def test_candidates_need_a_ranking_and_award_waits_for_publicity_and_objections(
    run, ctx, clock, agency
) -> None:
    made = factories.make_tender(run, ctx, clock, agency, state="opened")
    with pytest.raises(RankingIncomplete):
        run(services.publish_candidates, ctx, actor=agency.actor, tender_id=made.id)
    bids = sorted(made.bid_ids.values())
    run(services.enter_ranking, ctx, actor=agency.actor, tender_id=made.id, lot_number=1,
        ranking=[(bid_id, None) for bid_id in bids])
    run(services.publish_candidates, ctx, actor=agency.actor, tender_id=made.id)
    with pytest.raises(PublicityNotOver):
        run(services.award, ctx, actor=agency.actor, tender_id=made.id)
    loser = made.bidders[-1]
    objection = run(services.raise_objection, ctx, actor=loser.actor, tender_id=made.id,
                    stage="candidates", text="第一中标候选人业绩不满足资格条件。")
    clock.set(_tender(run, made.id).publicity_ends_at)
    with pytest.raises(ObjectionsPending):
        run(services.award, ctx, actor=agency.actor, tender_id=made.id)
    run(services.answer_objection, ctx, actor=agency.actor, tender_id=made.id,
        objection_id=objection.id, answer="经核查，业绩满足要求。")
    assert run(services.award, ctx, actor=agency.actor, tender_id=made.id).status == (
        TenderStatus.AWARDED
    )


def test_contract_and_report_close_the_tender(run, ctx, clock, agency) -> None:
    made = factories.make_tender(run, ctx, clock, agency, state="awarded")
    with pytest.raises(InvalidInput):
        run(services.file_report, ctx, actor=agency.actor, tender_id=made.id, body="太短")
    run(services.file_report, ctx, actor=agency.actor, tender_id=made.id,
        body="本项目依法公开招标，共3家投标，评标委员会推荐并公示后确定中标人。")
    assert _tender(run, made.id).status == TenderStatus.AWARDED  # contract still missing
    run(services.register_contract, ctx, actor=agency.actor, tender_id=made.id, lot_number=1,
        signed_at=clock.now(), amount="10980000")
    assert _tender(run, made.id).status == TenderStatus.CLOSED


def test_invited_tender_admits_only_invitees(run, ctx, clock, agency) -> None:
    made = factories.make_tender(run, ctx, clock, agency, state="published", method="invited")
    guest, stranger = (factories.make_bidder(run, ctx, s) for s in ("guest", "stranger"))
    run(services.invite, ctx, actor=agency.actor, tender_id=made.id,
        credit_code=guest.credit_code)
    run(services.register, ctx, actor=guest.actor, tender_id=made.id)
    with pytest.raises(NotInvited):
        run(services.register, ctx, actor=stranger.actor, tender_id=made.id)


def test_opening_room_cannot_be_double_booked(run, ctx, clock, agency) -> None:
    admin = factories.make_admin(run, ctx)
    room = run(rooms.create_room, ctx, actor=admin.actor, name="第一开标室")
    deadline = factories.legal_deadline(ctx, clock.now())
    run(services.create_tender, ctx, actor=agency.actor,
        data=factories.tender_in(deadline, room_id=room.id))
    with pytest.raises(RoomDoubleBooked) as info:
        run(services.create_tender, ctx, actor=agency.actor,
            data=factories.tender_in(deadline + timedelta(hours=1), room_id=room.id))
    assert "第一开标室" in info.value.message()
    # Back to back is fine: the first booking ends two hours after its opening.
    run(services.create_tender, ctx, actor=agency.actor,
        data=factories.tender_in(deadline + timedelta(hours=2), room_id=room.id))
