"""Detector 9, bidding history: fixture histories and the flags expected of them."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from collusion.base import BidSnapshot, History, PastBid, PastTender, TenderSnapshot
from collusion.detectors.history import BidHistory

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


def past(n: int, bidders: tuple[str, ...], winner: str) -> PastTender:
    return PastTender(key=f"p{n:02d}", opened_at=T0 + timedelta(days=14 * n), bids=tuple(
        PastBid(bidder=b, price=Decimal(1000 + 10 * i), won=b == winner)
        for i, b in enumerate(bidders)))


def now(*bidders: str) -> TenderSnapshot:
    return TenderSnapshot(key="now", bids=tuple(BidSnapshot(key=b) for b in bidders))


def patterns(flags: list) -> list[tuple[tuple[str, ...], str]]:
    return [(f.bidders, f.evidence["pattern"]) for f in flags]


def test_a_ring_taking_turns_is_flagged_with_its_tenders() -> None:
    ring = ("r1", "r2", "r3")
    history = History(tenders=tuple(
        past(n, (*ring, f"x{n}", f"y{n}", f"z{n}"), ring[n % 3]) for n in range(10)))
    flags = BidHistory().detect(now("r1", "r2", "r3", "y"), history)
    assert ((("r1", "r2", "r3"), "rotation") in patterns(flags))
    rotation = next(f for f in flags if f.evidence["pattern"] == "rotation")
    assert rotation.evidence["wins"] == {"r1": 4, "r2": 3, "r3": 3}
    assert rotation.evidence["meetings"] == rotation.evidence["won_by_group"] == 10
    # Three of six bidders, ten times: by chance 5 wins, and all ten once in 1024 markets.
    assert rotation.evidence["expected_wins"] == 5.0
    assert rotation.evidence["chance"] == round(0.5**10, 6)
    assert rotation.score == 1.0
    first = rotation.evidence["tenders"][0]
    assert first == {"tender": "p00", "opened_at": T0.isoformat(), "bidders": 6,
                     "members": ["r1", "r2", "r3"], "winner": ["r1"],
                     "prices": {"r1": "1000", "r2": "1010", "r3": "1020"}}
    # They also always bid together: each pair met in all ten of their tenders.
    together = next(f for f in flags if f.evidence["pattern"] == "bid_together")
    assert together.bidders == ring and together.score == 1.0


def test_a_cover_bidder_bids_often_and_never_wins() -> None:
    history = History(tenders=tuple(
        past(n, ("cover", f"w{n % 2}", f"x{n}"), f"w{n % 2}") for n in range(8)))
    flags = [f for f in BidHistory().detect(now("cover", "z"), history)
             if f.evidence["pattern"] == "cover_bidder"]
    assert [f.bidders for f in flags] == [("cover",)]
    assert flags[0].evidence["bids"] == 8
    assert flags[0].evidence["chance_never_won"] == round((2 / 3) ** 8, 6)
    assert flags[0].evidence["winners_when_it_lost"] == [{"bidder": "w0", "tenders": 4},
                                                         {"bidder": "w1", "tenders": 4}]
    assert len(flags[0].evidence["tenders"]) == 8


def test_ordinary_competition_is_not_flagged() -> None:
    rng = random.Random(4)
    firms = [f"f{i}" for i in range(12)]
    tenders = []
    for n in range(24):
        # Four firms out of twelve bid, and the winner is whichever of them was cheapest.
        bidders = tuple(rng.sample(firms, 4))
        tenders.append(past(n, bidders, rng.choice(bidders)))
    history = History(tenders=tuple(tenders))
    assert BidHistory().detect(now(*firms), history) == []
    # Nor is anything flagged without history.
    assert BidHistory().detect(now("f0", "f5")) == []


def test_a_pair_where_one_always_wins_is_not_rotation() -> None:
    history = History(tenders=tuple(past(n, ("a", "b", f"x{n}"), "a") for n in range(10)))
    flags = BidHistory().detect(now("a", "b"), history)
    assert ("a", "b") not in [f.bidders for f in flags if f.evidence["pattern"] == "rotation"]
    # b lost all ten to a: a cover bidder for a.
    cover = next(f for f in flags if f.evidence["pattern"] == "cover_bidder")
    assert cover.bidders == ("b",)
    assert cover.evidence["winners_when_it_lost"] == [{"bidder": "a", "tenders": 10}]
