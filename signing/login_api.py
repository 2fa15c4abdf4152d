"""The JSON API of certificate login (signing.login) and of the machine-fingerprint key.

The login endpoints are public by nature (they are how one logs in); the fingerprint key is for
logged-in users, whose client hashes machine identifiers with it before sealing a bid. Bytes are
standard base64 with padding.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kernel.accounts import services as accounts
from kernel.accounts.api import user_json
from kernel.context import Context
from kernel.errors import InvalidInput
from kernel.http import ANY_USER, PUBLIC, api, json_body
from signing import keys, login

__all__ = ["login_api_routes"]


def _ctx(request: Request) -> Context:
    return request.app.state.ctx  # type: ignore[no-any-return]


def _client_addr(request: Request) -> str:
    # Behind a reverse proxy this is the proxy unless uvicorn runs with --proxy-headers.
    return request.client.host if request.client else ""


def _b64_field(body: dict[str, Any], name: str) -> bytes:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidInput(name, "is required, as base64", "必填，须为 base64")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(name, "is not valid base64", "不是有效的 base64") from None


async def challenge(request: Request) -> Response:
    """
    ---
    summary: A one-time challenge for certificate login
    description: >
      32 random bytes, good once, for 2 minutes. Sign them (the raw bytes, not the base64
      text) as a detached CMS SignedData with the company's signing certificate, certificates
      included (`openssl cms -sign -binary -outform DER -signer cert.pem -inkey key.pem
      -certfile chain.pem`), and send the signature to POST /api/v1/auth/certificate.
    tags: [auth]
    security: []
    responses:
      201: {description: "{challenge: base64 of 32 bytes, expires_at: RFC 3339}"}
    """
    issued = await login.issue_challenge(_ctx(request))
    return JSONResponse(
        {"challenge": base64.b64encode(issued.value).decode("ascii"),
         "expires_at": issued.expires_at.isoformat()},
        status_code=201,
    )


async def certificate(request: Request) -> Response:
    """
    ---
    summary: Log in with a certificate-signed challenge
    description: >
      The certificate must be accepted for signing at this instant (chain to an accepted CA,
      validity, key usage, CRLs). The unified social credit code in its subject names the
      company; the session is that company's first active bidder user's. The answer carries a
      bearer token for the client and a one-time link (2 minutes) that logs a browser in.
      Failures count towards the same throttle as password logins.
    tags: [auth]
    security: []
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [challenge, signature]
            properties:
              challenge: {type: string, format: byte}
              signature: {type: string, format: byte, description: detached CMS, DER}
    responses:
      200:
        description: >
          {token, expires_at, login_url: "/login/link/<secret>", login_url_expires_at,
          user: {id, username, role, display_name, is_active, organization},
          certificate: {subject, issuer, serial, fingerprint}}
      400: {description: "invalid_input; certificate_expired, certificate_revoked,
        unknown_issuer, wrong_key_usage, crl_missing, crl_out_of_date and the other
        certificate refusals"}
      401: {description: "challenge_unknown, challenge_used, challenge_expired,
        bad_login_signature, certificate_without_credit_code, no_account_for_certificate"}
      429: {description: "login_throttled: too many failures; says when to try again"}
    """
    body = await json_body(request)
    ctx = _ctx(request)
    done = await login.login_with_certificate(
        ctx, challenge=_b64_field(body, "challenge"), signature=_b64_field(body, "signature"),
        remote_addr=_client_addr(request),
    )
    session = await accounts.session_info(ctx, token=done.token)
    accepted = done.certificate
    return JSONResponse({
        "token": done.token,
        "expires_at": session.expires_at.isoformat() if session else None,
        "login_url": f"/login/link/{done.link_secret}",
        "login_url_expires_at": done.link_expires_at.isoformat(),
        "user": user_json(done.user, done.user.organization),
        "certificate": {"subject": accepted.subject, "issuer": accepted.issuer,
                        "serial": accepted.serial, "fingerprint": accepted.fingerprint},
    })


async def fingerprint_key(request: Request) -> Response:
    """
    ---
    summary: The centre-wide key machine fingerprints are hashed under
    description: >
      ebid-client hashes each normalised machine identifier (network card addresses, machine
      id, disk and board serials, host name) as HMAC-SHA256 under this key before it goes into
      a sealed bid's manifest, so raw serial numbers never reach the platform.
    tags: [auth]
    responses:
      200: {description: "{key: base64 of 32 bytes, algorithm: HMAC-SHA256}"}
      401: {description: "login_required"}
    """
    ctx = _ctx(request)
    key = keys.load(ctx.settings, now=ctx.clock.now()).fingerprint
    return JSONResponse({"key": base64.b64encode(key).decode("ascii"),
                         "algorithm": "HMAC-SHA256"})


login_api_routes: list[Route] = [
    api("/api/v1/auth/challenge", challenge, name="signing:api-auth-challenge", roles=PUBLIC,
        methods=["POST"]),
    api("/api/v1/auth/certificate", certificate, name="signing:api-auth-certificate",
        roles=PUBLIC, methods=["POST"]),
    api("/api/v1/fingerprint-key", fingerprint_key, name="signing:api-fingerprint-key",
        roles=ANY_USER),
]
