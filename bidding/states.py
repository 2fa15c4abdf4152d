"""The tender state machine: one table of allowed transitions, and the states in which the
other actions are allowed. Pure: no database access (STYLE.md rule 3)."""

from __future__ import annotations

from bidding.models import TenderStatus as S
from kernel.errors import TransitionNotAllowed

# action -> (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[S], S]] = {
    "publish": (frozenset({S.DRAFT}), S.PUBLISHED),
    "suspend": (frozenset({S.PUBLISHED}), S.SUSPENDED),
    "resume": (frozenset({S.SUSPENDED}), S.PUBLISHED),
    # The opening starts at the deadline plus the intake grace (docs/opening.md); a tender
    # without a single bid fails at once (流标), one with bids runs the decryption window.
    "begin_opening": (frozenset({S.PUBLISHED}), S.OPENING),
    "open": (frozenset({S.OPENING}), S.OPENED),
    "fail": (frozenset({S.PUBLISHED, S.OPENING}), S.FAILED),
    "publish_candidates": (frozenset({S.OPENED}), S.PUBLICITY),
    "award": (frozenset({S.PUBLICITY}), S.AWARDED),
    "register_contract": (frozenset({S.AWARDED}), S.CONTRACTED),
    "close": (frozenset({S.AWARDED, S.CONTRACTED}), S.CLOSED),
}

# Actions that do not change the status but are allowed only in some states.
ALLOWED_IN: dict[str, frozenset[S]] = {
    "edit": frozenset({S.DRAFT}),
    "upload_document": frozenset({S.DRAFT, S.PUBLISHED, S.SUSPENDED}),
    "invite": frozenset({S.DRAFT, S.PUBLISHED}),
    "clarify": frozenset({S.PUBLISHED, S.SUSPENDED}),
    "postpone": frozenset({S.PUBLISHED, S.SUSPENDED}),
    "register": frozenset({S.PUBLISHED, S.SUSPENDED}),
    # Registered bidders keep access to the documents they bid on.
    "download": frozenset(S) - {S.DRAFT},
    "ask": frozenset({S.PUBLISHED, S.SUSPENDED}),
    "submit_bid": frozenset({S.PUBLISHED, S.SUSPENDED}),
    "withdraw_bid": frozenset({S.PUBLISHED, S.SUSPENDED}),
    "object_documents": frozenset({S.PUBLISHED, S.SUSPENDED}),
    "object_opening": frozenset({S.OPENING, S.OPENED}),
    # The bidders' keys and the officers' shares at the opening (bidding.services.opening).
    "send_key": frozenset({S.OPENING}),
    "send_share": frozenset({S.OPENING}),
    "object_candidates": frozenset({S.PUBLICITY}),
    "answer_objection": frozenset(S),
    # From the opening on (the agency then may know who bid), so the record can show it.
    "record_deposit": frozenset({S.OPENING, S.OPENED, S.FAILED}),
    "enter_ranking": frozenset({S.OPENED}),
    "file_report": frozenset({S.AWARDED, S.CONTRACTED}),
    "rerun": frozenset({S.FAILED}),
}

# Before this, who registered or bid (and how many) is sealed. From OPENING on who bid is
# public (the opening page lists the bidders); the prices once the decryption window is over
# (bidding.services.opening.view).
SEALED_STATES = frozenset({S.DRAFT, S.PUBLISHED, S.SUSPENDED})


def target(status: S, action: str) -> S:
    """The state ``action`` leads to from ``status``, or TransitionNotAllowed."""
    sources, to = TRANSITIONS[action]
    if status not in sources:
        raise TransitionNotAllowed(state=status.value, action=action)
    return to


def check_allowed(status: S, action: str) -> None:
    if status not in ALLOWED_IN[action]:
        raise TransitionNotAllowed(state=status.value, action=action)


def is_sealed(status: S) -> bool:
    return status in SEALED_STATES
