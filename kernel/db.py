"""Database configuration. The app package names the model modules; the kernel knows none."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tortoise import Tortoise


def normalise_url(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgres://" + url.removeprefix("postgresql://")
    return url


def tortoise_config(url: str, apps: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """Build the Tortoise config: one app label per domain, each with its migrations package."""
    return {
        "connections": {"default": normalise_url(url)},
        "apps": {
            label: {
                "models": list(modules),
                "migrations": f"{label}.migrations",
                "default_connection": "default",
            }
            for label, modules in apps.items()
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def init(config: dict[str, Any]) -> None:
    # Global fallback: Starlette runs the lifespan in a different task from the requests, and
    # Tortoise 1.x keeps its connections in a context variable otherwise.
    await Tortoise.init(config=config, _enable_global_fallback=True)


async def close() -> None:
    await Tortoise.close_connections()
