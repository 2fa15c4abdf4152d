"""The unified social credit code (统一社会信用代码, GB 32100-2015).

Eighteen characters from a 31-character alphabet (no I, O, S, V, Z); the last one is a check
character over the first seventeen. ``normalise`` first, then ``is_valid``: a code typed with a
Chinese input method arrives in full-width characters and lower case.
"""

from __future__ import annotations

import hashlib
import unicodedata

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_VALUE = {char: value for value, char in enumerate(ALPHABET)}

# Characters 9-17 are the organisation code (GB 11714) with its own check character.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def normalise(code: str) -> str:
    """Strip, fold full-width characters to ASCII, upper-case."""
    return unicodedata.normalize("NFKC", code).strip().upper()


def check_char(body: str) -> str:
    """The check character for the first seventeen characters."""
    total = sum(_VALUE[char] * weight for char, weight in zip(body, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def is_valid(code: str) -> bool:
    """True when ``code`` (already normalised) has 18 allowed characters and a correct check."""
    if len(code) != 18 or any(char not in _VALUE for char in code):
        return False
    return check_char(code[:17]) == code[17]


def _org_check_char(body: str) -> str:
    total = sum(int(char, 36) * weight for char, weight in zip(body, _ORG_WEIGHTS, strict=True))
    value = (11 - total % 11) % 11
    return "X" if value == 10 else str(value)


def make_code(seed: str) -> str:
    """A valid, realistic-looking code derived from ``seed``: same seed, same code.

    For demo data and tests only; the code belongs to no real organisation as far as we know.
    """
    digest = hashlib.sha256(seed.encode()).digest()
    # "91": registered with market regulation (工商), as a company; then a division code.
    region = f"{digest[0] % 6 + 1}{int.from_bytes(digest[1:4], 'big') % 100000:05d}"
    org_body = "".join(ALPHABET[byte % 31] for byte in digest[4:12])
    body = "91" + region + org_body + _org_check_char(org_body)
    return body + check_char(body)
