"""Refusals of the accounts domain, each with its message in Chinese and English.

A login refusal never says whether the username exists: the same LoginFailed answers a wrong
password, an unknown user and a deactivated account.
"""

from __future__ import annotations

from kernel.errors import DomainError, InvalidInput, NotFound, PermissionDenied

__all__ = [
    "CreditCodeInvalid",
    "CreditCodeTaken",
    "InvalidField",
    "LoginFailed",
    "LoginThrottled",
    "NotificationNotFound",
    "OrganizationNotFound",
    "OwnAdminAccess",
    "PermissionDenied",
    "RoleOrganizationMismatch",
    "UserNotFound",
    "UsernameInvalid",
    "UsernameTaken",
    "WeakPassword",
]


class InvalidField(InvalidInput):
    """A form field is wrong; the reason names the field in words the user knows."""

    zh = "{reason_zh}"
    en = "{reason}"


class LoginFailed(DomainError):
    status_code = 401
    code = "login_failed"
    zh = "用户名或密码错误"
    en = "Wrong username or password"


class LoginThrottled(DomainError):
    status_code = 429
    code = "login_throttled"
    zh = "登录失败次数过多，请于 {retry_at} 之后再试"
    en = "Too many failed logins; try again after {retry_at}"

    def __init__(self, *, retry_at: str, retry_after_seconds: int | None = None) -> None:
        super().__init__(retry_at=retry_at)
        self.retry_after_seconds = retry_after_seconds

    def headers(self) -> dict[str, str]:
        # RFC 9110 section 10.2.3: clients and proxies can wait without parsing the message.
        if self.retry_after_seconds is None:
            return {}
        return {"Retry-After": str(max(self.retry_after_seconds, 1))}


class UsernameInvalid(InvalidInput):
    code = "username_invalid"
    zh = "用户名应为 3 至 32 位小写字母、数字、点、下划线或连字符，并以字母或数字开头"
    en = (
        "A username is 3 to 32 lower-case letters, digits, dots, underscores or hyphens, "
        "starting with a letter or digit"
    )

    def __init__(self) -> None:
        super().__init__("username", "invalid")


class UsernameTaken(InvalidInput):
    code = "username_taken"
    zh = "用户名“{username}”已被使用，请换一个"
    en = "The username '{username}' is already taken; choose another"

    def __init__(self, *, username: str) -> None:
        DomainError.__init__(self, field="username", username=username)


class WeakPassword(InvalidInput):
    code = "weak_password"
    zh = "密码太弱：{reason_zh}"
    en = "Password too weak: {reason}"

    def __init__(self, reason: str, reason_zh: str) -> None:
        super().__init__("password", reason, reason_zh)


class CreditCodeInvalid(InvalidInput):
    code = "credit_code_invalid"
    zh = (
        "统一社会信用代码“{credit_code}”无效："
        "应为 18 位数字或大写字母（不含 I、O、S、V、Z），且校验位正确"
    )
    en = (
        "The unified social credit code '{credit_code}' is not valid: it has 18 digits or "
        "capital letters (no I, O, S, V, Z) and a correct check character"
    )

    def __init__(self, *, credit_code: str) -> None:
        DomainError.__init__(self, field="credit_code", credit_code=credit_code[:40])


class CreditCodeTaken(InvalidInput):
    code = "credit_code_taken"
    zh = "统一社会信用代码 {credit_code} 已注册；如需为该单位增加账号，请联系交易中心"
    en = (
        "The unified social credit code {credit_code} is already registered; to add an "
        "account for that organisation, contact the trading centre"
    )

    def __init__(self, *, credit_code: str) -> None:
        DomainError.__init__(self, field="credit_code", credit_code=credit_code)


class RoleOrganizationMismatch(InvalidInput):
    code = "role_organization_mismatch"
    zh = "{role_zh}账号须属于{kind_zh}"
    en = "A {role} account must belong to {kind_en}"

    def __init__(self, *, role: str, role_zh: str, kind_zh: str, kind_en: str) -> None:
        DomainError.__init__(
            self,
            field="organization_id",
            role=role,
            role_zh=role_zh,
            kind_zh=kind_zh,
            kind_en=kind_en,
        )


class OwnAdminAccess(PermissionDenied):
    code = "own_admin_access"
    zh = "不能停用自己的账号或取消自己的管理员角色，请由另一位管理员操作"
    en = "You cannot deactivate your own account or remove your own admin role; ask another admin"


class UserNotFound(NotFound):
    code = "user_not_found"
    zh = "用户不存在"
    en = "User not found"


class OrganizationNotFound(NotFound):
    code = "organization_not_found"
    zh = "机构不存在"
    en = "Organisation not found"


class NotificationNotFound(NotFound):
    code = "notification_not_found"
    zh = "消息不存在"
    en = "Notification not found"
