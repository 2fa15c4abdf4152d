"""Route builders: every route declares its roles and whether it takes CSRF-protected forms.

A route is built with ``page(...)`` (HTML) or ``api(...)`` (JSON). The wrapper resolves the
actor from the session cookie or bearer token, checks the roles, checks CSRF on unsafe
methods, and turns a DomainError into a page or a JSON 4xx with the reason. Opting out is
explicit and greppable: ``roles=PUBLIC`` and ``csrf=False`` (see docs/security.md).
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from kernel.accounts.actor import ANONYMOUS, Actor
from kernel.accounts.models import Role
from kernel.accounts.sessions import actor_for_token
from kernel.errors import DomainError, PayloadTooLarge, PermissionDenied

log = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]

SESSION_COOKIE = "ebid_session"
CSRF_COOKIE = "ebid_csrf"
LANG_COOKIE = "ebid_lang"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


class _Public(frozenset[Role]):
    """Marker: the route needs no login. Grep for ``roles=PUBLIC``."""


PUBLIC = _Public()
ANY_USER: frozenset[Role] = frozenset(Role)


class CsrfFailed(DomainError):
    status_code = 403
    code = "csrf_failed"
    zh = "表单已过期或来源不明，请刷新页面后重试"
    en = "The form expired or did not come from this site; reload the page and try again"


class LoginRequired(DomainError):
    status_code = 401
    code = "login_required"
    zh = "请先登录"
    en = "Please log in first"


def locale_of(request: Request) -> str:
    lang = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or ""
    return "en" if lang.startswith("en") else "zh-CN"


def actor_of(request: Request) -> Actor:
    return getattr(request.state, "actor", ANONYMOUS)


def csrf_token(request: Request) -> str:
    """The token forms embed; set as a cookie by the middleware when missing."""
    token = getattr(request.state, "csrf_token", None)
    if token is None:
        token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        request.state.csrf_token = token
    return token


async def form_of(request: Request) -> FormData:
    """Parse the body once (Starlette caches it), mapping parser limits to clear errors."""
    limit = request.app.state.settings.max_upload_bytes
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit + 64 * 1024:
        raise PayloadTooLarge(limit_mb=limit // (1024 * 1024))
    try:
        return await request.form(max_part_size=limit)
    except MultiPartException as exc:
        if "exceeded" in str(exc).lower() or "too large" in str(exc).lower():
            raise PayloadTooLarge(limit_mb=limit // (1024 * 1024)) from exc
        raise HTTPException(400, f"Malformed form: {exc}") from exc


async def _check_csrf(request: Request, *, api: bool) -> None:
    if request.method not in UNSAFE:
        return
    # CSRF rides on the browser's ambient session cookie. An API call without one (a bearer
    # token, or an anonymous JSON login) has nothing for another site to borrow. HTML forms
    # stay protected even without a session, so nobody can log a victim into another account.
    if SESSION_COOKIE not in request.cookies and (api or "authorization" in request.headers):
        return
    expected = request.cookies.get(CSRF_COOKIE, "")
    given = request.headers.get(CSRF_HEADER, "")
    if not given and not api:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            given = str((await form_of(request)).get(CSRF_FIELD, ""))
    if not expected or not given or not hmac.compare_digest(expected, given):
        raise CsrfFailed()


async def _resolve_actor(request: Request) -> Actor:
    clock = request.app.state.clock
    token = request.cookies.get(SESSION_COOKIE, "")
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        token = auth[7:].strip()
    if not token:
        return ANONYMOUS
    return await actor_for_token(token, now=clock.now()) or ANONYMOUS


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def error_response(request: Request, exc: DomainError) -> Response:
    locale = locale_of(request)
    if wants_json(request):
        return JSONResponse(
            {"error": exc.code, "message": exc.message(locale)}, status_code=exc.status_code,
            headers=exc.headers(),
        )
    if isinstance(exc, LoginRequired) and request.method == "GET":
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    templates = request.app.state.templates
    return templates.TemplateResponse(
        request,
        "error.html",
        {"error": exc, "message": exc.message(locale), "back": _back_link(request)},
        status_code=exc.status_code,
        headers=exc.headers(),
    )


def _back_link(request: Request) -> str:
    """The page the refused form was on (same site only), so the user can go back to it."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc != request.url.netloc or not referer.path.startswith("/"):
        return ""
    return referer.path + (f"?{referer.query}" if referer.query else "")


def _wrap(endpoint: Endpoint, roles: frozenset[Role], csrf: bool, api: bool) -> Endpoint:
    async def wrapped(request: Request) -> Response:
        try:
            actor = await _resolve_actor(request)
            request.state.actor = actor
            if not isinstance(roles, _Public):
                if actor.is_anonymous:
                    raise LoginRequired()
                if actor.role not in roles:
                    raise PermissionDenied()
            if csrf:
                await _check_csrf(request, api=api)
            return await endpoint(request)
        except DomainError as exc:
            return error_response(request, exc)

    wrapped.__name__ = endpoint.__name__
    wrapped.__doc__ = endpoint.__doc__
    wrapped.__wrapped__ = endpoint  # type: ignore[attr-defined]
    return wrapped


def _route(
    path: str,
    endpoint: Endpoint,
    *,
    name: str,
    roles: Iterable[Role],
    methods: Iterable[str],
    csrf: bool,
    api: bool,
) -> Route:
    role_set = roles if isinstance(roles, _Public) else frozenset(roles)
    if not role_set and not isinstance(role_set, _Public):
        raise ValueError(f"route {name}: give roles, or roles=PUBLIC explicitly")
    route = Route(
        path,
        _wrap(endpoint, role_set, csrf, api),
        methods=list(methods),
        name=name,
    )
    route.roles = role_set  # type: ignore[attr-defined]  # read by the access-matrix test
    return route


def page(
    path: str,
    endpoint: Endpoint,
    *,
    name: str,
    roles: Iterable[Role],
    methods: Iterable[str] = ("GET",),
    csrf: bool = True,
) -> Route:
    """An HTML route."""
    return _route(path, endpoint, name=name, roles=roles, methods=methods, csrf=csrf, api=False)


def api(
    path: str,
    endpoint: Endpoint,
    *,
    name: str,
    roles: Iterable[Role],
    methods: Iterable[str] = ("GET",),
    csrf: bool = True,
) -> Route:
    """A JSON route under /api/; its docstring holds its OpenAPI description (YAML)."""
    return _route(path, endpoint, name=name, roles=roles, methods=methods, csrf=csrf, api=True)


async def json_body(request: Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError as exc:
        raise HTTPException(400, "The body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise HTTPException(400, "The body must be a JSON object")
    return data


def redirect(url: str) -> RedirectResponse:
    """After a successful POST: 303 so a reload does not resubmit."""
    return RedirectResponse(url, status_code=303)
