"""Which model modules make up the platform's database (one Tortoise app per package)."""

from __future__ import annotations

from typing import Any

from kernel import db
from kernel.settings import Settings

APPS: dict[str, list[str]] = {
    "kernel": ["kernel.accounts.models", "kernel.audit.models", "kernel.annotations"],
    "bidding": ["bidding.models"],
    "signing": ["signing.models"],
    "collusion": ["collusion.models"],
}


def tortoise_config(settings: Settings, *, serving: bool = False) -> dict[str, Any]:
    """``serving``: the config of a server process, which opens its whole pool at startup."""
    return db.tortoise_config(settings.database_url, APPS,
                              pool_min=db.POOL_MAX if serving else None)


# For the `tortoise` command line (makemigrations): TORTOISE_ORM=ebid.config.TORTOISE_ORM
def _from_env() -> dict[str, Any]:
    from kernel.settings import from_env

    return tortoise_config(from_env())


TORTOISE_ORM = _from_env()
