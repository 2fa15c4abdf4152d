"""Blocking calls of the hot paths, run in worker threads with less ceremony than anyio's.

``anyio.to_thread.run_sync`` looks up the running loop, the current task and its cancel scope
a dozen times per call; on Python 3.11 each lookup of the running loop is a system call
(``getpid``), which this platform's virtual machines make expensive. A sealed submission in a
deadline rush makes several such trips (bench/RESULTS.md, P1), so the ones whose work is safe
to abandon use the loop's executor directly.

Only for work that may run on after its caller is cancelled (the awaiting request goes away,
the thread finishes what it started): reading and checking a file, linking a file into the
content-addressed store. Anything that must stop with its caller uses anyio.

Also here: how often those threads hand the interpreter lock back to the event loop
(``switch_interval``, set by the app while it serves).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["SWITCH_INTERVAL_S", "run_abandonable", "switch_interval"]

T = TypeVar("T")

# Enough for the disk's fsyncs to overlap, few enough not to fight over the interpreter lock.
_EXECUTOR = ThreadPoolExecutor(max_workers=16, thread_name_prefix="ebid-io")


async def run_abandonable(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in a worker thread. Dangerous for work that must not outlive a
    cancelled caller: the thread runs to the end whatever happens to the awaiting task."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_EXECUTOR, functools.partial(fn, *args, **kwargs))


# How long a thread may hold the interpreter lock while another waits for it (CPython's default
# is 5 ms). A server process's event loop shares the lock with the worker threads that check and
# store uploads; at the default, every reply the loop awaits (a database round trip inside a
# group commit, which holds the receipts log locked) waited up to 5 ms for the lock behind a
# thread's Python, so a batch took ~90 ms instead of ~25 ms and a deadline rush queued behind
# it (bench/RESULTS.md, P1; docs/decisions/0018-gil-switch-interval.md).
SWITCH_INTERVAL_S = 0.0005


@contextlib.contextmanager
def switch_interval(seconds: float) -> Iterator[None]:
    """The process's interpreter-lock switch interval while the app serves; restored after."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(seconds)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)
