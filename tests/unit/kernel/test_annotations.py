"""kernel.annotations: a mark on another package's object reaches only its audience, one per
(subject, kind), every change audited outside the subject's own audit scope."""

from __future__ import annotations

import pytest

from kernel import annotations
from kernel.accounts.actor import ANONYMOUS, SYSTEM, Actor
from kernel.accounts.models import Role
from kernel.audit.models import AuditEvent

SUPERVISOR = Actor(user_id=1, username="jiandu", role=Role.SUPERVISOR)
ADMIN = Actor(user_id=2, username="admin", role=Role.ADMIN)
AGENCY = Actor(user_id=3, username="daili", role=Role.AGENCY, organization_id=7)
BIDDER = Actor(user_id=4, username="toubiao", role=Role.BIDDER, organization_id=8)
STAFF = (Role.SUPERVISOR, Role.ADMIN)


def _mark(run, ctx, subject: str = "tender:5", **kw):
    values = {"kind": "collusion", "text": "串标风险 2", "audience": STAFF, "count": 2,
              "level": "danger", "link": "/supervision/collusion/tenders/5", **kw}
    return run(annotations.annotate, ctx, actor=SYSTEM, subject=subject, **values)


def test_only_the_audience_sees_a_mark(run, ctx) -> None:
    _mark(run, ctx)
    _mark(run, ctx, subject="tender:6", kind="note", audience=[Role.AGENCY], level="info",
          text="备注", count=0, link="")
    subjects = ["tender:5", "tender:6", "tender:404"]
    seen = run(annotations.annotations_for, subjects, SUPERVISOR)
    assert list(seen) == ["tender:5"]
    assert seen["tender:5"][0] == annotations.Mark(
        "tender:5", "collusion", "danger", "串标风险 2", 2, "/supervision/collusion/tenders/5")
    assert list(run(annotations.annotations_for, subjects, ADMIN)) == ["tender:5"]
    assert list(run(annotations.annotations_for, subjects, AGENCY)) == ["tender:6"]
    assert run(annotations.annotations_for, subjects, BIDDER) == {}
    assert run(annotations.annotations_for, subjects, ANONYMOUS) == {}
    assert run(annotations.annotations_for, [], SUPERVISOR) == {}


def test_annotate_again_replaces_and_remove_takes_it_off(run, ctx) -> None:
    first = _mark(run, ctx)
    again = _mark(run, ctx, count=5, text="串标风险 5", level="warning")
    assert again.id == first.id
    (mark,) = run(annotations.annotations_for, ["tender:5"], SUPERVISOR)["tender:5"]
    assert (mark.count, mark.level) == (5, "warning")
    assert run(annotations.remove, ctx, actor=SYSTEM, subject="tender:5", kind="collusion")
    assert not run(annotations.remove, ctx, actor=SYSTEM, subject="tender:5", kind="collusion")
    assert run(annotations.annotations_for, ["tender:5"], SUPERVISOR) == {}


def test_changes_are_audited_outside_the_subject_scope(run, ctx) -> None:
    _mark(run, ctx)
    run(annotations.remove, ctx, actor=SYSTEM, subject="tender:5", kind="collusion")
    events = run(AuditEvent.filter(action__startswith="kernel:annotation:").order_by("seq").all)
    assert [e.action for e in events] == ["kernel:annotation:set", "kernel:annotation:removed"]
    # The tender page shows scope "tender:5" to the agency: a supervisors' mark stays out of it.
    assert {e.scope for e in events} == {"annotation:tender:5"}


def test_bad_marks_are_refused(run, ctx) -> None:
    with pytest.raises(ValueError):
        _mark(run, ctx, audience=[])
    with pytest.raises(ValueError):
        _mark(run, ctx, level="blinking")
