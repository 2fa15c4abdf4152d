"""Machine fingerprints: one spelling per identifier, shared placeholders dropped, keyed hashes
that compare across bids, and the manifest's flat form round-tripping."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from signing.fingerprint import (
    KINDS,
    fingerprint,
    grouped,
    keyed_hash,
    manifest_form,
    normalise,
)

KEY = bytes(range(32))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("3C-97-0E-12-AB-CD", "3c:97:0e:12:ab:cd"),
        ("3c:97:0e:12:ab:cd", "3c:97:0e:12:ab:cd"),
        ("3C970E12ABCD", "3c:97:0e:12:ab:cd"),
        ("3c97.0e12.abcd", "3c:97:0e:12:ab:cd"),
        (" 3c:97:0e:12:ab:cd\n", "3c:97:0e:12:ab:cd"),
    ],
)
def test_macs_take_one_spelling(raw: str, expected: str) -> None:
    assert normalise("mac", raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "00:00:00:00:00:00",
        "ff:ff:ff:ff:ff:ff",
        "02:42:ac:11:00:02",  # docker
        "52:54:00:12:34:56",  # QEMU
        "00:0c:29:aa:bb:cc",  # VMware
        "00:50:56:aa:bb:cc",  # VMware
        "08:00:27:aa:bb:cc",  # VirtualBox
        "00:15:5d:01:02:03",  # Hyper-V
        "00:16:3e:01:02:03",  # Xen
        "00:ff:01:02:03:04",  # TAP-Windows
        "06:11:22:33:44:55",  # locally administered
        "01:00:5e:00:00:01",  # multicast
        "not a mac",
        "3c:97:0e:12:ab",
        "",
        "   ",
    ],
)
def test_virtual_and_meaningless_macs_are_dropped(raw: str) -> None:
    assert normalise("mac", raw) is None


@pytest.mark.parametrize(
    "raw",
    [
        "To be filled by O.E.M.",
        "to be filled by o.e.m.",
        "Default string",
        "None",
        "0123456789",
        "System Serial Number",
        "Not Specified",
        "N/A",
        "",
        "00000000",
        "FFFFFFFFFFFF",
        "QM00001",
        "  ",
        "....",
    ],
)
@pytest.mark.parametrize("kind", ["disk_serial", "board_serial"])
def test_placeholder_serials_are_dropped(kind: str, raw: str) -> None:
    assert normalise(kind, raw) is None


def test_serials_are_upper_cased_and_stripped() -> None:
    assert normalise("disk_serial", "  s4ev-nf0m 123456  ") == "S4EV-NF0M 123456"
    assert normalise("board_serial", "pf1a2b3c\x00") == "PF1A2B3C"


def test_machine_ids_take_one_spelling() -> None:
    linux = "0f6c7e3b9a1d4e2f8b5c6d7e8f9a0b1c"
    assert normalise("machine_id", linux.upper() + "\n") == linux
    windows = "{0F6C7E3B-9A1D-4E2F-8B5C-6D7E8F9A0B1C}"
    assert normalise("machine_id", windows) == linux
    assert normalise("machine_id", "0" * 32) is None
    assert normalise("machine_id", "") is None


def test_host_names() -> None:
    assert normalise("hostname", "Finance-PC07.corp.example.") == "finance-pc07.corp.example"
    for shared in ("localhost", "localhost.localdomain", "ubuntu", "USER-PC", "raspberrypi",
                   "YLMF-PC", "Lenovo-PC"):
        assert normalise("hostname", shared) is None


def test_ip_addresses() -> None:
    assert normalise("ip", "203.0.113.7") == "203.0.113.7"
    assert normalise("ip", "::ffff:203.0.113.7") == "203.0.113.7"
    assert normalise("ip", "2001:DB8:0:0::1") == "2001:db8::1"
    assert normalise("ip", "192.168.1.20") == "192.168.1.20"
    for shared in ("127.0.0.1", "::1", "0.0.0.0", "169.254.1.1", "fe80::1%eth0", "224.0.0.1",
                   "255.255.255.255", "testclient"):
        assert normalise("ip", shared) is None


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown fingerprint kind"):
        normalise("imei", "123")


def test_normalise_is_idempotent() -> None:
    samples = {
        "mac": "3C-97-0E-12-AB-CD", "machine_id": "{0F6C7E3B-9A1D-4E2F-8B5C-6D7E8F9A0B1C}",
        "disk_serial": " s4ev nf0m ", "board_serial": "pf1a2b3c", "hostname": "Host.Example",
        "ip": "::ffff:203.0.113.7",
    }
    assert set(samples) == set(KINDS)
    for kind, raw in samples.items():
        once = normalise(kind, raw)
        assert once is not None
        assert normalise(kind, once) == once


def test_keyed_hash_is_hmac_over_kind_nul_value() -> None:
    expected = hmac.new(KEY, b"mac\x003c:97:0e:12:ab:cd", hashlib.sha256).hexdigest()
    assert keyed_hash(KEY, "mac", "3c:97:0e:12:ab:cd") == expected
    # the kind separates equal strings of different kinds, and the key matters
    assert keyed_hash(KEY, "hostname", "x") != keyed_hash(KEY, "disk_serial", "x")
    assert keyed_hash(KEY, "mac", "x") != keyed_hash(b"other", "mac", "x")


def test_fingerprint_hashes_normalised_values_and_drops_placeholders() -> None:
    raw = {
        "mac": ["3C-97-0E-12-AB-CD", "3c:97:0e:12:ab:cd", "02:42:ac:11:00:02", "a4:bb:6d:01:02:03"],
        "machine_id": "0f6c7e3b9a1d4e2f8b5c6d7e8f9a0b1c",
        "board_serial": "To be filled by O.E.M.",
        "disk_serial": [],
        "hostname": "finance-pc07",
    }
    hashed = fingerprint(KEY, raw)
    assert set(hashed) == {"mac", "machine_id", "hostname"}
    assert hashed["mac"] == tuple(sorted([
        keyed_hash(KEY, "mac", "3c:97:0e:12:ab:cd"), keyed_hash(KEY, "mac", "a4:bb:6d:01:02:03"),
    ]))
    # another spelling of the same machine gives the same hashes, in any order
    again = fingerprint(KEY, {"mac": ["A4BB6D010203", "3c970e12abcd"],
                              "machine_id": "0F6C7E3B9A1D4E2F8B5C6D7E8F9A0B1C",
                              "hostname": "FINANCE-PC07"})
    assert again == hashed


def test_fingerprint_refuses_unknown_kinds() -> None:
    with pytest.raises(ValueError, match="unknown fingerprint kind"):
        fingerprint(KEY, {"serial": "x"})


def test_manifest_form_round_trips() -> None:
    hashed = fingerprint(KEY, {"mac": ["3c:97:0e:12:ab:cd", "a4:bb:6d:01:02:03"],
                               "hostname": "finance-pc07"})
    flat = manifest_form(hashed)
    assert sorted(flat) == ["hostname.1", "mac.1", "mac.2"]
    assert grouped(flat) == hashed
    assert manifest_form({}) == {}
    assert grouped({}) == {}


def test_grouped_reads_unnumbered_names_and_orders_by_number() -> None:
    a, b, c = "a" * 64, "b" * 64, "c" * 64
    assert grouped({"mac.10": c, "mac.2": b, "mac.1": a, "hostname": a}) == {
        "mac": (a, b, c), "hostname": (a,)
    }
