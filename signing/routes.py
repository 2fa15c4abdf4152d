"""Signing routes: the centre admin's pages, and certificate login (its link and its API).

The receipts log's JSON API is in signing.api, apart: everything there is public and read-only.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from kernel.accounts.models import Role
from kernel.http import ANY_USER, PUBLIC, page
from signing import views
from signing.login_api import login_api_routes

ADMIN = {Role.ADMIN}

routes: list[BaseRoute] = [
    page("/admin/cas", views.admin_cas, name="signing:admin-cas", roles=ADMIN,
         methods=("GET", "POST")),
    # Public: the secret in the path is the credential (one use, two minutes; signing.login).
    page("/login/link/{secret}", views.login_link, name="signing:login-link", roles=PUBLIC),
    # 我的证书: each user's own certificates (officers register their encryption certificate).
    page("/account/certificates", views.my_certificates, name="signing:certificates",
         roles=ANY_USER, methods=("GET", "POST")),
    *login_api_routes,
]
