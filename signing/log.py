"""The receipts log as a service: append inside the caller's transaction, sign heads, prove.

One platform-wide RFC 6962 log (docs/transparency-log.md). Appends take the single LogState
row's lock, so indexes are handed out one at a time, with no gaps, and a receipt can name its
index before it is signed: :func:`issue_receipt` signs and appends in one step. Every perfect
subtree an append completes is stored as a LogNode, so a proof is one query for O(log n) rows.

Why heads are published only outside a transaction: a head signed inside one that then rolls
back would name a root that never existed. :func:`publish_head` therefore runs its own
transaction, after the caller has committed.

Why proofs stop at the latest signed head: the live size of the log changes with every bid, so
answering for any size would let anyone watch bids arrive near a quiet tender's deadline. The
heads show the size only as often as they are published.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.backends.base.client import TransactionalDBClient
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from kernel.accounts.actor import SYSTEM, Actor
from kernel.context import Context
from kernel.db import json_value, lock_single_row
from kernel.errors import InvalidInput, NotFound
from kernel.writes import Writes, joining
from signing import keys as platform_keys
from signing import merkle
from signing.cms import attached_content
from signing.keys import PlatformKeys
from signing.models import HeadReason, LogEntry, LogNode, LogState, SignedHead
from signing.receipts import Receipt, entry_data, sign_receipt
from signing.tree_head import SignedTreeHead, TreeHead, sign_tree_head

__all__ = [
    "MAX_HEADS",
    "IssuedReceipt",
    "NoSignedHead",
    "ReceiptRequest",
    "append",
    "consistency",
    "heads",
    "inclusion",
    "issue_receipt",
    "issue_receipts",
    "latest_head",
    "publish_head",
    "receipt_fields",
    "signed_tree_head",
    "tender_entries",
    "tender_head",
]

_STATE_ID = 1
MAX_HEADS = 1000


class NoSignedHead(NotFound):
    code = "no_signed_head"
    zh = "日志尚未发布签名树头"
    en = "The log has published no signed tree head yet"


@dataclass(frozen=True)
class IssuedReceipt:
    receipt: Receipt
    der: bytes  # what the bidder receives; its SHA-256 is the log entry
    index: int
    tree_size: int


def _in_transaction() -> bool:
    return isinstance(LogState._meta.db, TransactionalDBClient)


def _require_transaction(what: str) -> None:
    if not _in_transaction():
        raise RuntimeError(f"{what} must run inside the caller's transaction")


@dataclass
class _State:
    """The log's state row as locked: its size and the frontier's hashes (hex)."""

    size: int
    hashes: list[str]


# Hand-written: the ORM's query building and model loading cost more than the round trip, and
# a batch of bids holds every other batch back while it runs (bench/RESULTS.md, P1).
_LOCK_STATE = "SELECT size, hashes FROM signing_log_state WHERE id = $1 FOR UPDATE"


async def _locked_state() -> _State:
    row = await lock_single_row(LogState, _LOCK_STATE, _STATE_ID)
    return _State(int(row["size"]), list(json_value(row["hashes"])))


def _frontier(state: _State) -> merkle.CompactRange:
    return merkle.CompactRange.from_state(state.size, [bytes.fromhex(h) for h in state.hashes])


async def _append_locked(
    ctx: Context, state: _State, entries: Sequence[tuple[bytes, int | None, bytes | None]],
    writes: Writes | None,
) -> list[int]:
    """Append ``(data, tender_id, receipt)`` entries in order under the held lock: their
    indexes. The entries, the subtrees they complete and the new state are written in one
    round trip (kernel.writes); with ``writes``, by the caller's flush, with its own writes."""
    frontier = _frontier(state)
    now = ctx.clock.now()
    rows, nodes, indexes = [], [], []
    for data, tender_id, receipt in entries:
        leaf = merkle.leaf_hash(data)
        indexes.append(frontier.size)
        rows.append(LogEntry(index=frontier.size, leaf_hash=leaf, receipt=receipt,
                             tender_id=tender_id, appended_at=now))
        nodes += [LogNode(level=node.level, index=node.index, hash=value)
                  for node, value in frontier.append(leaf)]
    state.size, state.hashes = frontier.size, [h.hex() for h in frontier.hashes]
    async with joining(writes) as batch:
        batch.insert(LogEntry, rows)  # keyed by their index: nothing for the database to fill
        batch.insert(LogNode, nodes)
        batch.update(LogState, _STATE_ID, size=state.size, hashes=state.hashes)
    return indexes


async def append(
    ctx: Context, *, leaf: bytes, tender_id: int | None = None, receipt: bytes | None = None
) -> tuple[int, int]:
    """Append the entry ``leaf`` (its data; the tree holds its leaf hash): (index, tree size).

    Call only inside the caller's open transaction: the log's state row stays locked until it
    ends, so keep it short, and the entry and its index disappear with everything else if it
    rolls back. ``tender_id`` is kept out of the log API (see :func:`tender_entries`).
    """
    _require_transaction("log.append")
    state = await _locked_state()
    [index] = await _append_locked(ctx, state, [(leaf, tender_id, receipt)], None)
    return index, state.size


@dataclass(frozen=True)
class ReceiptRequest:
    """What one receipt says besides its log position (see :func:`issue_receipts`)."""

    tender_id: int
    lot: int
    certificate_sha256: str
    package_sha256: str
    received_at: datetime


async def issue_receipt(
    ctx: Context,
    *,
    tender_id: int,
    lot: int,
    certificate_sha256: str,
    package_sha256: str,
    received_at: datetime,
    keys: PlatformKeys | None = None,
) -> IssuedReceipt:
    """Sign a receipt naming its log index and append it; inside the caller's transaction.

    The receipt is the caller's to hand out only after its transaction (package, this entry,
    its audit event) has committed.
    """
    request = ReceiptRequest(tender_id, lot, certificate_sha256, package_sha256, received_at)
    return (await issue_receipts(ctx, [request], keys=keys))[0]


async def issue_receipts(
    ctx: Context, requests: Sequence[ReceiptRequest], *, keys: PlatformKeys | None = None,
    writes: Writes | None = None,
) -> list[IssuedReceipt]:
    """:func:`issue_receipt` for several, in order, under one hold of the log's lock.

    With ``writes``, the log's rows are added to it and written by the caller's flush, with the
    caller's own rows in the same round trip: the caller must flush before its transaction
    commits (``async with Writes() as writes`` does), as a commit without them would hand out
    receipts the log does not hold, whose indexes the next append would hand out again.
    """
    _require_transaction("log.issue_receipt")
    signer = (keys or platform_keys.load(ctx.settings, now=ctx.clock.now())).receipt
    state = await _locked_state()
    receipts, entries = [], []
    for offset, request in enumerate(requests):
        index = state.size + offset
        receipt = Receipt(
            tender_id=request.tender_id, lot=request.lot,
            certificate_sha256=request.certificate_sha256,
            package_sha256=request.package_sha256, received_at=request.received_at,
            log_index=index, tree_size=index + 1,
        )
        der = sign_receipt(receipt, signer.key, signer.certificate, signer.chain)
        receipts.append((receipt, der))
        entries.append((entry_data(der), request.tender_id, der))
    indexes = await _append_locked(ctx, state, entries, writes)
    for receipt, der in receipts:
        _issued[der] = receipt
        while len(_issued) > _ISSUED_KEPT:
            del _issued[next(iter(_issued))]
    return [IssuedReceipt(receipt, der, index, index + 1)
            for (receipt, der), index in zip(receipts, indexes, strict=True)]


# The receipts this process signed last, by their bytes: the answer to a submission shows the
# receipt's fields, and parsing them back out of the CMS just signed cost a few percent of a
# deadline rush's CPU (bench/RESULTS.md, P1). Kept when signed, before the commit: those of a
# batch that rolls back are never handed out, so nobody asks for them. A dict keeps insertion
# order: oldest first.
_ISSUED_KEPT = 1024
_issued: dict[bytes, Receipt] = {}


def receipt_fields(der: bytes) -> Receipt:
    """The fields of a receipt this platform issued (a fresh one, or one read from its own
    store), NOT verified: for showing it to its holder, never for trusting input."""
    receipt = _issued.get(der)
    if receipt is None:
        receipt = Receipt.from_json(attached_content(der, what="receipt"))
    return receipt


async def publish_head(
    ctx: Context,
    *,
    reason: HeadReason | str,
    tender_id: int | None = None,
    actor: Actor = SYSTEM,
    keys: PlatformKeys | None = None,
) -> SignedHead:
    """Sign and store the committed log's head; call it outside any transaction.

    A periodic head is skipped when the log has not grown since the latest head (that head is
    returned): a deadline or opening head is always made, it marks the moment.
    """
    if _in_transaction():
        raise RuntimeError("publish_head signs committed state only: call it after the commit")
    reason = HeadReason(reason)
    log_key = (keys or platform_keys.load(ctx.settings, now=ctx.clock.now())).log
    async with in_transaction():
        # The lock waits for appends in flight, so heads come out in the order of their sizes.
        state = await _locked_state()
        if reason is HeadReason.PERIODIC:
            latest = await latest_head(ctx)
            if latest is not None and latest.tree_size == state.size:
                return latest
        now = ctx.clock.now()
        signed = sign_tree_head(TreeHead.at(state.size, _frontier(state).root(), now), log_key)
        row = await SignedHead.create(
            tree_size=signed.head.tree_size, root_hash=signed.head.root_hash,
            timestamp=signed.head.timestamp, published_at=signed.head.issued_at,
            signature=signed.to_dict(), reason=reason, tender_id=tender_id,
        )
        await ctx.audit.record(
            at=now, actor=actor, action="signing:log_head:published", object_type="log_head",
            object_id=row.id, scope=f"tender:{tender_id}" if tender_id is not None else "",
            detail={"tree_size": row.tree_size, "root_hash": row.root_hash.hex(),
                    "reason": reason.value},
        )
    return row


async def publish_periodic_head(ctx: Context, *, every_seconds: int) -> SignedHead | None:
    """The scheduler's regular head: None when one was published within ``every_seconds``
    (of any reason) or the log has not grown since the latest; call it outside a transaction."""
    latest = await latest_head(ctx)
    if latest is not None and (
        latest.published_at > ctx.clock.now() - timedelta(seconds=every_seconds)
        or not await LogEntry.filter(index__gte=latest.tree_size).exists()
    ):
        return None
    if latest is None and not await LogEntry.exists():
        return None  # an empty log has nothing to commit to yet
    return await publish_head(ctx, reason=HeadReason.PERIODIC)


def signed_tree_head(row: SignedHead) -> SignedTreeHead:
    """The stored head in its signed form (signing/tree_head.py)."""
    return SignedTreeHead.from_dict(row.signature)


async def latest_head(ctx: Context) -> SignedHead | None:
    """The newest signed head, or None before the first."""
    return await SignedHead.all().order_by("-id").first()


async def heads(ctx: Context, *, limit: int = 20) -> list[SignedHead]:
    """The newest ``limit`` signed heads (1 to MAX_HEADS), newest first."""
    if not 1 <= limit <= MAX_HEADS:
        raise InvalidInput("limit", f"must be between 1 and {MAX_HEADS}",
                           f"须在 1 到 {MAX_HEADS} 之间")
    return await SignedHead.all().order_by("-id").limit(limit)


async def tender_head(
    ctx: Context, *, tender_id: int, reason: HeadReason | str
) -> SignedHead | None:
    """The head published at a tender's deadline or opening (the latest, if several)."""
    query = SignedHead.filter(tender_id=tender_id, reason=HeadReason(reason))
    return await query.order_by("-id").first()


async def tender_entries(ctx: Context, *, tender_id: int) -> list[LogEntry]:
    """Reveals how many receipts a tender has: call only after its opening. By index."""
    return await LogEntry.filter(tender_id=tender_id).order_by("index")


async def _published_size(ctx: Context) -> int:
    latest = await latest_head(ctx)
    if latest is None:
        raise NoSignedHead()
    return latest.tree_size


def _size_check(name: str, value: int, published: int, minimum: int) -> None:
    if not minimum <= value <= published:
        raise InvalidInput(
            name, f"must be between {minimum} and the latest signed head's size, {published}",
            f"须在 {minimum} 与最新签名树头的大小 {published} 之间",
        )


async def _proof(plan: merkle.ProofPlan) -> list[bytes]:
    """Fetch the plan's nodes in one query and fold them into the proof."""
    nodes = plan.nodes
    if not nodes:
        return []
    rows = await LogNode.filter(
        Q(*(Q(level=node.level, index=node.index) for node in nodes), join_type="OR")
    ).values_list("level", "index", "hash")
    found = {merkle.Node(level, index): bytes(value) for level, index, value in rows}
    missing = [node for node in nodes if node not in found]
    if missing:
        # A committed size below the latest head always has its nodes: this is damage.
        raise RuntimeError(f"the log lacks subtree hashes {missing[:3]}")
    return plan.assemble(found)


async def inclusion(ctx: Context, *, index: int, tree_size: int) -> list[bytes]:
    """The audit path of entry ``index`` in the tree of ``tree_size`` (at most the latest head)."""
    _size_check("tree_size", tree_size, await _published_size(ctx), 1)
    if not 0 <= index < tree_size:
        raise InvalidInput("index", f"must be between 0 and tree_size - 1 ({tree_size - 1})",
                           f"须在 0 与 tree_size - 1（{tree_size - 1}）之间")
    return await _proof(merkle.inclusion_plan(index, tree_size))


async def consistency(ctx: Context, *, old_size: int, new_size: int) -> list[bytes]:
    """The proof that the tree of ``old_size`` is a prefix of that of ``new_size``."""
    # Refusals name the sizes as the API does (RFC 6962's get-sth-consistency: first, second).
    published = await _published_size(ctx)
    _size_check("second", new_size, published, 0)
    if not 0 <= old_size <= new_size:
        raise InvalidInput("first", f"must be between 0 and second ({new_size})",
                           f"须在 0 与 second（{new_size}）之间")
    return await _proof(merkle.consistency_plan(old_size, new_size))
