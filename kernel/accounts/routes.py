"""Account routes: pages, then the JSON API."""

from __future__ import annotations

from starlette.routing import BaseRoute

from kernel.accounts import api, views
from kernel.accounts.models import Role
from kernel.http import ANY_USER, PUBLIC, page
from kernel.http import api as api_route

ADMIN = {Role.ADMIN}

routes: list[BaseRoute] = [
    page("/login", views.login, name="accounts:login", roles=PUBLIC, methods=("GET", "POST")),
    # Public so that a visitor whose session already expired can still clear the cookie.
    page("/logout", views.logout, name="accounts:logout", roles=PUBLIC, methods=("POST",)),
    page("/signup", views.signup, name="accounts:signup", roles=PUBLIC, methods=("GET", "POST")),
    page("/admin", views.admin_index, name="accounts:admin", roles=ADMIN),
    page(
        "/admin/users",
        views.admin_users,
        name="accounts:admin-users",
        roles=ADMIN,
        methods=("GET", "POST"),
    ),
    page(
        "/admin/users/{user_id:int}",
        views.admin_user,
        name="accounts:admin-user",
        roles=ADMIN,
        methods=("GET", "POST"),
    ),
    page("/notifications", views.notifications, name="accounts:notifications", roles=ANY_USER),
    page(
        "/notifications/read",
        views.notifications_read,
        name="accounts:notifications-read",
        roles=ANY_USER,
        methods=("POST",),
    ),
    api_route(
        "/api/v1/session",
        api.open_session,
        name="accounts:api-session-open",
        roles=PUBLIC,
        methods=("POST",),
    ),
    api_route(
        "/api/v1/session",
        api.close_session,
        name="accounts:api-session-close",
        roles=ANY_USER,
        methods=("DELETE",),
    ),
    api_route("/api/v1/me", api.me, name="accounts:api-me", roles=ANY_USER),
    api_route(
        "/api/v1/bidders",
        api.signup_bidder,
        name="accounts:api-bidders",
        roles=PUBLIC,
        methods=("POST",),
    ),
    api_route(
        "/api/v1/admin/users", api.list_users, name="accounts:api-admin-users", roles=ADMIN
    ),
    api_route(
        "/api/v1/admin/users",
        api.create_user,
        name="accounts:api-admin-users-create",
        roles=ADMIN,
        methods=("POST",),
    ),
]
