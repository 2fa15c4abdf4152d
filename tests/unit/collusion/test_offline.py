"""The offline folder format (docs/collusion.md): every field optional, raw identifiers hashed
as the platform hashes them, and a bad value named by file and field."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from collusion.offline import SCAN_KEY, ScanFormatError, hash_account, load_folder
from signing.fingerprint import fingerprint, keyed_hash

KEY = b"k" * 32


def write(path: Path, content: str | bytes | dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, dict):
        content = json.dumps(content, ensure_ascii=False)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


FULL_BID = {
    "bidder": {"name": "甲建设有限公司", "credit_code": "91440300MA5XXXXXXX", "legal_rep": "张三",
               "phone": "0755-12345678", "email": "bid@jia.example",
               "address": "深圳市南山区科技园路1号", "project_manager": "李四",
               "shareholders": ["张三", "王五"]},
    "price": 12345678.90,
    "submitted_at": "2026-03-01T09:30:00+08:00",
    "fingerprint": {"mac": ["3c:97:0e:12:34:56", "00:50:56:c0:00:08"],
                    "machine_id": "4c4c4544004210", "disk_serial": "S4EWNX0N123456",
                    "board_serial": "To be filled by O.E.M.", "ip": "198.51.100.23",
                    "hostname": "DESKTOP-7QK2M1"},
    "deposit": {"payer_account": "6222 0212 3456 7890", "payer_name": "甲建设有限公司",
                "paid_at": "2026-02-27T10:00:00Z"},
    "items": [{"code": "010101001", "description": "平整场地", "quantity": 3200,
               "unit_price": "4.20"}],
}


def test_a_full_folder(tmp_path: Path) -> None:
    root = tmp_path / "某某道路"
    write(root / "tender" / "招标文件.txt", "招标文件正文")
    write(root / "tender" / "附件" / "清单.docx", b"PK")
    write(root / "tender.json", {"title": "某某道路改造", "estimate": 12500000,
                                 "price_ceiling": "13,000,000",
                                 "items": [{"code": "010101001", "quantity": 3200,
                                            "unit_price": 4.5}],
                                 "shared_addresses": ["203.0.113.7"]})
    write(root / "bids" / "甲" / "bid.json", FULL_BID)
    write(root / "bids" / "甲" / "技术标.txt", "技术标")
    write(root / "bids" / "甲" / "资格" / "营业执照.pdf", b"%PDF-1.7")
    write(root / "bids" / "甲" / ".DS_Store", b"x")
    write(root / "bids" / "甲" / "~$技术标.docx", b"x")
    write(root / "bids" / "甲" / "__MACOSX" / "x.txt", b"x")
    write(root / "bids" / "乙" / "投标文件.txt", "乙的投标文件")
    write(root / "bids" / "stray.txt", "not a bid folder")

    tender = load_folder(root, key=KEY)

    assert tender.key == "某某道路" and tender.title == "某某道路改造"
    assert tender.estimate == Decimal(12500000) and tender.price_ceiling == Decimal(13000000)
    assert tender.reference_items[0].unit_price == Decimal("4.5")
    assert tender.shared_addresses == {keyed_hash(KEY, "ip", "203.0.113.7")}
    assert [d.name for d in tender.documents] == ["招标文件.txt", "附件/清单.docx"]
    assert tender.documents[0].open().read().decode() == "招标文件正文"
    assert [b.key for b in tender.bids] == ["乙", "甲"]

    plain, full = tender.bids
    assert plain.price is None and plain.deposit is None and plain.fingerprint == {}
    assert [f.name for f in plain.files] == ["投标文件.txt"]
    assert plain.files[0].sha256 == hashlib.sha256("乙的投标文件".encode()).hexdigest()

    assert full.bidder.legal_rep == "张三" and full.bidder.shareholders == ("张三", "王五")
    assert full.price == Decimal("12345678.90")
    assert full.submitted_at == datetime(2026, 3, 1, 1, 30, tzinfo=UTC)
    assert full.submitted_at.utcoffset() == timedelta(hours=8)
    raw = {k: v for k, v in FULL_BID["fingerprint"].items() if k != "ip"}
    assert full.fingerprint == fingerprint(KEY, raw)
    assert set(full.fingerprint) == {"mac", "machine_id", "disk_serial", "hostname"}
    assert len(full.fingerprint["mac"]) == 1, "the virtual adapter is left out"
    assert full.upload_address == keyed_hash(KEY, "ip", "198.51.100.23")
    assert full.deposit is not None
    assert full.deposit.payer_account == hash_account(KEY, "6222021234567890")
    assert full.deposit.paid_at == datetime(2026, 2, 27, 10, tzinfo=UTC)
    assert full.items[0].unit_price == Decimal("4.20") and full.items[0].quantity == 3200
    assert [f.name for f in full.files] == ["技术标.txt", "资格/营业执照.pdf"]


def test_minimal_folder_and_the_default_key(tmp_path: Path) -> None:
    write(tmp_path / "bids" / "a" / "bid.json", {"fingerprint": {"machine_id": "abc123def"}})
    tender = load_folder(tmp_path)
    assert tender.documents == () and tender.estimate is None
    assert tender.bids[0].fingerprint == fingerprint(SCAN_KEY, {"machine_id": "abc123def"})


def test_an_empty_bids_folder_is_a_tender_without_bids(tmp_path: Path) -> None:
    (tmp_path / "bids").mkdir()
    assert load_folder(tmp_path).bids == ()


@pytest.mark.parametrize(("layout", "message"), [
    (None, "not a folder"),
    ({"tender/a.txt": "x"}, "no bids/ folder"),
])
def test_not_in_the_format(tmp_path: Path, layout: dict | None, message: str) -> None:
    root = tmp_path / "dir"
    for name, content in (layout or {}).items():
        write(root / name, content)
    with pytest.raises(ScanFormatError, match=message):
        load_folder(root)


@pytest.mark.parametrize(("content", "field", "message"), [
    ('{"price": 1,}', "", "malformed JSON at line 1"),
    ("[1, 2]", "", "one JSON object"),
    (b"\xff\xfe{}", "", "not UTF-8"),
    ({"price": "abc"}, "price", "must be a number"),
    ({"price": True}, "price", "must be a number"),
    ({"price": "NaN"}, "price", "finite"),
    ({"submitted_at": "yesterday"}, "submitted_at", "RFC 3339"),
    ({"submitted_at": "2026-03-01T09:30:00"}, "submitted_at", "UTC offset"),
    ({"bidder": "甲"}, "bidder", "JSON object"),
    ({"bidder": {"phone": ["1"]}}, "bidder.phone", "must be a string"),
    ({"bidder": {"shareholders": [1]}}, "bidder.shareholders", "list of strings"),
    ({"fingerprint": {"cpu": "x"}}, "fingerprint.cpu", "unknown kind"),
    ({"fingerprint": {"mac": 5}}, "fingerprint.mac", "list of strings"),
    ({"deposit": {"paid_at": "2026-02-27 10:00"}}, "deposit.paid_at", "UTC offset"),
    ({"items": {"code": "1"}}, "items", "list of items"),
    ({"items": [{"code": "1"}, "x"]}, "items[1]", "must be an object"),
    ({"items": [{"unit_price": "1.2.3"}]}, "items[0].unit_price", "must be a number"),
])
def test_a_bad_value_names_the_file_and_field(tmp_path: Path, content: object, field: str,
                                              message: str) -> None:
    path = write(tmp_path / "bids" / "acme" / "bid.json", content)  # type: ignore[arg-type]
    with pytest.raises(ScanFormatError, match=message) as caught:
        load_folder(tmp_path)
    assert caught.value.where == str(path)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{path}: {field + ': ' if field else ''}")


def test_a_bad_tender_json_is_named(tmp_path: Path) -> None:
    (tmp_path / "bids").mkdir()
    write(tmp_path / "tender.json", {"estimate": [1]})
    with pytest.raises(ScanFormatError, match=r"tender\.json: estimate: must be a number"):
        load_folder(tmp_path)


def test_symbolic_links_are_not_followed(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside" / "secret.txt", "the scanning machine's own file")
    root = tmp_path / "dir"
    write(root / "bids" / "a" / "bid.txt", "投标文件")
    (root / "bids" / "a" / "link.txt").symlink_to(outside)
    (root / "bids" / "a" / "linked-dir").symlink_to(outside.parent, target_is_directory=True)
    (root / "bids" / "a" / "loop").symlink_to(root / "bids", target_is_directory=True)
    (root / "bids" / "linked-bid").symlink_to(outside.parent, target_is_directory=True)
    tender = load_folder(root)
    assert [b.key for b in tender.bids] == ["a"]
    assert [f.name for f in tender.bids[0].files] == ["bid.txt"]
    (root / "bids" / "a" / "bid.json").symlink_to(outside)
    with pytest.raises(ScanFormatError, match="a symbolic link"):
        load_folder(root)


def test_a_null_deposit_is_no_deposit(tmp_path: Path) -> None:
    write(tmp_path / "bids" / "a" / "bid.json", {"deposit": None})
    assert load_folder(tmp_path).bids[0].deposit is None


def test_an_unknown_field_is_ignored_with_a_warning(tmp_path: Path, caplog) -> None:
    write(tmp_path / "bids" / "a" / "bid.json",
          {"fingerprints": {"mac": "x"}, "bidder": {"nmae": "甲"}, "price": 1})
    with caplog.at_level("WARNING", logger="collusion.offline"):
        tender = load_folder(tmp_path)
    assert tender.bids[0].price == 1
    assert "unknown field fingerprints ignored" in caplog.text
    assert "unknown field bidder.nmae ignored" in caplog.text
