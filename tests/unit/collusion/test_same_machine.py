"""Detector 1, same machine: a fixture tender and the flags expected of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from collusion.base import BidSnapshot, TenderSnapshot
from collusion.detectors.same_machine import SameMachine
from signing.fingerprint import fingerprint, keyed_hash

KEY = b"k" * 32
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def ip(address: str) -> str:
    return keyed_hash(KEY, "ip", address)


def bid(key: str, *, at: datetime | None = T0, address: str = "", **raw: object) -> BidSnapshot:
    return BidSnapshot(key=key, submitted_at=at, upload_address=ip(address) if address else "",
                       fingerprint=fingerprint(KEY, raw))  # type: ignore[arg-type]


def tender(*bids: BidSnapshot, shared: frozenset[str] = frozenset()) -> TenderSnapshot:
    return TenderSnapshot(key="t", bids=bids, shared_addresses=shared)


def test_a_shared_network_card_and_disk_is_strong_evidence_naming_both_identifiers() -> None:
    flags = SameMachine().detect(tender(
        bid("beta", mac=["3c:97:0e:11:22:33", "3c:97:0e:99:88:77"], disk_serial="S4EWNX0N1234"),
        bid("acme", mac="3C-97-0E-11-22-33", disk_serial="s4ewnx0n1234 "),
        bid("gamma", mac="3c:97:0e:44:55:66", disk_serial="WD-WX11A1234567"),
    ))
    assert len(flags) == 1
    flag = flags[0]
    assert flag.bidders == ("acme", "beta")
    assert flag.strength == "strong"
    assert flag.score > 0.99
    kinds = sorted(entry["kind"] for entry in flag.evidence["shared"])
    assert kinds == ["disk_serial", "mac"]
    mac = fingerprint(KEY, {"mac": "3c:97:0e:11:22:33"})["mac"][0]
    assert {"kind": "mac", "hash": mac, "weight": 0.9} in flag.evidence["shared"]
    assert "网卡地址" in flag.summary and "硬盘序列号" in flag.summary


def test_a_shared_host_name_alone_is_only_supporting() -> None:
    flags = SameMachine().detect(tender(bid("a", hostname="DESKTOP-7QK2M1"),
                                        bid("b", hostname="desktop-7qk2m1.")))
    assert [(f.bidders, f.strength, f.score) for f in flags] == [(("a", "b"), "supporting", 0.3)]


def test_placeholder_serials_and_virtual_adapters_are_no_evidence() -> None:
    flags = SameMachine().detect(tender(
        bid("a", board_serial="To be filled by O.E.M.", mac="00:50:56:c0:00:08", hostname="PC"),
        bid("b", board_serial="To be filled by O.E.M.", mac="00:50:56:c0:00:08", hostname="PC"),
    ))
    assert flags == []


def test_upload_address_counts_within_the_window_only() -> None:
    later = T0 + timedelta(hours=3)
    near = T0 + timedelta(minutes=40)
    flags = SameMachine().detect(tender(bid("a", address="198.51.100.23"),
                                        bid("b", address="198.51.100.23", at=near),
                                        bid("c", address="198.51.100.23", at=later)))
    assert [f.bidders for f in flags] == [("a", "b")]
    (entry,) = flags[0].evidence["shared"]
    assert entry["kind"] == "ip" and entry["minutes_apart"] == 40.0
    assert flags[0].strength == "supporting" and flags[0].score == 0.6


def test_an_address_without_times_counts_less() -> None:
    flags = SameMachine().detect(tender(bid("a", address="198.51.100.23", at=None),
                                        bid("b", address="198.51.100.23", at=None)))
    assert [(f.bidders, f.score) for f in flags] == [(("a", "b"), 0.4)]


def test_the_tenders_shared_addresses_are_never_evidence() -> None:
    hall = ip("203.0.113.7")
    flags = SameMachine().detect(tender(bid("a", address="203.0.113.7"),
                                        bid("b", address="203.0.113.7"), shared=frozenset({hall})))
    assert flags == []


def test_a_known_nat_address_is_dismissed_only_when_many_bidders_share_it() -> None:
    nat = frozenset({ip("203.0.113.9")})
    few = tender(bid("a", address="203.0.113.9"), bid("b", address="203.0.113.9"),
                 bid("c", address="198.51.100.1"), bid("d", address="198.51.100.2"),
                 bid("e", address="198.51.100.3"))
    assert [f.bidders for f in SameMachine(known_nat=nat).detect(few)] == [("a", "b")]
    many = tender(*(bid(name, address="203.0.113.9") for name in "abcd"), bid("e"))
    assert SameMachine(known_nat=nat).detect(many) == []
    # Without the NAT knowledge, four of five bidders on one address is a ring, not noise.
    assert len(SameMachine().detect(many)) == 6


def test_two_bids_of_one_bidder_are_not_paired_with_each_other() -> None:
    flags = SameMachine().detect(tender(bid("a", machine_id="4c4c4544004210"),
                                        bid("a", machine_id="4c4c4544004210")))
    assert flags == []
