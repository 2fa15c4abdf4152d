"""Signing routes: the centre admin's pages. The receipts log's JSON API is in signing.api."""

from __future__ import annotations

from starlette.routing import BaseRoute

from kernel.accounts.models import Role
from kernel.http import page
from signing import views

ADMIN = {Role.ADMIN}

routes: list[BaseRoute] = [
    page("/admin/cas", views.admin_cas, name="signing:admin-cas", roles=ADMIN,
         methods=("GET", "POST")),
]
