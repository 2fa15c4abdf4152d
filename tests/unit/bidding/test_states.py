"""The transition table: every transition from each allowed state, and refusals elsewhere."""

from __future__ import annotations

import pytest

from bidding import states
from bidding.models import TenderStatus as S
from kernel.errors import TransitionNotAllowed

EXPECTED = {
    ("publish", S.DRAFT): S.PUBLISHED,
    ("suspend", S.PUBLISHED): S.SUSPENDED,
    ("resume", S.SUSPENDED): S.PUBLISHED,
    ("begin_opening", S.PUBLISHED): S.OPENING,
    ("open", S.OPENING): S.OPENED,
    ("fail", S.PUBLISHED): S.FAILED,
    ("fail", S.OPENING): S.FAILED,
    ("publish_candidates", S.OPENED): S.PUBLICITY,
    ("award", S.PUBLICITY): S.AWARDED,
    ("register_contract", S.AWARDED): S.CONTRACTED,
    ("close", S.AWARDED): S.CLOSED,
    ("close", S.CONTRACTED): S.CLOSED,
}


@pytest.mark.parametrize("action", sorted(states.TRANSITIONS))
@pytest.mark.parametrize("status", list(S))
def test_every_transition_from_every_state(action: str, status: S) -> None:
    if (action, status) in EXPECTED:
        assert states.target(status, action) == EXPECTED[(action, status)]
    else:
        with pytest.raises(TransitionNotAllowed) as info:
            states.target(status, action)
        assert info.value.params["state"] == status.value
        assert states.STATE_WORDS[status][1] in info.value.message("en")


def test_table_has_no_transition_the_tests_do_not_know() -> None:
    table = {(a, s) for a, (sources, _) in states.TRANSITIONS.items() for s in sources}
    assert table == set(EXPECTED)


def test_closed_and_failed_are_final_except_rerun() -> None:
    for action, (sources, _) in states.TRANSITIONS.items():
        assert S.CLOSED not in sources, action
        assert S.FAILED not in sources, action
    assert states.ALLOWED_IN["rerun"] == {S.FAILED}


def test_bids_only_before_the_opening() -> None:
    assert states.ALLOWED_IN["submit_bid"] == {S.PUBLISHED, S.SUSPENDED}
    with pytest.raises(TransitionNotAllowed):
        states.check_allowed(S.OPENED, "submit_bid")


def test_sealed_until_the_opening() -> None:
    assert {s for s in S if states.is_sealed(s)} == {S.DRAFT, S.PUBLISHED, S.SUSPENDED}


def test_the_opening_is_not_sealed_and_takes_keys_and_objections() -> None:
    assert not states.is_sealed(S.OPENING)
    assert states.ALLOWED_IN["send_key"] == {S.OPENING}
    assert states.ALLOWED_IN["object_opening"] == {S.OPENING, S.OPENED}
    with pytest.raises(TransitionNotAllowed):
        states.check_allowed(S.OPENING, "submit_bid")


def test_refusals_name_the_state_and_the_action_in_words() -> None:
    assert set(states.STATE_WORDS) == set(S)
    assert set(states.ACTION_WORDS) >= set(states.ALLOWED_IN) | set(states.TRANSITIONS)
    with pytest.raises(TransitionNotAllowed) as refused:
        states.check_allowed(S.OPENED, "send_share")
    assert refused.value.message("zh-CN") == "当前状态（已开标）不允许提交开标密钥份额"
    assert refused.value.message("en") == (
        "Sending a key share is not allowed while the tender is opened")
    assert refused.value.params["state"] == "opened"  # the codes stay for programs
