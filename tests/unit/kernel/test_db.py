"""The database configuration a process gets (kernel.db.tortoise_config)."""

from __future__ import annotations

from typing import Any

from kernel import db

APPS = {"kernel": ["kernel.accounts.models"]}
PG = "postgres://ebid@db.example:5432/ebid"


def _credentials(url: str, **kwargs: Any) -> dict[str, Any]:
    return dict(db.tortoise_config(url, APPS, **kwargs)["connections"]["default"]["credentials"])


def test_a_server_opens_its_whole_pool_at_startup() -> None:
    # Why: bench/RESULTS.md, P1 (connections opened in a rush's first second).
    credentials = _credentials(PG, pool_min=db.POOL_MAX)
    assert credentials["minsize"] == credentials["maxsize"] == db.POOL_MAX


def test_commands_and_tests_open_connections_as_they_need_them() -> None:
    credentials = _credentials(PG)
    assert "minsize" not in credentials  # Tortoise's default: one
    assert credentials["maxsize"] == db.POOL_MAX


def test_the_url_says_last() -> None:
    # (The URL's values stay text; Tortoise makes them numbers when it opens the pool.)
    assert int(_credentials(PG + "?minsize=1", pool_min=db.POOL_MAX)["minsize"]) == 1
    # A smaller pool asked for by the URL caps the minimum too.
    credentials = _credentials(PG + "?maxsize=4", pool_min=db.POOL_MAX)
    assert int(credentials["minsize"]) == int(credentials["maxsize"]) == 4


def test_sqlite_has_no_pool_to_size() -> None:
    assert db.tortoise_config("sqlite://./x.sqlite3", APPS, pool_min=db.POOL_MAX)[
        "connections"]["default"] == "sqlite://./x.sqlite3"


def test_the_app_asks_for_a_servers_pool() -> None:
    from ebid.config import tortoise_config
    from kernel.settings import Settings

    settings = Settings(database_url=PG)
    assert _minsize(tortoise_config(settings, serving=True)) == db.POOL_MAX
    assert _minsize(tortoise_config(settings)) is None


def _minsize(config: dict[str, Any]) -> int | None:
    return config["connections"]["default"]["credentials"].get("minsize")
