"""``ebid collusion scan DIR [--json]`` as a supervisor runs it: a separate process on a folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from signing.fingerprint import fingerprint

ROOT = Path(__file__).resolve().parents[3]
MAC = "3c:97:0e:12:34:56"


def scan(folder: Path, *args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EBID_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "ebid.cli", "collusion", "scan", str(folder), *args],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False)


def write_bid(root: Path, name: str, bid: dict, text: str) -> None:
    folder = root / "bids" / name
    folder.mkdir(parents=True)
    (folder / "bid.json").write_text(json.dumps(bid, ensure_ascii=False), encoding="utf-8")
    (folder / "投标文件.txt").write_text(text, encoding="utf-8")


def ring_folder(root: Path) -> Path:
    (root / "tender").mkdir(parents=True)
    (root / "tender" / "招标文件.txt").write_text("招标文件", encoding="utf-8")
    write_bid(root, "甲 公司", {"fingerprint": {"mac": MAC},
                              "deposit": {"payer_account": "6222 0001", "payer_name": "甲公司"},
                              "bidder": {"name": "甲公司"}}, "甲的施工组织设计")
    write_bid(root, "乙公司", {"fingerprint": {"mac": MAC.upper()},
                             "deposit": {"payer_account": "62220001", "payer_name": "乙公司"},
                             "bidder": {"name": "乙公司"}}, "乙的施工组织设计")
    write_bid(root, "丙公司", {"fingerprint": {"mac": "3c:97:0e:ab:cd:ef"},
                             "deposit": {"payer_account": "62229999", "payer_name": "丙公司"},
                             "bidder": {"name": "丙公司"}}, "丙的施工组织设计")
    return root


def test_json_output_flags_the_ring_and_logs_to_stderr(tmp_path: Path) -> None:
    result = scan(ring_folder(tmp_path / "t"), "--json", data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"flags", "groups"}
    assert report["flags"], "the ring is flagged"
    for flag in report["flags"]:
        assert set(flag) == {"detector", "bidders", "score", "strength", "evidence"}
        assert flag["bidders"] == ["乙公司", "甲 公司"], "folder names, verbatim, sorted"
        assert 0 <= flag["score"] <= 1 and flag["strength"] in ("strong", "supporting")
    assert {f["detector"] for f in report["flags"]} >= {"same_machine", "shared_deposit"}
    assert report["groups"][0]["bidders"] == ["乙公司", "甲 公司"]
    assert set(report["groups"][0]) == {"bidders", "score"}
    assert all("丙公司" not in g["bidders"] for g in report["groups"])
    assert "collusion.scan" in result.stderr and "fixed offline scan key" in result.stderr
    machine = next(f for f in report["flags"] if f["detector"] == "same_machine")
    mac = fingerprint(b"ebid collusion offline scan v1", {"mac": MAC})["mac"][0]
    assert machine["evidence"]["shared"][0]["hash"] == mac


def test_the_report_for_a_person(tmp_path: Path) -> None:
    result = scan(ring_folder(tmp_path / "t"), data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    assert "同一台机器 / Same machine" in result.stdout
    assert "可疑群组 / Groups" in result.stdout and "乙公司, 甲 公司" in result.stdout


def test_nothing_flagged_still_exits_zero(tmp_path: Path) -> None:
    root = tmp_path / "t"
    write_bid(root, "a", {}, "甲")
    write_bid(root, "b", {}, "乙")
    result = scan(root, "--json", data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"flags": [], "groups": []}
    assert "no tender documents in tender/" in result.stderr


def test_the_platform_key_is_used_when_the_data_dir_holds_one(tmp_path: Path) -> None:
    key = bytes(range(32))
    (tmp_path / "data" / "keys").mkdir(parents=True)
    (tmp_path / "data" / "keys" / "fingerprint-hmac.key").write_bytes(key)
    result = scan(ring_folder(tmp_path / "t"), "--json", data_dir=tmp_path / "data")
    machine = next(f for f in json.loads(result.stdout)["flags"]
                   if f["detector"] == "same_machine")
    assert machine["evidence"]["shared"][0]["hash"] == fingerprint(key, {"mac": MAC})["mac"][0]
    assert "platform's fingerprint key" in result.stderr


def test_a_folder_not_in_the_format_exits_2(tmp_path: Path) -> None:
    (tmp_path / "t" / "tender").mkdir(parents=True)
    result = scan(tmp_path / "t", "--json", data_dir=tmp_path / "data")
    assert result.returncode == 2 and result.stdout == ""
    assert "no bids/ folder" in result.stderr


def test_a_bad_value_exits_2_naming_file_and_field(tmp_path: Path) -> None:
    root = tmp_path / "t"
    write_bid(root, "a", {"deposit": {"paid_at": "2026-02-27 10:00"}}, "甲")
    result = scan(root, data_dir=tmp_path / "data")
    assert result.returncode == 2 and result.stdout == ""
    path = root / "bids" / "a" / "bid.json"
    assert f"{path}: deposit.paid_at: needs a UTC offset" in result.stderr


def test_a_failing_detector_exits_1_and_keeps_the_others_findings(
    tmp_path: Path, monkeypatch, caplog
) -> None:
    import io

    from collusion import scan as scan_module
    from collusion.detectors.same_machine import SameMachine

    class Broken:
        name, title_zh, title_en, strength = "broken", "坏", "Broken", "strong"

        def detect(self, tender, history=None):
            raise RuntimeError("boom")

    monkeypatch.setattr(scan_module, "all_detectors", lambda: [Broken(), SameMachine()])
    monkeypatch.setenv("EBID_DATA_DIR", str(tmp_path / "data"))
    out = io.StringIO()
    status = scan_module.run_scan(ring_folder(tmp_path / "t"), as_json=True, out=out)
    assert status == 1
    assert [f["detector"] for f in json.loads(out.getvalue())["flags"]] == ["same_machine"]
    assert "detector broken failed" in caplog.text and "boom" in caplog.text


def test_an_unreadable_folder_exits_2(tmp_path: Path, monkeypatch, capsys) -> None:
    from collusion import scan as scan_module

    root = tmp_path / "t"
    write_bid(root, "a", {}, "甲")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(root / "bids"))

    monkeypatch.setattr("collusion.offline.load_folder", refuse)
    monkeypatch.setenv("EBID_DATA_DIR", str(tmp_path / "data"))
    assert scan_module.run_scan(root) == 2
    assert f"{root / 'bids'}: Permission denied" in capsys.readouterr().err
