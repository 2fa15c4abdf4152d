"""The verifier: reads every row of the audit chain in id order, in bounded memory, and reports
rows that were changed, removed, moved or cut off, checking them against the signed checkpoints
and the head. ``AuditLog.verify`` (kernel.audit.chain) holds the key and calls
``verify_chain`` with its MAC; what the report's kinds mean is said there and on VerifyReport.
"""

from __future__ import annotations

import hmac
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio.to_thread

from kernel.audit.checkpoints import CHECKPOINT_FILE, CheckpointStore
from kernel.audit.models import AuditEvent, AuditHead

# Rows fetched per query by verify: bounded memory however long the log is.
_VERIFY_BATCH = 1000


@dataclass
class VerifyReport:
    """What verify found. Events are named by ``seq``, their position in the chain.

    ``problems`` holds (seq, kind) with kind one of "changed", "missing", "out of order",
    "truncated"; ``bad_checkpoints`` the line numbers in checkpoints.jsonl that do not verify.
    """

    count: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)
    bad_checkpoints: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.bad_checkpoints

    def lines(self) -> list[str]:
        if self.ok:
            return [f"OK {self.count} events"]
        return [f"event {seq}: {kind}" for seq, kind in self.problems] + [
            f"{CHECKPOINT_FILE} line {number}: bad signature" for number in self.bad_checkpoints
        ]


class _SeqSet:
    """Which seq numbers were seen: one bit each, so a million events cost 125 KB."""

    def __init__(self) -> None:
        self._bits = bytearray(1024)

    def add(self, seq: int) -> None:
        if seq < 0:
            return
        if seq >> 3 >= len(self._bits):
            self._bits.extend(bytes(max(len(self._bits), (seq >> 3) + 1 - len(self._bits))))
        self._bits[seq >> 3] |= 1 << (seq & 7)

    def __contains__(self, seq: int) -> bool:
        return 0 <= seq >> 3 < len(self._bits) and bool(self._bits[seq >> 3] & (1 << (seq & 7)))


class _OrderCheck:
    """Finds rows whose seq disagrees with their id order, blaming as few rows as it can.

    Fed authentic seqs in id order. At an inversion (a then b, a >= b) it waits for the next
    seq n and blames a if the rest reads p < b < n without it, b if p < a < n does, both if
    either would do (a swap), else b (one of a block moved backwards). Memory stays constant,
    and a row moved far away does not make every row it jumped over look out of order.
    """

    def __init__(self) -> None:
        self._accepted: deque[int] = deque([0], maxlen=4)  # 0: before the first event
        self._pending: int | None = None  # b of an inversion waiting for n
        self.flagged: list[int] = []

    def feed(self, seq: int) -> None:
        if self._pending is not None:
            self._resolve(seq)
        if seq > self._accepted[-1]:
            self._accepted.append(seq)
        else:
            self._pending = seq

    def finish(self) -> None:
        if self._pending is not None:
            self._resolve(None)

    def _resolve(self, n: int | None) -> None:
        b, self._pending = self._pending, None
        assert b is not None
        a = self._accepted[-1]
        p = self._accepted[-2] if len(self._accepted) > 1 else 0
        without_a = p < b and (n is None or b < n)
        without_b = n is None or a < n
        if without_a:
            self.flagged.append(a)
            self._accepted.pop()
            if not without_b:
                self._accepted.append(b)
        if without_b or not without_a:
            self.flagged.append(b)


async def verify_chain(
    *, mac: Callable[[AuditEvent], str], checkpoints: CheckpointStore, head_id: int
) -> VerifyReport:
    """AuditLog.verify's check: ``mac`` is its keyed MAC of a row, ``head_id`` the head's id."""
    report = VerifyReport()
    checkpointed: dict[int, set[str]] = {}
    for number, checkpoint in await anyio.to_thread.run_sync(checkpoints.entries):
        if checkpoint is None:
            report.bad_checkpoints.append(number)
        else:
            checkpointed.setdefault(checkpoint.seq, set()).add(checkpoint.mac)
    # Read after the checkpoints and before the rows: anything committed meanwhile only
    # adds rows, so a concurrent append never looks like truncation.
    head = await AuditHead.get_or_none(id=head_id)

    seen, order = _SeqSet(), _OrderCheck()
    changed: set[int] = set()
    unlinked: list[int] = []
    truncated = 0
    highest = 0
    # (seq, mac, named for a broken link) of the row before, if that row is authentic.
    previous: tuple[int, str, bool] | None = None
    last_id: int | None = None
    while True:
        query = AuditEvent.all().order_by("id").limit(_VERIFY_BATCH)
        if last_id is not None:
            query = query.filter(id__gt=last_id)
        rows = await query
        for row in rows:
            report.count += 1
            try:
                authentic = hmac.compare_digest(mac(row), row.mac)
            except (AttributeError, TypeError, ValueError):  # rewritten to something odd
                authentic = False
            if not authentic:
                changed.add(row.seq)
                previous = None
                continue
            seen.add(row.seq)
            highest = max(highest, row.seq)
            order.feed(row.seq)
            broken = (
                previous is not None
                and row.seq == previous[0] + 1
                and row.prev_mac != previous[1]
            )
            # A stranger spliced in breaks the link into it and the one out of it: when
            # two breaks are adjacent, the row between them is the one to name.
            named = broken and not (previous is not None and previous[2])
            if named:
                unlinked.append(row.seq)
            if checkpointed.get(row.seq, {row.mac}) != {row.mac}:
                truncated = max(truncated, row.seq)
            previous = (row.seq, row.mac, named)
        if len(rows) < _VERIFY_BATCH:
            break
        last_id = rows[-1].id
    order.finish()

    # A changed row still occupies its seq, unless its seq is beyond anything known.
    extent = max([highest, head.seq if head else 0, *checkpointed])
    top = max([highest, *(seq for seq in changed if seq <= extent)])
    claims = [*checkpointed, head.seq if head else 0]
    truncated = max([truncated, *(seq for seq in claims if seq > top)])

    problems = {(seq, "changed") for seq in changed}
    problems.update(
        (seq, "missing") for seq in range(1, top + 1) if seq not in seen and seq not in changed
    )
    problems.update((seq, "out of order") for seq in [*order.flagged, *unlinked])
    if truncated:
        problems.add((truncated, "truncated"))
    report.problems = sorted(problems)
    return report
