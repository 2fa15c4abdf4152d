"""kernel.accounts.services, driven on the app's event loop against the test database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from tortoise.transactions import in_transaction

from kernel.accounts import creditcode, passwords, services
from kernel.accounts.actor import Actor
from kernel.accounts.exceptions import (
    CreditCodeInvalid,
    CreditCodeTaken,
    InvalidField,
    LoginFailed,
    LoginThrottled,
    NotificationNotFound,
    OwnAdminAccess,
    RoleOrganizationMismatch,
    UsernameInvalid,
    UsernameTaken,
    WeakPassword,
)
from kernel.accounts.models import LoginAttempt, Organization, OrgKind, Role, User
from kernel.accounts.sessions import actor_for_token
from kernel.audit.models import AuditEvent
from kernel.clock import FixedClock
from kernel.errors import PermissionDenied

Run = Callable[..., Any]
PASSWORD = "Bidding-2026"


def bidder_fields(seed: str = "hongda", **overrides: str) -> dict[str, str]:
    fields = {
        "name": f"贵州{seed}建设工程有限公司",
        "credit_code": creditcode.make_code(seed),
        "legal_rep": "王建国",
        "contact_name": "李明",
        "contact_phone": "13885100001",
        "email": f"{seed}@example.cn",
        "address": "贵州省贵阳市观山湖区长岭北路 1 号",
        "bank_name": "中国建设银行贵阳观山湖支行",
        "bank_account": "52050110360000001234",
        "username": seed,
        "password": PASSWORD,
    }
    fields.update(overrides)
    return fields


def signup(run: Run, ctx: Any, seed: str = "hongda", **overrides: str) -> User:
    return run(services.signup_bidder, ctx, **bidder_fields(seed, **overrides))


def make_admin(run: Run, ctx: Any, username: str = "root") -> Actor:
    user = run(services.create_first_admin, ctx, username=username, password=PASSWORD)
    return services.actor_for_user(user)


def login(
    run: Run, ctx: Any, username: str, password: str = PASSWORD, addr: str = "10.0.0.1"
) -> str:
    return run(services.login, ctx, username=username, password=password, remote_addr=addr)


async def audit_actions() -> list[str]:
    return [event.action for event in await AuditEvent.all().order_by("seq")]


async def audit_events(action: str) -> list[AuditEvent]:
    return list(await AuditEvent.filter(action=action).order_by("seq"))


async def stored_user(username: str) -> User | None:
    return await User.get_or_none(username=username)


async def attempts(*, succeeded: bool) -> int:
    return await LoginAttempt.filter(succeeded=succeeded).count()


async def set_hash(username: str, password_hash: str) -> None:
    await User.filter(username=username).update(password_hash=password_hash)


async def org_count() -> int:
    return await Organization.all().count()


# --- sign-up ----------------------------------------------------------------------------------


def test_signup_creates_company_and_first_user(run: Run, ctx: Any) -> None:
    user = signup(run, ctx)
    assert user.role is Role.BIDDER
    assert user.display_name == "李明"
    assert user.password_hash.startswith("$argon2id$")
    org = run(services.get_organization, user.organization_id)
    assert org.kind is OrgKind.BIDDER
    assert org.credit_code == creditcode.make_code("hongda")
    assert org.bank_account == "52050110360000001234"
    events = run(audit_events, "kernel:organization:created") + run(
        audit_events, "kernel:user:created"
    )
    assert [e.actor_id for e in events] == [user.id, user.id]
    assert {e.object_id for e in events} == {str(org.id), str(user.id)}
    assert run(ctx.audit.verify).ok
    assert services.actor_for_user(user).organization_name == "贵州hongda建设工程有限公司"


def test_signup_normalises_what_people_type(run: Run, ctx: Any) -> None:
    code = creditcode.make_code("fullwidth")
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in code.lower())
    user = signup(
        run,
        ctx,
        "fullwidth",
        credit_code=f" {fullwidth} ",
        contact_phone="0851-8555 1234",
        bank_account="5205 0110 3600 0000 1234",
        username="  FullWidth ",
        name=" 贵州全角（集团）有限公司 ",
        email="ｌｉ＠example.cn",
    )
    org = run(services.get_organization, user.organization_id)
    assert org.name == "贵州全角（集团）有限公司"  # the registered name, brackets and all
    assert org.email == "li@example.cn"
    assert org.credit_code == code
    assert org.contact_phone == "0851-85551234"
    assert org.bank_account == "52050110360000001234"
    assert user.username == "fullwidth"


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("name", "  ", InvalidField),
        ("credit_code", "", CreditCodeInvalid),
        ("credit_code", "91350100M000100Y44", CreditCodeInvalid),
        ("legal_rep", "", InvalidField),
        ("contact_name", "", InvalidField),
        ("contact_phone", "", InvalidField),
        ("contact_phone", "12345", InvalidField),
        ("email", "", InvalidField),
        ("email", "not-an-address", InvalidField),
        ("address", "", InvalidField),
        ("bank_name", "", InvalidField),
        ("bank_account", "", InvalidField),
        ("bank_account", "6222-ABC", InvalidField),
        ("username", "ab", UsernameInvalid),
        ("username", "张三", UsernameInvalid),
        ("password", "short1", WeakPassword),
        ("password", "alllowercaseletters", WeakPassword),
        ("name", "x" * 201, InvalidField),
    ],
)
def test_signup_refuses_each_bad_field(
    run: Run, ctx: Any, field: str, value: str, error: type[Exception]
) -> None:
    with pytest.raises(error) as caught:
        signup(run, ctx, **{field: value})
    assert caught.value.status_code == 400
    assert caught.value.params["field"] == field
    assert caught.value.message("zh-CN") and caught.value.message("en")
    assert run(org_count) == 0
    assert run(audit_actions) == []


def test_missing_field_message_names_it(run: Run, ctx: Any) -> None:
    with pytest.raises(InvalidField) as caught:
        signup(run, ctx, legal_rep="")
    assert caught.value.message("zh-CN") == "请填写法定代表人"
    assert caught.value.message("en") == "The legal representative is required"


def test_signup_refuses_taken_username_and_code(run: Run, ctx: Any) -> None:
    signup(run, ctx)
    with pytest.raises(UsernameTaken):
        signup(run, ctx, "other", username="hongda")
    with pytest.raises(CreditCodeTaken) as caught:
        signup(run, ctx, "other", credit_code=creditcode.make_code("hongda"))
    assert creditcode.make_code("hongda") in caught.value.message("en")
    assert run(org_count) == 1


# --- login ------------------------------------------------------------------------------------


def test_login_opens_a_session_and_records_it(run: Run, ctx: Any) -> None:
    user = signup(run, ctx)
    token = login(run, ctx, "HongDa ")
    actor = run(actor_for_token, token, now=ctx.clock.now())
    assert actor is not None
    assert (actor.user_id, actor.role, actor.organization_id) == (
        user.id,
        Role.BIDDER,
        user.organization_id,
    )
    info = run(services.session_info, ctx, token=token)
    assert info.expires_at == ctx.clock.now() + timedelta(
        seconds=ctx.settings.session_max_age_seconds
    )
    opened = run(audit_events, "kernel:session:opened")
    assert [(e.actor_id, e.detail["remote_addr"]) for e in opened] == [(user.id, "10.0.0.1")]
    assert run(attempts, succeeded=True) == 1


def test_wrong_password_and_unknown_user_get_the_same_answer(run: Run, ctx: Any) -> None:
    signup(run, ctx)
    with pytest.raises(LoginFailed) as wrong:
        login(run, ctx, "hongda", "Wrong-password-1")
    with pytest.raises(LoginFailed) as unknown:
        login(run, ctx, "nobody", PASSWORD)
    assert wrong.value.message("en") == unknown.value.message("en") == "Wrong username or password"
    assert wrong.value.status_code == 401
    failed = run(audit_events, "kernel:login:failed")
    assert [e.object_id for e in failed] == ["hongda", "nobody"]
    assert all(e.actor_id is None for e in failed)
    assert run(attempts, succeeded=False) == 2


def test_throttled_after_max_failures_and_free_after_the_window(
    run: Run, ctx: Any, clock: FixedClock
) -> None:
    signup(run, ctx)
    limit = ctx.settings.login_max_failures
    for _ in range(limit):
        with pytest.raises(LoginFailed):
            login(run, ctx, "hongda", "Wrong-password-1")
    # Even the right password is refused now, and the refusal says until when (Beijing time).
    with pytest.raises(LoginThrottled) as caught:
        login(run, ctx, "hongda")
    assert caught.value.status_code == 429
    assert "2026-03-02 09:15:00" in caught.value.message("zh-CN")
    clock.advance(seconds=ctx.settings.login_window_seconds - 1)
    with pytest.raises(LoginThrottled):
        login(run, ctx, "hongda")
    # Guessing while locked keeps the lock: a full window from the last attempt.
    clock.advance(seconds=ctx.settings.login_window_seconds)
    assert login(run, ctx, "hongda")


def test_throttle_counts_failures_from_one_address_across_usernames(
    run: Run, ctx: Any
) -> None:
    signup(run, ctx)
    for n in range(ctx.settings.login_max_failures):
        with pytest.raises(LoginFailed):
            login(run, ctx, f"guess{n}", addr="203.0.113.9")
    with pytest.raises(LoginThrottled):
        login(run, ctx, "hongda", addr="203.0.113.9")
    assert login(run, ctx, "hongda", addr="198.51.100.7")


def test_failures_below_the_limit_do_not_throttle(run: Run, ctx: Any) -> None:
    signup(run, ctx)
    for _ in range(ctx.settings.login_max_failures - 1):
        with pytest.raises(LoginFailed):
            login(run, ctx, "hongda", "Wrong-password-1")
    assert login(run, ctx, "hongda")


def test_login_rehashes_when_parameters_changed(run: Run, ctx: Any) -> None:
    signup(run, ctx)
    old = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    run(set_hash, "hongda", old)
    login(run, ctx, "hongda")
    renewed = run(stored_user, "hongda").password_hash
    assert renewed != old
    assert not passwords.needs_rehash(renewed)
    assert passwords.verify_password(renewed, PASSWORD)


def test_deactivated_user_cannot_log_in(run: Run, ctx: Any) -> None:
    admin = make_admin(run, ctx)
    user = signup(run, ctx)
    token = login(run, ctx, "hongda")
    run(services.update_user, ctx, actor=admin, user_id=user.id, is_active=False)
    assert run(actor_for_token, token, now=ctx.clock.now()) is None
    with pytest.raises(LoginFailed):
        login(run, ctx, "hongda")


def test_logout_ends_the_session(run: Run, ctx: Any) -> None:
    user = signup(run, ctx)
    token = login(run, ctx, "hongda")
    run(services.logout, ctx, token=token)
    assert run(actor_for_token, token, now=ctx.clock.now()) is None
    closed = run(audit_events, "kernel:session:closed")
    assert [e.actor_id for e in closed] == [user.id]
    run(services.logout, ctx, token=token)  # a second logout is harmless
    assert len(run(audit_events, "kernel:session:closed")) == 1


# --- administration ---------------------------------------------------------------------------


def test_only_admins_create_users(run: Run, ctx: Any) -> None:
    bidder = services.actor_for_user(signup(run, ctx))
    with pytest.raises(PermissionDenied):
        run(
            services.create_user, ctx, actor=bidder, username="sneaky", password=PASSWORD,
            role=Role.ADMIN,
        )
    assert run(stored_user, "sneaky") is None


def test_first_admin_only_once(run: Run, ctx: Any) -> None:
    make_admin(run, ctx)
    with pytest.raises(PermissionDenied):
        make_admin(run, ctx, "second")


def test_admin_creates_agency_with_its_organisation(run: Run, ctx: Any) -> None:
    admin = make_admin(run, ctx)
    user = run(
        services.create_user_with_organization, ctx, actor=admin, username="agent1",
        password=PASSWORD, role="agency", organization_name="贵州招标代理有限公司",
        credit_code=creditcode.make_code("agency"), display_name="赵六",
    )
    org = run(services.get_organization, user.organization_id)
    assert (user.role, org.kind, org.name) == (Role.AGENCY, OrgKind.AGENCY, "贵州招标代理有限公司")
    second = run(
        services.create_user, ctx, actor=admin, username="agent2", password=PASSWORD,
        role=Role.AGENCY, organization_id=org.id,
    )
    assert second.organization_id == org.id
    created = run(audit_events, "kernel:user:created")
    assert [e.actor_id for e in created][-2:] == [admin.user_id, admin.user_id]


def test_role_must_match_organisation_kind(run: Run, ctx: Any) -> None:
    admin = make_admin(run, ctx)
    bidder_org = signup(run, ctx).organization_id
    with pytest.raises(RoleOrganizationMismatch):
        run(services.create_user, ctx, actor=admin, username="agent", password=PASSWORD,
            role="agency")
    with pytest.raises(RoleOrganizationMismatch) as caught:
        run(services.create_user, ctx, actor=admin, username="super", password=PASSWORD,
            role="supervisor", organization_id=bidder_org)
    assert caught.value.message("zh-CN") == "监督人员账号须属于行政监督部门"
    # A supervisor without an organisation is allowed.
    run(services.create_user, ctx, actor=admin, username="super", password=PASSWORD,
        role="supervisor")


def test_failed_creation_leaves_no_organisation(run: Run, ctx: Any) -> None:
    admin = make_admin(run, ctx)
    with pytest.raises(UsernameTaken):
        run(
            services.create_user_with_organization, ctx, actor=admin, username="root",
            password=PASSWORD, role="agency", organization_name="代理公司",
            credit_code=creditcode.make_code("x"),
        )
    assert run(org_count) == 0


def test_update_user_records_before_and_after(run: Run, ctx: Any) -> None:
    admin = make_admin(run, ctx)
    user = run(services.create_user, ctx, actor=admin, username="super", password=PASSWORD,
               role="supervisor")
    run(services.update_user, ctx, actor=admin, user_id=user.id, role="admin",
        display_name="孙七")
    stored = run(stored_user, "super")
    assert (stored.role, stored.display_name) == (Role.ADMIN, "孙七")
    [event] = run(audit_events, "kernel:user:updated")
    assert event.before_hash != event.after_hash
    # Nothing changed: nothing recorded.
    run(services.update_user, ctx, actor=admin, user_id=user.id, role="admin")
    assert len(run(audit_events, "kernel:user:updated")) == 1


def test_admin_cannot_lock_themselves_out(run: Run, ctx: Any) -> None:
    admin = make_admin(run, ctx)
    with pytest.raises(OwnAdminAccess):
        run(services.update_user, ctx, actor=admin, user_id=admin.user_id, is_active=False)
    with pytest.raises(OwnAdminAccess):
        run(services.update_user, ctx, actor=admin, user_id=admin.user_id, role="bidder")


def test_reset_password_ends_sessions(run: Run, ctx: Any) -> None:
    admin = make_admin(run, ctx)
    user = signup(run, ctx)
    token = login(run, ctx, "hongda")
    with pytest.raises(WeakPassword):
        run(services.reset_password, ctx, actor=admin, user_id=user.id, new_password="short")
    run(services.reset_password, ctx, actor=admin, user_id=user.id, new_password="New-pass-2026")
    assert run(actor_for_token, token, now=ctx.clock.now()) is None
    with pytest.raises(LoginFailed):
        login(run, ctx, "hongda")
    assert login(run, ctx, "hongda", "New-pass-2026")
    assert "kernel:user:password_reset" in run(audit_actions)


def test_list_users_searches_and_pages(run: Run, ctx: Any) -> None:
    admin = make_admin(run, ctx)
    signup(run, ctx, "hongda")
    for n in range(services.PAGE_SIZE + 3):
        run(services.create_user, ctx, actor=admin, username=f"staff{n:02d}", password=PASSWORD,
            role="supervisor")
    first = run(services.list_users, 1, "")
    assert (first.total, first.pages, len(first.items)) == (services.PAGE_SIZE + 5, 2, 20)
    second = run(services.list_users, 2)
    assert [u.username for u in second.items][-1] == f"staff{services.PAGE_SIZE + 2:02d}"
    assert run(services.list_users, 99).page == 2
    # By organisation name (users without one are still found by username).
    assert [u.username for u in run(services.list_users, 1, "hongda建设").items] == ["hongda"]
    assert run(services.list_users, 1, "STAFF0").total == 10
    assert run(services.list_users, 1, "nothing-matches").items == []


# --- notifications and read helpers -----------------------------------------------------------


async def notify_in_transaction(ctx: Any, org_ids: list[int]) -> int:
    async with in_transaction():
        return await services.notify(
            ctx, organization_ids=org_ids, title="澄清公告", body="第 1 号澄清", link="/tenders/1"
        )


def test_notifications_reach_only_their_organisations(run: Run, ctx: Any) -> None:
    a = signup(run, ctx, "alpha")
    b = signup(run, ctx, "beta")
    c = signup(run, ctx, "gamma")
    assert run(notify_in_transaction, ctx, [a.organization_id, b.organization_id]) == 2
    [note] = run(services.notifications_for, a.organization_id)
    assert (note.title, note.link, note.read_at) == ("澄清公告", "/tenders/1", None)
    assert run(services.notifications_for, c.organization_id) == []
    actor_a, actor_c = services.actor_for_user(a), services.actor_for_user(c)
    with pytest.raises(NotificationNotFound):
        run(services.mark_read, ctx, actor=actor_c, notification_id=note.id)
    assert run(services.mark_read, ctx, actor=actor_a, notification_id=note.id) == 1
    assert run(services.notifications_for, a.organization_id)[0].read_at == ctx.clock.now()
    assert run(services.mark_read, ctx, actor=services.actor_for_user(b)) == 1


def test_notification_links_must_be_local(run: Run, ctx: Any) -> None:
    org = signup(run, ctx).organization_id
    with pytest.raises(ValueError):
        run(services.notify, ctx, organization_ids=[org], title="x", body="",
            link="https://evil.example/")


def test_organization_read_helpers(run: Run, ctx: Any) -> None:
    admin = make_admin(run, ctx)
    a = signup(run, ctx, "alpha").organization_id
    agency = run(services.create_organization, ctx, actor=admin, kind="agency",
                 name="代理机构", credit_code=creditcode.make_code("agency"))
    assert set(run(services.organizations_by_ids, [a, agency.id, 999])) == {a, agency.id}
    assert run(services.organizations_by_ids, []) == {}
    assert [o.id for o in run(services.list_organizations, OrgKind.AGENCY)] == [agency.id]
    assert len(run(services.list_organizations)) == 2
    code = creditcode.make_code("alpha")
    assert run(services.organization_by_credit_code, f" {code.lower()} ").id == a
    assert run(services.organization_by_credit_code, creditcode.make_code("nobody")) is None
    assert "kernel:organization:created" in run(audit_actions)
