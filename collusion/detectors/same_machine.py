"""Detector 1: bids of different bidders prepared or uploaded on the same machine.

Compares the keyed hashes of the signed manifest's machine fingerprint (network cards, machine
id, disk and board serials, host name) and the upload address, through an index from hash to
bidders, so a tender of hundreds of bids costs one pass. One flag per pair of bidders, listing
everything they share.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from itertools import combinations
from typing import Any

from collusion.base import (
    EMPTY_HISTORY,
    BidSnapshot,
    Flag,
    History,
    Strength,
    TenderSnapshot,
    any_of,
    pair_key,
)

# How much one shared identifier says on its own. Hardware serials and machine ids are unique
# per machine once placeholders are dropped (signing.fingerprint does that); a host name is
# chosen by a person and often repeats ("FINANCE-01"), so it only supports.
WEIGHTS: Mapping[str, float] = {
    "machine_id": 0.95,
    "board_serial": 0.95,
    "disk_serial": 0.95,
    "mac": 0.9,
    "hostname": 0.3,
}
STRONG_KINDS = frozenset({"machine_id", "board_serial", "disk_serial", "mac"})
KIND_ZH = {"machine_id": "机器标识", "board_serial": "主板序列号", "disk_serial": "硬盘序列号",
           "mac": "网卡地址", "hostname": "主机名", "ip": "上传地址"}


class SameMachine:
    name = "same_machine"
    title_zh = "同一台机器"
    title_en = "Same machine"
    strength: Strength = "strong"

    def __init__(self, *, window_hours: float = 2.0, address_weight: float = 0.6,
                 address_weight_untimed: float = 0.4, known_nat: frozenset[str] = frozenset(),
                 nat_share: float = 0.5, min_score: float = 0.25) -> None:
        self.window_hours = window_hours
        self.address_weight = address_weight
        self.address_weight_untimed = address_weight_untimed
        self.known_nat = known_nat
        self.nat_share = nat_share
        self.min_score = min_score

    def detect(self, tender: TenderSnapshot, history: History = EMPTY_HISTORY) -> list[Flag]:
        bids = {bid.key: bid for bid in tender.bids}
        shared: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for kind in WEIGHTS:
            for digest, owners in sorted(_index(tender.bids, kind).items()):
                for a, b in combinations(owners, 2):
                    shared.setdefault(pair_key(a, b), []).append(
                        {"kind": kind, "hash": digest, "weight": WEIGHTS[kind]})
        for digest, owners in sorted(self._addresses(tender).items()):
            for a, b in combinations(owners, 2):
                entry = self._address_entry(digest, bids[a], bids[b])
                if entry is not None:
                    shared.setdefault(pair_key(a, b), []).append(entry)

        flags = []
        for (a, b), entries in sorted(shared.items()):
            score = any_of(float(entry["weight"]) for entry in entries)
            if score < self.min_score:
                continue
            strong = any(entry["kind"] in STRONG_KINDS for entry in entries)
            kinds = sorted({str(entry["kind"]) for entry in entries}, key=list(KIND_ZH).index)
            flags.append(Flag(
                detector=self.name, bidders=(a, b), score=round(score, 6),
                strength="strong" if strong else "supporting",
                evidence={
                    "shared": entries,
                    "entities": [{"kind": "machine", "id": f"{e['kind']}:{e['hash']}",
                                  "label": f"{KIND_ZH[str(e['kind'])]} {str(e['hash'])[:6]}"}
                                 for e in entries if e["kind"] != "ip"],
                },
                summary="共用" + "、".join(KIND_ZH[k] for k in kinds),
            ))
        return flags

    def _addresses(self, tender: TenderSnapshot) -> dict[str, list[str]]:
        index = {digest: owners for digest, owners in _index(tender.bids, "ip").items()
                 if digest not in tender.shared_addresses}
        bidders = len({bid.key for bid in tender.bids})
        # A known NAT gateway carries unrelated bidders' uploads; only when it carries many of
        # them is sharing it no evidence. A ring can be most of a tender's bidders, so a popular
        # address alone is never dismissed.
        return {digest: owners for digest, owners in index.items()
                if not (digest in self.known_nat and len(owners) > self.nat_share * bidders)}

    def _address_entry(self, digest: str, a: BidSnapshot,
                       b: BidSnapshot) -> dict[str, Any] | None:
        entry: dict[str, Any] = {"kind": "ip", "hash": digest}
        if a.submitted_at is None or b.submitted_at is None:
            entry["weight"] = self.address_weight_untimed
            return entry
        apart = abs(_seconds(a.submitted_at) - _seconds(b.submitted_at)) / 60
        if apart > self.window_hours * 60:
            return None
        entry.update(weight=self.address_weight, minutes_apart=round(apart, 1),
                     submitted_at=sorted([a.submitted_at.isoformat(), b.submitted_at.isoformat()]))
        return entry


def _index(bids: tuple[BidSnapshot, ...], kind: str) -> dict[str, list[str]]:
    """Hash -> the distinct bidders carrying it, sorted."""
    owners: dict[str, set[str]] = {}
    for bid in bids:
        values = (bid.upload_address,) if kind == "ip" else tuple(bid.fingerprint.get(kind, ()))
        for digest in values:
            if digest:
                owners.setdefault(digest, set()).add(bid.key)
    return {digest: sorted(keys) for digest, keys in owners.items() if len(keys) > 1}


def _seconds(moment: datetime) -> float:
    return moment.timestamp()
