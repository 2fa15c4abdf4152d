"""Detector 8, associated firms: a fixture tender and the flags expected of it."""

from __future__ import annotations

import pytest

from collusion.base import Bidder, BidSnapshot, TenderSnapshot
from collusion.detectors.associated_firms import AssociatedFirms, _address, _party, _phone


def detect(**bidders: Bidder) -> list:
    return AssociatedFirms().detect(TenderSnapshot(
        key="t", bids=tuple(BidSnapshot(key=k, bidder=b) for k, b in bidders.items())))


def test_shared_legal_representative_and_phone_across_spellings() -> None:
    flags = detect(
        a=Bidder(name="甲公司", legal_rep="张 三", phone="+86 755 1234 5678"),
        b=Bidder(name="乙公司", legal_rep="张三", phone="0755-12345678"),
        c=Bidder(name="丙公司", legal_rep="李四", phone="13800138000"),
    )
    assert [(f.bidders, f.strength) for f in flags] == [(("a", "b"), "strong")]
    fields = [m["field"] for m in flags[0].evidence["matches"]]
    assert fields == ["legal_rep", "phone"]
    assert flags[0].score == pytest.approx(1 - 0.2 * 0.15)
    assert flags[0].summary == "共用法定代表人、电话"


def test_the_same_project_manager_in_two_bids() -> None:
    flags = detect(a=Bidder(project_manager="王五"), b=Bidder(project_manager="王五"),
                   c=Bidder(project_manager="赵六"))
    assert [(f.bidders, f.score) for f in flags] == [(("a", "b"), 0.8)]
    assert flags[0].evidence["entities"] == [
        {"kind": "person", "id": "project_manager:王五", "label": "王五"}]


def test_email_case_and_shareholders() -> None:
    flags = detect(a=Bidder(email="Bid@Jia.example", shareholders=("钱七", "孙八")),
                   b=Bidder(email="bid@jia.example；other@yi.example", shareholders=("孙八",)))
    assert [m["field"] for m in flags[0].evidence["matches"]] == ["email", "shareholder"]


def test_addresses_match_without_province_prefix_and_across_widths() -> None:
    flags = detect(a=Bidder(address="广东省深圳市南山区科技园路１号创业大厦1201室"),
                   b=Bidder(address="深圳市南山区 科技园路1号 创业大厦1201"))
    assert [(f.bidders, f.strength) for f in flags] == [(("a", "b"), "supporting")]
    (match,) = flags[0].evidence["matches"]
    assert match["field"] == "address" and match["similarity"] >= 92


def test_the_same_street_in_another_district_is_not_a_match() -> None:
    assert detect(a=Bidder(address="深圳市福田区人民路100号"),
                  b=Bidder(address="深圳市南山区人民路100号")) == []


def test_other_rooms_of_one_business_centre_are_not_a_match() -> None:
    assert detect(a=Bidder(address="广东省深圳市南山区深南大道9988号国际商务中心910室"),
                  b=Bidder(address="深圳市南山区深南大道9988号国际商务中心1011室")) == []


def test_unrelated_firms_are_not_flagged() -> None:
    assert detect(a=Bidder(name="甲", legal_rep="张三", phone="13800138000",
                           address="北京市朝阳区建国路88号"),
                  b=Bidder(name="乙", legal_rep="李四", phone="13900139000",
                           address="上海市浦东新区世纪大道100号")) == []


def test_normalisers() -> None:
    assert _phone("0086-138 0013 8000") == "13800138000"
    assert _phone("(0755) 1234-5678 转 8001") == "75512345678"
    assert _phone("123") == ""
    admin, rest = _address("广西壮族自治区南宁市青秀区民族大道 100 号")
    assert admin == {"province": "广西壮族自治区", "city": "南宁市", "district": "青秀区"}
    assert rest == "民族大道100号"


def test_a_firm_shareholder_matches_however_its_name_is_written() -> None:
    flags = detect(a=Bidder(shareholders=("深圳市鼎信投资有限公司", "王五")),
                   b=Bidder(shareholders=("鼎信投资（深圳）有限责任公司",)),
                   c=Bidder(shareholders=("鼎盛投资有限公司",)))
    assert [f.bidders for f in flags] == [("a", "b")]
    (match,) = flags[0].evidence["matches"]
    assert match["field"] == "shareholder" and match["normalised"] == "firm:鼎信投资"
    assert _party("张 三") == "张三" and _party("深圳市公司") != _party("广州市公司")
