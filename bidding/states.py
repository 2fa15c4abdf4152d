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
        raise not_allowed(status, action)
    return to


# The words a refusal uses for a state and an action, (Chinese, English).
STATE_WORDS: dict[S, tuple[str, str]] = {
    S.DRAFT: ("入场登记", "a draft"), S.PUBLISHED: ("投标中", "taking bids"),
    S.SUSPENDED: ("暂停", "suspended"), S.OPENING: ("开标解密中", "in its decryption window"),
    S.OPENED: ("已开标", "opened"), S.FAILED: ("流标", "failed"),
    S.PUBLICITY: ("中标候选人公示中", "in its candidates' publicity"),
    S.AWARDED: ("已发中标通知书", "awarded"), S.CONTRACTED: ("合同已登记", "under contract"),
    S.CLOSED: ("已归档", "closed"),
}
ACTION_WORDS: dict[str, tuple[str, str]] = {
    "publish": ("发布", "Publishing"), "suspend": ("暂停", "Suspending"),
    "resume": ("恢复", "Resuming"), "begin_opening": ("开标", "Opening"),
    "open": ("结束开标", "Ending the opening"), "fail": ("流标", "Failing the tender"),
    "publish_candidates": ("公示中标候选人", "Publishing the candidates"),
    "award": ("发出中标通知书", "Awarding"),
    "register_contract": ("登记合同", "Registering the contract"),
    "close": ("归档", "Closing"), "edit": ("修改", "Editing"),
    "upload_document": ("上传招标文件", "Uploading documents"),
    "invite": ("邀请投标人", "Inviting"),
    "clarify": ("发布澄清", "Clarifying"), "postpone": ("延期", "Postponing"),
    "register": ("报名", "Registering"),
    "download": ("下载招标文件", "Downloading the documents"),
    "ask": ("提问", "Asking"), "submit_bid": ("递交投标文件", "Submitting a bid"),
    "withdraw_bid": ("撤回投标文件", "Withdrawing a bid"),
    "object_documents": ("对招标文件提出异议", "Objecting to the documents"),
    "object_opening": ("对开标提出异议", "Objecting at the opening"),
    "send_key": ("提交解密密钥", "Sending a decryption key"),
    "send_share": ("提交开标密钥份额", "Sending a key share"),
    "object_candidates": ("对中标候选人提出异议", "Objecting to the candidates"),
    "answer_objection": ("答复异议", "Answering an objection"),
    "record_deposit": ("登记保证金", "Recording a deposit"),
    "enter_ranking": ("录入评标排名", "Entering the ranking"),
    "file_report": ("提交书面报告", "Filing the report"), "rerun": ("重新招标", "Re-running"),
}


def not_allowed(status: S, action: str) -> TransitionNotAllowed:
    """The refusal of ``action`` in ``status``, in words."""
    state_zh, state_en = STATE_WORDS.get(status, (status.value, status.value))
    action_zh, action_en = ACTION_WORDS.get(action, ("", ""))
    return TransitionNotAllowed(state=status.value, action=action, state_zh=state_zh,
                                state_en=state_en, action_zh=action_zh, action_en=action_en)


def check_allowed(status: S, action: str) -> None:
    if status not in ALLOWED_IN[action]:
        raise not_allowed(status, action)


def is_sealed(status: S) -> bool:
    return status in SEALED_STATES


def prices_withheld(status: S) -> bool:
    """During the decryption window the opened bids' prices and files are nobody's but their
    bidder's: they are read out together when it ends (docs/decisions/0022)."""
    return status == S.OPENING
