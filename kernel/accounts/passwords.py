"""Password hashing (argon2id, argon2-cffi) and the minimum password policy.

Hashing takes tens of milliseconds of CPU on purpose; async callers run these functions in a
worker thread (``anyio.to_thread.run_sync``) so the event loop keeps serving other requests.
"""

from __future__ import annotations

import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.profiles import RFC_9106_LOW_MEMORY

from kernel.accounts.exceptions import WeakPassword

MIN_LENGTH = 10
MAX_LENGTH = 256

# RFC 9106's second recommended profile (64 MiB, 3 passes): strong, yet affordable on a
# server that handles every bidder of a province at the deadline. Changing it makes
# ``needs_rehash`` true for older hashes, which login then replaces.
_hasher = PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)  # argon2id


def hash_password(password: str) -> str:
    """The argon2id hash (PHC string, salt and parameters included) of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches; a malformed stored hash counts as no match."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than the current ones."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def waste_time(password: str) -> None:
    """Verify against a throw-away hash, so an unknown username costs as long as a known one."""
    verify_password(_dummy_hash(), password)


def _classes(password: str) -> int:
    """How many of: lower-case, upper-case, digits, other letters (汉字), symbols."""
    return (
        any(c.islower() for c in password)
        + any(c.isupper() for c in password)
        + any(c.isdigit() for c in password)
        + any(c.isalpha() and not c.islower() and not c.isupper() for c in password)
        + any(not c.isalnum() for c in password)
    )


def check_policy(password: str, *, username: str = "") -> None:
    """Raise WeakPassword unless ``password`` meets the minimum policy."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(
            f"it must have at least {MIN_LENGTH} characters",
            f"至少需要 {MIN_LENGTH} 个字符",
        )
    if len(password) > MAX_LENGTH:
        raise WeakPassword(
            f"it may have at most {MAX_LENGTH} characters", f"最多 {MAX_LENGTH} 个字符"
        )
    if _classes(password) < 2:
        raise WeakPassword(
            "mix at least two kinds of characters: lower-case and upper-case letters, digits, "
            "symbols",
            "须至少包含小写字母、大写字母、数字、符号中的两类",
        )
    if username and username.lower() in password.lower():
        raise WeakPassword("it must not contain the username", "不能包含用户名")
