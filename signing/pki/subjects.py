"""Subject names of the development certificates: companies, experts and opening officers."""

from __future__ import annotations

from typing import Literal

from cryptography import x509
from cryptography.x509.oid import NameOID

from kernel.accounts import creditcode

Kind = Literal["company", "expert", "officer"]
OfficerRole = Literal["agency", "supervisor", "centre"]
KINDS: tuple[Kind, ...] = ("company", "expert", "officer")
OFFICER_ROLES: tuple[OfficerRole, ...] = ("agency", "supervisor", "centre")

_DEFAULT_ORGANIZATION = {
    "expert": "评标专家库",
    "agency": "招标代理机构",
    "supervisor": "行政监督部门",
    "centre": "公共资源交易中心",
}


def company_credit_code(name: str, credit_code: str | None) -> str:
    """``credit_code`` normalised and checked, or a valid made-up one derived from ``name``."""
    if credit_code is None:
        return creditcode.make_code(name)
    code = creditcode.normalise(credit_code)
    if not creditcode.is_valid(code):
        raise ValueError(f"{credit_code!r} is not a valid unified social credit code")
    return code


def subject_for(
    *, kind: Kind, name: str, credit_code: str | None = None,
    organization: str | None = None, role: OfficerRole | None = None,
) -> x509.Name:
    """The subject a Chinese CA would give this holder; a company's carries its credit code."""
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "CN")]
    if kind == "company":
        code = company_credit_code(name, credit_code)
        attributes += [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization or name),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, code),
        ]
    elif kind == "expert":
        organization = organization or _DEFAULT_ORGANIZATION[kind]
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    elif kind == "officer":
        role = role or "centre"
        attributes += [
            x509.NameAttribute(
                NameOID.ORGANIZATION_NAME, organization or _DEFAULT_ORGANIZATION[role]
            ),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role),
        ]
    else:
        raise ValueError(f"unknown certificate kind {kind!r}")
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, name))
    return x509.Name(attributes)
