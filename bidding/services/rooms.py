"""Opening rooms (开标室) kept by the centre admin; bookings are made with the tender."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from bidding.exceptions import InvalidInput
from bidding.models import Room, RoomBooking
from kernel.accounts.actor import Actor
from kernel.accounts.models import Role
from kernel.context import Context
from kernel.errors import PermissionDenied


def _require_admin(actor: Actor) -> None:
    if not actor.has(Role.ADMIN):
        raise PermissionDenied()


async def create_room(
    ctx: Context, *, actor: Actor, name: str, location: str = "", capacity: int = 0
) -> Room:
    """Add an opening room."""
    _require_admin(actor)
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise InvalidInput("name", "needs 1 to 100 characters", "名称须为 1 至 100 个字符")
    if len(location.strip()) > 200:
        raise InvalidInput("location", "at most 200 characters", "位置不超过 200 个字符")
    if capacity < 0 or capacity > 10000:
        raise InvalidInput("capacity", "must be between 0 and 10000", "容量须在 0 至 10000 之间")
    async with in_transaction():
        if await Room.filter(name=name).exists():
            raise InvalidInput("name", "a room with that name exists", "已存在同名开标室")
        room = await Room.create(name=name, location=location.strip(), capacity=capacity)
        await ctx.audit.record(
            at=ctx.clock.now(), actor=actor, action="bidding:room:created", object_type="room",
            object_id=room.id, after={"name": name, "location": room.location,
                                      "capacity": capacity},
        )
    return room


async def set_room_active(ctx: Context, *, actor: Actor, room_id: int, active: bool) -> Room:
    """Take a room out of use (existing bookings stay) or back into use."""
    _require_admin(actor)
    async with in_transaction():
        room = await Room.filter(id=room_id).select_for_update().first()
        if room is None:
            raise InvalidInput("room", "no such room", "开标室不存在")
        room.is_active = active
        await room.save(update_fields=["is_active"])
        await ctx.audit.record(
            at=ctx.clock.now(), actor=actor, action="bidding:room:updated", object_type="room",
            object_id=room.id, after={"is_active": active},
        )
    return room


async def list_rooms(*, active_only: bool = False) -> list[Room]:
    query = Room.all().order_by("name")
    if active_only:
        query = query.filter(is_active=True)
    return await query


async def bookings(room_id: int | None = None) -> list[RoomBooking]:
    query = RoomBooking.all().order_by("starts_at").prefetch_related("room", "tender")
    if room_id is not None:
        query = query.filter(room_id=room_id)
    return await query
