"""The client's refusals: each names its reason, in Chinese and English like the platform's."""

from __future__ import annotations


class Refused(Exception):
    """The command cannot do what was asked; exit status 1 with ``message(lang)`` on stderr."""

    def __init__(self, en: str, zh: str | None = None) -> None:
        super().__init__(en)
        self.en = en
        self.zh = zh or en

    def message(self, lang: str) -> str:
        return self.en if lang.startswith("en") else self.zh


class ServerRefused(Refused):
    """The platform answered 4xx: ``code`` and its reason (in the language asked for)."""

    def __init__(self, status: int, code: str, reason: str, body: object = None) -> None:
        text = f"{reason} ({code}, HTTP {status})"
        super().__init__(f"the platform refused: {text}", f"平台拒绝：{text}")
        self.status = status
        self.code = code
        self.reason = reason
        self.body = body


class Unreachable(Refused):
    """No answer, a dropped connection or a 5xx: worth retrying."""

    def __init__(self, what: str) -> None:
        super().__init__(f"the platform cannot be reached: {what}", f"无法连接平台：{what}")
        self.what = what
