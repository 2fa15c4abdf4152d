"""Blocking calls of the hot paths, run in worker threads with less ceremony than anyio's.

``anyio.to_thread.run_sync`` looks up the running loop, the current task and its cancel scope
a dozen times per call; on Python 3.11 each lookup of the running loop is a system call
(``getpid``), which this platform's virtual machines make expensive. A sealed submission in a
deadline rush makes several such trips (bench/RESULTS.md, P1), so the ones whose work is safe
to abandon use the loop's executor directly.

Only for work that may run on after its caller is cancelled (the awaiting request goes away,
the thread finishes what it started): reading and checking a file, linking a file into the
content-addressed store. Anything that must stop with its caller uses anyio.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["run_abandonable"]

T = TypeVar("T")

# Enough for the disk's fsyncs to overlap, few enough not to fight over the interpreter lock.
_EXECUTOR = ThreadPoolExecutor(max_workers=16, thread_name_prefix="ebid-io")


async def run_abandonable(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in a worker thread. Dangerous for work that must not outlive a
    cancelled caller: the thread runs to the end whatever happens to the awaiting task."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_EXECUTOR, functools.partial(fn, *args, **kwargs))
