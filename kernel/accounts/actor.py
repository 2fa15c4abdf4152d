"""Who is acting: passed into every service function, never looked up globally."""

from __future__ import annotations

from dataclasses import dataclass

from kernel.accounts.models import Role


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    username: str
    role: Role | None  # None: anonymous member of the public
    organization_id: int | None = None
    display_name: str = ""
    organization_name: str = ""

    @property
    def label(self) -> str:
        return self.username or "public"

    @property
    def is_anonymous(self) -> bool:
        return self.user_id is None

    def has(self, *roles: Role) -> bool:
        return self.role is not None and self.role in roles


ANONYMOUS = Actor(user_id=None, username="", role=None)
SYSTEM = Actor(user_id=None, username="system", role=None, display_name="系统")
