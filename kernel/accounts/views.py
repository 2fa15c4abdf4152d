"""Account pages: login, logout, bidder sign-up, user administration and the inbox."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from kernel.accounts import services
from kernel.accounts.models import OrgKind, Role
from kernel.context import Context
from kernel.errors import DomainError, InvalidInput
from kernel.http import SESSION_COOKIE, actor_of, form_of, locale_of, redirect

SIGNUP_FIELDS = (
    "name", "credit_code", "legal_rep", "contact_name", "contact_phone", "email", "address",
    "bank_name", "bank_account", "username",
)
NEW_USER_FIELDS = ("username", "display_name", "role", "organization_id", "organization_name",
                   "credit_code")
# Organisations an admin may attach a new user to; bidder companies sign up themselves.
STAFF_ORG_KINDS = (OrgKind.AGENCY, OrgKind.AUTHORITY, OrgKind.CENTRE)
DEFAULT_LANDING = "/workspace"


def _ctx(request: Request) -> Context:
    return request.app.state.ctx


def _render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200,
    refusal: DomainError | None = None,
) -> Response:
    templates = request.app.state.templates
    return templates.TemplateResponse(request, name, context, status_code=status_code,
                                      headers=refusal.headers() if refusal else None)


def _error(request: Request, exc: DomainError) -> dict[str, Any]:
    """What a form page needs to show a refusal next to the field it concerns."""
    return {"error": exc.message(locale_of(request)), "error_field": exc.params.get("field", "")}


def _values(form: FormData, names: tuple[str, ...]) -> dict[str, str]:
    return {name: str(form.get(name, "")) for name in names}


def _int(value: Any, field: str) -> int | None:
    text = str(value or "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise InvalidInput(field, "not a number", "应为数字")
    return int(text)


def safe_next(value: str | None) -> str:
    """``value`` if it is a path on this site, else the workspace: no open redirects."""
    if (
        value
        and value.startswith("/")
        and not value.startswith("//")
        and "\\" not in value
        and value.isprintable()
    ):
        return value
    return DEFAULT_LANDING


def _client_addr(request: Request) -> str:
    # Behind a reverse proxy this is the proxy unless uvicorn runs with --proxy-headers.
    return request.client.host if request.client else ""


# --- login, logout, sign-up -------------------------------------------------------------------


async def login(request: Request) -> Response:
    if request.method == "GET":
        return _render(
            request,
            "kernel/login.html",
            {
                "next": request.query_params.get("next", ""),
                "username": "",
                "registered": "registered" in request.query_params,
            },
        )
    form = await form_of(request)
    username, next_url = str(form.get("username", "")), str(form.get("next", ""))
    try:
        token = await services.login(
            _ctx(request),
            username=username,
            password=str(form.get("password", "")),
            remote_addr=_client_addr(request),
        )
    except DomainError as exc:
        context = {"next": next_url, "username": username, **_error(request, exc)}
        return _render(request, "kernel/login.html", context, exc.status_code, exc)
    settings = request.app.state.settings
    response = redirect(safe_next(next_url))
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_max_age_seconds,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
    )
    return response


async def logout(request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE, "")
    if token:
        await services.logout(_ctx(request), token=token)
    response = redirect("/")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def signup(request: Request) -> Response:
    if request.method == "GET":
        return _render(request, "kernel/signup.html", {"values": {}})
    form = await form_of(request)
    values = _values(form, SIGNUP_FIELDS)
    try:
        await services.signup_bidder(
            _ctx(request), **values, password=str(form.get("password", ""))
        )
    except DomainError as exc:
        context = {"values": values, **_error(request, exc)}
        return _render(request, "kernel/signup.html", context, exc.status_code)
    return redirect("/login?registered=1")


# --- administration ---------------------------------------------------------------------------


async def admin_index(request: Request) -> Response:
    return _render(request, "kernel/admin-index.html", {})


async def _users_page(request: Request, **extra: Any) -> dict[str, Any]:
    q = request.query_params.get("q", "")
    try:
        page = int(request.query_params.get("page", "1"))
    except ValueError:
        page = 1
    return {
        "q": q,
        "users": await services.list_users(page, q),
        "organizations": await services.list_organizations(STAFF_ORG_KINDS),
        "roles": [role for role in Role if role is not Role.BIDDER],
        "values": {},
        **extra,
    }


async def admin_users(request: Request) -> Response:
    if request.method == "GET":
        return _render(request, "kernel/admin-users.html", await _users_page(request))
    form = await form_of(request)
    values = _values(form, NEW_USER_FIELDS)
    actor, ctx = actor_of(request), _ctx(request)
    password = str(form.get("password", ""))
    try:
        if values["organization_name"].strip():
            user = await services.create_user_with_organization(
                ctx,
                actor=actor,
                username=values["username"],
                password=password,
                role=values["role"],
                display_name=values["display_name"],
                organization_name=values["organization_name"],
                credit_code=values["credit_code"],
            )
        else:
            user = await services.create_user(
                ctx,
                actor=actor,
                username=values["username"],
                password=password,
                role=values["role"],
                display_name=values["display_name"],
                organization_id=_int(values["organization_id"], "organization_id"),
            )
    except DomainError as exc:
        context = await _users_page(request, values=values, **_error(request, exc))
        return _render(request, "kernel/admin-users.html", context, exc.status_code)
    return redirect(f"/admin/users/{user.id}?done=created")


async def admin_user(request: Request) -> Response:
    user_id = request.path_params["user_id"]
    user = await services.get_user(user_id)
    context: dict[str, Any] = {"user": user, "roles": list(Role), "done": ""}
    if request.method == "GET":
        context["done"] = request.query_params.get("done", "")
        return _render(request, "kernel/admin-user.html", context)
    form = await form_of(request)
    actor, ctx = actor_of(request), _ctx(request)
    action = str(form.get("action", ""))
    try:
        if action == "reset_password":
            await services.reset_password(
                ctx, actor=actor, user_id=user_id, new_password=str(form.get("password", ""))
            )
        else:
            # A field left out of the form leaves that attribute as it is.
            active = form.get("is_active")
            name = form.get("display_name")
            await services.update_user(
                ctx,
                actor=actor,
                user_id=user_id,
                role=str(form.get("role", "")) or None,
                is_active=None if active is None else active == "1",
                display_name=None if name is None else str(name),
            )
    except DomainError as exc:
        context.update(_error(request, exc), action=action)
        return _render(request, "kernel/admin-user.html", context, exc.status_code)
    done = "password" if action == "reset_password" else "updated"
    return redirect(f"/admin/users/{user_id}?done={done}")


# --- notifications ----------------------------------------------------------------------------


async def notifications(request: Request) -> Response:
    actor = actor_of(request)
    items = (
        await services.notifications_for(actor.organization_id)
        if actor.organization_id is not None
        else []
    )
    return _render(request, "kernel/notifications.html", {"notifications": items})


async def notifications_read(request: Request) -> Response:
    form = await form_of(request)
    await services.mark_read(
        _ctx(request),
        actor=actor_of(request),
        notification_id=_int(form.get("notification_id"), "notification_id"),
    )
    return redirect("/notifications")
