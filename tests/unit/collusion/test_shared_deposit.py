"""Detector 7, shared deposit: a fixture tender and the flags expected of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from collusion.base import Bidder, BidSnapshot, Deposit, TenderSnapshot
from collusion.detectors.shared_deposit import SharedDeposit
from collusion.offline import hash_account

KEY = b"k" * 32
PAID = datetime(2026, 2, 27, 10, 0, tzinfo=UTC)


def bid(key: str, name: str, account: str = "", payer: str = "",
        paid_at: datetime | None = None) -> BidSnapshot:
    # Hours apart unless given: paying together is a reason of its own.
    when = paid_at or PAID + timedelta(hours=ord(key[0]) - ord("a"))
    return BidSnapshot(key=key, bidder=Bidder(name=name), deposit=Deposit(
        payer_account=hash_account(KEY, account) if account else "", payer_name=payer,
        paid_at=when))


def detect(*bids: BidSnapshot) -> list:
    return SharedDeposit().detect(TenderSnapshot(key="t", bids=bids))


def test_deposits_from_one_account_are_flagged_with_the_account_hash() -> None:
    flags = detect(bid("b", "乙公司", "6222 0212 3456 7890", "乙公司"),
                   bid("a", "甲公司", "6222-0212-3456-7890", "甲公司"),
                   bid("c", "丙公司", "6222 0299 9999 0000", "丙公司"))
    assert [(f.bidders, f.strength, f.score) for f in flags] == [(("a", "b"), "strong", 0.95)]
    evidence = flags[0].evidence
    assert evidence["reasons"] == [{"reason": "same_account",
                                    "payer_account": hash_account(KEY, "6222021234567890"),
                                    "weight": 0.95}]
    assert [d["bid"] for d in evidence["deposits"]] == ["a", "b"]
    assert evidence["deposits"][0]["paid_at"] == PAID.isoformat()
    account = hash_account(KEY, "6222021234567890")
    assert evidence["entities"] == [{"kind": "account", "id": account, "label": account[:8]}]


def test_one_bidder_paying_the_others_deposit_is_flagged() -> None:
    flags = detect(bid("a", "甲建设有限公司", "1", "甲建设有限公司"),
                   bid("b", "乙建设有限公司", "2", "甲建设 有限公司"))
    assert [f.bidders for f in flags] == [("a", "b")]
    assert flags[0].evidence["reasons"][0]["reason"] == "paid_by_the_other_bidder"
    assert flags[0].evidence["reasons"][0]["bid"] == "b"


def test_one_third_party_paying_for_two_bidders_is_flagged() -> None:
    flags = detect(bid("a", "甲公司", "1", "某某商贸有限公司"),
                   bid("b", "乙公司", "2", "某某商贸有限公司"))
    assert [(f.bidders, f.score) for f in flags] == [(("a", "b"), 0.85)]
    assert flags[0].evidence["reasons"][0]["reason"] == "same_third_party_payer"


def test_each_paying_its_own_deposit_is_not_flagged() -> None:
    assert detect(bid("a", "甲公司", "1", "甲公司"), bid("b", "乙公司", "2", "乙公司"),
                  BidSnapshot(key="c")) == []


def test_deposits_paid_within_a_minute_are_supporting_evidence() -> None:
    flags = detect(bid("a", "甲公司", "1", "甲公司", paid_at=PAID),
                   bid("b", "乙公司", "2", "乙公司", paid_at=PAID + timedelta(seconds=40)),
                   bid("c", "丙公司", "3", "丙公司", paid_at=PAID + timedelta(seconds=130)),
                   bid("d", "丁公司", "4", "丁公司", paid_at=PAID + timedelta(days=3)))
    assert [(f.bidders, f.strength, f.score) for f in flags] == [(("a", "b"), "supporting", 0.5)]
    (reason,) = flags[0].evidence["reasons"]
    assert reason["reason"] == "paid_together" and reason["seconds_apart"] == 40.0
    assert reason["pairs_expected_by_chance"] == pytest.approx(6 * 120 / (3 * 86400), abs=1e-3)
    # With one account as well, the flag is strong and stronger.
    both = detect(bid("a", "甲公司", "1", "甲公司", paid_at=PAID),
                  bid("b", "乙公司", "1", "乙公司", paid_at=PAID + timedelta(seconds=40)))
    assert [(f.strength, f.score) for f in both] == [("strong", 1 - 0.05 * 0.5)]


def test_in_a_crowd_of_payments_paying_together_alone_is_no_evidence() -> None:
    crowd = [bid(f"{n:02d}", f"公司{n}", str(n), f"公司{n}",
                 paid_at=PAID + timedelta(seconds=20 * n)) for n in range(30)]
    assert detect(*crowd) == []
    crowd[1] = bid("01", "公司1", "0", "公司1", paid_at=PAID + timedelta(seconds=20))
    (flag,) = detect(*crowd)
    assert flag.bidders == ("00", "01") and flag.strength == "strong"
    assert [r["reason"] for r in flag.evidence["reasons"]] == ["same_account", "paid_together"]
