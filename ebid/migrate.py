"""Apply the database migrations (tortoise-orm's own migration framework)."""

from __future__ import annotations

from tortoise import Tortoise
from tortoise.migrations.api import migrate as tortoise_migrate

from ebid.config import tortoise_config
from kernel.settings import Settings


async def migrate(settings: Settings) -> None:
    """Bring the schema up to date; safe to run on every start."""
    try:
        await tortoise_migrate(config=tortoise_config(settings))
    finally:
        await Tortoise.close_connections()
    from ebid.worker import apply_queue_schema

    await apply_queue_schema(settings)
