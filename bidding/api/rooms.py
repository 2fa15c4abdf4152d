"""The centre's API: the opening rooms, listed for agencies and admins, added by an admin.

Agencies read the rooms to choose one for a tender's opening; booking happens when the tender
is created or changed, in bidding.services.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from bidding import serializers as out
from bidding.api.parsing import _ctx, _integer, _json, _text
from bidding.services import rooms
from kernel.accounts.models import Role
from kernel.http import actor_of, json_body


async def room_list(request: Request) -> Response:
    """
    ---
    summary: List the opening rooms (agencies see the rooms in use)
    tags: [rooms]
    responses:
      200: {description: The rooms}
      401: {description: "login_required: no or expired token"}
      403: {description: permission_denied}
    """
    found = await rooms.list_rooms(active_only=not actor_of(request).has(Role.ADMIN))
    return _json([out.room(item) for item in found])


async def room_create(request: Request) -> Response:
    """
    ---
    summary: Add an opening room
    tags: [rooms]
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [name]
            properties:
              name: {type: string, maxLength: 100}
              location: {type: string}
              capacity: {type: integer, minimum: 0}
    responses:
      201: {description: The room}
      400: {description: "invalid_input: name (taken), capacity"}
      401: {description: "login_required: no or expired token"}
      403: {description: "permission_denied: not an admin"}
    """
    data = await json_body(request)
    capacity = data.get("capacity")
    created = await rooms.create_room(
        _ctx(request), actor=actor_of(request), name=_text(data, "name"),
        location=_text(data, "location", required=False, max_length=200),
        capacity=0 if capacity is None else _integer(capacity, "capacity"),
    )
    return _json(out.room(created), 201)
