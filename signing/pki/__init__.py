"""Development CA tooling: NEVER for production.

Creates test CAs (RSA-3072 and EC P-256 roots, each with an issuing intermediate), issues
certificate pairs (signing + encryption, as Chinese CAs do) to companies, experts and opening
officers as PKCS#12 files, revokes, and publishes CRLs. The demo, the tests and ``ebid pki`` use
it. Its private keys lie unencrypted in a directory and are generated at run time; none is ever
committed. A real deployment trusts the accredited CAs' roots and CRLs instead (docs/pki.md).
"""

from signing.pki.devpki import (
    FAMILIES,
    Authority,
    DevPKI,
    Family,
    Issued,
    IssuedPair,
    parse_serial,
    serial_hex,
    write_pair,
    write_pkcs12,
)
from signing.pki.subjects import KINDS, OFFICER_ROLES, Kind, OfficerRole, subject_for

__all__ = [
    "FAMILIES",
    "KINDS",
    "OFFICER_ROLES",
    "Authority",
    "DevPKI",
    "Family",
    "Issued",
    "IssuedPair",
    "Kind",
    "OfficerRole",
    "parse_serial",
    "serial_hex",
    "subject_for",
    "write_pair",
    "write_pkcs12",
]
