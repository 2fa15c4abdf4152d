"""Talking to the platform's JSON API: the standard library only, so the client needs nothing
the platform does not already install, and every failure becomes a Refused naming its reason.

4xx answers carry the platform's ``{"error": code, "message": reason}`` and become
ServerRefused; no answer, a dropped connection and 5xx become Unreachable, which the callers
that can resume (uploads) retry.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from ebid.client.errors import Refused, ServerRefused, Unreachable

DEFAULT_TIMEOUT = 60.0


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as error:
            raise Refused(f"the platform's answer is not JSON ({error})",
                          f"平台的应答不是 JSON（{error}）") from error


class Api:
    """One platform at ``base_url``; ``token`` is the bearer session token, when logged in."""

    def __init__(self, base_url: str, *, token: str | None = None, lang: str = "zh",
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        if urllib.parse.urlsplit(base_url).scheme not in ("http", "https"):
            raise Refused(f"the server {base_url!r} is not an http:// or https:// address",
                          f"服务器地址 {base_url!r} 不是 http:// 或 https:// 地址")
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.lang = lang
        self.timeout = timeout

    def url(self, path: str, query: dict[str, Any] | None = None) -> str:
        params = dict(query or {})
        params["lang"] = "en" if self.lang.startswith("en") else "zh-CN"
        return f"{self.base_url}{path}?{urllib.parse.urlencode(params)}"

    def request(self, method: str, path: str, *, query: dict[str, Any] | None = None,
                json_body: Any = None, data: bytes | None = None,
                content_type: str | None = None, ok: tuple[int, ...] = (200, 201)) -> Answer:
        """Send one request; an answer whose status is in ``ok`` is returned, 409 and other
        4xx raise ServerRefused (with the parsed body), 5xx and network failures Unreachable."""
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if json_body is not None:
            data = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
            content_type = "application/json"
        if content_type:
            headers["Content-Type"] = content_type
        # S310: base_url is checked to be http(s) in __init__.
        request = urllib.request.Request(self.url(path, query), data=data,  # noqa: S310
                                         headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                answer = Answer(response.status, response.read(),
                                response.headers.get("Content-Type", ""))
        except urllib.error.HTTPError as error:
            answer = Answer(error.code, _read_error_body(error),
                            error.headers.get("Content-Type", "") if error.headers else "")
        except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
            reason = getattr(error, "reason", None) or error
            raise Unreachable(f"{method} {path}: {reason}") from error
        if answer.status in ok:
            return answer
        if answer.status >= 500:
            raise Unreachable(f"{method} {path}: HTTP {answer.status}")
        raise _refusal(answer)

    @contextlib.contextmanager
    def stream(self, path: str) -> Iterator[BinaryIO]:
        """GET ``path`` as a stream, for a package too large to hold: the caller reads what
        it needs (the header) and closes."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        request = urllib.request.Request(self.url(path), headers=headers)  # noqa: S310
        try:
            response = urllib.request.urlopen(request, timeout=self.timeout)  # noqa: S310
        except urllib.error.HTTPError as error:
            answer = Answer(error.code, _read_error_body(error), "")
            if error.code >= 500:
                raise Unreachable(f"GET {path}: HTTP {error.code}") from error
            raise _refusal(answer) from error
        except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
            raise Unreachable(f"GET {path}: {getattr(error, 'reason', None) or error}") from error
        with response:
            yield response

    def get_json(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs).json()

    def post_json(self, path: str, body: Any, **kwargs: Any) -> Any:
        return self.request("POST", path, json_body=body, **kwargs).json()


def _read_error_body(error: urllib.error.HTTPError) -> bytes:
    try:
        return error.read()
    except (OSError, http.client.HTTPException):
        return b""


def _refusal(answer: Answer) -> ServerRefused:
    body: Any = None
    try:
        body = json.loads(answer.body)
    except ValueError:
        pass
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        message = body.get("message")
        return ServerRefused(answer.status, body["error"],
                             message if isinstance(message, str) else body["error"], body)
    text = answer.body.decode("utf-8", "replace").strip()[:200] or "no reason given"
    return ServerRefused(answer.status, f"http_{answer.status}", text, body)
