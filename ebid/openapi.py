"""The OpenAPI document, generated from the docstrings of the JSON routes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.schemas import SchemaGenerator

from kernel.http import PUBLIC, api

_schemas = SchemaGenerator(
    {
        "openapi": "3.0.3",
        "info": {
            "title": "ebid — public-resource e-bidding platform API",
            "version": "1",
            "description": (
                "JSON API for the same operations as the web pages. Authenticate with "
                "POST /api/v1/session (returns a bearer token) and send "
                "`Authorization: Bearer <token>`. Errors answer 4xx with "
                '`{"error": code, "message": reason}`.'
            ),
        },
    }
)


async def openapi_schema(request: Request) -> Response:
    """
    responses:
      200:
        description: This OpenAPI document.
    """
    return JSONResponse(_schemas.get_schema(routes=request.app.routes))


routes = [api("/api/openapi.json", openapi_schema, name="api:openapi", roles=PUBLIC)]
