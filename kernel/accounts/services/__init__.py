"""Accounts services: bidder sign-up, users and organisations, login and sessions, notifications.

Every change records its audit event in the same transaction. Other packages reach accounts
only through the functions here (the read helpers take no ``ctx``).

The package re-exports every public name of its modules: validation (cleaning form input),
users (sign-up, organisations and users), login (sessions and throttling), notifications
(the inboxes) and queries (the read helpers). Import from kernel.accounts.services, not
from the modules.
"""

from kernel.accounts.services.login import (
    SessionInfo,
    check_throttle,
    first_active_user,
    login,
    logout,
    open_session_for,
    record_login_failure,
    session_info,
)
from kernel.accounts.services.notifications import mark_read, notify
from kernel.accounts.services.queries import (
    PAGE_SIZE,
    Page,
    get_organization,
    get_user,
    list_organizations,
    list_users,
    notifications_for,
    organization_by_credit_code,
    organizations_by_ids,
)
from kernel.accounts.services.users import (
    ORG_FIELDS,
    USER_FIELDS,
    create_first_admin,
    create_organization,
    create_user,
    create_user_with_organization,
    reset_password,
    signup_bidder,
    update_user,
)
from kernel.accounts.services.validation import (
    KIND_LABELS,
    ORG_REQUIRED,
    ROLE_LABELS,
    ROLE_ORG_KIND,
    clean_credit_code,
    clean_username,
)
from kernel.accounts.sessions import actor_for_user

__all__ = [
    "KIND_LABELS",
    "ORG_FIELDS",
    "ORG_REQUIRED",
    "PAGE_SIZE",
    "ROLE_LABELS",
    "ROLE_ORG_KIND",
    "USER_FIELDS",
    "Page",
    "SessionInfo",
    "actor_for_user",
    "check_throttle",
    "clean_credit_code",
    "clean_username",
    "create_first_admin",
    "create_organization",
    "create_user",
    "create_user_with_organization",
    "first_active_user",
    "get_organization",
    "get_user",
    "list_organizations",
    "list_users",
    "login",
    "logout",
    "mark_read",
    "notifications_for",
    "notify",
    "open_session_for",
    "organization_by_credit_code",
    "organizations_by_ids",
    "record_login_failure",
    "reset_password",
    "session_info",
    "signup_bidder",
    "update_user",
]
