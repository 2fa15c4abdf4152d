"""ebid.demo: the demo builds through the services into its own SQLite file, covers the
lifecycle, leaves an audit chain that verifies, and a second run changes nothing.

The demo targets the embedded default, so these tests use a temporary SQLite file even when
EBID_TEST_DATABASE_URL names a PostgreSQL server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bidding.models import Tender, TenderStatus
from ebid.audit import verify
from ebid.cli import build_parser
from ebid.config import tortoise_config
from ebid.demo import build_demo
from kernel import db
from kernel.accounts import passwords
from kernel.accounts.models import Role, User
from kernel.audit.models import AuditEvent
from kernel.settings import Settings

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


def test_the_cli_parses_the_demo_command() -> None:
    args = build_parser().parse_args(["demo", "--reset", "--port", "8123"])
    assert args.command == "demo" and args.reset and args.port == 8123
    assert args.func.__name__ == "cmd_demo"
