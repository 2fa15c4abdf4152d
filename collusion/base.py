"""The one interface every detector sits behind, and the read-only snapshot it reads.

A detector is a pure function of a ``TenderSnapshot`` (and ``History`` where it needs it): no
database, no clock, no writes. The platform builds snapshots from opened bids; the offline scan
(``ebid collusion scan DIR``) builds them from a folder. Both hash raw machine identifiers with
``signing.fingerprint`` before they reach a snapshot, so detectors only ever see keyed hashes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, BinaryIO, Literal, Protocol

Strength = Literal["strong", "supporting"]


@dataclass(frozen=True)
class Item:
    """One line of a bill of quantities (a bid's, or the tender's reference cost)."""

    code: str
    description: str
    quantity: Decimal | None
    unit_price: Decimal | None

    def key(self) -> str:
        """What names the line across bids: its code, else its description."""
        return (self.code or self.description).strip()


@dataclass(frozen=True)
class Document:
    """A file of a bid or of the tender documents. ``open`` gives its bytes each time it is
    called, so a snapshot of 100 bids of several MiB does not hold them all in memory."""

    name: str
    sha256: str
    size: int
    open: Callable[[], BinaryIO]


@dataclass(frozen=True)
class Bidder:
    name: str = ""
    credit_code: str = ""
    legal_rep: str = ""
    phone: str = ""
    email: str = ""
    address: str = ""
    project_manager: str = ""
    shareholders: tuple[str, ...] = ()


@dataclass(frozen=True)
class Deposit:
    payer_account: str = ""  # keyed hash of the normalised account number
    payer_name: str = ""
    paid_at: datetime | None = None


@dataclass(frozen=True)
class BidSnapshot:
    """One bid. ``key`` names the bidder in flags: the folder name offline, the organisation's
    credit code on the platform."""

    key: str
    bidder: Bidder = field(default_factory=Bidder)
    price: Decimal | None = None
    submitted_at: datetime | None = None
    # identifier kind ("mac", "machine_id", "disk_serial", "board_serial", "hostname") ->
    # keyed hashes (a machine has several network cards); shared placeholder values are
    # already left out by signing.fingerprint.
    fingerprint: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    upload_address: str = ""  # keyed hash of the address the bid was uploaded from
    deposit: Deposit | None = None
    items: tuple[Item, ...] = ()
    files: tuple[Document, ...] = ()


@dataclass(frozen=True)
class TenderSnapshot:
    key: str
    title: str = ""
    estimate: Decimal | None = None
    price_ceiling: Decimal | None = None
    reference_items: tuple[Item, ...] = ()
    documents: tuple[Document, ...] = ()  # the tender documents: the "base files"
    bids: tuple[BidSnapshot, ...] = ()
    opened_at: datetime | None = None
    # Addresses many unrelated bidders share (a NAT gateway, the centre's own bidding hall):
    # keyed hashes the platform or the scan knows are not evidence.
    shared_addresses: frozenset[str] = frozenset()


@dataclass(frozen=True)
class PastBid:
    bidder: str  # same key space as BidSnapshot.key
    price: Decimal | None
    won: bool


@dataclass(frozen=True)
class PastTender:
    key: str
    opened_at: datetime | None
    bids: tuple[PastBid, ...]
    estimate: Decimal | None = None


@dataclass(frozen=True)
class History:
    """This platform's own past tenders, oldest first (empty offline unless given)."""

    tenders: tuple[PastTender, ...] = ()


EMPTY_HISTORY = History()


@dataclass(frozen=True)
class Flag:
    """One finding: who, how strongly, and the evidence a supervisor can check by eye.

    ``evidence`` is JSON-serialisable (strings, numbers, lists, dicts): the numbers, passages or
    identifier hashes that triggered the flag.
    """

    detector: str
    bidders: tuple[str, ...]  # sorted, at least one
    score: float  # 0..1
    strength: Strength
    evidence: Mapping[str, Any]
    summary: str = ""  # one line in Chinese for lists and reports

    def as_json(self) -> dict[str, Any]:
        return {"detector": self.detector, "bidders": list(self.bidders),
                "score": round(self.score, 4), "strength": self.strength,
                "evidence": dict(self.evidence), "summary": self.summary}


class Detector(Protocol):
    """Constructors only store parameters (thresholds); ``detect`` returns only the flags above
    them. Passes tests/unit/collusion/test_contract.py."""

    name: str  # short id, also the module name: "same_machine"
    title_zh: str
    title_en: str
    strength: Strength  # what its flags count as: metadata is "supporting"

    def detect(self, tender: TenderSnapshot, history: History = EMPTY_HISTORY) -> list[Flag]: ...


def any_of(scores: Iterable[float]) -> float:
    """1 - prod(1 - score): how sure at least one of independent pieces of evidence makes us.

    Every combination of evidence in collusion/ (within a detector, in groups, across
    tenders) goes through this one rule; scores are clamped to 0..1."""
    remaining = 1.0
    for score in scores:
        remaining *= 1.0 - min(max(float(score), 0.0), 1.0)
    return 1.0 - remaining


def pair_key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)
