"""Collecting machine identifiers from a fake file tree: physical cards only, unreadable files
skipped, fallbacks where Linux's files are missing, and the hashes that end in the manifest."""

from __future__ import annotations

from pathlib import Path

import pytest

from ebid.client import machine
from ebid.client.sealing import hashed_fingerprint
from signing.fingerprint import grouped, keyed_hash


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def linux(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    # a physical card: its class entry links into the PCI tree
    write(root, "sys/devices/pci0000:00/0000:00:1f.6/net/eno1/address", "3c:97:0e:12:ab:cd\n")
    (root / "sys/class/net").mkdir(parents=True)
    (root / "sys/class/net/eno1").symlink_to(root / "sys/devices/pci0000:00/0000:00:1f.6/net/eno1")
    # virtual interfaces: loopback and docker, listed under devices/virtual
    for name, address in (("lo", "00:00:00:00:00:00"), ("docker0", "3c:97:0e:99:99:99")):
        target = write(root, f"sys/devices/virtual/net/{name}/address", address).parent
        (root / "sys/class/net" / name).symlink_to(target)
    write(root, "etc/machine-id", "0f6c7e3b9a1d4e2f8b5c6d7e8f9a0b1c\n")
    write(root, "sys/block/nvme0n1/device/serial", "  S4EWNX0N123456  \n")
    write(root, "sys/block/sda/device/serial", "WD-WX11A12B3456\n")
    write(root, "sys/block/loop0/device/serial", "LOOPSERIAL\n")
    write(root, "sys/class/dmi/id/board_serial", "PF1A2B3C\n")
    return root


def test_linux_tree(linux: Path) -> None:
    raw = machine.collect(linux, hostname="finance-pc07")
    assert raw == {
        "mac": ["3c:97:0e:12:ab:cd"],
        "machine_id": ["0f6c7e3b9a1d4e2f8b5c6d7e8f9a0b1c"],
        "disk_serial": ["S4EWNX0N123456", "WD-WX11A12B3456"],
        "board_serial": ["PF1A2B3C"],
        "hostname": ["finance-pc07"],
    }


def test_unreadable_board_serial_is_skipped(linux: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = Path.read_text

    def root_only(path: Path, *args: object, **kwargs: object) -> str:
        if path.name == "board_serial":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", root_only)
    assert machine.collect(linux, hostname="h")["board_serial"] == []


def test_dbus_machine_id_and_disk_ids_as_fallbacks(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write(root, "var/lib/dbus/machine-id", "aa6c7e3b9a1d4e2f8b5c6d7e8f9a0b1c")
    by_id = root / "dev/disk/by-id"
    by_id.mkdir(parents=True)
    for name in ("ata-Samsung_SSD_860_EVO_500GB_S3Z2NB0K123456X",
                 "ata-Samsung_SSD_860_EVO_500GB_S3Z2NB0K123456X-part1",
                 "wwn-0x5002538e40a1b2c3", "nvme-eui.0025385b71b12345",
                 "nvme-Samsung_SSD_970_EVO_Plus_1TB_S4EWNX0N123456"):
        (by_id / name).touch()
    raw = machine.collect(root, hostname="h", getnode=lambda: 0x3C970E12ABCD)
    assert raw["machine_id"] == ["aa6c7e3b9a1d4e2f8b5c6d7e8f9a0b1c"]
    assert raw["disk_serial"] == ["S3Z2NB0K123456X", "S4EWNX0N123456"]
    # no /sys/class/net: the address uuid.getnode() reports
    assert raw["mac"] == ["3c:97:0e:12:ab:cd"]
    assert raw["board_serial"] == []


def test_an_empty_tree_gives_only_what_is_left(tmp_path: Path) -> None:
    # uuid.getnode() makes up a random address with the multicast bit when it finds none
    raw = machine.collect(tmp_path, hostname="localhost", getnode=lambda: 0x010203040506)
    key = bytes(32)
    assert hashed_fingerprint(key, raw) == {}


def test_hashes_in_manifest_form(linux: Path) -> None:
    key = b"k" * 32
    flat = hashed_fingerprint(key, machine.collect(linux, hostname="Finance-PC07"))
    assert sorted(flat) == ["board_serial.1", "disk_serial.1", "disk_serial.2", "hostname.1",
                            "mac.1", "machine_id.1"]
    assert grouped(flat)["hostname"] == (keyed_hash(key, "hostname", "finance-pc07"),)
    assert "3c:97" not in "".join(flat.values())
