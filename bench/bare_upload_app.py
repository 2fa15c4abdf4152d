"""The rush benchmark's yardstick: an upload endpoint that only stores the bytes.

``uvicorn --factory bench.bare_upload_app:make`` with EBID_DATA_DIR set. POST /upload streams the
body into the project's own content-addressed BlobStore (SHA-256, write, fsync, rename), exactly
the storage step a sealed bid goes through, and answers 201 with the hash. No database, no
signature check, no receipt: the rate it sustains is the ceiling the real endpoint is compared
with (issue 3: at least 50% of it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from kernel.storage import BlobStore
from kernel.threads import SWITCH_INTERVAL_S

MAX_BYTES = 64 * 1024 * 1024


def make() -> Starlette:
    # The same interpreter setting as the platform's server (docs/decisions/0018), so the two
    # are compared on one runtime configuration.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    store = BlobStore(Path(os.environ["EBID_DATA_DIR"]) / "blobs")

    async def upload(request: Request) -> JSONResponse:
        blob = await store.put_stream(request.stream(), max_bytes=MAX_BYTES)
        return JSONResponse({"sha256": blob.sha256, "size": blob.size}, status_code=201)

    return Starlette(routes=[Route("/upload", upload, methods=["POST"])])
