"""In-process publish/subscribe, so a lower package can tell a higher one something.

Bidding publishes "bidding:tender:opened"; collusion (a later issue) subscribes. Handlers run
after the publisher's transaction has committed, in subscription order; a failing handler is
logged and does not undo the publisher's work. Work that must survive a crash goes to the job
queue from inside a handler.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[[str, Mapping[str, Any]], Awaitable[None]]


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    def subscribe(self, name: str, handler: Handler) -> None:
        self._handlers[name].append(handler)

    async def publish(self, name: str, payload: Mapping[str, Any]) -> None:
        for handler in list(self._handlers.get(name, ())):
            try:
                await handler(name, payload)
            except Exception:
                log.exception("event handler for %s failed", name)
