"""The ASGI factory the portal benchmark serves: ``uvicorn --factory bench.portal_app:make``.

The real application (``ebid.app.create_app``) with settings from the environment
(EBID_DATABASE_URL, EBID_DATA_DIR), without the in-process job scheduler so that no background
tick competes with the measured requests. Nothing else differs from production code.
"""

from __future__ import annotations

from starlette.applications import Starlette

from ebid.app import create_app
from kernel.settings import from_env


def make() -> Starlette:
    return create_app(from_env(), run_jobs=False)
