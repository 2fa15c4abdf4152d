"""Read-mostly values a process keeps between requests, each for a bounded time.

Why. A sealed submission needs the accepted CAs with their parsed CRLs, and the facts of its
tender that never change once it is published (its opening key, its lots). Reading and parsing
them for every one of 200 bids a second costs more than everything else the submission does
(bench/RESULTS.md, P1). Nothing here is trusted blindly: a value is kept at most ``max_age``
seconds of the context's clock, a change made through this process forgets it at once, and what
decides (the deadline, the tender's status, the registration) is always read again under the
tender's lock. Another process's change is seen once the age runs out (docs/decisions/0017).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime
from typing import Any, TypeVar

__all__ = ["Memo"]

V = TypeVar("V")


class Memo:
    """A small dictionary of values stamped with the clock instant they were read."""

    def __init__(self, *, max_entries: int = 10_000) -> None:
        self._values: dict[Hashable, tuple[datetime, Any]] = {}
        self.max_entries = max_entries

    def get(self, key: Hashable, *, now: datetime, max_age: float) -> Any | None:
        """The value kept for ``key`` if it was read at most ``max_age`` seconds before
        ``now`` (and not after it: a clock set back forgets), else None."""
        kept = self._values.get(key)
        if kept is None:
            return None
        age = (now - kept[0]).total_seconds()
        return kept[1] if 0 <= age <= max_age else None

    def put(self, key: Hashable, value: Any, *, now: datetime) -> None:
        if len(self._values) >= self.max_entries:
            self._values.clear()  # crude, and rare: the keys are tenders and CAs, not bids
        self._values[key] = (now, value)

    def forget(self, key: Hashable) -> None:
        self._values.pop(key, None)

    async def fetch(
        self, key: Hashable, read: Callable[[], Awaitable[V]], *, now: datetime, max_age: float
    ) -> V:
        """The kept value, or ``read()`` kept from now on (None results are not kept)."""
        value = self.get(key, now=now, max_age=max_age)
        if value is None:
            value = await read()
            if value is not None:
                self.put(key, value, now=now)
        return value  # type: ignore[no-any-return]
