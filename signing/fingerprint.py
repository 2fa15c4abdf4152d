"""Machine fingerprints: normalised identifiers, hashed under the centre-wide key.

A sealed bid records which machine prepared it, so that two "competing" bids made on one machine
can be noticed after the opening (collusion). Raw identifiers never leave the bidder's machine:
each is normalised, and values that unrelated machines share (virtual adapters, firmware
placeholders such as "To be filled by O.E.M.") are dropped, because a match on them is no
evidence. What is left is hashed with HMAC-SHA256 under a key the centre holds, so a manifest does
not publish a company's serial numbers and two bids can still be compared.

The manifest stores the hashes as a flat name -> hex map ("mac.1", "mac.2", "machine_id.1", ...);
``manifest_form`` and ``grouped`` convert between that and kind -> hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Mapping, Sequence

KINDS = ("mac", "machine_id", "disk_serial", "board_serial", "hostname", "ip")

# Organisationally unique identifiers of virtual network cards: hypervisors and VPN adapters hand
# out addresses from these, so two unrelated virtual machines can carry the same one.
VIRTUAL_OUIS = frozenset({
    "00:05:69", "00:0c:29", "00:1c:14", "00:50:56",  # VMware
    "08:00:27", "0a:00:27",  # VirtualBox
    "00:15:5d",  # Microsoft Hyper-V
    "00:1c:42",  # Parallels
    "00:16:3e",  # Xen
    "00:0f:4b", "00:21:f6",  # Oracle VM
    "52:54:00",  # QEMU / KVM
    "00:03:ff",  # Microsoft Virtual PC
    "00:05:9a",  # Cisco AnyConnect virtual adapter
    "00:ff:00", "00:ff:01",  # TAP-Windows (OpenVPN) defaults
    "02:42:ac",  # Docker bridge (locally administered as well)
})

# Firmware and installer placeholders, upper-cased: every board of a model may carry one of these.
PLACEHOLDERS = frozenset({
    "TO BE FILLED BY O.E.M.", "TO BE FILLED BY OEM", "DEFAULT STRING", "NONE", "NULL", "N/A",
    "NA", "NOT APPLICABLE", "NOT SPECIFIED", "NOT AVAILABLE", "UNKNOWN", "INVALID", "EMPTY",
    "DEFAULT", "OEM", "O.E.M.", "SYSTEM SERIAL NUMBER", "BASE BOARD SERIAL NUMBER",
    "CHASSIS SERIAL NUMBER", "SERIAL NUMBER", "SERIAL", "SN", "0123456789", "123456789",
    "1234567890", "12345678", "01234567890", "ABCDEFGHIJ", "XXXXXXXXXX", "SYSTEM PRODUCT NAME",
    "TO BE FILLED", "FILLED BY OEM", "STANDARD", "BOARD SERIAL", "MB-1234567890",
    "0123456789ABCDEF", "123456789ABCDEF", "SERIALNUMBER", "NONE SPECIFIED",
})

# Host names operating systems, OEM pre-installs and the cloned "ghost" Windows images common on
# Chinese office PCs ship with: many unrelated machines answer to them.
DEFAULT_HOSTNAMES = frozenset({
    "localhost", "localhost.localdomain", "localhost6", "(none)", "ubuntu", "debian", "kali",
    "fedora", "centos", "archlinux", "raspberrypi", "pc", "user-pc", "admin-pc", "desktop",
    "computer", "windows", "win", "mypc", "my-pc", "home-pc", "administrator", "user",
    "administrator-pc", "owner-pc", "windows-pc", "win-pc", "ylmf-pc", "deepin-pc",
    "lenovo-pc", "dell-pc", "hp-pc", "acer-pc", "asus-pc", "thinkpad", "macbook",
    "macbook-pro", "macbook-air", "imac",
})

# QEMU numbers its emulated disks QM00001, QM00002, ... on every virtual machine.
_QEMU_DISK = re.compile(r"QM\d{5}")
_HEX = re.compile(r"[0-9a-f]+")


def normalise(kind: str, value: str) -> str | None:
    """``value`` in the one spelling that is hashed, or None when unrelated machines share it."""
    if kind not in KINDS:
        raise ValueError(f"unknown fingerprint kind {kind!r}; known: {', '.join(KINDS)}")
    text = value.strip().strip("\x00").strip() if isinstance(value, str) else ""
    if not text:
        return None
    return _NORMALISERS[kind](text)


def keyed_hash(key: bytes, kind: str, value: str) -> str:
    """HMAC-SHA256 (hex) over ``kind`` NUL ``value``; ``value`` must already be normalised."""
    if "\x00" in kind:
        raise ValueError("a fingerprint kind cannot contain NUL")
    message = kind.encode("utf-8") + b"\x00" + value.encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def fingerprint(
    key: bytes, raw: Mapping[str, str | Sequence[str]]
) -> dict[str, tuple[str, ...]]:
    """Kind -> sorted distinct keyed hashes of the values worth comparing; kinds left empty are
    omitted. Sorting keeps the network cards' enumeration order out of the manifest."""
    hashed: dict[str, tuple[str, ...]] = {}
    for kind, values in raw.items():
        if kind not in KINDS:
            raise ValueError(f"unknown fingerprint kind {kind!r}; known: {', '.join(KINDS)}")
        listed = [values] if isinstance(values, str) else list(values)
        kept = {normalise(kind, value) for value in listed}
        digests = sorted({keyed_hash(key, kind, value) for value in kept if value is not None})
        if digests:
            hashed[kind] = tuple(digests)
    return hashed


def manifest_form(hashed: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """The manifest's flat map: {"mac.1": hex, "mac.2": hex, "hostname.1": hex, ...}."""
    return {
        f"{kind}.{number}": digest
        for kind in sorted(hashed)
        for number, digest in enumerate(hashed[kind], start=1)
    }


def grouped(manifest_fp: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """The inverse of ``manifest_form``. Names without a number ("mac", as early manifests wrote
    them) count as that kind too; the hashes of a kind keep their numbered order."""
    numbered: dict[str, list[tuple[int, str]]] = {}
    for name, digest in manifest_fp.items():
        kind, _, suffix = name.rpartition(".")
        if not kind or not suffix.isdigit():
            kind, number = name, 0
        else:
            number = int(suffix)
        numbered.setdefault(kind, []).append((number, digest.lower()))
    return {
        kind: tuple(dict.fromkeys(digest for _, digest in sorted(pairs)))
        for kind, pairs in numbered.items()
    }


def _mac(text: str) -> str | None:
    digits = re.sub(r"[\s:.\-]", "", text).lower()
    if len(digits) != 12 or not _HEX.fullmatch(digits):
        return None
    octets = [digits[i : i + 2] for i in range(0, 12, 2)]
    first = int(octets[0], 16)
    # Multicast (bit 0) addresses are not a card's; locally administered ones (bit 1) are made up
    # by software: VPNs, containers, bridges, phones' random addresses.
    if first & 0x03:
        return None
    if digits in ("000000000000", "ffffffffffff") or ":".join(octets[:3]) in VIRTUAL_OUIS:
        return None
    return ":".join(octets)


def _machine_id(text: str) -> str | None:
    # /etc/machine-id is 32 hex digits; Windows' MachineGuid is a braced UUID: one spelling.
    compact = text.strip("{}").replace("-", "").lower()
    if not compact or len(set(compact)) == 1:
        return None
    if _HEX.fullmatch(compact):
        return compact
    return None if text.upper() in PLACEHOLDERS else text.lower()


def _serial(text: str) -> str | None:
    upper = " ".join(text.split()).upper()
    if upper in PLACEHOLDERS or "O.E.M" in upper or "FILLED BY" in upper:
        return None
    compact = re.sub(r"[\s.\-_]", "", upper)
    if len(compact) < 4 or len(set(compact)) == 1 or _QEMU_DISK.fullmatch(compact):
        return None
    return upper


def _hostname(text: str) -> str | None:
    name = text.rstrip(".").lower()
    if not name or name in DEFAULT_HOSTNAMES or name.split(".", 1)[0] in DEFAULT_HOSTNAMES:
        return None
    return name


def _ip(text: str) -> str | None:
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    # Every machine has these; private (RFC 1918) addresses are kept: seen by the platform on a
    # centre's own network they do tell machines apart, and the client does not send its own.
    if (address.is_unspecified or address.is_loopback or address.is_link_local
            or address.is_multicast or address == ipaddress.IPv4Address("255.255.255.255")):
        return None
    return address.compressed


_NORMALISERS = {
    "mac": _mac,
    "machine_id": _machine_id,
    "disk_serial": _serial,
    "board_serial": _serial,
    "hostname": _hostname,
    "ip": _ip,
}
