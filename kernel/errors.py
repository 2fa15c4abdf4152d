"""Base class for refusals a user can understand.

Each subclass names the condition (``DeadlinePassed``) and carries its message in Chinese and
English; the HTTP layer turns it into a page or a 4xx JSON answer with the reason. Messages must
never name another bidder or count bids before the opening: they are shown to whoever asked.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    status_code: ClassVar[int] = 409
    code: ClassVar[str] = "error"
    zh: ClassVar[str] = "操作无法完成"
    en: ClassVar[str] = "The operation cannot be completed"

    def __init__(self, **params: Any) -> None:
        self.params = params
        super().__init__(self.message("en"))

    def headers(self) -> dict[str, str]:
        """HTTP headers the refusal is answered with, on a page and in the API (none here)."""
        return {}

    def message(self, locale: str = "zh-CN") -> str:
        template = self.en if locale.startswith("en") else self.zh
        try:
            return template.format(**self.params)
        except (KeyError, IndexError):
            return template


class NotFound(DomainError):
    status_code = 404
    code = "not_found"
    zh = "未找到该记录"
    en = "Not found"


class PermissionDenied(DomainError):
    status_code = 403
    code = "permission_denied"
    zh = "您无权进行此操作"
    en = "You are not allowed to do this"


class InvalidInput(DomainError):
    """Bad input; ``field`` names the form field, ``reason`` says what is wrong with it."""

    status_code = 400
    code = "invalid_input"
    zh = "输入有误：{field}：{reason_zh}"
    en = "Invalid input: {field}: {reason}"

    def __init__(self, field: str, reason: str, reason_zh: str | None = None) -> None:
        super().__init__(field=field, reason=reason, reason_zh=reason_zh or reason)


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "payload_too_large"
    zh = "上传文件过大：上限为 {limit_mb} MB"
    en = "Upload too large: the limit is {limit_mb} MB"


class TransitionNotAllowed(DomainError):
    """``state`` and ``action`` are codes; the domain that raises it may name them in words
    for the message (``state_zh``, ``action_en``, ...), else the codes are shown."""

    code = "transition_not_allowed"
    zh = "当前状态（{state_zh}）不允许{action_zh}"
    en = "{action_en} is not allowed while the tender is {state_en}"

    def __init__(self, *, state: str, action: str, state_zh: str = "", state_en: str = "",
                 action_zh: str = "", action_en: str = "") -> None:
        super().__init__(state=state, action=action, state_zh=state_zh or state,
                         state_en=state_en or f"'{state}'",
                         action_zh=action_zh or f"执行“{action}”",
                         action_en=action_en or f"Action '{action}'")
