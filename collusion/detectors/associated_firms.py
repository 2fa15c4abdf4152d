"""Detector 8: associated firms: "competitors" that share a legal representative, shareholders,
a phone number, an e-mail address, an address (fuzzy, on normalised Chinese addresses), or name
the same project manager.

Exact fields are compared through an index from normalised value to bidders; only addresses are
compared pairwise, with rapidfuzz, and only between bids that give one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from itertools import combinations
from typing import Any

from rapidfuzz import fuzz

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

# How much one shared field says on its own. A person named in two competing bids, one phone
# line or one mailbox behind two firms are hard to explain innocently; an address less so
# (business centres and incubators host many firms), and the fuzzy match may be wrong.
WEIGHTS = {
    "credit_code": 0.95,
    "legal_rep": 0.8,
    "project_manager": 0.8,
    "phone": 0.85,
    "email": 0.85,
    "shareholder": 0.7,
    "address": 0.6,
}
STRONG_FIELDS = frozenset(WEIGHTS) - {"address"}
FIELD_ZH = {"credit_code": "统一社会信用代码", "legal_rep": "法定代表人",
            "project_manager": "项目经理", "phone": "电话", "email": "电子邮箱",
            "shareholder": "股东", "address": "地址"}
# A shared credit code is the same firm twice, not a third thing: it has no node of its own.
ENTITY_KIND = {"legal_rep": "person", "project_manager": "person",
               "shareholder": "person", "phone": "phone", "email": "email",
               "address": "address"}

# Administrative prefixes a firm may or may not write: 省 / 自治区 / 直辖市, 市 / 州 / 盟,
# 区 / 县 / 旗. Matched from the start, shortest first, so "深圳市南山区" splits in two.
_ADMIN = re.compile(
    r"^(?P<province>[^省]{2,7}?(?:省|自治区|特别行政区))?"
    r"(?P<city>[^市州盟]{2,9}?(?:市|自治州|州|盟|地区))?"
    r"(?P<district>[^区县旗]{1,9}?(?:区|县|旗|市))?"
)
_SEPARATORS = re.compile(r"[,;/、，；|]+")
_FIRM = re.compile(r"公司|集团|中心|合伙|事务所|厂$|店$|社$")
_LEGAL_FORM = re.compile(r"(股份有限公司|有限责任公司|有限公司|集团公司|公司|集团"
                         r"|(普通|有限)?合伙(企业)?)$")
_NUMBER = re.compile(r"\d+")


class AssociatedFirms:
    name = "associated_firms"
    title_zh = "关联企业"
    title_en = "Associated firms"
    strength: Strength = "strong"

    def __init__(self, *, address_similarity: float = 92.0, min_address_chars: int = 6,
                 min_score: float = 0.5) -> None:
        self.address_similarity = address_similarity
        self.min_address_chars = min_address_chars
        self.min_score = min_score

    def detect(self, tender: TenderSnapshot, history: History = EMPTY_HISTORY) -> list[Flag]:
        bids = _one_per_bidder(tender.bids)
        matches: dict[tuple[str, str], list[dict[str, Any]]] = {}
        exact: list[tuple[str, Callable[[BidSnapshot], Iterable[tuple[str, str]]]]] = [
            ("credit_code", lambda b: _values(b.bidder.credit_code, _code)),
            ("legal_rep", lambda b: _values(b.bidder.legal_rep, _person)),
            ("project_manager", lambda b: _values(b.bidder.project_manager, _person)),
            ("phone", lambda b: _split(b.bidder.phone, _phone)),
            ("email", lambda b: _split(b.bidder.email, _email)),
            ("shareholder", lambda b: [v for s in b.bidder.shareholders
                                       for v in _values(s, _party)]),
        ]
        for field, values in exact:
            index: dict[str, dict[str, str]] = {}
            for bid in bids:
                for normal, raw in values(bid):
                    index.setdefault(normal, {}).setdefault(bid.key, raw)
            for normal, owners in sorted(index.items()):
                for a, b in combinations(sorted(owners), 2):
                    matches.setdefault(pair_key(a, b), []).append(
                        {"field": field, "values": [owners[a], owners[b]], "normalised": normal,
                         "similarity": 100.0, "weight": WEIGHTS[field]})
        # Addresses must agree on every number, so only those with the same numbers are
        # compared: a tender of a thousand bids stays far from half a million comparisons.
        blocks: dict[tuple[str, ...], list[tuple[str, str, tuple[dict[str, str], str]]]] = {}
        for bid in bids:
            if bid.bidder.address:
                parsed = _address(bid.bidder.address)
                blocks.setdefault(tuple(_NUMBER.findall(parsed[1])), []).append(
                    (bid.key, bid.bidder.address, parsed))
        for block in blocks.values():
            for (a, raw_a, norm_a), (b, raw_b, norm_b) in combinations(block, 2):
                similarity = self._address_similarity(norm_a, norm_b)
                if similarity is not None:
                    matches.setdefault(pair_key(a, b), []).append(
                        {"field": "address", "values": [raw_a, raw_b],
                         "normalised": _joined(norm_a), "similarity": round(similarity, 1),
                         "weight": WEIGHTS["address"]})

        flags = []
        for (a, b), found in sorted(matches.items()):
            score = any_of(float(match["weight"]) for match in found)
            if score < self.min_score:
                continue
            fields = sorted({str(m["field"]) for m in found}, key=list(WEIGHTS).index)
            flags.append(Flag(
                detector=self.name, bidders=(a, b), score=round(score, 6),
                strength="strong" if STRONG_FIELDS.intersection(fields) else "supporting",
                evidence={"matches": found, "entities": [
                    {"kind": ENTITY_KIND[str(m["field"])],
                     "id": f"{m['field']}:{m['normalised']}",
                     "label": str(m["values"][0])}
                    for m in found if m["field"] in ENTITY_KIND]},
                summary="共用" + "、".join(FIELD_ZH[f] for f in fields),
            ))
        return flags

    def _address_similarity(self, a: tuple[dict[str, str], str],
                            b: tuple[dict[str, str], str]) -> float | None:
        (admin_a, rest_a), (admin_b, rest_b) = a, b
        # A prefix both give must agree: 福田区 and 南山区 each have a 人民路1号 of their own.
        if any(admin_a[level] != admin_b[level] for level in admin_a.keys() & admin_b.keys()):
            return None
        if min(len(rest_a), len(rest_b)) < self.min_address_chars:
            return None
        # Numbers name the place (street number, building, room): 910室 and 1011室 of one
        # business centre are two firms' offices, however alike the rest reads.
        if _NUMBER.findall(rest_a) != _NUMBER.findall(rest_b):
            return None
        similarity = max(fuzz.ratio(rest_a, rest_b), fuzz.token_sort_ratio(rest_a, rest_b))
        return similarity if similarity >= self.address_similarity else None


def _one_per_bidder(bids: Iterable[BidSnapshot]) -> list[BidSnapshot]:
    seen: dict[str, BidSnapshot] = {}
    for bid in sorted(bids, key=lambda b: b.key):
        seen.setdefault(bid.key, bid)
    return list(seen.values())


def _values(raw: str, normalise: Callable[[str], str]) -> list[tuple[str, str]]:
    normal = normalise(raw) if raw else ""
    return [(normal, raw.strip())] if normal else []


def _split(raw: str, normalise: Callable[[str], str]) -> list[tuple[str, str]]:
    return [pair for part in _SEPARATORS.split(raw) for pair in _values(part, normalise)]


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _code(text: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", _nfkc(text).upper())


def _person(text: str) -> str:
    # "张 三", "张三 " and "ZHANG San" compare equal to their own spellings; the middle dot of
    # minority and foreign names ("阿卜杜·热合曼") is dropped with the rest of the punctuation.
    return re.sub(r"[\W_]+", "", _nfkc(text)).casefold()


def _party(text: str) -> str:
    """A shareholder, person or firm. A firm's name is reduced to its core, so that
    "深圳市鼎信投资有限公司", "鼎信投资（深圳）有限责任公司" and "鼎信投资有限公司" are one
    shareholder: the region in front or in brackets and the legal form are how a name is
    written, not which firm it is."""
    name = _nfkc(text).strip()
    if not _FIRM.search(name):
        return _person(name)
    core = re.sub(r"[(（][^)）]*[)）]", "", name)
    core = re.sub(r"[\W_]+", "", core).casefold()
    match = _ADMIN.match(core)
    if match and match.end() < len(core) - 2:
        core = core[match.end():]
    core = _LEGAL_FORM.sub("", core)
    return f"firm:{core}" if len(core) >= 2 else _person(name)


def _phone(text: str) -> str:
    digits = re.sub(r"\D", "", _nfkc(text).split("转")[0].split("ext")[0])
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) >= 10:
            digits = digits[len(prefix):]
            break
    # Landlines are written with or without the trunk 0 once the country code is gone; mobile
    # numbers never start with 0.
    if len(digits) >= 10 and digits.startswith("0"):
        digits = digits[1:]
    return digits if len(digits) >= 7 else ""


def _email(text: str) -> str:
    address = _nfkc(text).strip().casefold()
    return address if re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", address) else ""


def _address(text: str) -> tuple[dict[str, str], str]:
    """(administrative prefixes by level, the rest), full-width forms folded, no spaces or
    punctuation: "广东省深圳市南山区科技园路 1 号" -> ({province, city, district},
    "科技园路1号")."""
    compact = re.sub(r"[\s\W_]+", "", _nfkc(text)).casefold()
    match = _ADMIN.match(compact)
    admin = {level: value for level, value in match.groupdict().items() if value} if match else {}
    rest = compact[match.end():] if match else compact
    return admin, rest


def _joined(address: tuple[dict[str, str], str]) -> str:
    admin, rest = address
    return "".join(admin.get(level, "") for level in ("province", "city", "district")) + rest
