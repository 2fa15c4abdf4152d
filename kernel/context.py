"""The collaborators every service function receives, built once by the app package.

Tests build their own with a FixedClock and a temporary data directory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kernel.audit.chain import AuditLog
from kernel.calendar import WorkingCalendar
from kernel.clock import Clock
from kernel.events import EventBus
from kernel.memo import Memo
from kernel.settings import Settings
from kernel.storage import BlobStore


@dataclass
class Context:
    settings: Settings
    clock: Clock
    audit: AuditLog
    blobs: BlobStore
    calendar: WorkingCalendar
    events: EventBus
    # Read-mostly values kept between requests for a bounded time (kernel/memo.py).
    memo: Memo = field(default_factory=Memo)

    @property
    def tz(self) -> str:
        return self.settings.timezone
