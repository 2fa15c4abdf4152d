"""Cleaning what people type into the account forms: names, usernames, credit codes, phone
numbers, e-mail and bank accounts, and the rule of which kind of organisation each role belongs
to. Pure functions that raise InvalidField (or a more specific refusal) and touch no database,
so every service that creates or changes an account refuses bad input the same way.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from kernel.accounts import creditcode
from kernel.accounts.exceptions import (
    CreditCodeInvalid,
    InvalidField,
    RoleOrganizationMismatch,
    UsernameInvalid,
)
from kernel.accounts.models import Organization, OrgKind, Role

# The kind of organisation each role belongs to; bidders and agencies must have one.
ROLE_ORG_KIND = {
    Role.BIDDER: OrgKind.BIDDER,
    Role.AGENCY: OrgKind.AGENCY,
    Role.SUPERVISOR: OrgKind.AUTHORITY,
    Role.ADMIN: OrgKind.CENTRE,
}
ORG_REQUIRED = frozenset({Role.BIDDER, Role.AGENCY})
ROLE_LABELS = {
    Role.BIDDER: ("投标人", "bidder"),
    Role.AGENCY: ("招标代理", "agency"),
    Role.SUPERVISOR: ("监督人员", "supervisor"),
    Role.ADMIN: ("中心管理员", "centre admin"),
}
KIND_LABELS = {
    OrgKind.BIDDER: ("投标单位", "a bidder company"),
    OrgKind.AGENCY: ("招标代理机构", "a tendering agency"),
    OrgKind.AUTHORITY: ("行政监督部门", "a supervising authority"),
    OrgKind.CENTRE: ("交易中心", "the trading centre"),
}

_USERNAME = re.compile(r"[a-z0-9][a-z0-9_.\-]{2,31}")
_PHONE = re.compile(r"(\+?86)?(1[3-9]\d{9}|0\d{2,3}-?\d{7,8}(-\d{1,6})?)")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_BANK_ACCOUNT = re.compile(r"\d{8,32}")


def _text(
    value: str | None, field: str, zh: str, en: str, *, max_length: int, required: bool = True
) -> str:
    # Not NFKC: a company's registered name keeps its full-width brackets （集团）.
    value = (value or "").strip()
    if required and not value:
        raise InvalidField(field, f"{en} is required", f"请填写{zh}")
    if len(value) > max_length:
        raise InvalidField(
            field, f"{en} may have at most {max_length} characters", f"{zh}最多 {max_length} 个字符"
        )
    return value


def _matching(
    value: str | None, pattern: re.Pattern[str], field: str, zh: str, en: str, *, required: bool
) -> str:
    value = _text(unicodedata.normalize("NFKC", value or ""), field, zh, en, max_length=200,
                  required=required)
    if value and not pattern.fullmatch(value):
        raise InvalidField(field, f"{en} is not in a valid format", f"{zh}格式不正确")
    return value


def _display_name(value: str | None) -> str:
    return _text(value, "display_name", "姓名", "The name", max_length=100, required=False)


def clean_username(username: str | None) -> str:
    """The canonical (lower-case) form of a username; UsernameInvalid when it cannot be one."""
    value = unicodedata.normalize("NFKC", username or "").strip().lower()
    if not _USERNAME.fullmatch(value):
        raise UsernameInvalid()
    return value


def clean_credit_code(code: str | None) -> str:
    value = creditcode.normalise(code or "")
    if not creditcode.is_valid(value):
        raise CreditCodeInvalid(credit_code=value)
    return value


def _role(value: Role | str | None) -> Role:
    try:
        return Role(value or "")
    except ValueError:
        raise InvalidField("role", "choose a role", "请选择角色") from None


def _org_fields(
    kind: OrgKind,
    *,
    strict: bool,
    name: str,
    credit_code: str,
    legal_rep: str = "",
    contact_name: str = "",
    contact_phone: str = "",
    email: str = "",
    address: str = "",
    bank_name: str = "",
    bank_account: str = "",
) -> dict[str, Any]:
    """Clean an organisation's fields; ``strict`` (bidder sign-up) makes all of them required."""
    phone = re.sub(r"[\s()（）]", "", unicodedata.normalize("NFKC", contact_phone or ""))
    account = re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", bank_account or ""))
    return {
        "kind": kind,
        "name": _text(name, "name", "单位名称", "The organisation name", max_length=200),
        "credit_code": clean_credit_code(credit_code),
        "legal_rep": _text(
            legal_rep, "legal_rep", "法定代表人", "The legal representative", max_length=100,
            required=strict,
        ),
        "contact_name": _text(
            contact_name, "contact_name", "联系人", "The contact person", max_length=100,
            required=strict,
        ),
        "contact_phone": _matching(
            phone, _PHONE, "contact_phone", "联系电话（手机号或带区号的固定电话）",
            "The contact phone (mobile, or landline with area code)", required=strict,
        ),
        "email": _matching(
            email, _EMAIL, "email", "电子邮箱", "The e-mail address", required=strict
        ),
        "address": _text(
            address, "address", "单位地址", "The address", max_length=300, required=strict
        ),
        "bank_name": _text(
            bank_name, "bank_name", "基本存款账户开户银行", "The bank of the basic deposit account",
            max_length=200, required=strict,
        ),
        "bank_account": _matching(
            account, _BANK_ACCOUNT, "bank_account", "基本存款账户账号（8 至 32 位数字）",
            "The basic deposit account number (8 to 32 digits)", required=strict,
        ),
    }


def _check_role_org(role: Role, org: Organization | None) -> None:
    kind = ROLE_ORG_KIND[role]
    if (org is None and role in ORG_REQUIRED) or (org is not None and org.kind != kind):
        raise RoleOrganizationMismatch(
            role=ROLE_LABELS[role][1],
            role_zh=ROLE_LABELS[role][0],
            kind_zh=KIND_LABELS[kind][0],
            kind_en=KIND_LABELS[kind][1],
        )
