"""ebid.demo: the demo builds through the services into its own SQLite file, covers the
lifecycle (sealed bids with receipts that verify, openings through the decryption window),
leaves an audit chain that verifies and PKCS#12 files that load, and a second run changes
nothing.

The demo targets the embedded default, so these tests use a temporary SQLite file even when
EBID_TEST_DATABASE_URL names a PostgreSQL server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12

from bidding.models import Bid, BidStatus, Decryption, Tender, TenderStatus
from ebid.audit import verify
from ebid.cli import build_parser
from ebid.config import tortoise_config
from ebid.demo import build_demo, pki
from ebid.demo.data import P12_PASSWORD
from kernel import db
from kernel.accounts import passwords
from kernel.accounts.models import Role, User
from kernel.audit.models import AuditEvent
from kernel.settings import Settings
from signing import keys as signing_keys
from signing.receipts import verify_receipt

T = TypeVar("T")
Logins = list[tuple[str, str, str]]


def settings_in(directory: Path) -> Settings:
    return Settings(
        database_url=f"sqlite://{directory}/demo.sqlite3", data_dir=directory / "data"
    )


def query(settings: Settings, fn: Callable[[], Awaitable[T]]) -> T:
    async def run() -> T:
        await db.init(tortoise_config(settings))
        try:
            return await fn()
        finally:
            await db.close()

    return asyncio.run(run())


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Logins]:
    # Built once for the module: a build hashes nine passwords and takes seconds.
    settings = settings_in(tmp_path_factory.mktemp("demo"))
    return settings, asyncio.run(build_demo(settings, reset=True))


async def counts() -> dict[str, int]:
    return {
        "users": await User.all().count(),
        "tenders": await Tender.all().count(),
        "events": await AuditEvent.all().count(),
    }


def test_each_role_has_a_user_who_can_log_in(demo: tuple[Settings, Logins]) -> None:
    settings, logins = demo
    roles = {"admin": Role.ADMIN, "agency": Role.AGENCY, "supervisor": Role.SUPERVISOR,
             "bidder": Role.BIDDER}
    assert {role for role, _, _ in logins} == set(roles)
    assert sum(role == "bidder" for role, _, _ in logins) >= 6
    assert ("agency", "daili") in {(role, name) for role, name, _ in logins}
    assert ("supervisor", "jiandu") in {(role, name) for role, name, _ in logins}

    users = query(settings, lambda: User.filter(username__in=[u for _, u, _ in logins]))
    by_name = {user.username: user for user in users}
    checked: set[str] = set()
    for role, username, password in logins:
        user = by_name[username]
        assert user.role == roles[role] and user.is_active
        if password not in checked:  # each hash costs a second: one check per password
            assert passwords.verify_password(user.password_hash, password)
            checked.add(password)


def test_tenders_cover_the_lifecycle(demo: tuple[Settings, Logins]) -> None:
    settings, _ = demo
    tenders = query(settings, lambda: Tender.all())
    assert len(tenders) >= 12
    missing = set(TenderStatus) - {tender.status for tender in tenders}
    assert len(missing) <= 1, missing


def test_the_audit_chain_verifies(demo: tuple[Settings, Logins]) -> None:
    settings, _ = demo
    ok, lines = asyncio.run(verify(settings))
    assert ok, lines
    assert lines[0].startswith("OK ")


def test_a_second_run_without_reset_changes_nothing(demo: tuple[Settings, Logins]) -> None:
    settings, logins = demo
    before: dict[str, Any] = query(settings, counts)
    assert asyncio.run(build_demo(settings, reset=False)) == logins
    assert query(settings, counts) == before
    assert asyncio.run(verify(settings))[0]


def test_sealed_bids_have_receipts_that_verify(demo: tuple[Settings, Logins]) -> None:
    settings, _ = demo
    bids = query(settings, lambda: Bid.all())
    assert len(bids) >= 30
    platform = signing_keys.load(settings, now=datetime.now(UTC)).receipt.certificate
    for bid in bids:
        assert bid.receipt is not None, f"bid {bid.id} has no receipt"
        receipt = verify_receipt(bid.receipt, [platform])
        assert receipt.package_sha256 == bid.sha256
        assert receipt.tender_id == bid.tender_id  # type: ignore[attr-defined]
        assert receipt.log_index == bid.log_index


def test_the_openings_went_through_the_decryption_window(
    demo: tuple[Settings, Logins],
) -> None:
    settings, _ = demo

    async def read() -> tuple[list[Tender], list[Bid]]:
        return await Tender.all(), await Bid.filter(status=BidStatus.SUBMITTED)

    tenders, bids = query(settings, read)
    status = {tender.id: tender.status for tender in tenders}
    outcomes = {bid.decryption for bid in bids}
    # one of each way a bid ends, and one window still running
    assert {Decryption.DECRYPTED, Decryption.RECOVERED, Decryption.FAILED_BIDDER,
            Decryption.PENDING} <= outcomes
    assert TenderStatus.OPENING in status.values()
    for bid in bids:
        tender_status = status[bid.tender_id]  # type: ignore[attr-defined]
        opened = bid.decryption in (Decryption.DECRYPTED, Decryption.RECOVERED)
        if tender_status in (TenderStatus.PUBLISHED, TenderStatus.SUSPENDED):
            assert bid.decryption == Decryption.PENDING and bid.price is None
        elif opened:
            # the price is what the bidder signed in its manifest, read at decryption
            assert bid.manifest is not None
            assert bid.price == Decimal(bid.manifest["price"]) and bid.price > 0
        else:
            assert bid.price is None
    recovered = [bid for bid in bids if bid.decryption == Decryption.RECOVERED]
    assert all(status[bid.tender_id] != TenderStatus.OPENING  # type: ignore[attr-defined]
               for bid in recovered)


def test_the_pkcs12_files_exist_and_load(demo: tuple[Settings, Logins]) -> None:
    settings, logins = demo
    directory = pki.pki_dir(settings)
    holders = [username for role, username, _ in logins]
    assert len(holders) == 9
    for username in holders:
        for name in (f"{username}.p12", f"{username}.enc.p12"):
            key, cert, chain = pkcs12.load_key_and_certificates(
                (directory / name).read_bytes(), P12_PASSWORD.encode())
            assert key is not None and cert is not None and chain, name
    assert any(str(directory.resolve()) in line for line in pki.describe(settings))
    # A demo away from the client's default address says where it is.
    assert not any("EBID_SERVER" in line for line in pki.describe(settings))
    assert any("export EBID_SERVER=http://127.0.0.1:8102 " in line
               for line in pki.describe(settings, "http://127.0.0.1:8102"))
    assert P12_PASSWORD in (directory / "README.txt").read_text(encoding="utf-8")


def test_two_bidders_share_a_machine_and_passages(demo: tuple[Settings, Logins]) -> None:
    settings, _ = demo

    async def detectors() -> set[str]:
        from collusion.models import StoredFlag

        return {flag.detector for flag in await StoredFlag.all()}

    assert {"same_machine", "shared_passages"} <= query(settings, detectors)


def test_the_cli_parses_the_demo_command() -> None:
    args = build_parser().parse_args(["demo", "--reset", "--port", "8123"])
    assert args.command == "demo" and args.reset and args.port == 8123
    assert args.func.__name__ == "cmd_demo"
