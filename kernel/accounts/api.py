"""The accounts JSON API. Each endpoint's docstring is its OpenAPI description (YAML)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kernel.accounts import services
from kernel.accounts.exceptions import LoginFailed
from kernel.accounts.models import Organization, User
from kernel.context import Context
from kernel.errors import InvalidInput
from kernel.http import SESSION_COOKIE, actor_of, json_body

SIGNUP_FIELDS = (
    "name", "credit_code", "legal_rep", "contact_name", "contact_phone", "email", "address",
    "bank_name", "bank_account", "username", "password",
)


def _ctx(request: Request) -> Context:
    return request.app.state.ctx


def _str(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    return "" if value is None else str(value)


def _optional_int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise InvalidInput(key, "must be an integer", "应为整数")
    return int(value)


def organization_json(org: Organization | None) -> dict[str, Any] | None:
    if org is None:
        return None
    return {
        "id": org.id,
        "kind": org.kind.value,
        "name": org.name,
        "credit_code": org.credit_code,
    }


def user_json(user: User, org: Organization | None) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role.value,
        "display_name": user.display_name,
        "is_active": user.is_active,
        "organization": organization_json(org),
    }


async def open_session(request: Request) -> Response:
    """
    summary: Log in and get a bearer token
    description: >
      Send the token as `Authorization: Bearer <token>`. Failures answer 401 without saying
      whether the username exists; after too many failures for the username or the address
      within the window, 429 says when to try again.
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [username, password]
            properties:
              username: {type: string}
              password: {type: string, format: password}
    responses:
      200:
        description: Logged in.
        content:
          application/json:
            schema:
              type: object
              properties:
                token: {type: string}
                role: {type: string, enum: [bidder, agency, supervisor, admin]}
                expires_at: {type: string, format: date-time}
      400: {description: "Malformed body: {error, message}"}
      401: {description: "Wrong username or password: {error, message}"}
      429: {description: "Too many failed logins: {error, message}"}
    """
    body = await json_body(request)
    ctx = _ctx(request)
    token = await services.login(
        ctx,
        username=_str(body, "username"),
        password=_str(body, "password"),
        remote_addr=request.client.host if request.client else "",
    )
    info = await services.session_info(ctx, token=token)
    if info is None:  # expired in the same instant: only with a zero session lifetime
        raise LoginFailed()
    return JSONResponse(
        {"token": token, "role": info.actor.role, "expires_at": info.expires_at.isoformat()}
    )


async def close_session(request: Request) -> Response:
    """
    summary: Log out (end the session of the token or cookie sent)
    responses:
      204: {description: Logged out.}
      401: {description: "Not logged in: {error, message}"}
    """
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    await services.logout(_ctx(request), token=token or request.cookies.get(SESSION_COOKIE, ""))
    response = Response(status_code=204)
    if SESSION_COOKIE in request.cookies:
        response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def me(request: Request) -> Response:
    """
    summary: The logged-in user and their organisation
    responses:
      200:
        description: The user.
        content:
          application/json:
            schema:
              type: object
              properties:
                id: {type: integer}
                username: {type: string}
                role: {type: string, enum: [bidder, agency, supervisor, admin]}
                display_name: {type: string}
                is_active: {type: boolean}
                organization:
                  type: object
                  nullable: true
                  properties:
                    id: {type: integer}
                    kind: {type: string, enum: [bidder, agency, authority, centre]}
                    name: {type: string}
                    credit_code: {type: string}
      401: {description: "Not logged in: {error, message}"}
    """
    actor = actor_of(request)
    assert actor.user_id is not None  # the route requires a logged-in user
    user = await services.get_user(actor.user_id)
    return JSONResponse(user_json(user, user.organization))


async def signup_bidder(request: Request) -> Response:
    """
    summary: Register a bidder company and its first user
    description: >
      The company's unified social credit code (统一社会信用代码) must be valid and not yet
      registered. The password needs at least 10 characters of at least two kinds (lower-case,
      upper-case, digits, symbols). Log in afterwards with POST /api/v1/session.
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [name, credit_code, legal_rep, contact_name, contact_phone, email,
                       address, bank_name, bank_account, username, password]
            properties:
              name: {type: string, description: 单位名称}
              credit_code: {type: string, description: 统一社会信用代码}
              legal_rep: {type: string, description: 法定代表人}
              contact_name: {type: string}
              contact_phone: {type: string, example: "13800138000"}
              email: {type: string, format: email}
              address: {type: string}
              bank_name: {type: string, description: 基本存款账户开户银行}
              bank_account: {type: string, description: 基本存款账户账号}
              username: {type: string}
              password: {type: string, format: password}
    responses:
      201:
        description: Registered; the new user with their organisation.
      400: {description: "A field is wrong, the username or the code is taken: {error, message}"}
    """
    body = await json_body(request)
    user = await services.signup_bidder(
        _ctx(request), **{name: _str(body, name) for name in SIGNUP_FIELDS}
    )
    org = await services.get_organization(user.organization_id)  # type: ignore[attr-defined]
    return JSONResponse(user_json(user, org), status_code=201)


async def list_users(request: Request) -> Response:
    """
    summary: List users (centre admins only)
    parameters:
      - {name: q, in: query, schema: {type: string}, description: "username, name, organisation"}
      - {name: page, in: query, schema: {type: integer, minimum: 1}}
    responses:
      200:
        description: One page of users.
        content:
          application/json:
            schema:
              type: object
              properties:
                items: {type: array, items: {type: object}}
                page: {type: integer}
                pages: {type: integer}
                total: {type: integer}
      401: {description: "Not logged in: {error, message}"}
      403: {description: "Not a centre admin: {error, message}"}
    """
    page_param = request.query_params.get("page", "1")
    page = int(page_param) if page_param.isdigit() else 1
    result = await services.list_users(page, request.query_params.get("q", ""))
    return JSONResponse(
        {
            "items": [user_json(user, user.organization) for user in result.items],
            "page": result.page,
            "pages": result.pages,
            "total": result.total,
        }
    )


async def create_user(request: Request) -> Response:
    """
    summary: Create a user in an existing organisation (centre admins only)
    description: >
      Bidder and agency users need an organisation of their kind; supervisors may belong to a
      supervising authority and admins to the trading centre.
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [username, password, role]
            properties:
              username: {type: string}
              password: {type: string, format: password}
              role: {type: string, enum: [bidder, agency, supervisor, admin]}
              organization_id: {type: integer, nullable: true}
              display_name: {type: string}
    responses:
      201: {description: The new user.}
      400: {description: "A field is wrong or the username is taken: {error, message}"}
      403: {description: "Not a centre admin: {error, message}"}
      404: {description: "No such organisation: {error, message}"}
    """
    body = await json_body(request)
    user = await services.create_user(
        _ctx(request),
        actor=actor_of(request),
        username=_str(body, "username"),
        password=_str(body, "password"),
        role=_str(body, "role"),
        organization_id=_optional_int(body, "organization_id"),
        display_name=_str(body, "display_name"),
    )
    user = await services.get_user(user.id)
    return JSONResponse(user_json(user, user.organization), status_code=201)
