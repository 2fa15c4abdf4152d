"""Account pages and the accounts JSON API, through the real app."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from ebid.app import create_app
from kernel.accounts import creditcode, services
from kernel.accounts.models import Role, User
from kernel.audit.models import AuditEvent
from kernel.clock import FixedClock
from kernel.http import CSRF_COOKIE, SESSION_COOKIE
from kernel.settings import Settings

Run = Callable[..., Any]
PASSWORD = "Bidding-2026"


def bidder_form(seed: str = "hongda", **overrides: str) -> dict[str, str]:
    form = {
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
    form.update(overrides)
    return form


def signup(run: Run, ctx: Any, seed: str = "hongda") -> User:
    return run(services.signup_bidder, ctx, **bidder_form(seed))


def make_admin(run: Run, ctx: Any) -> User:
    return run(services.create_first_admin, ctx, username="root", password=PASSWORD)


def csrf(client: TestClient, path: str = "/login") -> str:
    """GET a form page, as a browser would before posting it, and return its token."""
    response = client.get(path)
    assert response.status_code == 200
    token = response.context["csrf_token"]
    assert client.cookies[CSRF_COOKIE] == token
    assert f'name="csrf_token" value="{token}"' in response.text
    return token


def log_in(client: TestClient, username: str, password: str = PASSWORD) -> Any:
    token = csrf(client)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        follow_redirects=False,
    )


async def actions() -> list[str]:
    return [event.action for event in await AuditEvent.all().order_by("seq")]


# --- login and logout -------------------------------------------------------------------------


def test_login_page_renders_with_a_csrf_token(client: TestClient) -> None:
    response = client.get("/login?next=/tenders/3")
    assert response.template.name == "kernel/login.html"
    assert response.context["next"] == "/tenders/3"
    assert CSRF_COOKIE in response.cookies
    assert "登录" in response.text


def test_login_sets_session_cookie_and_redirects_to_workspace(
    client: TestClient, run: Run, ctx: Any
) -> None:
    user = signup(run, ctx)
    response = log_in(client, "hongda")
    assert response.status_code == 303
    assert response.headers["location"] == "/workspace"
    cookie = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE)
    )
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    assert f"Max-Age={ctx.settings.session_max_age_seconds}" in cookie
    me = client.get("/api/v1/me").json()
    assert (me["id"], me["role"]) == (user.id, "bidder")
    assert "kernel:session:opened" in run(actions)


def test_post_without_csrf_token_is_refused(client: TestClient, run: Run, ctx: Any) -> None:
    signup(run, ctx)
    csrf(client)
    response = client.post(
        "/login", data={"username": "hongda", "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 403
    assert response.template.name == "error.html"
    assert SESSION_COOKIE not in response.cookies
    wrong = client.post(
        "/login",
        data={"username": "hongda", "password": PASSWORD, "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert wrong.status_code == 403
    assert log_in(client, "hongda").status_code == 303


@pytest.mark.parametrize(
    ("next_url", "landing"),
    [
        ("/tenders/3?tab=docs", "/tenders/3?tab=docs"),
        ("//evil.example/x", "/workspace"),
        ("https://evil.example/", "/workspace"),
        ("/\\evil.example", "/workspace"),
        ("", "/workspace"),
    ],
)
def test_login_redirects_only_to_local_paths(
    client: TestClient, run: Run, ctx: Any, next_url: str, landing: str
) -> None:
    signup(run, ctx)
    token = csrf(client)
    response = client.post(
        "/login",
        data={"username": "hongda", "password": PASSWORD, "csrf_token": token, "next": next_url},
        follow_redirects=False,
    )
    assert response.headers["location"] == landing


def test_wrong_password_re_renders_with_a_generic_error(
    client: TestClient, run: Run, ctx: Any
) -> None:
    signup(run, ctx)
    wrong = log_in(client, "hongda", "Wrong-password-1")
    unknown = log_in(client, "nobody", PASSWORD)
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.template.name == "kernel/login.html"
        assert response.context["error"] == "用户名或密码错误"
        assert SESSION_COOKIE not in response.cookies
    assert wrong.context["username"] == "hongda"
    assert "kernel:login:failed" in run(actions)


def test_login_throttled_then_recovers(
    client: TestClient, run: Run, ctx: Any, clock: FixedClock
) -> None:
    signup(run, ctx)
    for _ in range(ctx.settings.login_max_failures):
        assert log_in(client, "hongda", "Wrong-password-1").status_code == 401
    throttled = log_in(client, "hongda")
    assert throttled.status_code == 429
    assert "09:15:00" in throttled.context["error"]
    # The same wait as a header (the clock reads 09:00:00), for clients that do not read pages.
    assert throttled.headers["retry-after"] == str(ctx.settings.login_window_seconds)
    clock.advance(seconds=ctx.settings.login_window_seconds)
    assert log_in(client, "hongda").status_code == 303


def test_logout_ends_the_session(client: TestClient, run: Run, ctx: Any) -> None:
    signup(run, ctx)
    log_in(client, "hongda")
    token = client.cookies[CSRF_COOKIE]
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/")
    assert client.get("/api/v1/me").status_code == 401
    assert "kernel:session:closed" in run(actions)


def test_secure_cookie_when_configured(settings: Settings, clock: FixedClock) -> None:
    # Its own app, so no `client` fixture here; a seed no other test uses keeps it independent.
    app = create_app(settings.with_(secure_cookies=True), clock=clock, run_jobs=False)
    with TestClient(app, base_url="https://testserver") as client:
        fields = bidder_form("secure-cookie-test")
        client.portal.call(functools.partial(services.signup_bidder, app.state.ctx, **fields))
        response = log_in(client, "secure-cookie-test")
    cookie = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE)
    )
    assert "Secure" in cookie and "HttpOnly" in cookie


# --- sign-up ----------------------------------------------------------------------------------


def test_signup_happy_path(client: TestClient, run: Run) -> None:
    response = client.get("/signup")
    assert response.template.name == "kernel/signup.html"
    form = bidder_form(csrf_token=response.context["csrf_token"])
    created = client.post("/signup", data=form, follow_redirects=False)
    assert (created.status_code, created.headers["location"]) == (303, "/login?registered=1")
    assert client.get("/login?registered=1").context["registered"] is True
    assert log_in(client, "hongda").status_code == 303
    assert run(actions)[:2] == ["kernel:organization:created", "kernel:user:created"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "请填写单位名称"),
        ("credit_code", "91350100M000100Y44", "统一社会信用代码“91350100M000100Y44”无效"),
        ("legal_rep", "", "请填写法定代表人"),
        ("contact_name", "", "请填写联系人"),
        ("contact_phone", "12345", "联系电话（手机号或带区号的固定电话）格式不正确"),
        ("email", "someone", "电子邮箱格式不正确"),
        ("address", "", "请填写单位地址"),
        ("bank_name", "", "请填写基本存款账户开户银行"),
        ("bank_account", "12AB", "基本存款账户账号（8 至 32 位数字）格式不正确"),
        ("username", "a", "用户名应为"),
        ("password", "short", "密码太弱"),
    ],
)
def test_signup_errors_keep_the_entered_values(
    client: TestClient, run: Run, field: str, value: str, message: str
) -> None:
    token = csrf(client, "/signup")
    form = bidder_form(**{field: value, "csrf_token": token})
    response = client.post("/signup", data=form)
    assert response.status_code == 400
    assert response.template.name == "kernel/signup.html"
    assert message in response.context["error"]
    assert response.context["error_field"] == field
    kept = "legal_rep" if field != "legal_rep" else "address"
    assert response.context["values"][kept] == form[kept]
    assert f'value="{form[kept]}"' in response.text
    if field != "password":
        assert response.context["values"][field] == value
    assert PASSWORD not in response.text and "password" not in response.context["values"]
    assert run(actions) == []


def test_signup_error_in_english(client: TestClient) -> None:
    token = csrf(client, "/signup?lang=en")
    response = client.post("/signup?lang=en", data=bidder_form(legal_rep="", csrf_token=token))
    assert response.context["error"] == "The legal representative is required"


# --- administration ---------------------------------------------------------------------------


def test_admin_pages_refuse_anonymous_and_bidders(client: TestClient, run: Run, ctx: Any) -> None:
    for path in ("/admin", "/admin/users", "/admin/users/1"):
        response = client.get(path, follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, f"/login?next={path}")
    signup(run, ctx)
    log_in(client, "hongda")
    for path in ("/admin", "/admin/users"):
        assert client.get(path).status_code == 403
    token = client.cookies[CSRF_COOKIE]
    response = client.post(
        "/admin/users",
        data={"username": "x1234", "password": PASSWORD, "role": "admin", "csrf_token": token},
    )
    assert response.status_code == 403
    assert client.get("/api/v1/admin/users").status_code == 403


def test_admin_index_links(client: TestClient, run: Run, ctx: Any) -> None:
    make_admin(run, ctx)
    log_in(client, "root")
    response = client.get("/admin")
    assert response.template.name == "kernel/admin-index.html"
    assert 'href="/admin/users"' in response.text and 'href="/admin/rooms"' in response.text


def test_admin_creates_an_agency_account(client: TestClient, run: Run, ctx: Any) -> None:
    make_admin(run, ctx)
    log_in(client, "root")
    token = csrf(client, "/admin/users")
    form = {
        "csrf_token": token,
        "username": "agent1",
        "display_name": "赵六",
        "password": PASSWORD,
        "role": "agency",
        "organization_id": "",
        "organization_name": "贵州招标代理有限公司",
        "credit_code": creditcode.make_code("agency"),
    }
    response = client.post("/admin/users", data=form, follow_redirects=False)
    assert response.status_code == 303
    page = client.get(response.headers["location"])
    assert page.template.name == "kernel/admin-user.html"
    user = page.context["user"]
    assert (user.username, user.role, user.organization.name) == (
        "agent1", Role.AGENCY, "贵州招标代理有限公司"
    )
    # The organisation is offered for the next agency account.
    listing = client.get("/admin/users?q=agent")
    assert [u.username for u in listing.context["users"].items] == ["agent1"]
    assert [o.name for o in listing.context["organizations"]] == ["贵州招标代理有限公司"]
    # A mistake re-renders the form with what was typed.
    no_org = client.post("/admin/users", data={**form, "organization_name": ""})
    assert no_org.status_code == 400
    assert no_org.context["error"] == "招标代理账号须属于招标代理机构"
    assert no_org.context["values"]["username"] == "agent1"
    taken = client.post(
        "/admin/users",
        data={**form, "organization_name": "", "organization_id": str(user.organization.id)},
    )
    assert taken.status_code == 400
    assert taken.context["error"] == "用户名“agent1”已被使用，请换一个"
    assert f'<option value="{user.organization.id}" selected>' in taken.text


def test_admin_deactivates_and_resets_password(client: TestClient, run: Run, ctx: Any) -> None:
    make_admin(run, ctx)
    bidder = signup(run, ctx)
    log_in(client, "root")
    token = csrf(client, f"/admin/users/{bidder.id}")
    response = client.post(
        f"/admin/users/{bidder.id}",
        data={"csrf_token": token, "action": "update", "role": "bidder", "is_active": "0",
              "display_name": "李明"},
        follow_redirects=False,
    )
    assert response.headers["location"] == f"/admin/users/{bidder.id}?done=updated"
    assert client.get(f"/admin/users/{bidder.id}").context["user"].is_active is False
    weak = client.post(
        f"/admin/users/{bidder.id}",
        data={"csrf_token": token, "action": "reset_password", "password": "short"},
    )
    assert weak.status_code == 400 and "密码太弱" in weak.context["error"]
    reset = client.post(
        f"/admin/users/{bidder.id}",
        data={"csrf_token": token, "action": "reset_password", "password": "New-pass-2026"},
        follow_redirects=False,
    )
    assert reset.headers["location"] == f"/admin/users/{bidder.id}?done=password"
    assert client.get("/admin/users/999").status_code == 404
    client.cookies.clear()
    assert log_in(client, "hongda", "New-pass-2026").status_code == 401  # deactivated


# --- notifications ----------------------------------------------------------------------------


async def _notify(ctx: Any, org_id: int) -> None:
    from tortoise.transactions import in_transaction

    async with in_transaction():
        await services.notify(ctx, organization_ids=[org_id], title="澄清公告", body="内容")


def test_notifications_inbox(client: TestClient, run: Run, ctx: Any) -> None:
    assert client.get("/notifications", follow_redirects=False).status_code == 303
    user = signup(run, ctx)
    run(_notify, ctx, user.organization_id)
    log_in(client, "hongda")
    page = client.get("/notifications")
    assert page.template.name == "kernel/notifications.html"
    [note] = page.context["notifications"]
    assert note.title == "澄清公告" and note.read_at is None
    token = client.cookies[CSRF_COOKIE]
    client.post("/notifications/read", data={"csrf_token": token, "notification_id": note.id})
    assert client.get("/notifications").context["notifications"][0].read_at is not None


# --- JSON API ---------------------------------------------------------------------------------


def test_api_login_gives_a_bearer_token(client: TestClient, run: Run, ctx: Any) -> None:
    user = signup(run, ctx)
    response = client.post("/api/v1/session", json={"username": "hongda", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["role"] == "bidder" and body["expires_at"].startswith("2026-03-02T09:00:00")
    assert SESSION_COOKIE not in response.cookies
    headers = {"Authorization": f"Bearer {body['token']}"}
    me = client.get("/api/v1/me", headers=headers)
    assert me.json()["organization"]["credit_code"] == creditcode.make_code("hongda")
    assert me.json()["id"] == user.id
    assert client.delete("/api/v1/session", headers=headers).status_code == 204
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_api_login_failures(client: TestClient, run: Run, ctx: Any) -> None:
    signup(run, ctx)
    response = client.post("/api/v1/session", json={"username": "hongda", "password": "nope"})
    assert response.status_code == 401
    assert response.json() == {"error": "login_failed", "message": "用户名或密码错误"}
    assert client.post("/api/v1/session", content=b"not json").status_code == 400
    assert client.get("/api/v1/me").json()["error"] == "login_required"


def test_api_signup(client: TestClient) -> None:
    response = client.post("/api/v1/bidders", json=bidder_form())
    assert response.status_code == 201
    assert response.json()["organization"]["kind"] == "bidder"
    again = client.post("/api/v1/bidders?lang=en", json=bidder_form("other", username="hongda"))
    assert again.status_code == 400
    assert again.json()["error"] == "username_taken"
    assert "already taken" in again.json()["message"]


def test_api_admin_users(client: TestClient, run: Run, ctx: Any) -> None:
    make_admin(run, ctx)
    signup(run, ctx)
    token = client.post("/api/v1/session", json={"username": "root", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {token.json()['token']}"}
    listing = client.get("/api/v1/admin/users?q=hong", headers=headers).json()
    assert [u["username"] for u in listing["items"]] == ["hongda"]
    created = client.post(
        "/api/v1/admin/users",
        headers=headers,
        json={"username": "super1", "password": PASSWORD, "role": "supervisor"},
    )
    assert created.status_code == 201
    assert created.json()["role"] == "supervisor" and created.json()["organization"] is None
    bad = client.post(
        "/api/v1/admin/users",
        headers=headers,
        json={"username": "super2", "password": PASSWORD, "role": "agency"},
    )
    assert (bad.status_code, bad.json()["error"]) == (400, "role_organization_mismatch")
    bidder = client.post("/api/v1/session", json={"username": "hongda", "password": PASSWORD})
    bidder_headers = {"Authorization": f"Bearer {bidder.json()['token']}"}
    assert client.get("/api/v1/admin/users", headers=bidder_headers).status_code == 403


def test_api_with_session_cookie_still_needs_csrf_header(
    client: TestClient, run: Run, ctx: Any
) -> None:
    signup(run, ctx)
    log_in(client, "hongda")
    assert client.delete("/api/v1/session").status_code == 403
    token = client.cookies[CSRF_COOKIE]
    assert client.delete("/api/v1/session", headers={"x-csrf-token": token}).status_code == 204


def test_templates_have_no_inline_scripts_or_styles() -> None:
    root = Path(__file__).resolve().parents[3] / "templates" / "kernel"
    for template in root.glob("*.html"):
        text = template.read_text()
        assert "<script" not in text and "<style" not in text and " style=" not in text, template


def test_openapi_describes_the_accounts_api(client: TestClient) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    assert set(paths["/api/v1/session"]) == {"post", "delete"}
    assert set(paths["/api/v1/admin/users"]) == {"get", "post"}
    assert "429" in {str(code) for code in paths["/api/v1/session"]["post"]["responses"]}
    assert "requestBody" in paths["/api/v1/bidders"]["post"]
    assert "get" in paths["/api/v1/me"]
    assert not any(path.startswith(("/login", "/admin", "/signup")) for path in paths)
