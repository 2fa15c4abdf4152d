"""Detector 6: a tender whose bid prices do not look like competition (price screens).

The screens of ``collusion.screens`` go to a model: by default ``ScreenRule``, a vote of the
screens against published thresholds that needs no training; a centre that has confirmed cases
passes a fitted ``ScreenForest`` instead (docs/collusion.md, "Evaluating the price detector").
"""

from __future__ import annotations

from collusion import classifier, screens
from collusion.base import EMPTY_HISTORY, Flag, History, Strength, TenderSnapshot
from collusion.classifier import RULE_MIN_BIDS, RULE_THRESHOLDS, PricedTender, ScreenRule

MIN_SCORE = 0.5


class PriceScreens:
    name = "price_screens"
    title_zh = "报价统计筛查异常"
    title_en = "Price screens"
    # A statistic of the whole tender, never proof about a given firm: it says where to look.
    strength: Strength = "supporting"

    def __init__(self, *, min_score: float = MIN_SCORE,
                 thresholds: tuple[tuple[str, str, float], ...] = RULE_THRESHOLDS,
                 min_bids: int = RULE_MIN_BIDS, model: classifier.Model | None = None) -> None:
        self.min_score = min_score
        self.thresholds = thresholds
        self.min_bids = min_bids
        # A fitted ScreenForest, or None for the rule.
        self.model = model

    def detect(self, tender: TenderSnapshot, history: History = EMPTY_HISTORY) -> list[Flag]:
        priced = sorted(((float(b.price), b.key) for b in tender.bids
                         if b.price is not None and b.price > 0), key=lambda p: (p[0], p[1]))
        if len(priced) < self.min_bids:
            return []
        estimate = float(tender.estimate) if tender.estimate and tender.estimate > 0 else None
        s = screens.compute([p for p, _ in priced], estimate=estimate)
        rule = ScreenRule(self.thresholds, self.min_bids)
        votes = rule.votes(s)
        if self.model is None:
            score, model_name = rule.score(s), "screen_rule"
        else:
            score = float(self.model.predict_proba([PricedTender(
                key=tender.key, prices=tuple(p for p, _ in priced),
                bidders=tuple(k for _, k in priced), estimate=estimate)])[0])
            model_name = type(self.model).__name__
        score = min(max(score, 0.0), 1.0)
        if score < self.min_score:
            return []
        tripped = [name for name, hit in votes.items() if hit]
        evidence = {
            "model": model_name,
            "screens": s.as_json(),
            "thresholds": [{"screen": name, "op": op, "threshold": cut,
                            "value": round(getattr(s, name), 6), "tripped": votes[name]}
                           for name, op, cut in self.thresholds],
            "prices": [{"bidder": k, "price": round(p, 2)} for p, k in priced],
            "estimate": estimate,
        }
        return [Flag(
            detector=self.name, bidders=tuple(sorted({k for _, k in priced})),
            score=round(score, 6), strength=self.strength, evidence=evidence,
            summary=f"{len(priced)}个报价的统计筛查异常（{'、'.join(tripped) or model_name}）")]
