"""Detector 7: bid deposits paid from the same account, or by the same payer for different
bidders, or one right after the other (evidence from escrow on the platform, from bid.json
offline).

A deposit is the bidder's own money: two bidders' deposits leaving one account, or one firm
paying another's, means one purse behind "competing" bids.
"""

from __future__ import annotations

import re
import unicodedata
from itertools import combinations
from typing import Any

from collusion.base import (
    EMPTY_HISTORY,
    BidSnapshot,
    Deposit,
    Flag,
    History,
    Strength,
    TenderSnapshot,
    pair_key,
)

SAME_ACCOUNT = 0.95
PAID_BY_THE_OTHER = 0.95
SAME_THIRD_PARTY = 0.85
# Two deposits paid within a minute of each other: one clerk paying both, one after the other.
# Alone it is only supporting: around a deadline honest payments crowd together too.
PAID_TOGETHER = 0.5


class SharedDeposit:
    name = "shared_deposit"
    title_zh = "保证金同一账户缴纳"
    title_en = "Deposits from the same account"
    strength: Strength = "strong"

    def __init__(self, *, together_seconds: float = 60.0, max_chance_pairs: float = 0.5,
                 min_score: float = 0.5) -> None:
        self.together_seconds = together_seconds
        self.max_chance_pairs = max_chance_pairs
        self.min_score = min_score

    def detect(self, tender: TenderSnapshot, history: History = EMPTY_HISTORY) -> list[Flag]:
        paid = {}
        for bid in sorted(tender.bids, key=lambda b: b.key):
            if bid.deposit is not None and bid.key not in paid:
                paid[bid.key] = bid
        chance = _chance_pairs(list(paid.values()), self.together_seconds)
        flags = []
        for a, b in sorted(self._candidates(list(paid.values()))):
            flag = self._pair(paid[a], paid[b], chance)
            if flag is not None and flag.score >= self.min_score:
                flags.append(flag)
        return flags

    def _candidates(self, bids: list[BidSnapshot]) -> set[tuple[str, str]]:
        """The pairs that can share anything: through an index per reason and a sweep over the
        payment times, so a tender of a thousand bids is not half a million comparisons."""
        index: dict[tuple[str, str], set[str]] = {}
        for bid in bids:
            assert bid.deposit is not None
            if bid.deposit.payer_account:
                index.setdefault(("account", bid.deposit.payer_account), set()).add(bid.key)
            # A payer's name meets the same name as another deposit's payer or as a bidder.
            for name in {_name(bid.deposit.payer_name), _name(bid.bidder.name)} - {""}:
                index.setdefault(("name", name), set()).add(bid.key)
        pairs = {pair_key(a, b) for keys in index.values() if len(keys) > 1
                 for a, b in combinations(sorted(keys), 2)}
        timed = sorted((bid.deposit.paid_at.timestamp(), bid.key) for bid in bids
                       if bid.deposit is not None and bid.deposit.paid_at is not None)
        start = 0
        for end, (moment, key) in enumerate(timed):
            while moment - timed[start][0] > self.together_seconds:
                start += 1
            pairs.update(pair_key(other, key) for _, other in timed[start:end])
        return pairs

    def _pair(self, a: BidSnapshot, b: BidSnapshot, chance: float) -> Flag | None:
        assert a.deposit is not None and b.deposit is not None
        reasons: list[dict[str, Any]] = []
        entities: list[dict[str, str]] = []
        account = a.deposit.payer_account
        if account and account == b.deposit.payer_account:
            reasons.append({"reason": "same_account", "payer_account": account,
                            "weight": SAME_ACCOUNT})
            entities.append({"kind": "account", "id": account, "label": account[:8]})
        payer_a, payer_b = _name(a.deposit.payer_name), _name(b.deposit.payer_name)
        own_a, own_b = _name(a.bidder.name), _name(b.bidder.name)
        if payer_a and payer_a == payer_b and payer_a not in (own_a, own_b):
            reasons.append({"reason": "same_third_party_payer",
                            "payer_name": a.deposit.payer_name, "weight": SAME_THIRD_PARTY})
            entities.append({"kind": "account", "id": f"payer:{payer_a}",
                             "label": a.deposit.payer_name})
        for payer, own, payee, other_firm in ((payer_a, own_a, a, own_b),
                                               (payer_b, own_b, b, own_a)):
            if payer and payer != own and payer == other_firm:
                reasons.append({"reason": "paid_by_the_other_bidder", "bid": payee.key,
                                "payer_name": (payee.deposit or Deposit()).payer_name,
                                "weight": PAID_BY_THE_OTHER})
        when_a, when_b = a.deposit.paid_at, b.deposit.paid_at
        if when_a is not None and when_b is not None:
            apart = abs(when_a.timestamp() - when_b.timestamp())
            if apart <= self.together_seconds:
                reasons.append({"reason": "paid_together", "seconds_apart": round(apart, 1),
                                "pairs_expected_by_chance": round(chance, 3),
                                "weight": PAID_TOGETHER})
        if not reasons:
            return None
        # Payments crowd together before a deadline: where several pairs of the tender's
        # deposits would fall within the window by chance, one such pair alone says nothing.
        if chance > self.max_chance_pairs and all(r["reason"] == "paid_together"
                                                  for r in reasons):
            return None
        remaining = 1.0
        for reason in reasons:
            remaining *= 1.0 - float(reason["weight"])
        return Flag(
            detector=self.name, bidders=(a.key, b.key), score=round(1.0 - remaining, 6),
            strength="supporting" if all(r["reason"] == "paid_together" for r in reasons)
            else "strong",
            evidence={"reasons": reasons,
                      "deposits": [_deposit_json(a), _deposit_json(b)],
                      "entities": entities},
            summary="保证金" + "、".join(_REASON_ZH[str(r["reason"])] for r in reasons),
        )


def _chance_pairs(bids: list[BidSnapshot], window: float) -> float:
    """How many pairs of these deposits would be paid within ``window`` seconds of each other
    if the payments were spread evenly and independently over the time they took."""
    times = sorted(b.deposit.paid_at.timestamp() for b in bids
                   if b.deposit is not None and b.deposit.paid_at is not None)
    if len(times) < 2:
        return 0.0
    span = max(times[-1] - times[0], window)
    pairs = len(times) * (len(times) - 1) / 2
    return pairs * min(1.0, 2 * window / span)


_REASON_ZH = {"same_account": "从同一账户缴纳", "same_third_party_payer": "由同一第三方缴纳",
              "paid_by_the_other_bidder": "由另一投标人缴纳", "paid_together": "在一分钟内相继缴纳"}


def _deposit_json(bid: BidSnapshot) -> dict[str, Any]:
    assert bid.deposit is not None
    return {"bid": bid.key, "bidder": bid.bidder.name,
            "payer_account": bid.deposit.payer_account, "payer_name": bid.deposit.payer_name,
            "paid_at": bid.deposit.paid_at.isoformat() if bid.deposit.paid_at else None}


def _name(text: str) -> str:
    """A firm's name as compared: NFKC (full-width forms), no spaces or punctuation, case-folded."""
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text)).casefold()
