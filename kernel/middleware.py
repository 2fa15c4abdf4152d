"""ASGI middleware: security headers, the CSRF cookie and the language cookie."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kernel.http import CSRF_COOKIE, LANG_COOKIE

SECURITY_HEADERS = {
    # No inline scripts anywhere: the pages work without JavaScript.
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'self'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, *, secure_cookies: bool = False) -> None:
        self.app = app
        self.secure = "; Secure" if secure_cookies else ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        lang = request.query_params.get("lang")
        had_csrf = CSRF_COOKIE in request.cookies

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in SECURITY_HEADERS.items():
                    headers.setdefault(key, value)
                state = scope.get("state", {})
                token = state.get("csrf_token")
                if token and not had_csrf:
                    headers.append(
                        "set-cookie",
                        f"{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax{self.secure}",
                    )
                if lang in ("en", "zh-CN"):
                    headers.append(
                        "set-cookie",
                        f"{LANG_COOKIE}={lang}; Path=/; Max-Age=31536000; SameSite=Lax",
                    )
            await send(message)

        await self.app(scope, receive, send_wrapper)
