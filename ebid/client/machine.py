"""Collecting the machine's identifiers for the bid manifest's fingerprint.

Only raw values are read here; ``signing.fingerprint`` normalises them, drops the ones unrelated
machines share and hashes the rest under the centre's key, so nothing read here leaves the
machine as it is. Every source is optional: an unreadable file (the board serial is root-only
on most Linux systems) is skipped silently, since a missing identifier is no reason to refuse
a bid. ``root`` lets the tests hand in a fake file tree.
"""

from __future__ import annotations

import re
import socket
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

_SKIPPED_BLOCKS = re.compile(r"(loop|ram|zram|dm-|md|sr|fd|nbd)\d*")
# /dev/disk/by-id names that do not end in a drive serial: partitions, and ids made up by
# device mapper, LVM, RAID or the kernel (wwn/eui are unique too, but not what the drive prints)
_BY_ID_SKIPPED = re.compile(r".*-part\d+|(wwn-|nvme-eui\.|nvme-nvme\.|dm-|lvm-|md-|usb-).*")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:  # missing, root-only or not a file: an identifier we do without
        return None


def network_addresses(root: Path, getnode: Callable[[], int] = uuid.getnode) -> list[str]:
    """The hardware addresses of the physical network cards.

    On Linux, /sys/class/net/*/address, leaving out the interfaces the kernel lists under
    /sys/devices/virtual/net (loopback, bridges, tunnels, docker and VPN interfaces). Elsewhere
    uuid.getnode(), whose value has the multicast bit set when it is made up (then dropped by
    the normaliser).
    """
    net = root / "sys" / "class" / "net"
    virtual = root / "sys" / "devices" / "virtual" / "net"
    if net.is_dir():
        found = []
        for interface in sorted(net.iterdir()):
            if (virtual / interface.name).exists() or "/devices/virtual/" in str(
                    interface.resolve()):
                continue
            address = _read(interface / "address")
            if address:
                found.append(address)
        return found
    node = getnode()
    return [":".join(f"{(node >> shift) & 0xFF:02x}" for shift in range(40, -8, -8))]


def machine_id(root: Path) -> list[str]:
    for relative in ("etc/machine-id", "var/lib/dbus/machine-id"):
        value = _read(root / relative)
        if value:
            return [value]
    if sys.platform == "win32" and root == Path("/"):
        return _windows_machine_guid()
    return []


def _windows_machine_guid() -> list[str]:
    try:
        import winreg  # type: ignore[import-not-found,unused-ignore]

        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE,  # type: ignore[attr-defined,unused-ignore]
                            r"SOFTWARE\Microsoft\Cryptography") as key:
            value, _ = winreg.QueryValueEx(key, "MachineGuid")  # type: ignore[attr-defined,unused-ignore]
    except OSError:
        return []
    return [str(value)]


def disk_serials(root: Path) -> list[str]:
    """Serials of the physical disks: /sys/block/*/device/serial, else the serial part of the
    /dev/disk/by-id names ("ata-MODEL_SERIAL", "nvme-MODEL_SERIAL")."""
    block = root / "sys" / "block"
    found = []
    if block.is_dir():
        for disk in sorted(block.iterdir()):
            if _SKIPPED_BLOCKS.fullmatch(disk.name):
                continue
            serial = _read(disk / "device" / "serial")
            if serial:
                found.append(serial)
    if found:
        return found
    by_id = root / "dev" / "disk" / "by-id"
    if by_id.is_dir():
        for entry in sorted(by_id.iterdir()):
            if _BY_ID_SKIPPED.fullmatch(entry.name) or "-" not in entry.name:
                continue
            _, _, rest = entry.name.partition("-")
            serial = rest.rsplit("_", 1)[-1]
            if serial and serial not in found:
                found.append(serial)
    return found


def board_serial(root: Path) -> list[str]:
    value = _read(root / "sys" / "class" / "dmi" / "id" / "board_serial")
    return [value] if value else []


def collect(root: Path = Path("/"), *, hostname: str | None = None,
            getnode: Callable[[], int] = uuid.getnode) -> dict[str, list[str]]:
    """Raw identifiers by ``signing.fingerprint`` kind; the client never sends local IPs (a
    LAN address is shared by countless unrelated machines)."""
    return {
        "mac": network_addresses(root, getnode),
        "machine_id": machine_id(root),
        "disk_serial": disk_serials(root),
        "board_serial": board_serial(root),
        "hostname": [hostname if hostname is not None else socket.gethostname()],
    }
